"""The benchmark loaders on the files their authors publish: verbatim slices of the releases where the licence
allows (K-QA, MMLU, the MEVF split of VQA-RAD), hand-written files in the releases' exact layouts where it does not
or nothing is reachable (LiveQA's TREC XML, MedicationQA's .xlsx, VQA-Med 2021's questions + answers pair, PathVQA's
QA-pairs JSON, MedMCQA's two layouts, the MIMIC-III demo's tables); tests/fixtures/bench/SOURCES.md says which is
which. Items are checked field by field against the raw file, and every failure of issue 32 has its test."""
import csv
import json
import os
import re
import shlex
import shutil
import zipfile

import pytest

import evaluate
import reward
from clinic import files, loaders

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "tests", "fixtures", "bench")


def load(kind, *path):
    return loaders.LOADERS[kind](os.path.join(BENCH, *path))


def score(task, answer):
    return reward.accuracy(task, {"answer": answer})


# ---------------------------------------------------------------- verbatim slices of the releases
def test_kqa_golden_slice_field_by_field_and_statements_given_as_the_text_of_a_list(tmp_path):
    """The release's Must_have / Nice_to_have are JSON lists; a CSV re-export carries the text of the list
    ("['a', 'b']"), read as the same statements (never as one statement per character)."""
    path = os.path.join(BENCH, "kqa", "questions_w_answers.jsonl")
    raw = [json.loads(line) for line in open(path)]
    tasks = loaders.LOADERS["kqa_golden"](path)
    assert len(tasks) == len(raw) == 2
    for t, r in zip(tasks, raw):
        assert t["question"].startswith(r["Question"])
        assert t["answer"]["must_have"] == [s.strip() for s in r["Must_have"]]
        assert t["answer"]["value"] == r["Free_form_answer"] and t["answer"]["metric"] == "statements"
    assert len(tasks[0]["answer"]["must_have"]) == 11 and len(tasks[1]["answer"]["must_have"]) == 5
    assert score(tasks[1], "Ivermectin (Stromectol) is the oral treatment for scabies.") == pytest.approx(1 / 5)
    as_text = [{**r, "Must_have": repr(r["Must_have"]), "Nice_to_have": repr(r["Nice_to_have"])} for r in raw]
    with open(tmp_path / "export.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(as_text[0]))
        w.writeheader()
        w.writerows(as_text)
    again = loaders.LOADERS["kqa_golden"](str(tmp_path / "export.csv"))
    assert [t["answer"]["must_have"] for t in again] == [t["answer"]["must_have"] for t in tasks]


def test_kqa_silver_slice_has_no_reference_so_its_accuracy_is_unscored():
    path = os.path.join(BENCH, "kqa", "questions.jsonl")
    raw = [json.loads(line) for line in open(path)]
    tasks = loaders.LOADERS["kqa_silver"](path)
    assert [t["question"].split("\n")[0] for t in tasks] == [r["Question"] for r in raw]
    assert all(score(t, "an answer") is None for t in tasks)


def test_mmlu_slice_of_the_hendrycks_csv_field_by_field():
    path = os.path.join(BENCH, "mmlu", "clinical_knowledge_test.csv")
    raw = list(csv.reader(open(path, newline="")))
    tasks = loaders.LOADERS["mmlu"](path)
    assert len(tasks) == len(raw) == 11 and {t["source"] for t in tasks} == {"mmlu/clinical_knowledge"}
    for t, r in zip(tasks, raw):
        assert t["question"].startswith(r[0] + "\nA) " + r[1])
        assert t["answer"] == {"type": "choice", "value": r[5], "options": r[1:5]}
    assert tasks[10]["answer"]["options"][0] == ("Blood type AB (rhesus negative), blood type B, and blood type O "
                                                 "(rhesus negative).")        # a quoted field with commas


def test_vqa_rad_mevf_split_loads_every_item_and_the_release_only_its_test_questions():
    """MEVF's testset.json is itself the test split (451 items; its phrase types mix freeform, para and test_*): the
    loader took only the test_* ones (75 of 450). The release JSON, told apart by its qid_linked_id/evaluation
    fields, is filtered to test_*."""
    path = os.path.join(BENCH, "vqa_rad_mevf", "testset.json")
    raw = json.load(open(path))
    tasks = loaders.LOADERS["vqa_rad"](path)
    assert len(tasks) == len(raw) == 4
    for t, r in zip(tasks, raw):
        assert t["question"].startswith(r["question"]) and os.path.basename(t["image"]) == r["image_name"]
        assert t["answer"]["value"] == r["answer"].strip().lower() if r["answer"].lower() in ("yes", "no") else \
            t["answer"]["value"] == r["answer"]
        assert t["image_info"]["closed"] == (r["answer_type"] == "CLOSED")
    assert score(tasks[1], "on the left") == 1.0 and score(tasks[0], "no") == 0.0
    release = load("vqa_rad", "vqa_rad", "VQA_RAD Dataset Public.json")
    raw_release = json.load(open(os.path.join(BENCH, "vqa_rad", "VQA_RAD Dataset Public.json")))
    assert len(release) == 2 and len(raw_release) == 4


# ---------------------------------------------------------------- the releases' layouts, hand-written
def test_liveqa_from_its_trec_xml_test_and_training_layouts():
    test = load("liveqa", "liveqa", "TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml")
    assert [t["question"].split("\n")[0] for t in test] == [
        "iron tablets. Should I take my iron tablets with orange juice or with milk?",
        "Does the shingles vaccine need a booster?"]                   # an empty SUBJECT is left out
    first = test[0]["answer"]
    assert first["value"] == "Vitamin C helps the body absorb iron, so a glass of orange juice is a good companion."
    assert first["accept"] == ["Milk and calcium reduce iron absorption: take iron two hours apart from dairy."]
    assert test[1]["answer"]["accept"] == []                           # <ReferenceAnswer>, the other tag the file uses
    assert score(test[0], "Take iron two hours apart from dairy: milk and calcium reduce iron absorption.") == 1.0
    train = load("liveqa", "liveqa", "TREC-2017-LiveQA-Medical-Train-1.xml")
    assert len(train) == 1 and 1 + len(train[0]["answer"]["accept"]) == 2
    assert train[0]["question"].startswith("gout diet. Which foods should I avoid with gout?")


def write_xlsx(path, rows):
    """A workbook laid out as MedInfo2019-QA-Medications.xlsx is (LibreOffice's parts: shared strings, one sheet,
    cells <c r="B2" t="s"><v>n</v></c>), holding `rows` (the first is the header)."""
    strings = sorted({v for r in rows for v in r if v})
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    cells = "".join(f'<row r="{i + 1}">' + "".join(
        f'<c r="{chr(65 + j)}{i + 1}" s="0" t="s"><v>{strings.index(v)}</v></c>' for j, v in enumerate(r) if v)
        + "</row>" for i, r in enumerate(rows))
    esc = lambda t: t.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", f'<workbook {ns} {rel_ns}><sheets><sheet name="DrugQA" sheetId="1" '
                                      'state="visible" r:id="rId2"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId2" Type="worksheet" Target="worksheets/sheet1.xml"/>'
                   '</Relationships>')
        z.writestr("xl/sharedStrings.xml", f'<sst {ns} count="{len(strings)}">' + "".join(
            f'<si><t xml:space="preserve">{esc(v)}</t></si>' for v in strings) + "</sst>")
        z.writestr("xl/worksheets/sheet1.xml", f"<worksheet {ns}><sheetData>{cells}</sheetData></worksheet>")


def test_medicationqa_from_the_xlsx_itself(tmp_path):
    header = ["Question", "Focus (Drug)", "Question Type", "Answer", "Section Title", "URL"]
    rows = [header, ["how long does metformin take to work", "metformin", "Action",
                     "Metformin lowers blood sugar within days; the full effect takes about two weeks.", "", "u1"],
            ["can i drink coffee with levothyroxine", "levothyroxine", "Interaction", "", "", "u2"],
            ["how long does metformin take to work", "metformin", "Action", "Full effect in two to three weeks.", "",
             "u3"]]
    write_xlsx(tmp_path / "MedInfo2019-QA-Medications.xlsx", rows)
    tasks = loaders.LOADERS["medicationqa"](str(tmp_path / "MedInfo2019-QA-Medications.xlsx"))
    assert len(tasks) == 1 and tasks[0]["question"].startswith("how long does metformin take to work")
    assert [tasks[0]["answer"]["value"], *tasks[0]["answer"]["accept"]] == [rows[1][3], rows[3][3]]
    assert score(tasks[0], "Full effect in two to three weeks.") == 1.0
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(files.DataError, match="broken.xlsx: not an Excel .xlsx workbook"):
        loaders.LOADERS["medicationqa"](str(tmp_path / "broken.xlsx"))


def test_medicationqa_reports_the_rows_it_leaves_out(tmp_path, capsys):
    write_xlsx(tmp_path / "m.xlsx", [["Question", "Answer"], ["q one", "a one"], ["q two", ""]])
    assert len(loaders.LOADERS["medicationqa"](str(tmp_path / "m.xlsx"))) == 1
    assert "m.xlsx: 1 of 2 rows left out (1 without an answer)" in capsys.readouterr().err


def test_vqa_med_2021_joins_its_questions_and_reference_answers_and_accepts_the_alternatives(tmp_path):
    """The test release's questions (image|question) and the evaluator's reference answers (image|answer|alternative
    ...): the loader read the answers file alone, with an answer as the question, and stopped at line 2."""
    folder = os.path.join(BENCH, "vqa_med_2021_test")
    for path in (folder, os.path.join(folder, "Task1-VQAnswering2021-Test-ReferenceAnswers-4Evaluator.txt")):
        tasks = loaders.LOADERS["vqa_med_2021"](path)
        assert [t["question"].split("\n")[0] for t in tasks] == ["what abnormality is seen in the image?",
                                                                   "what is the primary abnormality in this image?"]
        assert [os.path.basename(t["image"]) for t in tasks] == ["synpic90001.jpg", "synpic90002.jpg"]
    assert score(tasks[0], "Osteonecrosis of the femoral head.") == 1.0 and score(tasks[0], "avascular necrosis") == 1.0
    assert score(tasks[1], "pulmonary embolism") == 1.0 and score(tasks[1], "pneumonia") == 0.0
    shutil.copytree(folder, tmp_path / "v")        # the evaluator's MSCOCO-style questions JSON instead of the .txt
    os.remove(tmp_path / "v" / "Task1-VQA-2021-TestSet-Questions.txt")
    json.dump({"task_type": "vqa_imageclef_2021", "data_type": "questions", "questions": [
        {"question": "what abnormality is seen in the image?", "question_id": "synpic90001"}]},
        open(tmp_path / "v" / "questions_mscoco_format_vqa.json", "w"))
    assert len(loaders.LOADERS["vqa_med_2021"](str(tmp_path / "v"))) == 1
    os.remove(tmp_path / "v" / "questions_mscoco_format_vqa.json")
    with pytest.raises(files.DataError, match="needs its questions file"):
        loaders.LOADERS["vqa_med_2021"](str(tmp_path / "v"))


def test_medmcqa_reads_the_release_layout_the_hub_layout_and_a_re_export(tmp_path, capsys):
    rows = [{"id": "a", "question": "Antidote of paracetamol?", "opa": "Naloxone", "opb": "N-acetylcysteine",
             "opc": "Flumazenil", "opd": "Atropine", "cop": 2, "choice_type": "single", "exp": "",
             "subject_name": "Pharmacology", "topic_name": None},
            {"id": "b", "question": "Vitamin deficient in scurvy?", "opa": "A", "opb": "B12", "opc": "C", "opd": "D",
             "cop": 4, "choice_type": "single", "exp": "", "subject_name": "Biochemistry", "topic_name": None}]
    (tmp_path / "dev.json").write_text("".join(json.dumps(r) + "\n" for r in rows))       # the release: cop 1-4
    assert [t["answer"]["value"] for t in loaders.LOADERS["medmcqa"](str(tmp_path / "dev.json"))] == ["B", "D"]
    hub = [{**r, "cop": r["cop"] - 1} for r in rows] + [{**rows[0], "cop": 0}]              # the Hub's: 0-3
    (tmp_path / "hub.json").write_text(json.dumps(hub))
    assert [t["answer"]["value"] for t in loaders.LOADERS["medmcqa"](str(tmp_path / "hub.json"))] == ["B", "D", "A"]
    export = [{"question": r["question"], "options": [r["opa"], r["opb"], r["opc"], r["opd"]],
               "answer_idx": "ABCD"[r["cop"] - 1]} for r in rows]                             # options / answer_idx
    (tmp_path / "export.jsonl").write_text("".join(json.dumps(r) + "\n" for r in export))
    got = loaders.LOADERS["medmcqa"](str(tmp_path / "export.jsonl"))
    assert [t["answer"]["value"] for t in got] == ["B", "D"] and got[0]["answer"]["options"][1] == "N-acetylcysteine"
    (tmp_path / "test.json").write_text("".join(json.dumps({**r, "cop": -1}) + "\n" for r in rows[:1])
                                        + json.dumps(rows[1]) + "\n")
    assert len(loaders.LOADERS["medmcqa"](str(tmp_path / "test.json"))) == 1
    assert "1 of 2 rows left out (1 without an answer key (cop))" in capsys.readouterr().err
    (tmp_path / "none.json").write_text(json.dumps({**rows[0], "cop": -1}) + "\n")
    with pytest.raises(files.DataError, match="withholds them"):
        loaders.LOADERS["medmcqa"](str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text(json.dumps({"question": "q", "choices": ["a", "b"]}) + "\n")
    with pytest.raises(files.DataError, match=r"bad.json row 1: needs one of the fields \['options'\]"):
        loaders.LOADERS["medmcqa"](str(tmp_path / "bad.json"))


def test_pathvqa_from_the_repositorys_qa_pairs_json():
    tasks = load("pathvqa", "pathvqa_repo", "QA_pairs_vb.json")
    raw = json.load(open(os.path.join(BENCH, "pathvqa_repo", "QA_pairs_vb.json")))
    assert len(tasks) == 3
    for t, r in zip(tasks, raw):
        assert t["question"].startswith(r["Questions"]) and os.path.basename(t["image"]) == r["Image_ID"] + ".jpg"
    assert [t["image_info"]["closed"] for t in tasks] == [False, True, False]
    assert score(tasks[0], "Type I pneumocytes") == 1.0


def test_mimic_labs_are_kept_apart_by_fluid_and_the_stay_keeps_its_admission_id(tmp_path):
    """In the demo, blood and urine results share labels (pH, glucose): keyed by label alone the urine pH 5 replaced
    the blood pH. Each test is its ITEMID, shown as label (fluid); only the first 24 hours count."""
    demo = load("mimic3", "mimic3_demo")
    assert len(demo) == 1 and demo[0]["stay_id"] == "190001"
    assert demo[0]["record"]["labs"] == {"Glucose (blood)": "486 mg/dL (ABNORMAL)", "Glucose (urine)":
                                         "1000 mg/dL (ABNORMAL)", "pH (blood)": "7.37 units", "pH (urine)": "5.0 units"}
    shutil.copytree(os.path.join(BENCH, "mimic3_demo"), tmp_path / "six")      # a 6-column LABEVENTS export
    rows = list(csv.DictReader(open(tmp_path / "six" / "labevents.csv")))
    with open(tmp_path / "six" / "labevents.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject_id", "hadm_id", "itemid", "charttime", "value", "valueuom"])
        columns = ("subject_id", "hadm_id", "itemid", "charttime", "value", "valueuom")
        w.writerows([[r[k] for k in columns] for r in rows])
    six = loaders.LOADERS["mimic3"](str(tmp_path / "six"))
    labs = six[0]["record"]["labs"]
    assert labs["pH (blood)"] == "7.37 units" and labs["pH (urine)"] == "5.0 units"
    with open(tmp_path / "six" / "labevents.csv", "w") as f:
        f.write("subject_id,hadm_id,itemid,value\n90001,190001,50820,7.2\n")
    with pytest.raises(files.DataError, match="labevents.csv: no column 'charttime'"):
        loaders.LOADERS["mimic3"](str(tmp_path / "six"))


# ---------------------------------------------------------------- evaluate.py around the loaders
def test_an_image_folder_that_is_a_link_is_followed(tmp_path):
    (tmp_path / "set").mkdir()
    shutil.copy(os.path.join(BENCH, "vqa_rad_mevf", "testset.json"), tmp_path / "set" / "testset.json")
    os.symlink(os.path.join(BENCH, "vqa_rad_mevf", "images"), tmp_path / "set" / "images")
    assert len(loaders.LOADERS["vqa_rad"](str(tmp_path / "set" / "testset.json"))) == 4


def test_limit_takes_a_seeded_sample_of_each_benchmark_and_says_how_many(capsys):
    spec = f"mmlu={os.path.join(BENCH, 'mmlu', 'clinical_knowledge_test.csv')}"
    a = evaluate.benchmark_tasks([spec], limit=4, seed=0)
    assert len(a) == 4 and a == evaluate.benchmark_tasks([spec], limit=4, seed=0)
    assert [t["id"] for t in a] == sorted(t["id"] for t in a)                  # in the file's order
    assert a != evaluate.benchmark_tasks([spec], limit=4, seed=1)
    assert "clinical_knowledge_test.csv: 4 items (a seeded sample, --limit 4)" in capsys.readouterr().err


def test_the_documented_base_ar_commands_run_as_written(tmp_path):
    """docs/reference.md's and the README's Base+AR commands, with the fixtures' paths in place of the user's and a
    one-item --limit: the config override may stand after --modes."""
    import kb
    kb.build(os.path.join(ROOT, "tests", "fixtures", "corpora"), str(tmp_path / "medrag"))
    paths = {"kb/medrag": str(tmp_path / "medrag"), "questions/US/test.jsonl": os.path.join(ROOT, "tests", "fixtures",
                                                                                              "medqa.jsonl"),
             '"VQA_RAD Dataset Public.json"': os.path.join(BENCH, "vqa_rad_mevf", "testset.json"),
             "mimic-iii-1.4/": os.path.join(BENCH, "mimic3_demo")}
    lines = (open(os.path.join(ROOT, "docs", "reference.md")).read() + open(os.path.join(ROOT, "README.md")).read()
             ).split("\n")
    commands = []
    for i, line in enumerate(lines):
        if line.startswith("python evaluate.py configs/tiny.yaml --no-bank --protocol base_ar"):
            while line.rstrip().endswith("\\"):            # a command continued on the next line
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i]
            commands.append(line)
    assert len(commands) == 2
    for k, command in enumerate(commands):
        for old, new in paths.items():
            command = command.replace(old, new)
        small = ["--limit", "1", "--out", str(tmp_path / f"out{k}"), "rollout.max_new_tokens=8", "rollout.max_turns=1",
                 "init_checkpoint=", "warm_start.out_dir=none"]
        argv = shlex.split(command.split("  #")[0])[2:] + small
        evaluate.main(argv)
        summary = json.load(open(tmp_path / f"out{k}" / "eval.json"))["summary"]
        assert {r["group"] for r in summary} >= {"medqa/medqa", "vqa_rad/testset"}

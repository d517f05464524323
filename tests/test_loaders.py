"""Every benchmark loader on a fixture in its authors' release format: ids unique, one row per file and
subject, answers exact, images attached and loadable, scoring by the benchmark's own metric."""
import os

import pytest

import reward
from clinic import files, images, loaders

FIX = os.path.join(os.path.dirname(__file__), "fixtures")
BENCH = os.path.join(FIX, "bench")


def load(kind, *path):
    return loaders.LOADERS[kind](os.path.join(BENCH, *path))


def score(task, answer):
    return reward.accuracy(task, {"answer": answer})


def test_all_sixteen_paper_benchmarks_have_a_loader():
    assert len(loaders.PAPER_BENCHMARKS) == 16 and set(loaders.PAPER_BENCHMARKS) <= set(loaders.LOADERS)


def test_visual_qa_tasks_carry_their_images_and_scores():
    rad = load("vqa_rad", "vqa_rad", "VQA_RAD Dataset Public.json")
    # a verbatim slice of the release (2 freeform, then a test_freeform and a test_para item): the test_* ones only
    assert [t["question"].split("\n")[0] for t in rad] == ["Is there evidence of an aortic aneurysm?",
                                                           "Are >12 ribs present in the image?"]
    assert [t["answer"]["value"] for t in rad] == ["yes", "yes"] and rad[0]["image_info"]["organ"] == "chest"
    assert rad[0]["answer"]["type"] == "yesno" and rad[0]["image_info"]["closed"]
    assert score(rad[0], "Yes, there is an aortic aneurysm.") == 1.0 and score(rad[0], "No") == 0.0
    slake = load("slake", "slake", "test.json")
    assert [t["answer"]["value"] for t in slake] == ["Liver", "no"]                    # English questions only
    assert slake[0]["image"].endswith(os.path.join("xmlab1", "source.jpg"))
    assert slake[1]["image"].endswith(os.path.join("xmlab2", "source.jpg"))           # same file name, own image
    path = load("pathvqa", "pathvqa", "qas", "test", "test_qa.pkl")
    assert path[0]["image"].endswith("test_0000.jpg") and score(path[0], "the bile ducts") == 1.0
    pmc = load("pmc_vqa", "pmc_vqa", "test.csv")[0]
    assert pmc["answer"] == {"type": "choice", "value": "B", "options": [
        "Diffuse uptake pattern", "Focal uptake pattern", "No uptake pattern",
        "Cannot determine from the information given"]}
    assert score(pmc, "B") == 1.0 and score(pmc, "Focal uptake pattern") == 1.0 and score(pmc, "A") == 0.0
    med = load("vqa_med_2021", "vqa_med_2021", "Task1-VQA-2021-TestSet-w-GroundTruth.txt")[0]
    assert score(med, "Meningiomas") == 1.0 and score(med, "meningioma") == 1.0 and score(med, "glioma") == 0.0
    quilt = load("quilt_vqa", "quilt_vqa", "quilt_vqa.jsonl")
    assert quilt[0]["answer"]["metric"] == "recall"
    assert score(quilt[0], "squamous epithelium") == pytest.approx(2 / 5)     # recall of the reference's words
    assert score(quilt[1], "yes") == 1.0
    for t in rad + slake + path + [pmc, med] + quilt:
        assert os.path.isabs(t["image"]) and images.read_image(t["image"]).size > 0
        assert t["domain"] == "visual_diagnosis" and t["expected_tools"][0]["name"] == "view_image"


def test_pathvqa_pickle_with_code_is_refused(tmp_path):
    import pickle
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([{"image": os.system, "question": "q", "answer": "a"}]))
    with pytest.raises(files.DataError, match="evil.pkl: refusing to load posix.system"):
        loaders.LOADERS["pathvqa"](str(tmp_path / "evil.pkl"))


def test_ehr_mortality_tasks_use_the_first_24_hours_only():
    mimic = load("mimic3", "mimic3")
    # by admission id; the newborn is left out; an age shifted past 89 (DOB 1800) reads 90
    assert [t["patient"] for t in mimic] == [{"age": 36, "sex": "m"}, {"age": 90, "sex": "f"}, {"age": 70, "sex": "f"}]
    first = mimic[2]
    assert first["answer"] == {"type": "yesno", "value": "yes"}
    assert first["record"]["labs"] == {"Creatinine (blood)": "2.3 mg/dL (ABNORMAL)",
                                       "Lactate (blood)": "4.1 mmol/L (ABNORMAL)"}
    assert "SEPSIS" not in first["question"] and "expire" not in str(first).lower()
    assert mimic[0]["answer"]["value"] == "no" and mimic[0]["record"]["labs"] == {"Creatinine (blood)": "0.9 mg/dL"}
    eicu = load("eicu", "eicu")
    assert [(t["patient"]["age"], t["answer"]["value"]) for t in eicu] == [(70, "yes"), (90, "no")]
    assert eicu[0]["record"]["labs"] == {"creatinine": "2.1 mg/dL", "lactate": "5.2 mmol/L"}
    assert eicu[1]["record"]["labs"] == {"creatinine": "1.0 mg/dL"}        # the pre-admission BUN is left out
    assert score(first, "Yes") == 1.0 and score(first, "no") == 0.0


def test_long_form_kqa_and_healthsearchqa():
    kqa = load("kqa_golden", "kqa_golden.jsonl")[0]
    good = "Ibuprofen increases your bleeding risk with warfarin; paracetamol is the safer analgesic option."
    assert score(kqa, good) == 1.0
    assert score(kqa, "Ibuprofen with warfarin increases bleeding risk.") == 0.5      # one of two statements
    assert score(kqa, "Yes, that is fine.") == 0.0
    silver = load("kqa_silver", "kqa_silver.jsonl")[0]
    assert silver["answer"]["must_have"] and silver["answer"]["value"] == ""
    hs = load("healthsearchqa", "healthsearchqa.csv")
    assert len(hs) == 2 and score(hs[0], "anything") is None
    info = reward.compute(hs[0], {"answer": "Most benign tumours are not cancer.", "rationale": "", "turns": [],
                                  "calls": [], "errors": {}})
    assert info["accuracy"] is None and 0 <= info["reward"] <= 1
    med = load("medicationqa", "medicationqa.csv")[0]
    assert 0 < score(med, "Metformin takes about two weeks for full effect.") < 1


def test_rows_per_file_and_subject_and_unique_ids():
    tasks = (load("mmlu", "college_medicine_test.csv") + loaders.LOADERS["mmlu"](os.path.join(FIX, "mmlu_medical.csv"))
             + load("liveqa", "liveqa.jsonl") + load("medicationqa", "medicationqa.csv")
             + loaders.LOADERS["longform"](os.path.join(FIX, "longform.jsonl")))
    assert len({t["id"] for t in tasks}) == len(tasks)
    assert {t["source"] for t in tasks} == {"mmlu/college_medicine", "mmlu/mmlu_medical", "liveqa/liveqa",
                                           "medicationqa/medicationqa", "longform/longform"}
    assert tasks[0]["answer"]["value"] == "C"


def test_hub_parquet_exports(tmp_path):
    """The Hub's parquet exports: MedMCQA with cop 0-3, VQA-RAD with the image bytes inline."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    jpg = open(os.path.join(BENCH, "vqa_rad", "VQA_RAD Image Folder", "synpic42202.jpg"), "rb").read()
    pq.write_table(pa.Table.from_pylist([
        {"image": {"bytes": jpg, "path": "synpic100132.jpg"}, "question": "is there a pneumothorax?", "answer": "yes"},
        {"image": {"bytes": jpg, "path": None}, "question": "what organ is shown?", "answer": "lung"}]),
        tmp_path / "test-00000-of-00001.parquet")
    rad = loaders.LOADERS["vqa_rad"](str(tmp_path / "test-00000-of-00001.parquet"))
    assert [t["answer"]["value"] for t in rad] == ["yes", "lung"] and rad[0]["image_info"]["closed"]
    assert not rad[1]["image_info"]["closed"] and len({t["image"] for t in rad}) == 2
    assert all(images.read_image(t["image"]).shape == (12, 12) for t in rad)
    pq.write_table(pa.Table.from_pylist([{"question": "q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d",
                                          "cop": 2}]), tmp_path / "validation.parquet")
    assert loaders.LOADERS["medmcqa"](str(tmp_path / "validation.parquet"))[0]["answer"]["value"] == "C"

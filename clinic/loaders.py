"""Turn a user's local copy of a public medical benchmark into tasks: the paper's 16, and PubMedQA.

Nothing is downloaded: point a loader at the file (or directory) its authors release. LOADERS maps a
benchmark name to its loader; evaluate.py --bench NAME=PATH calls it. Every task's `source` is
"<benchmark>/<file or subject>", so each benchmark file and each MMLU subject is its own table row, and
task ids are "<source>-<n>" (unique within a run; evaluate.py refuses duplicates).

Each loader reads the file as its authors publish it (and the re-exports users have), validates as it reads (a
missing field is a DataError naming the file, the row and the field) and reports the rows it leaves out.
Text multiple choice (answer: a letter; docs/reference.md lists each file):
  medqa       MedQA (USMLE) JSONL {"question", "options": {"A": ..}, "answer_idx"}
  medmcqa     MedMCQA's release (JSON lines in dev.json: "opa".."opd", "cop" 1-4), the Hub's parquet (cop 0-3),
              or a re-export with "options"/"answer_idx"
  mmlu        MMLU CSV rows question,A,B,C,D,answer (no header; the subject is the file name, as in
              clinical_knowledge_test.csv), or JSONL {"question", "choices", "answer", "subject"?}
  pubmedqa    PubMedQA ori_pqal.json {pmid: {"QUESTION", "CONTEXTS", "final_decision"}} (answer yes/no/maybe)
Long form (free text; accuracy by the benchmark's metric, reward.accuracy):
  liveqa          the TREC 2017 LiveQA medical XML (test and training layouts), or question/answer rows: token F1
                  with the best-matching of the reference answers
  medicationqa    MedInfo2019-QA-Medications.xlsx itself, or question/answer rows: token F1, a question's answers
                  on several rows being its references
  healthsearchqa  CSV or JSONL with a question column; no reference answers exist (Med-PaLM rated them
                  by physicians), so accuracy is not scored (None) and only the other reward dimensions are
  kqa_golden      K-QA questions_w_answers.jsonl {"Question", "Free_form_answer", "Must_have": [..],
                  "Nice_to_have"}: each must-have statement scored on its own (reward.statement_coverage)
  kqa_silver      K-QA questions.jsonl {"Question", ...}: released without references, so unscored like
                  healthsearchqa
Any of these read from JSON/JSONL/CSV also reads a Hugging Face Hub parquet export with the same columns
(through pyarrow, an optional extra; a clear error says so when it is missing). Visual QA and EHR:
clinic/vqa.py (vqa_rad, slake, pathvqa, pmc_vqa, vqa_med_2021, quilt_vqa) and
clinic/ehr.py (mimic3, eicu).
"""
import ast
import csv
import json
import os
import xml.etree.ElementTree as ET

from clinic import ehr, files, vqa
from clinic.benchitems import (LETTERS, choice_task, field, read_rows, report_skipped, skip_counter, source_name,
                               task, text_task)


def _letter(value, n, where):
    """An answer key as a letter among the first n: 'B', 'b', or an index (0-based)."""
    text = str(value).strip().upper()
    letter = LETTERS[int(text)] if text.isdigit() and int(text) < n else text
    if letter not in LETTERS[:n]:
        raise files.DataError(f"{where}: answer key {value!r} is not one of the {n} options")
    return letter


def _options(value, where):
    """Options as a list of texts, from a list or a {'A': text, ...} mapping (in letter order)."""
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise files.DataError(f"{where}: options must be a list or a letter -> text mapping, got {type(value).__name__}")


# ---------------------------------------------------------------- text multiple choice
def load_medqa(path):
    """MedQA (Jin et al. 2021) JSONL rows {"question", "options": {"A": ..}, "answer_idx"} (the release and the Hub's
    exports; options may be a list)."""
    src, out = source_name("medqa", path), []
    for i, r in enumerate(read_rows(path)):
        where = f"{path} row {i + 1}"
        options = _options(field(r, "options", where=where), where)
        out.append(choice_task(src, i, field(r, "question", where=where), options,
                               _letter(field(r, "answer_idx", where=where), len(options), where)))
    return out


def load_medmcqa(path):
    """MedMCQA (Pal et al. 2022) rows in the release's layout, {"question", "opa".."opd", "cop"} with cop 1-4 in its
    JSON files and 0-3 in the Hub's parquet export (told apart by the values the file holds: a 0 or a 4), or a
    re-export's {"question", "options", "answer_idx"}. Rows without a key (the test split's cop is withheld: -1 or
    missing) are left out and reported."""
    rows = read_rows(path)
    cops = {str(r.get("cop")).strip() for r in rows if "cop" in r}
    base = 0 if "0" in cops else 1 if "4" in cops else (0 if path.endswith(".parquet") else 1)
    src, out, skipped = source_name("medmcqa", path), [], skip_counter()
    for i, r in enumerate(rows):
        where = f"{path} row {i + 1}"
        if "opa" in r:
            options, key = [str(field(r, k, where=where)) for k in ("opa", "opb", "opc", "opd")], r.get("cop")
            if key in (None, "", -1, "-1"):
                skipped["without an answer key (cop)"] += 1
                continue
            letter = _letter(int(key) - base, 4, where)
        else:
            options = _options(field(r, "options", where=where), where)
            letter = _letter(field(r, "answer_idx", "answer", where=where), len(options), where)
        out.append(choice_task(src, len(out), field(r, "question", where=where), options, letter))
    report_skipped(path, len(rows), skipped)
    if rows and not out:
        raise files.DataError(f"{path}: no row has an answer key (MedMCQA's test split withholds them; use dev.json)")
    return out


def load_pubmedqa(path):
    """PubMedQA (Jin et al. 2019) ori_pqal.json: {pmid: {"QUESTION", "CONTEXTS", "final_decision"}}."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise files.DataError(f"{path}: PubMedQA's ori_pqal.json maps each PMID to its item")
    src, out = source_name("pubmedqa", path), []
    for i, (pmid, r) in enumerate(sorted(data.items())):
        where = f"{path} PMID {pmid}"
        decision = str(field(r, "final_decision", where=where))
        if decision not in ("yes", "no", "maybe"):
            raise files.DataError(f"{where}: final_decision {decision!r} is not yes, no or maybe")
        out.append(task(src, i, "Context: " + " ".join(field(r, "CONTEXTS", where=where)) + "\nQuestion: "
                        + field(r, "QUESTION", where=where) + "\nSubmit one of: yes, no, maybe.",
                        {"type": "label", "value": decision, "options": ["yes", "no", "maybe"]}))
    return out


def load_mmlu(path):
    """One row per subject: the file's (clinical_knowledge_test.csv -> clinical_knowledge), or each JSONL
    record's 'subject'. Ids count within each subject."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = [{"question": r[0], "choices": r[1:5], "answer": r[5]} if len(r) == 6 else {"bad": len(r)}
                    for r in csv.reader(f) if r]
    else:
        rows = read_rows(path)
    stem = os.path.basename(path).split(".")[0]
    for suffix in ("_test", "_dev", "_val"):
        stem = stem[:-len(suffix)] if stem.endswith(suffix) else stem
    out, counts = [], {}
    for i, r in enumerate(rows):
        where = f"{path} row {i + 1}"
        if "bad" in r:
            raise files.DataError(f"{where}: an MMLU CSV row is question,A,B,C,D,answer (6 fields), this one has "
                                  f"{r['bad']}")
        src = source_name("mmlu", path, r.get("subject") or stem)
        choices = _options(field(r, "choices", where=where), where)
        out.append(choice_task(src, counts.setdefault(src, 0), field(r, "question", where=where), choices,
                               _letter(field(r, "answer", where=where), len(choices), where)))
        counts[src] += 1
    return out


# ---------------------------------------------------------------- long form
def _liveqa_xml(path):
    """TREC 2017 LiveQA medical XML, test and training layouts alike: per NLM-QUESTION, the consumer's SUBJECT and
    MESSAGE (inside Original-Question in the test file) and every reference ANSWER (under RefAnswer or
    ReferenceAnswer in the test file, under SUB-QUESTIONS in the training files)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise files.DataError(f"{path}: not well-formed XML ({e})") from None
    rows = []
    for q in root.iter("NLM-QUESTION"):
        text = lambda tag: " ".join("".join(q.find(f".//{tag}").itertext()).split()) \
            if q.find(f".//{tag}") is not None else ""  # noqa: E731
        answers = [" ".join("".join(a.itertext()).split()) for a in q.iter("ANSWER")]
        rows.append({"id": q.get("qid") or q.get("questionid"), "question": ". ".join(
            t for t in (text("SUBJECT"), text("MESSAGE")) if t), "answers": [a for a in answers if a]})
    if not rows:
        raise files.DataError(f"{path}: no NLM-QUESTION element (a TREC 2017 LiveQA medical XML file has them)")
    return rows


def load_liveqa(path):
    """LiveQA medical (Ben Abacha et al., TREC 2017) from its XML release, or JSONL/CSV/parquet rows with
    question/answer. Scored by token F1 against the best-matching reference answer."""
    rows = _liveqa_xml(path) if path.endswith(".xml") else read_rows(path)
    src, out, skipped = source_name("liveqa", path), [], skip_counter()
    for i, r in enumerate(rows):
        where = f"{path} {'question ' + str(r['id']) if 'answers' in r else 'row ' + str(i + 1)}"
        refs = r["answers"] if "answers" in r else [field(r, "answer", where=where)]
        if not refs:
            skipped["without a reference answer"] += 1
            continue
        out.append(text_task(src, len(out), r["question"] if "answers" in r else field(r, "question", where=where),
                             refs))
    report_skipped(path, len(rows), skipped)
    return out


def load_medicationqa(path):
    """MedicationQA (Ben Abacha et al., MedInfo 2019) from its release, MedInfo2019-QA-Medications.xlsx (columns
    Question, Focus (Drug), Question Type, Answer, Section Title, URL), or a CSV/JSONL/parquet re-export. A question
    asked on several rows is one item whose references are all its answers (token F1 with the best one)."""
    rows = read_rows(path)
    answers, skipped = {}, skip_counter()
    for i, r in enumerate(rows):
        where = f"{path} row {i + 2 if path.endswith(('.xlsx', '.csv')) else i + 1}"
        question, answer = field(r, "question", where=where), field(r, "answer", required=False)
        if not answer:
            skipped["without an answer"] += 1
            continue
        answers.setdefault(" ".join(str(question).split()), []).append(" ".join(str(answer).split()))
    report_skipped(path, len(rows), skipped)
    src = source_name("medicationqa", path)
    return [text_task(src, i, q, refs) for i, (q, refs) in enumerate(answers.items())]


def _longform(bench):
    def load(path):
        src, out = source_name(bench, path), []
        for i, r in enumerate(read_rows(path)):
            where = f"{path} row {i + 1}"
            out.append(text_task(src, i, field(r, "question", where=where), field(r, "answer", where=where)))
        return out
    load.__name__ = f"load_{bench}"
    return load


def _unscored(bench, path, rows, column="question"):
    """Questions released without reference answers: accuracy is not scored (None), the other dimensions are."""
    src = source_name(bench, path)
    return [text_task(src, i, field(r, column, where=f"{path} row {i + 1}"), None, metric="unscored")
            for i, r in enumerate(rows)]


def load_healthsearchqa(path):
    return _unscored("healthsearchqa", path, read_rows(path))


def _statements(value, where):
    """K-QA's must-have / nice-to-have statements: a list, or (in the release's JSONL) the text of a Python list."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = ast.literal_eval(value)          # literals only: it cannot run code
        except (ValueError, SyntaxError):
            raise files.DataError(f"{where}: statements {value[:60]!r}... are not a list") from None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise files.DataError(f"{where}: statements must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def load_kqa_golden(path):
    """K-QA golden (Manes et al. 2024; dataset/questions_w_answers.jsonl, 201 items): the question, the physicians'
    free-form answer and must-have statements; accuracy = share of must-have statements the answer covers."""
    src, out = source_name("kqa_golden", path), []
    for i, r in enumerate(read_rows(path)):
        where = f"{path} row {i + 1}"
        must = _statements(field(r, "Must_have", where=where), where)
        if not must:
            raise files.DataError(f"{where}: no must-have statement")
        out.append(text_task(src, i, field(r, "Question", where=where),
                             field(r, "Free_form_answer", required=False) or "", metric="statements", must_have=must,
                             nice_to_have=_statements(field(r, "Nice_to_have", required=False) or [], where)))
    return out


def load_kqa_silver(path):
    """K-QA's 1,212 further patient questions (dataset/questions.jsonl): released without an expert answer or
    statements, so, as with HealthSearchQA, accuracy is not scored (None) and the other reward dimensions are. A file
    whose rows do carry must-have statements is read as golden."""
    rows = read_rows(path)
    if rows and all(field(r, "Must_have", required=False) for r in rows):
        return [{**t, "source": t["source"].replace("kqa_golden", "kqa_silver"),
                 "id": t["id"].replace("kqa_golden", "kqa_silver")} for t in load_kqa_golden(path)]
    return _unscored("kqa_silver", path, rows, "Question")


LOADERS = {"medqa": load_medqa, "medmcqa": load_medmcqa, "mmlu": load_mmlu, "pubmedqa": load_pubmedqa,
           "liveqa": load_liveqa, "medicationqa": load_medicationqa,
           "longform": _longform("longform"), "healthsearchqa": load_healthsearchqa,
           "kqa_golden": load_kqa_golden, "kqa_silver": load_kqa_silver,
           **vqa.LOADERS, **ehr.LOADERS}
PAPER_BENCHMARKS = ("medqa", "medmcqa", "mmlu", "liveqa", "medicationqa", "healthsearchqa", "kqa_golden",
                    "kqa_silver", "vqa_rad", "slake", "pathvqa", "pmc_vqa", "vqa_med_2021", "quilt_vqa",
                    "mimic3", "eicu")

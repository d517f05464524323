"""Turn a user's local copy of a public medical benchmark into tasks: the paper's 16, and PubMedQA.

Nothing is downloaded: point a loader at the file (or directory) its authors release. LOADERS maps a
benchmark name to its loader; evaluate.py --bench NAME=PATH calls it. Every task's `source` is
"<benchmark>/<file or subject>", so each benchmark file and each MMLU subject is its own table row, and
task ids are "<source>-<n>" (unique within a run; evaluate.py refuses duplicates).

Text multiple choice (answer: a letter; docs/reference.md lists each file):
  medqa       MedQA (USMLE) JSONL {"question", "options": {"A": ..}, "answer_idx"}
  medmcqa     MedMCQA JSONL {"question", "opa".."opd", "cop"}; cop is 1-4 in the released JSON, 0-3 in the
              Hub's parquet export (read as such from a .parquet file)
  mmlu        MMLU CSV rows question,A,B,C,D,answer (no header; the subject is the file name, as in
              clinical_knowledge_test.csv), or JSONL {"question", "choices", "answer", "subject"?}
  pubmedqa    PubMedQA ori_pqal.json {pmid: {"QUESTION", "CONTEXTS", "final_decision"}} (answer yes/no/maybe)
Long form (free text; accuracy by the benchmark's metric, reward.accuracy):
  liveqa, medicationqa  JSONL or CSV with question/answer (also Question/Answer): token F1
  healthsearchqa        CSV or JSONL with a question column; no reference answers exist (Med-PaLM rated them
                        by physicians), so accuracy is not scored (None) and only the other reward dimensions are
  kqa_golden, kqa_silver  K-QA JSONL {"Question", "Free_form_answer"?, "Must_have": [..], "Nice_to_have"}:
                        each must-have statement scored on its own (reward.statement_coverage)
Any of these read from JSON/JSONL/CSV also reads a Hugging Face Hub parquet export with the same columns
(through pyarrow, an optional extra; a clear error says so when it is missing). Visual QA and EHR:
clinic/vqa.py (vqa_rad, slake, pathvqa, pmc_vqa, vqa_med_2021, quilt_vqa) and
clinic/ehr.py (mimic3, eicu).
"""
import csv
import json
import os

from clinic import ehr, vqa
from clinic.benchitems import LETTERS, choice_task, field, read_rows, source_name, task, text_task

# ---------------------------------------------------------------- text multiple choice
def load_medqa(path):
    src = source_name("medqa", path)
    return [choice_task(src, i, r["question"], [r["options"][k] for k in sorted(r["options"])], r["answer_idx"].strip())
            for i, r in enumerate(read_rows(path))]


def load_medmcqa(path, cop_base=None):
    """cop is 1-4 in the released JSON files and 0-3 in the Hub's parquet export (cop_base: None = by file)."""
    src = source_name("medmcqa", path)
    base = cop_base if cop_base is not None else 0 if path.endswith(".parquet") else 1
    return [choice_task(src, i, r["question"], [r[k] for k in ("opa", "opb", "opc", "opd")],
                        LETTERS[int(r["cop"]) - base]) for i, r in enumerate(read_rows(path))]


def load_pubmedqa(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    src = source_name("pubmedqa", path)
    return [task(src, i, "Context: " + " ".join(r["CONTEXTS"]) + "\nQuestion: " + r["QUESTION"]
                 + "\nSubmit one of: yes, no, maybe.",
                 {"type": "label", "value": r["final_decision"], "options": ["yes", "no", "maybe"]})
            for i, (pmid, r) in enumerate(sorted(data.items()))]


def load_mmlu(path):
    """One row per subject: the file's (clinical_knowledge_test.csv -> clinical_knowledge), or each JSONL
    record's 'subject'. Ids count within each subject."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = [{"question": r[0], "choices": r[1:5], "answer": r[5]} for r in csv.reader(f) if r]
    else:
        rows = read_rows(path)
    stem = os.path.basename(path).split(".")[0]
    for suffix in ("_test", "_dev", "_val"):
        stem = stem[:-len(suffix)] if stem.endswith(suffix) else stem
    out, counts = [], {}
    for r in rows:
        src = source_name("mmlu", path, r.get("subject") or stem)
        a = r["answer"]
        letter = LETTERS[a] if isinstance(a, int) else str(a).strip().upper()
        out.append(choice_task(src, counts.setdefault(src, 0), r["question"], list(r["choices"]), letter))
        counts[src] += 1
    return out


# ---------------------------------------------------------------- long form
def _longform(bench):
    def load(path):
        src, out = source_name(bench, path), []
        for i, r in enumerate(read_rows(path)):
            where = f"{path} item {i + 1}"
            out.append(text_task(src, i, field(r, "question", where=where), field(r, "answer", where=where)))
        return out
    load.__name__ = f"load_{bench}"
    return load


def load_healthsearchqa(path):
    src = source_name("healthsearchqa", path)
    return [text_task(src, i, field(r, "question", where=f"{path} item {i + 1}"), None, metric="unscored")
            for i, r in enumerate(read_rows(path))]


def _kqa(bench):
    def load(path):
        src, out = source_name(bench, path), []
        for i, r in enumerate(read_rows(path)):
            where = f"{path} item {i + 1}"
            must = field(r, "Must_have", where=where)
            out.append(text_task(src, i, field(r, "Question", where=where),
                                 field(r, "Free_form_answer", required=False, where=where) or "",
                                 metric="statements", must_have=list(must),
                                 nice_to_have=list(field(r, "Nice_to_have", required=False) or [])))
        return out
    load.__name__ = f"load_{bench}"
    return load


LOADERS = {"medqa": load_medqa, "medmcqa": load_medmcqa, "mmlu": load_mmlu, "pubmedqa": load_pubmedqa,
           "liveqa": _longform("liveqa"), "medicationqa": _longform("medicationqa"),
           "longform": _longform("longform"), "healthsearchqa": load_healthsearchqa,
           "kqa_golden": _kqa("kqa_golden"), "kqa_silver": _kqa("kqa_silver"),
           **vqa.LOADERS, **ehr.LOADERS}
PAPER_BENCHMARKS = ("medqa", "medmcqa", "mmlu", "liveqa", "medicationqa", "healthsearchqa", "kqa_golden",
                    "kqa_silver", "vqa_rad", "slake", "pathvqa", "pmc_vqa", "vqa_med_2021", "quilt_vqa",
                    "mimic3", "eicu")

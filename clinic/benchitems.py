"""What every benchmark loader shares: the task shape, row names, and tolerant field reading.

A benchmark item becomes a task of the bank's shape (test split, no safety rules, no rubric) whose
`source` is "<benchmark>/<file or subject>" and whose id is "<source>-<n>".
"""
import csv
import json
import os

LETTERS = "ABCDE"


def source_name(bench, path, subject=None):
    """'<benchmark>/<subject or file stem>': one evaluation row per benchmark file and subject."""
    stem = os.path.basename(os.path.normpath(path)).split(".")[0]
    return f"{bench}/{subject or stem}"


def task(source, i, question, answer, expected=None, domain="medical_qa", **extra):
    """A benchmark item as a task of the bank's shape (test split, no safety rules, no rubric)."""
    search = {"name": "search_knowledge_base", "arguments": {"query": question[:200]}, "match": []}
    return {"id": f"{source}-{i:05d}", "domain": domain, "split": "test", "question": question, "patient": {},
            "record": {}, "image": None, "answer": answer, "expected_tools": expected or [search], "safety": [],
            "assertions": [], "source": source, **extra}


def choice_task(source, i, question, options, letter):
    body = question + "\n" + "\n".join(f"{LETTERS[j]}) {o}" for j, o in enumerate(options))
    return task(source, i, body + "\nSubmit the letter of the correct option.",
                {"type": "choice", "value": letter, "options": list(options)})


def text_task(source, i, question, reference, metric="f1", **answer):
    return task(source, i, question + "\nSubmit your answer in a few sentences.",
                {"type": "text", "value": reference, "metric": metric, "options": [], **answer})


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_rows(path):
    """JSONL, JSON (a list) or CSV with a header, as a list of dicts."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return read_jsonl(path)


def field(row, *names, required=True, where=""):
    """The first of `names` present in row (any case); a clear error naming them when none is."""
    lower = {k.lower(): v for k, v in row.items()}
    for n in names:
        if lower.get(n.lower()) not in (None, ""):
            return lower[n.lower()]
    if required:
        raise ValueError(f"{where}: needs one of the fields {list(names)}, has {sorted(row)}")
    return None

"""What every benchmark loader shares: the task shape, row names, and tolerant field reading.

A benchmark item becomes a task of the bank's shape (test split, no safety rules, no rubric) whose
`source` is "<benchmark>/<file or subject>" and whose id is "<source>-<n>".
"""
import csv
import json
import os

from clinic import files

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


def choice_task(source, i, question, options, letter, **extra):
    """Lettered options under the question; extra: task() keywords (expected, domain, image, ...)."""
    body = question + "\n" + "\n".join(f"{LETTERS[j]}) {o}" for j, o in enumerate(options))
    return task(source, i, body + "\nSubmit the letter of the correct option.",
                {"type": "choice", "value": letter, "options": list(options)}, **extra)


def text_task(source, i, question, reference, metric="f1", **answer):
    return task(source, i, question + "\nSubmit your answer in a few sentences.",
                {"type": "text", "value": reference, "metric": metric, "options": [], **answer})


def read_rows(path):
    """JSONL, JSON (a list), CSV with a header, or a Hugging Face Hub parquet export (needs pyarrow, an
    optional extra), as a list of dicts."""
    if path.endswith(".parquet"):
        try:
            import pyarrow.parquet
        except ImportError:
            raise ValueError(f"{path}: reading parquet needs pyarrow (pip install pyarrow), an optional extra; "
                             "or pass the benchmark's original release file") from None
        return pyarrow.parquet.read_table(path).to_pylist()
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return files.read_jsonl(path)


def saved_image(value, path, i):
    """An image given inline (a parquet export's {"bytes", "path"}) written once beside the file, under
    <file stem>_images/, so it is read like any other; a file name is returned as it is."""
    if not isinstance(value, dict):
        return value
    name = os.path.basename(value.get("path") or "") or f"{i:06d}.png"
    out = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(path).split(".")[0] + "_images")
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, f"{i:06d}_{name}")
    if not os.path.exists(target):
        with open(target, "wb") as f:
            f.write(value["bytes"])
    return target


def field(row, *names, required=True, where=""):
    """The first of `names` present in row (any case); a clear error naming them when none is."""
    lower = {k.lower(): v for k, v in row.items()}
    for n in names:
        if lower.get(n.lower()) not in (None, ""):
            return lower[n.lower()]
    if required:
        raise ValueError(f"{where}: needs one of the fields {list(names)}, has {sorted(row)}")
    return None

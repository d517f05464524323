"""What every benchmark loader shares: the task shape, reading rows from any of the release formats, tolerant
field reading that names the file, row and field when one is missing, and the report of skipped rows.

A benchmark item becomes a task of the bank's shape (test split, no safety rules, no rubric) whose
`source` is "<benchmark>/<file or subject>" and whose id is "<source>-<n>".
"""
import collections
import csv
import json
import os
import re
import xml.etree.ElementTree as ET
import zipfile

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
    """A free-text item; several references (a list) are scored against the best-matching one."""
    refs = reference if isinstance(reference, list) else [reference]
    return task(source, i, question + "\nSubmit your answer in a few sentences.",
                {"type": "text", "value": refs[0], "accept": refs[1:], "metric": metric, "options": [], **answer})


def read_rows(path):
    """JSONL (also under a .json name, as MedMCQA ships it), JSON (a list), CSV with a header, an Excel .xlsx sheet
    with a header row, or a Hugging Face Hub parquet export (needs pyarrow, an optional extra), as a list of dicts."""
    rows = _rows(path)
    rows = [rows] if isinstance(rows, dict) else rows
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise files.DataError(f"{path}: expected rows of fields (a list of JSON objects, a CSV with a header, ...)")
    return rows


def _rows(path):
    if path.endswith(".parquet"):
        try:
            import pyarrow.parquet
        except ImportError:
            raise files.DataError(f"{path}: reading parquet needs pyarrow (pip install pyarrow), an optional extra; "
                             "or pass the benchmark's original release file") from None
        return pyarrow.parquet.read_table(path).to_pylist()
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if path.endswith(".xlsx"):
        return read_xlsx(path)
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            if e.msg != "Extra data":           # one JSON value a line under a .json name (MedMCQA's dev.json)
                raise files.DataError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
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
        raise files.DataError(f"{where}: needs one of the fields {list(names)}, has {sorted(row)}")
    return None


SPREADSHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def read_xlsx(path):
    """The first worksheet of an Excel .xlsx file as dicts keyed by its header row. An .xlsx is a zip of XML
    (ECMA-376): xl/workbook.xml lists the sheets, xl/sharedStrings.xml holds the text of cells of type "s", and each
    <row> of a sheet holds <c r="B7" t="s"><v>12</v></c> cells (empty cells are left out, hence the column letters)."""
    try:
        with zipfile.ZipFile(path) as z:
            strings = [] if "xl/sharedStrings.xml" not in z.namelist() else [
                "".join(t.text or "" for t in si.iter(SPREADSHEET + "t"))
                for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(SPREADSHEET + "si")]
            rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
                    .iter(PACKAGE_RELS + "Relationship")}
            first = next(ET.fromstring(z.read("xl/workbook.xml")).iter(SPREADSHEET + "sheet"))
            target = rels[first.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")]
            sheet = ET.fromstring(z.read("xl/" + target.lstrip("/").removeprefix("xl/")))
    except (zipfile.BadZipFile, KeyError, StopIteration, ET.ParseError) as e:
        raise files.DataError(f"{path}: not an Excel .xlsx workbook ({type(e).__name__}: {e})") from None
    table = [_xlsx_row(row, strings) for row in sheet.iter(SPREADSHEET + "row")]
    if not table:
        return []
    header = [str(h or "").strip() for h in table[0]]
    return [{h: (r[j] if j < len(r) else None) for j, h in enumerate(header) if h}
            for r in table[1:] if any(v not in (None, "") for v in r)]


def _xlsx_row(row, strings):
    cells = {}
    for c in row.iter(SPREADSHEET + "c"):
        col = 0
        for ch in re.match(r"[A-Z]+", c.get("r")).group():
            col = col * 26 + ord(ch) - 64
        kind, v = c.get("t"), c.find(SPREADSHEET + "v")
        if kind == "inlineStr":
            value = "".join(t.text or "" for t in c.iter(SPREADSHEET + "t"))
        elif v is None:
            value = None
        else:
            value = strings[int(v.text)] if kind == "s" else v.text
        cells[col - 1] = value
    return [cells.get(j) for j in range(max(cells) + 1)] if cells else []


def report_skipped(path, total, skipped):
    """A warning naming the rows a loader left out and why (a Counter of reasons), if any: a skip is never silent."""
    if skipped:
        reasons = "; ".join(f"{n} {why}" for why, n in skipped.most_common())
        files.warn(f"{path}: {sum(skipped.values())} of {total} rows left out ({reasons})")


def skip_counter():
    return collections.Counter()

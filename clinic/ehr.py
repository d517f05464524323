"""MIMIC-III and eICU as tasks: in-hospital mortality from the first 24 hours of laboratory results.

The task format is ours, defined on the public schemas (MIMIC-III v1.4, Johnson et al. 2016; eICU-CRD v2.0,
Pollard et al. 2018); the data needs the user's PhysioNet credentials and is never downloaded. One task
per stay: the patient's age and sex, and in the record (revealed by get_lab_results) the last value of
each laboratory test in the first 24 hours (MIMIC: a test is its ITEMID, named "label (fluid)", so a urine pH
is never taken for a blood pH); the question is whether the patient dies before hospital
discharge (answer yes/no, from ADMISSIONS.HOSPITAL_EXPIRE_FLAG or patient.hospitaldischargestatus).
Nothing recorded after hour 24, and no diagnosis or discharge field, enters the task. Adults only (>= 18
years; MIMIC shifts ages over 89 to about 300, shown here as 90), stays with at least one result.

  mimic3  a directory with ADMISSIONS, PATIENTS, LABEVENTS and D_LABITEMS (.csv or .csv.gz; upper- or
          lower-case column names, so the public demo subset loads too)
  eicu    a directory with patient and lab (.csv or .csv.gz)
Tables are streamed row by row, so LABEVENTS (27M rows) needs memory for the kept results only.
"""
import csv
import datetime
import gzip
import os

from clinic import files
from clinic.benchitems import source_name, task

HOURS = 24
QUESTION = ("{who} Using the laboratory results of the first 24 hours, will the patient die before discharge "
            "from hospital? Submit yes or no.")


def _table(directory, name, needs):
    """Rows of a table as dicts with lower-case keys, from NAME.csv(.gz) or name.csv(.gz): the release's full
    layout or a narrower export, as long as it has the columns `needs` (an error names the file and the column)."""
    for n in (name.upper(), name.lower(), name):
        for ext in (".csv.gz", ".csv"):
            path = os.path.join(directory, n + ext)
            if os.path.exists(path):
                with (gzip.open(path, "rt", newline="") if ext.endswith(".gz") else open(path, newline="")) as f:
                    reader = csv.DictReader(f)
                    missing = [c for c in needs if c not in {k.lower() for k in reader.fieldnames or ()}]
                    if missing:
                        raise files.DataError(f"{path}: no column {missing[0]!r} (it has {reader.fieldnames})")
                    for row in reader:
                        yield {k.lower(): v for k, v in row.items()}
                return
    raise files.DataError(f"{directory}: no {name}.csv or {name}.csv.gz")


def _time(text):
    return datetime.datetime.fromisoformat(text.strip())


def _lab_text(value, unit, flag=""):
    return f"{value} {unit}".strip() + (f" ({flag.upper()})" if flag else "")


def _keep_latest(labs, key, name, when, text):
    """Rows are not in time order: keep each test's (key's) latest result within the window, under its name."""
    if key not in labs or labs[key][0] <= when:
        labs[key] = (when, name, text)


def _stay_tasks(bench, directory, stays, describe):
    """One task per stay (in stay-id order) that has a result; describe(stay) opens the question; the stay's own
    id (MIMIC's HADM_ID, eICU's patientunitstayid) is kept as task["stay_id"]."""
    src, out = source_name(bench, directory), []
    for key in sorted(stays, key=int):
        s = stays[key]
        if s["labs"]:
            out.append(task(src, len(out), QUESTION.format(who=describe(s)),
                            {"type": "yesno", "value": "yes" if s["died"] else "no"},
                            expected=[{"name": "get_lab_results", "arguments": {}}], domain="ehr_management",
                            patient={"age": s["age"], "sex": s["sex"]}, stay_id=key,
                            record={"labs": dict(sorted((name, text) for _, name, text in s["labs"].values()))}))
    return out


def load_mimic3(directory):
    patients = {r["subject_id"]: r for r in _table(directory, "PATIENTS", ("subject_id", "gender", "dob"))}
    stays = {}
    for r in _table(directory, "ADMISSIONS", ("subject_id", "hadm_id", "admittime", "hospital_expire_flag")):
        p = patients.get(r["subject_id"])
        if p is None or r.get("hospital_expire_flag", "") == "":
            continue
        age = (_time(r["admittime"]) - _time(p["dob"])).days // 365
        if age >= 18:
            stays[r["hadm_id"]] = dict(admit=_time(r["admittime"]), age=min(age, 90), sex=p["gender"].lower(),
                                       kind=r.get("admission_type", "").lower(), died=r["hospital_expire_flag"] == "1",
                                       labs={})
    # a test is its ITEMID: the same label names different tests in different fluids (pH, glucose, protein in
    # blood and in urine), so each is shown as "label (fluid)" and kept apart
    names = {r["itemid"]: f"{r['label']} ({r['fluid'].lower()})" if r.get("fluid") else r["label"]
             for r in _table(directory, "D_LABITEMS", ("itemid", "label"))}
    for r in _table(directory, "LABEVENTS", ("hadm_id", "itemid", "charttime", "value")):
        s = stays.get(r.get("hadm_id"))
        if s is None or not r["value"]:
            continue
        hours = (_time(r["charttime"]) - s["admit"]).total_seconds() / 3600
        if 0 <= hours <= HOURS:
            _keep_latest(s["labs"], r["itemid"], names.get(r["itemid"], f"item {r['itemid']}"), hours,
                         _lab_text(r["value"], r.get("valueuom", ""), r.get("flag", "")))
    return _stay_tasks("mimic3", directory, stays, lambda s: f"A {s['age']}-year-old "
                       f"{'woman' if s['sex'] == 'f' else 'man'}, {s['kind']} admission.")


def load_eicu(directory):
    stays = {}
    for r in _table(directory, "patient", ("patientunitstayid", "age", "hospitaldischargestatus")):
        status = r.get("hospitaldischargestatus", "")
        age = 90 if r.get("age", "").startswith(">") else int(r["age"]) if r.get("age", "").isdigit() else None
        if status in ("Alive", "Expired") and age is not None and age >= 18:
            stays[r["patientunitstayid"]] = dict(age=age, sex=r.get("gender", "").lower(), died=status == "Expired",
                                                 unit=r.get("unittype", ""), labs={})
    for r in _table(directory, "lab", ("patientunitstayid", "labname", "labresult", "labresultoffset")):
        s = stays.get(r["patientunitstayid"])
        if s is None or r.get("labresult", "") == "":
            continue
        minutes = int(r["labresultoffset"])
        if 0 <= minutes <= 60 * HOURS:
            _keep_latest(s["labs"], r["labname"], r["labname"], minutes,
                         _lab_text(r["labresult"], r.get("labmeasurenamesystem", "")))
    return _stay_tasks("eicu", directory, stays,
                       lambda s: f"A {s['age']}-year-old {s['sex'] or 'patient'} admitted to the {s['unit'] or 'ICU'}.")


LOADERS = {"mimic3": load_mimic3, "eicu": load_eicu}

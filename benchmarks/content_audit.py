"""Audit a task bank against the clinical models: every answer key and safety rule, task by task.

  python benchmarks/content_audit.py [data/tasks.jsonl ...]

For each task, `problems(task)` lists what a clinician would call wrong under knowledge.py and
pharmacology.py: a yes/no key the pregnancy or interaction model contradicts, a question with a second
right option, a test rewarded for a clinical diagnosis, a critical flag missing (or asked for a known,
unchanged finding), a guideline-recommended combination forbidden as a critical harm, a quiet option the
model never checked; and, on every task, a chart that contradicts itself: a stated finding its vital signs
deny (fever at 37.2 C, a pulseless patient with a rate), GCS below 15 charted Alert, a weight that does not
fit the age, a diagnosis its record does not support or a distractor it does not rule out. tests/test_content.py asserts the shipped bank has none; run on
an older bank (git show REV:data/tasks.jsonl > old.jsonl) it counts what that bank got wrong.
"""
import collections
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from clinic import knowledge as K  # noqa: E402
from clinic import pharmacology as P  # noqa: E402
from clinic import physiology  # noqa: E402
from clinic import scores as S  # noqa: E402

LETTERS = "ABCDE"
BY_TEXT = {d.replace("_", " "): d for d in P.DRUGS}
LONGEST_FIRST = sorted(BY_TEXT, key=len, reverse=True)   # a name is never matched by a shorter one inside it
DISEASES_LONGEST_FIRST = sorted(K.DISEASES, key=len, reverse=True)


def _drug_in(text, prefix):
    """The drug named right after `prefix` in a question (longest name first)."""
    for name in LONGEST_FIRST:
        if f"{prefix}{name}" in text:
            return BY_TEXT[name]
    return None


def _key(task):
    a = task["answer"]
    return a["options"][LETTERS.index(a["value"])] if a["type"] == "choice" else a["value"]


def _unsafe(a, b):
    hit = P.interaction(a, b) if a in P.DRUGS and b in P.DRUGS else None
    return hit is not None and hit.severity in P.UNSAFE


def _drug_interaction(t):
    q, out = t["question"], []
    if t["answer"]["type"] == "yesno":
        new = _drug_in(q, "considered for ")
        meds = t["record"]["medications"]
        truth = "no" if any(_unsafe(new, m) for m in meds) else "yes"
        if t["answer"]["value"] != truth:
            out.append(f"keyed {t['answer']['value']!r} for {new} with {meds}: model says {truth!r}")
        unchecked = [m for m in meds if P.interaction(new, m) is None and not P.checked_quiet(new, m)]
        if unchecked:
            out.append(f"regimen drugs {unchecked} never checked against {new}")
    else:
        new = _drug_in(q, "about to start ")
        hits = [o for o in t["answer"]["options"] if P.interaction(new, o)]
        if hits != [_key(t)]:
            out.append(f"options interacting with {new}: {hits} (key {_key(t)})")
        unchecked = [o for o in t["answer"]["options"] if o != _key(t) and not P.checked_quiet(new, o)]
        if unchecked:
            out.append(f"quiet options {unchecked} never checked against {new}")
    for c in t["safety"]:        # no guideline-recommended ('monitor') combination is a critical harm
        if c["kind"] == "forbidden_call" and c["severity"] == "critical":
            meds = t["record"]["medications"]
            if not any(_unsafe(d, m) for d in c["values"] for m in meds):
                out.append(f"forbids {c['values']} with {meds} though no pair is contraindicated/avoid")
    return out


def _obstetrics(t):
    if t["answer"]["type"] != "yesno":
        return []
    drug = _drug_in(t["question"], "Is ") or _drug_in(t["question"], "asks about ")
    weeks = t["patient"]["gestational_weeks"]
    status = P.pregnancy_status(drug, weeks)[0]
    if status == "caution":
        return [f"{drug} at {weeks} weeks is a risk-benefit decision: no yes/no key is right"]
    truth = "yes" if status == "compatible" else "no"
    return [] if t["answer"]["value"] == truth else [f"{drug} at {weeks} weeks keyed {t['answer']['value']!r}: "
                                                      f"{status}"]


def dis_name(stem):
    """The disease a question stem is about (longest name first; the first-line stems of
    knowledge.TREATMENT_QUESTIONS name it in other words)."""
    for name, question in K.TREATMENT_QUESTIONS.items():
        if stem == question:
            return name
    return next((n for n in DISEASES_LONGEST_FIRST if n in stem), None)


def _medical_qa(t):
    q, opts, key = t["question"], t["answer"]["options"], _key(t)
    stem = q.split("\n")[0]
    dis = K.DISEASES.get(dis_name(stem))
    if stem == K.treatment_question(dis_name(stem)):
        ok = {dis["treatment"], *dis["alternatives"]}
        right = [o for o in opts if o in ok]
        return [] if right == [key] else [f"defensible first-line options {right} (key {key})"]
    if "ICD-10-CM" in q:
        return [] if key == dis["icd10"] else [f"code {key} keyed, ICD-10-CM 2024 says {dis['icd10']}"]
    if "confirm" in q:
        truth = dis["confirm_test"][1] if dis["confirm_test"] else "clinical diagnosis (no test needed)"
        return [] if key == truth else [f"confirmatory test keyed {key}, should be {truth}"]
    if "drug class" in q:
        words = set(key.lower().split())     # the same class in other words ('NSAID' for aspirin)
        same = [o for o in opts if set(o.lower().split()) <= words or words <= set(o.lower().split())]
        return [] if same == [key] else [f"options naming the class {key!r}: {same}"]
    if "pregnancy" in q:
        bad = [o for o in opts if P.statuses_between(o, 28, 40) != {"compatible"}]
        wrong_key = P.statuses_between(key, 28, 40) != {"contraindicated"}
        return [] if bad == [key] and not wrong_key else [f"options not compatible in pregnancy: {bad} (key {key})"]
    return []


def _clinical_diagnosis(t):
    key = _key(t)
    dis = K.DISEASES[key]
    tests = [c for c in t["expected_tools"] if c["name"] in ("order_lab", "order_imaging")]
    want = [] if dis["confirm_test"] is None else [dis["confirm_test"][1]]
    got = [list(c["arguments"].values())[0] for c in tests]
    out = [] if got == want else [f"{key}: expected tests {got}, confirmatory test is {want or 'none'}"]
    out += [f"{key}: {v} {t['record']['vitals'].get(v)} outside its presentation's {rng}"
            for v, rng in _outside(key, t["record"]["vitals"])]
    if dis["confirm_test"] and _result(t, dis["confirm_test"]) != dis["confirm_test"][2]:
        out.append(f"{key}: its confirmatory {dis['confirm_test'][1]} is not abnormal in the record")
    for other in t["answer"]["options"]:
        if other != key and not _ruled_out(t, key, other):
            out.append(f"distractor {other} is not ruled out by the record")
    if key == "sepsis":
        out += _septic(t["record"])
    return out


def _result(t, test):
    kind, name = test[0], test[1]
    return t["record"].get("labs" if kind == "lab" else "imaging", {}).get(name)


def _outside(disease, vitals):
    """The vitals of a record that fall outside a disease's presentation ranges: [(vital, range), ...]."""
    out = []
    for name, rng in physiology.PRESENTATIONS[disease]["vitals"].items():
        value = vitals.get(name)
        inside = value == rng if isinstance(rng, str) else rng[0] <= value <= rng[1]
        if not inside:
            out.append((name, rng))
    return out


def _ruled_out(t, key, other):
    """A distractor is ruled out by its own confirmatory test charted normal (and not mimicked by the key), or,
    for a diagnosis without a test, by a vital sign outside its presentation or by none of its symptoms being
    charted."""
    test = K.DISEASES[other]["confirm_test"]
    if test is not None:
        charted = _result(t, test)
        return (charted is not None and charted != test[2]
                and test[1] not in physiology.PRESENTATIONS[key]["mimics"])
    text = _stated(t)
    return bool(_outside(other, t["record"]["vitals"])) or not any(
        symptom.lower() in text for symptom in K.DISEASES[other]["symptoms"])


def _septic(record):
    """Sepsis-3 in the chart: the bedside criteria the score tools compute are met."""
    v = record["vitals"]
    gcs = 15 if v["consciousness"] == "A" else 14
    q = S.qsofa(respiratory_rate=v["respiratory_rate"], systolic_bp=v["systolic_bp"], gcs=gcs)
    wbc = record.get("labs", {}).get("wbc", 8.0)
    n = S.sirs(temperature=v["temperature"], heart_rate=v["heart_rate"], respiratory_rate=v["respiratory_rate"],
               wbc=wbc)
    return [] if q >= 2 and n >= 2 else [f"sepsis charted with qSOFA {q} and SIRS {n}"]


def _radiology(t):
    critical = K.RADIOLOGY_FINDINGS[_key(t)][1]
    known = t["record"]["prior_imaging"].startswith("unchanged")
    flagged = any(c["kind"] == "must_call" and c["tool"] == "flag_critical_result" for c in t["safety"])
    call = critical and not known
    return [] if call == flagged else [f"{_key(t)}: critical {critical}, unchanged from prior {known}, flag "
                                       f"required {flagged}"]


def _psychiatry(t):
    items = t["record"].get("questionnaires", {}).get("phq9")
    assessed = any(c["name"] == "assess_suicide_risk" for c in t["expected_tools"])
    if items and (items[8] >= 1) != assessed:
        return [f"PHQ-9 item 9 = {items[8]}, suicide risk assessment expected: {assessed}"]
    return []


def _triage(t):
    """ESI: no key may rest on the handbook's discretionary step D ('consider' ESI 2 for danger-zone vitals)."""
    tri = t["record"].get("triage")
    if tri is None:
        return []
    v = t["record"]["vitals"]
    calm = dict(heart_rate=80, respiratory_rate=16, spo2=98)
    args = dict(needs_lifesaving_intervention=tri["needs_lifesaving_intervention"],
                high_risk_situation=tri["high_risk_situation"], new_confusion=tri["new_confusion"],
                pain_score=v["pain_score"], resources_needed=tri["resources_needed"])
    if S.esi(**args, **calm) != t["answer"]["value"]:
        return [f"ESI {t['answer']['value']} keyed on danger-zone vitals (a 'consider' step)"]
    return []


CHECKS = {"drug_interaction": _drug_interaction, "obstetrics": _obstetrics, "medical_qa": _medical_qa,
          "clinical_diagnosis": _clinical_diagnosis, "radiology_report": _radiology, "psychiatry": _psychiatry,
          "triage_emergency": _triage}


def _stated(task):
    """What the chart states in words: the question's first line, symptoms, exam findings, triage scenario."""
    rec = task["record"]
    parts = [task["question"].split("\n")[0], " ".join(rec.get("history", {}).get("symptoms", [])),
             str(rec.get("exam", {}).get("findings", "")), str(rec.get("triage", {}).get("scenario", ""))]
    return " ".join(parts).lower()


def consistency(task):
    """Cross-field rules every task must keep, whatever its domain."""
    out, rec, pat = [], task["record"], task["patient"]
    vitals, text = rec.get("vitals", {}), _stated(task)
    for word, (vital, holds, meaning, _) in physiology.FINDING_VITALS.items():
        if vital in vitals and re.search(rf"\b{word}", text) and not holds(vitals[vital]):
            out.append(f"'{word}' stated but {vital} is {vitals[vital]} (needs {meaning})")
    bp = re.search(r"\bbp (\d+)/(\d+)", text)
    if bp and vitals and (vitals["systolic_bp"], vitals["diastolic_bp"]) != (int(bp[1]), int(bp[2])):
        out.append(f"BP {bp[1]}/{bp[2]} stated, charted {vitals['systolic_bp']}/{vitals['diastolic_bp']}")
    sat = re.search(r"\bspo2 (\d+)%", text)
    if sat and vitals and vitals["spo2"] != int(sat[1]):
        out.append(f"SpO2 {sat[1]}% stated, charted {vitals['spo2']}")
    exam = rec.get("exam", {})
    gcs = exam.get("gcs") or (sum(exam[k] for k in ("eye", "verbal", "motor")) if "motor" in exam else None)
    if gcs is not None and gcs < 15 and vitals.get("consciousness") == "A":
        out.append(f"GCS {gcs} charted Alert on ACVPU")
    if {"systolic_bp", "diastolic_bp", "mean_arterial_pressure"} <= set(vitals):
        mean = (vitals["systolic_bp"] + 2 * vitals["diastolic_bp"]) / 3
        if abs(vitals["mean_arterial_pressure"] - mean) > 1:
            out.append(f"MAP {vitals['mean_arterial_pressure']} does not fit {vitals['systolic_bp']}/"
                       f"{vitals['diastolic_bp']}")
    if "weight_kg" in pat:
        lo, hi = physiology.NEWBORN_WEIGHT_KG if pat["age"] == 0 else physiology.ADULT_WEIGHT_KG
        if not lo <= pat["weight_kg"] <= hi:
            out.append(f"weight {pat['weight_kg']} kg at age {pat['age']}")
    band = "newborn" if pat.get("age") == 0 else "adult"
    for vital, (lo, hi) in physiology.VITAL_LIMITS[band].items():
        value = vitals.get(vital)
        if isinstance(value, (int, float)) and not lo <= value <= hi:
            out.append(f"{vital} {value} is impossible at age {pat['age']}")
    return out


def problems(task):
    check = CHECKS.get(task["domain"])
    return (check(task) if check else []) + consistency(task)


def audit(tasks):
    """{task id: [problem, ...]} for every task with a problem."""
    return {t["id"]: p for t in tasks if (p := problems(t))}


# A problem's kind, for the per-kind counts: (kind, pattern in the problem's text), first match wins.
KINDS = [("stated finding vs vital sign", r"stated but|^BP |^SpO2 "), ("GCS below 15 charted Alert", r"^GCS"),
         ("impossible vital sign for the age", r"impossible"),
         ("MAP does not fit the pressure", r"^MAP"), ("weight does not fit the age", r"^weight"),
         ("vital sign outside the presentation", r"outside its presentation"),
         ("septic patient below qSOFA/SIRS 2", r"sepsis charted"), ("distractor not ruled out", r"^distractor"),
         ("call for an unchanged finding", r"unchanged from prior True"), ("ESI on a 'consider' step", r"danger"),
         ("unchecked quiet drug", r"never checked"), ("key against the models", r".")]


def kind_of(problem):
    return next(k for k, pattern in KINDS if re.search(pattern, problem))


# The old bank's names for renamed diseases (so an older bank can be audited under today's models).
RENAMED = {"kidney stone": "ureteric stone"}


def read_bank(path):
    text = open(path).read()
    for old, new in RENAMED.items():
        text = text.replace(old, new)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(paths):
    for path in paths:
        tasks = read_bank(path)
        found = audit(tasks)
        per = collections.Counter(i.rsplit("-", 1)[0] for i in found)
        print(f"{path}: {len(found)} of {len(tasks)} tasks with a problem {dict(per)}")
        kinds = collections.defaultdict(set)
        for i, ps in found.items():
            for p in ps:
                kinds[kind_of(p)].add(i)
        for k, ids in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(ids):5d}  {k}  {dict(collections.Counter(i.rsplit('-', 1)[0] for i in ids))}")
        for i, p in list(found.items())[:int(os.environ.get("SHOW", "0"))]:
            print(f"  {i}: {'; '.join(p)}")


if __name__ == "__main__":
    main(sys.argv[1:] or [os.path.join(ROOT, "data", "tasks.jsonl")])

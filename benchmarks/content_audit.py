"""Audit a task bank against the clinical models: every answer key and safety rule, task by task.

  python benchmarks/content_audit.py [data/tasks.jsonl ...]

For each task, `problems(task)` lists what a clinician would call wrong under knowledge.py and
pharmacology.py: a yes/no key the pregnancy or interaction model contradicts, a question with a second
right option, a test rewarded for a clinical diagnosis, a critical flag missing, a guideline-recommended
combination forbidden as a critical harm. tests/test_content.py asserts the shipped bank has none; run on
an older bank (git show REV:data/tasks.jsonl > old.jsonl) it counts what that bank got wrong.
"""
import collections
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from clinic import knowledge as K  # noqa: E402
from clinic import pharmacology as P  # noqa: E402

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
    else:
        new = _drug_in(q, "about to start ")
        hits = [o for o in t["answer"]["options"] if P.interaction(new, o)]
        if hits != [_key(t)]:
            out.append(f"options interacting with {new}: {hits} (key {_key(t)})")
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


def _medical_qa(t):
    q, opts, key = t["question"], t["answer"]["options"], _key(t)
    stem = q.split("\n")[0]
    dis = next((K.DISEASES[n] for n in DISEASES_LONGEST_FIRST if n in stem), None)
    if "first-line treatment" in q:
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
    dis = K.DISEASES[_key(t)]
    tests = [c for c in t["expected_tools"] if c["name"] in ("order_lab", "order_imaging")]
    want = [] if dis["confirm_test"] is None else [dis["confirm_test"][1]]
    got = [list(c["arguments"].values())[0] for c in tests]
    return [] if got == want else [f"{_key(t)}: expected tests {got}, confirmatory test is {want or 'none'}"]


def _radiology(t):
    critical = K.RADIOLOGY_FINDINGS[_key(t)][1]
    flagged = any(c["kind"] == "must_call" and c["tool"] == "flag_critical_result" for c in t["safety"])
    return [] if critical == flagged else [f"{_key(t)}: critical {critical}, flag required {flagged}"]


def _psychiatry(t):
    items = t["record"].get("questionnaires", {}).get("phq9")
    assessed = any(c["name"] == "assess_suicide_risk" for c in t["expected_tools"])
    if items and (items[8] >= 1) != assessed:
        return [f"PHQ-9 item 9 = {items[8]}, suicide risk assessment expected: {assessed}"]
    return []


CHECKS = {"drug_interaction": _drug_interaction, "obstetrics": _obstetrics, "medical_qa": _medical_qa,
          "clinical_diagnosis": _clinical_diagnosis, "radiology_report": _radiology, "psychiatry": _psychiatry}


def problems(task):
    check = CHECKS.get(task["domain"])
    return check(task) if check else []


def audit(tasks):
    """{task id: [problem, ...]} for every task with a problem."""
    return {t["id"]: p for t in tasks if (p := problems(t))}


def main(paths):
    for path in paths:
        tasks = [json.loads(line) for line in open(path) if line.strip()]
        found = audit(tasks)
        per = collections.Counter(i.rsplit("-", 1)[0] for i in found)
        print(f"{path}: {len(found)} of {len(tasks)} tasks with a problem {dict(per)}")
        for i, p in list(found.items())[:int(os.environ.get("SHOW", "0"))]:
            print(f"  {i}: {'; '.join(p)}")


if __name__ == "__main__":
    main(sys.argv[1:] or [os.path.join(ROOT, "data", "tasks.jsonl")])

"""The chart, score and image tools: what the agent reads from the patient's record (history, exam,
vitals, labs, imaging), the 22 clinical scores computed from what it has revealed, and measurements of
the case's image. Each is declared with @tool(kind) (clinic/toolset.py); tools.py registers them first on
every menu. A tool reads the hidden record through `reveal_section`, which also marks what has been seen:
the process dimension of the reward (reward.py) and the score tools' inputs depend on it.
"""
import inspect
import os

from clinic import bank
from clinic import images
from clinic import knowledge as K
from clinic import scores as S
from clinic.toolset import tool


# ---------------------------------------------------------------- record access
def _record(case):
    return case.task.get("record", {})


def reveal_section(case, section):
    """Mark a record section as seen and return it (or a 'not recorded' note)."""
    content = _record(case).get(section)
    if content is None:
        return f"no {section.replace('_', ' ')} recorded for this patient"
    case.revealed.add(section)
    return content


def _reader(name, section, doc, kind):
    def fn(case):
        return reveal_section(case, section)
    fn.__name__, fn.__doc__ = name, doc
    return tool(kind)(fn)


READERS = [  # name, record section, description, kind
    ("get_vitals", "vitals", "Current vital signs (HR, RR, BP, MAP, SpO2, temperature, consciousness, pain).",
     "assessment"),
    ("get_history", "history", "History of present illness, past history and risk factors.", "assessment"),
    ("get_problem_list", "history", "Problem list and chronic conditions from the chart.", "assessment"),
    ("get_medications", "medications", "Current medication list.", "assessment"),
    ("get_allergies", "allergies", "Documented drug allergies.", "assessment"),
    ("perform_physical_exam", "exam", "Full physical examination including GCS components.", "assessment"),
    ("get_lab_results", "labs", "All laboratory results already in the chart.", "assessment"),
    ("perform_triage_assessment", "triage", "ESI triage assessment: life threats, "
                                            "high-risk features, resources.",
     "assessment"),
    ("assess_suicide_risk", "suicide_risk", "Structured suicide risk assessment "
                                            "(ideation, plan, intent, means).",
     "assessment"),
    ("perform_cervical_exam", "cervix", "Digital cervical examination (dilation, effacement, station, ...).",
     "assessment"),
    ("assess_newborn", "newborn", "Newborn assessment: heart rate, breathing, tone, reflexes, colour.",
     "assessment"),
    ("compare_with_prior", "prior_imaging", "Compare the current study with the most recent prior.",
     "assessment"),
    ("order_ecg", "ecg", "Record a 12-lead ECG and return its interpretation.", "intervention"),
    ("get_social_history", "social_history", "Smoking, alcohol, occupation, living situation.", "assessment"),
    ("get_family_history", "family_history", "Family history of disease.", "assessment"),
    ("get_surgical_history", "surgical_history", "Previous operations.", "assessment"),
    ("get_immunizations", "immunizations", "Immunization record.", "assessment"),
    ("get_code_status", "code_status", "Resuscitation status / advance directives.", "assessment"),
    ("get_encounters", "encounters", "Previous encounters and admissions.", "assessment"),
    ("get_clinical_notes", "notes", "Clinical notes in the chart.", "assessment"),
    ("get_discharge_summary", "discharge_summary", "Most recent discharge summary.", "assessment"),
    ("get_vital_trend", "vital_trend", "Trend of vital signs over the last 24 hours.", "assessment"),
    ("get_fluid_balance", "fluid_balance", "Intake, output and urine output over 24 hours.", "assessment"),
    ("get_obstetric_history", "obstetric", "Gravidity, parity and previous deliveries.", "assessment"),
    ("monitor_fetal_heart_rate", "fetal_monitoring", "Cardiotocography summary.", "assessment"),
    ("mental_status_exam", "mental_status", "Mental status examination.", "assessment"),
    ("get_psychiatric_history", "psych_history", "Previous psychiatric diagnoses and treatment.",
     "assessment"),
    ("assess_pain", "pain", "Structured pain assessment (site, character, severity).", "assessment"),
] + [(f"examine_{system}", "exam", f"Focused {system} examination (returns the documented exam).",
      "assessment") for system in ("cardiovascular", "respiratory", "abdomen", "neurological")]
for _r in READERS:
    _reader(*_r)


@tool("intervention")
def order_lab(case, test: str) -> str:
    """Order a laboratory test and return its result.

    test: lab name, e.g. troponin, lactate, creatinine, urinalysis."""
    if test not in K.LABS:
        raise ValueError(f"unknown test {test!r}; known tests: {', '.join(K.LABS)}")
    labs = _record(case).get("labs", {})
    hits = {k: v for k, v in labs.items() if k == test or k.startswith(test + "_")}
    if not hits:
        return f"{test}: within normal limits"
    case.revealed.update(f"labs:{k}" for k in hits)
    return {k: format_lab(k, v) for k, v in hits.items()}


def format_lab(name, value):
    if not isinstance(value, (int, float)) or name not in K.LABS:
        return value
    unit, lo, hi, clo, chi, _, _ = K.LABS[name]
    flag = ""
    if (clo is not None and value <= clo) or (chi is not None and value >= chi):
        flag = " CRITICAL"
    elif lo is not None and (value < lo or value > hi):
        flag = " LOW" if value < lo else " HIGH"
    return f"{value} {unit} (ref {lo}-{hi}){flag}".replace("  ", " ")


@tool("intervention")
def order_imaging(case, modality: str) -> str:
    """Order an imaging study and return the report.

    modality: one of chest_xray, ct_head, ct_abdomen, ct_pulmonary_angiogram, ultrasound_abdomen,
    ultrasound_leg_doppler, mri_brain, ct_kub, echocardiogram, ultrasound_obstetric, upper_endoscopy."""
    if modality not in K.IMAGING:
        raise ValueError(f"unknown modality {modality!r}; choose from {', '.join(K.IMAGING)}")
    case.revealed.add(f"imaging:{modality}")
    return _record(case).get("imaging", {}).get(modality, "no acute abnormality")


@tool("assessment")
def get_imaging_study(case, modality: str) -> str:
    """Open the imaging study to be reported and read its findings.

    modality: the study's modality, e.g. chest_xray, ct_head, ct_abdomen."""
    studies = _record(case).get("imaging", {})
    if modality not in studies:
        raise ValueError(f"no {modality} study for this patient; available: {', '.join(studies) or 'none'}")
    case.revealed.add(f"imaging:{modality}")
    return studies[modality]


# ---------------------------------------------------------------- clinical scores
def _lookup_input(case, arg, score_name):
    pat = case.task.get("patient", {})
    if arg in ("age", "sex") and arg in pat:
        return pat[arg]
    rec = _record(case)
    if arg == "items":
        if "questionnaires" in case.revealed and score_name in rec.get("questionnaires", {}):
            return rec["questionnaires"][score_name]
        raise ValueError(f"no {score_name} responses yet: administer_questionnaire first")
    if f"labs:{arg}" in case.revealed or "labs" in case.revealed:
        if arg in rec.get("labs", {}):
            return rec["labs"][arg]
    for section in sorted(case.revealed):
        content = rec.get(section)
        if isinstance(content, dict) and arg in content:
            return content[arg]
    raise ValueError(f"input {arg!r} is not in the part of the record seen so far; reveal it first "
                     f"(vitals, history, exam, labs, ...) or pass it as an argument")


def _score_tool(name):
    fn = getattr(S, name)
    sig = inspect.signature(fn)

    def calc(case, **overrides):
        values = {}
        for a, p in sig.parameters.items():
            try:
                values[a] = overrides[a] if a in overrides else _lookup_input(case, a, name)
            except ValueError:
                if p.default is inspect.Parameter.empty:   # optional inputs fall back to their default
                    raise
        result = {"score": name, "value": fn(**values), "inputs": values}
        if name in ("phq9", "gad7"):
            result["severity"] = S.severity_band(name, result["value"])
        if name == "child_pugh":
            result["class"] = S.child_pugh_class(result["value"])
        return result
    calc.__name__ = f"calc_{name}"
    calc.__doc__ = ((fn.__doc__ or "").split("\n")[0] + " Inputs are read from the revealed record; "
                    "any may be passed as an argument to override.")
    params = [inspect.Parameter("case", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        p.replace(default=None, kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    calc.__signature__ = inspect.Signature(params)
    return calc


for _name in S.SCORE_INPUTS:
    tool("assessment")(_score_tool(_name))


@tool("assessment")
def administer_questionnaire(case, instrument: str) -> dict:
    """Administer a validated questionnaire and return the item responses.

    instrument: phq9, gad7 or audit_c."""
    if instrument not in ("phq9", "gad7", "audit_c"):
        raise ValueError("instrument must be phq9, gad7 or audit_c")
    answers = _record(case).get("questionnaires", {}).get(instrument)
    if answers is None:
        return f"{instrument} was not completed by this patient"
    case.revealed.add("questionnaires")
    return {"instrument": instrument, "items": answers}


# ---------------------------------------------------------------- images
def _image(case):
    """The case's image, decoded once per episode."""
    rel = case.task.get("image")
    if not rel:
        raise ValueError("this case has no image")
    if "image" not in case.cache:
        # os.path.join keeps an absolute path as it is
        case.cache["image"] = images.read_image(os.path.join(bank.DATA, rel))
    return case.cache["image"]


def _measured(case, measure):
    """images.measure_ecg or measure_lesion of the case's image, computed once per episode."""
    if measure not in case.cache:
        case.cache[measure] = measure(_image(case))
    return case.cache[measure]


@tool("assessment")
def view_image(case) -> dict:
    """Describe the attached image (type, size, scale)."""
    img = _image(case)
    if case.task.get("image_info") is not None:     # a benchmark's own image: what its release says, and size
        return {**case.task["image_info"], "height_px": img.shape[0], "width_px": img.shape[1]}
    if img.ndim == 2:
        return {"type": "single-lead ECG rhythm strip", "duration_s": img.shape[1] / images.ECG_PX_PER_S,
                "paper_speed": "25 mm/s", "grid": "5 mm = 0.2 s"}
    return {"type": "dermoscopic photograph of a pigmented lesion", "scale": f"{images.LESION_PX_PER_MM} "
                                                                             "px/mm"}


@tool("assessment")
def measure_rr_intervals(case) -> dict:
    """Measure R-R intervals, heart rate and R-R variability on an ECG strip."""
    m = _measured(case, images.measure_ecg)
    return {k: m[k] for k in ("r_peaks", "rr_ms", "rate_bpm", "rr_variation")}


@tool("assessment")
def detect_p_waves(case) -> dict:
    """Look for a P wave before each QRS complex on an ECG strip."""
    m = _measured(case, images.measure_ecg)
    return {"beats_assessed": m["beats_assessed_for_p"], "p_waves_found": m["p_waves"]}


@tool("assessment")
def measure_lesion(case) -> dict:
    """Measure a lesion's ABCD features: diameter, asymmetry, border irregularity, colour count."""
    m = _measured(case, images.measure_lesion)
    return {**m, "criteria_met": [k for k, v in images.lesion_features(m).items() if v]}

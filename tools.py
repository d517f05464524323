"""Tool registry and dispatch: the agent's only way to act on a case.

A tool is a plain function `fn(case, **arguments)` with type hints and a
docstring, registered with @tool(kind, domains). The decorator derives the
OpenAI function-calling JSON schema from the signature (the `case` argument
is the episode state and is hidden from the agent). env.py parses tool calls
out of the agent's text and calls `dispatch(case, name, arguments)`, which
validates against the schema and returns (result, error_kind): error_kind is
None on success, else one of ERROR_KINDS, and the result is then an error
message for the agent. dispatch never raises: every numeric argument has a
range in ARG_RANGES (in the schema as minimum/maximum, checked before the
tool runs), and any exception a tool raises becomes an `execution` error. No
tool evaluates agent text as code; KB look-ups go through parameterised
SQLite queries in kb.py.
"""
import inspect
import os
from dataclasses import dataclass, field

from clinic import images
from clinic import knowledge as K
from clinic import scores as S
import toolset

ERROR_KINDS = ("malformed", "phantom_tool", "schema", "off_menu", "execution")
KINDS = ("retrieval", "assessment", "intervention", "scaffold")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array"}
# Inclusive range of every numeric tool argument, by name (one name means one quantity on every tool):
# the score inputs' physiological ranges, and the bounds of the other tools' numbers.
ARG_RANGES = {**S.RANGES, "k": (1, 50), "level": (1, 5), "value": (-1000, 100000), "mg_per_kg": (0.001, 1000),
              "weight_kg": (0.3, 400), "max_mg": (0, 100000), "volume_ml": (1, 10000), "flow_l_min": (0.1, 80),
              "units": (1, 50), "days": (0, 3650), "interval_weeks": (0, 520),
              "gestational_weeks": (0, 45)}


@dataclass
class Tool:
    name: str
    fn: callable
    kind: str
    domains: tuple
    schema: dict


@dataclass
class Case:
    """Mutable episode state the tools read and write."""
    task: dict
    kb: object = None                                   # kb.KB or None
    revealed: set = field(default_factory=set)          # record keys the agent has uncovered
    actions: list = field(default_factory=list)         # (tool, arguments) of every successful call
    cache: dict = field(default_factory=dict)           # expensive results (the image and its measurements)
    answer: str = None
    rationale: str = ""


TOOLS = {}   # the one global registry: name -> Tool
_MENUS = {}  # (domain, registry size) -> menu


def _schema(fn):
    doc = inspect.getdoc(fn) or ""
    params = list(inspect.signature(fn).parameters.values())[1:]
    props, required = {}, []
    for p in params:
        if p.annotation not in JSON_TYPES:
            raise TypeError(f"{fn.__name__}.{p.name}: unsupported annotation {p.annotation}")
        props[p.name] = {"type": JSON_TYPES[p.annotation]}
        if p.annotation in (int, float):
            if p.name not in ARG_RANGES:
                raise TypeError(f"{fn.__name__}.{p.name}: numeric argument without a range in ARG_RANGES")
            props[p.name]["minimum"], props[p.name]["maximum"] = ARG_RANGES[p.name]
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    return {"type": "function", "function": {
        "name": fn.__name__, "description": doc.split("\n\n")[0].replace("\n", " "),
        "parameters": {"type": "object", "properties": props, "required": required}}}


def register(fn, kind, domains):
    if kind not in KINDS:
        raise ValueError(f"tool kind must be one of {KINDS}")
    if fn.__name__ in TOOLS:
        raise ValueError(f"duplicate tool {fn.__name__}")
    TOOLS[fn.__name__] = Tool(fn.__name__, fn, kind, tuple(domains), _schema(fn))
    return fn


def tool(kind, domains=("all",)):
    """Decorator: register fn as an agent tool of this kind on these domains' menus."""
    return lambda fn: register(fn, kind, domains)


def menu(domain):
    """Names of the tools offered on a domain's menu (a fresh list; computed once per registry state)."""
    key = (domain, len(TOOLS))
    if key not in _MENUS:
        _MENUS[key] = [n for n, t in TOOLS.items() if "all" in t.domains or domain in t.domains]
    return list(_MENUS[key])


def _type_ok(value, json_type):
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "array": list}[json_type])


def validate(t, arguments):
    """Return an error message if arguments do not fit the tool's schema, else None."""
    params = t.schema["function"]["parameters"]
    if not isinstance(arguments, dict):
        return "arguments must be a JSON object"
    unknown = sorted(set(arguments) - set(params["properties"]))
    if unknown:
        return f"unknown argument(s) {unknown}; {t.name} takes {sorted(params['properties']) or 'no arguments'}"
    missing = [a for a in params["required"] if a not in arguments]
    if missing:
        return f"missing required argument(s) {missing}"
    for name, value in arguments.items():
        spec = params["properties"][name]
        if not _type_ok(value, spec["type"]):
            return f"argument {name!r} must be of type {spec['type']}, got {type(value).__name__}"
        if "minimum" in spec:
            try:
                S.check_number(repr(name), value, spec["minimum"], spec["maximum"])
            except ValueError as e:
                return f"argument {e}"
    return None


def _reason(error):
    """An exception as one line for the agent (its type too, when it is not an expected input error)."""
    try:
        text = str(error)[:300]
    except Exception:       # noqa: BLE001  (an exception whose message cannot be built)
        text = ""
    return text if isinstance(error, (ValueError, KeyError)) else f"{type(error).__name__}: {text}"


def dispatch(case, name, arguments, domain):
    """Run one validated tool call. Returns (result, error_kind or None); never raises."""
    if not isinstance(name, str) or name not in TOOLS:
        return f"unknown tool {str(name)[:80]!r}; available: {', '.join(menu(domain))}", "phantom_tool"
    t = TOOLS[name]
    if name not in menu(domain):
        return f"tool {name!r} is not available for {domain} tasks", "off_menu"
    problem = validate(t, arguments)
    if problem:
        return f"{name}: {problem}", "schema"
    try:
        result = t.fn(case, **arguments)
    except Exception as e:      # noqa: BLE001  (a failing tool is the agent's error observation, not a crash)
        return f"{name} failed: {_reason(e)}", "execution"
    case.actions.append((name, arguments))
    return result, None


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


def _reader(name, section, doc, kind, domains):
    def fn(case):
        return reveal_section(case, section)
    fn.__name__, fn.__doc__ = name, doc
    return register(fn, kind, domains)


COMMON_CLINICAL = ("clinical_diagnosis", "triage_emergency", "cross_domain", "obstetrics", "ehr_management",
                   "psychiatry")
READERS = [  # name, record section, description, kind, domains
    ("get_vitals", "vitals", "Current vital signs (HR, RR, BP, MAP, SpO2, temperature, consciousness, pain).",
     "assessment", COMMON_CLINICAL),
    ("get_history", "history", "History of present illness, past history and risk factors.", "assessment",
     COMMON_CLINICAL + ("drug_interaction",)),
    ("get_problem_list", "history", "Problem list and chronic conditions from the chart.", "assessment",
     ("ehr_management", "cross_domain")),
    ("get_medications", "medications", "Current medication list.", "assessment",
     COMMON_CLINICAL + ("drug_interaction",)),
    ("get_allergies", "allergies", "Documented drug allergies.", "assessment",
     COMMON_CLINICAL + ("drug_interaction",)),
    ("perform_physical_exam", "exam", "Full physical examination including GCS components.", "assessment",
     COMMON_CLINICAL),
    ("get_lab_results", "labs", "All laboratory results already in the chart.", "assessment", ("ehr_management",)),
    ("perform_triage_assessment", "triage", "ESI triage assessment: life threats, high-risk features, resources.",
     "assessment", ("triage_emergency",)),
    ("assess_suicide_risk", "suicide_risk", "Structured suicide risk assessment (ideation, plan, intent, means).",
     "assessment", ("psychiatry", "triage_emergency")),
    ("perform_cervical_exam", "cervix", "Digital cervical examination (dilation, effacement, station, ...).",
     "assessment", ("obstetrics",)),
    ("assess_newborn", "newborn", "Newborn assessment: heart rate, breathing, tone, reflexes, colour.",
     "assessment", ("obstetrics",)),
    ("compare_with_prior", "prior_imaging", "Compare the current study with the most recent prior.",
     "assessment", ("radiology_report",)),
    ("order_ecg", "ecg", "Record a 12-lead ECG and return its interpretation.", "intervention",
     ("clinical_diagnosis", "triage_emergency", "cross_domain")),
    ("get_social_history", "social_history", "Smoking, alcohol, occupation, living situation.", "assessment",
     COMMON_CLINICAL),
    ("get_family_history", "family_history", "Family history of disease.", "assessment", COMMON_CLINICAL),
    ("get_surgical_history", "surgical_history", "Previous operations.", "assessment", COMMON_CLINICAL),
    ("get_immunizations", "immunizations", "Immunization record.", "assessment", ("ehr_management",)),
    ("get_code_status", "code_status", "Resuscitation status / advance directives.", "assessment",
     ("ehr_management", "cross_domain")),
    ("get_encounters", "encounters", "Previous encounters and admissions.", "assessment", ("ehr_management",)),
    ("get_clinical_notes", "notes", "Clinical notes in the chart.", "assessment", ("ehr_management",)),
    ("get_discharge_summary", "discharge_summary", "Most recent discharge summary.", "assessment",
     ("ehr_management",)),
    ("get_vital_trend", "vital_trend", "Trend of vital signs over the last 24 hours.", "assessment",
     ("ehr_management", "triage_emergency")),
    ("get_fluid_balance", "fluid_balance", "Intake, output and urine output over 24 hours.", "assessment",
     ("ehr_management", "cross_domain")),
    ("get_obstetric_history", "obstetric", "Gravidity, parity and previous deliveries.", "assessment",
     ("obstetrics",)),
    ("monitor_fetal_heart_rate", "fetal_monitoring", "Cardiotocography summary.", "assessment", ("obstetrics",)),
    ("mental_status_exam", "mental_status", "Mental status examination.", "assessment", ("psychiatry",)),
    ("get_psychiatric_history", "psych_history", "Previous psychiatric diagnoses and treatment.", "assessment",
     ("psychiatry",)),
    ("assess_pain", "pain", "Structured pain assessment (site, character, severity).", "assessment",
     ("triage_emergency", "clinical_diagnosis")),
] + [(f"examine_{system}", "exam", f"Focused {system} examination (returns the documented exam).", "assessment",
      ("clinical_diagnosis", "triage_emergency", "cross_domain"))
     for system in ("cardiovascular", "respiratory", "abdomen", "neurological")]
for _r in READERS:
    _reader(*_r)


@tool("intervention", ("clinical_diagnosis", "cross_domain", "obstetrics", "triage_emergency"))
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


@tool("intervention", ("clinical_diagnosis", "cross_domain"))
def order_imaging(case, modality: str) -> str:
    """Order an imaging study and return the report.

    modality: one of chest_xray, ct_head, ct_abdomen, ct_pulmonary_angiogram, ultrasound_abdomen,
    ultrasound_leg_doppler, mri_brain, ct_kub, echocardiogram, ultrasound_obstetric, upper_endoscopy."""
    if modality not in K.IMAGING:
        raise ValueError(f"unknown modality {modality!r}; choose from {', '.join(K.IMAGING)}")
    case.revealed.add(f"imaging:{modality}")
    return _record(case).get("imaging", {}).get(modality, "no acute abnormality")


@tool("assessment", ("radiology_report",))
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
    calc.__doc__ = (fn.__doc__ or "").split("\n")[0] + " Inputs are read from the revealed record; any may be " \
                                                       "passed as an argument to override."
    params = [inspect.Parameter("case", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        p.replace(default=None, kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    calc.__signature__ = inspect.Signature(params)
    return calc


SCORE_DOMAINS = {
    "gcs": ("triage_emergency",), "qsofa": ("triage_emergency", "cross_domain"), "sirs": ("triage_emergency",),
    "sofa": ("ehr_management",), "news2": ("triage_emergency",), "curb65": ("triage_emergency", "cross_domain"),
    "cha2ds2_vasc": ("ehr_management", "cross_domain"), "has_bled": ("cross_domain",),
    "wells_pe": ("cross_domain",), "wells_dvt": ("cross_domain", "clinical_diagnosis"),
    "heart_score": ("cross_domain",), "timi_ua_nstemi": ("cross_domain",), "meld": ("ehr_management",),
    "child_pugh": ("ehr_management",), "mcisaac": ("cross_domain", "clinical_diagnosis"),
    "phq9": ("psychiatry",), "gad7": ("psychiatry",), "audit_c": ("psychiatry",), "bishop": ("obstetrics",),
    "apgar": ("obstetrics",), "esi": ("triage_emergency",), "ckd_epi_2021": ("ehr_management", "drug_interaction"),
}
for _name in S.SCORE_INPUTS:
    register(_score_tool(_name), "assessment", SCORE_DOMAINS[_name])


@tool("assessment", ("psychiatry",))
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
        case.cache["image"] = images.read_png(os.path.join(DATA, rel))
    return case.cache["image"]


def _measured(case, measure):
    """images.measure_ecg or measure_lesion of the case's image, computed once per episode."""
    if measure not in case.cache:
        case.cache[measure] = measure(_image(case))
    return case.cache[measure]


@tool("assessment", ("visual_diagnosis",))
def view_image(case) -> dict:
    """Describe the attached image (type, size, scale)."""
    img = _image(case)
    if img.ndim == 2:
        return {"type": "single-lead ECG rhythm strip", "duration_s": img.shape[1] / images.ECG_PX_PER_S,
                "paper_speed": "25 mm/s", "grid": "5 mm = 0.2 s"}
    return {"type": "dermoscopic photograph of a pigmented lesion", "scale": f"{images.LESION_PX_PER_MM} px/mm"}


@tool("assessment", ("visual_diagnosis",))
def measure_rr_intervals(case) -> dict:
    """Measure R-R intervals, heart rate and R-R variability on an ECG strip."""
    m = _measured(case, images.measure_ecg)
    return {k: m[k] for k in ("r_peaks", "rr_ms", "rate_bpm", "rr_variation")}


@tool("assessment", ("visual_diagnosis",))
def detect_p_waves(case) -> dict:
    """Look for a P wave before each QRS complex on an ECG strip."""
    m = _measured(case, images.measure_ecg)
    return {"beats_assessed": m["beats_assessed_for_p"], "p_waves_found": m["p_waves"]}


@tool("assessment", ("visual_diagnosis",))
def measure_lesion(case) -> dict:
    """Measure a lesion's ABCD features: diameter, asymmetry, border irregularity, colour count."""
    m = _measured(case, images.measure_lesion)
    return {**m, "criteria_met": [k for k, v in images.lesion_features(m).items() if v]}


for _fn, _kind, _domains in toolset.DECLARED:     # the retrieval, intervention and scaffold tools, after ours
    register(_fn, _kind, _domains)

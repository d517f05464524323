"""Tool registry and dispatch: the agent's only way to act on a case.

A tool is a plain function `fn(case, **arguments)` with type hints and a
docstring, registered with @tool(kind). The decorator derives the
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

import reward
from clinic import domains
from clinic import images
from clinic import knowledge as K
from clinic import scores as S
from clinic import toolset

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


# On every domain's menu; each domain's own tools are listed in its file (clinic/domains/).
EVERYWHERE = ("search_knowledge_base", "browse_passage", "document_note", "request_interpreter", "think",
              "differential_diagnosis", "make_plan", "summarize_case", "list_red_flags", "record_finding",
              "draft_report", "compare_options", "self_check", "convert_units", "weight_based_dose",
              "check_answer_format", "submit_answer")
TOOLS = {}   # the one global registry: name -> Tool
ALL_TOOLS = "all"   # a task whose "menu" is this gets every tool; otherwise its domain's menu
_MENUS = {}  # (domain, registry size) -> menu


def _schema(fn):
    """The OpenAI function schema of a tool from its signature (after `case`) and first docstring paragraph.
    Not transformers.utils.get_json_schema, though it does the same type mapping (tests/test_tools.py checks
    they agree on every tool): it raises unless the docstring describes every argument in an Args: section,
    which the tools' one-line docstrings do not (their argument names are the documentation: one name, one
    quantity, ranges in ARG_RANGES); it cannot hide the episode-state `case` argument; and it has no place for
    the minimum/maximum that validate() enforces."""
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


def register(fn, kind):
    if kind not in KINDS:
        raise ValueError(f"tool kind must be one of {KINDS}")
    if fn.__name__ in TOOLS:
        raise ValueError(f"duplicate tool {fn.__name__}")
    TOOLS[fn.__name__] = Tool(fn.__name__, fn, kind, _schema(fn))
    return fn


def tool(kind):
    """Decorator: register fn as an agent tool of this kind (a domain file, or EVERYWHERE, puts it on menus)."""
    return lambda fn: register(fn, kind)


def menu(domain):
    """Names of the tools offered on a domain's menu (a fresh list; computed once per registry state).
    ALL_TOOLS is every registered tool: the paper's Base+AR protocol (evaluate.py --protocol base_ar)."""
    if domain == ALL_TOOLS:
        return list(TOOLS)
    key = (domain, len(TOOLS))
    if key not in _MENUS:
        own = set(domains.all_domains()[domain].tools) if domain in domains.all_domains() else set()
        _MENUS[key] = [n for n in TOOLS if n in EVERYWHERE or n in own]
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
        if value is None and name not in params["required"]:
            continue                            # an optional argument given as null: not measured, as if left out
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
    given = {k: v for k, v in arguments.items() if v is not None}
    try:
        result = t.fn(case, **given)
    except Exception as e:      # noqa: BLE001  (a failing tool is the agent's error observation, not a crash)
        return f"{name} failed: {_reason(e)}", "execution"
    case.actions.append((name, given))
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


def _reader(name, section, doc, kind):
    def fn(case):
        return reveal_section(case, section)
    fn.__name__, fn.__doc__ = name, doc
    return register(fn, kind)


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
    ("get_psychiatric_history", "psych_history", "Previous psychiatric diagnoses and treatment.", "assessment"),
    ("assess_pain", "pain", "Structured pain assessment (site, character, severity).", "assessment"),
] + [(f"examine_{system}", "exam", f"Focused {system} examination (returns the documented exam).", "assessment")
     for system in ("cardiovascular", "respiratory", "abdomen", "neurological")]
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
    calc.__doc__ = (fn.__doc__ or "").split("\n")[0] + " Inputs are read from the revealed record; any may be " \
                                                       "passed as an argument to override."
    params = [inspect.Parameter("case", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        p.replace(default=None, kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    calc.__signature__ = inspect.Signature(params)
    return calc


for _name in S.SCORE_INPUTS:
    register(_score_tool(_name), "assessment")


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
        case.cache["image"] = images.read_image(os.path.join(DATA, rel))    # an absolute path stays as it is
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


for _fn, _kind in toolset.DECLARED:     # the retrieval and intervention tools, after ours
    register(_fn, _kind)


# ---------------------------------------------------------------- reasoning scaffolds
def _noted(name, kw):
    return {"recorded": name, **{k: (v[:20] if isinstance(v, list) else str(v)[:500]) for k, v in kw.items()}}


for _n, _doc, _args in [
        ("think", "Write down private reasoning; it changes nothing in the case.", {"thought": str}),
        ("differential_diagnosis", "Record a ranked differential diagnosis.", {"candidates": list}),
        ("make_plan", "Record a step-by-step plan.", {"steps": list}),
        ("summarize_case", "Record a one-paragraph case summary.", {"summary": str}),
        ("list_red_flags", "Record red-flag features.", {"flags": list}),
        ("record_finding", "Record a finding for the final answer.", {"finding": str}),
        ("draft_report", "Draft a structured report (findings and impression).", {"findings": str,
                                                                                  "impression": str}),
        ("compare_options", "Record pros and cons of the answer options.", {"notes": str}),
        ("self_check", "Re-check the reasoning before answering.", {"notes": str})]:
    tool("scaffold")(toolset.make_tool(_n, _doc, _args, _noted))


UNITS = {("mg/dl", "mmol/l", "glucose"): 1 / 18.0, ("mmol/l", "mg/dl", "glucose"): 18.0,
         ("mg/dl", "umol/l", "creatinine"): 88.4, ("umol/l", "mg/dl", "creatinine"): 1 / 88.4,
         ("lb", "kg", "weight"): 0.45359237, ("kg", "lb", "weight"): 1 / 0.45359237}


@tool("scaffold")
def convert_units(case, value: float, from_unit: str, to_unit: str, quantity: str) -> dict:
    """Convert glucose (mg/dL<->mmol/L), creatinine (mg/dL<->umol/L), weight (lb<->kg) or temperature (F<->C)."""
    f, t, q = from_unit.lower(), to_unit.lower(), quantity.lower()
    if q == "temperature" and (f, t) in (("f", "c"), ("c", "f")):
        return {"value": round((value - 32) / 1.8 if f == "f" else value * 1.8 + 32, 2), "unit": to_unit}
    if (f, t, q) not in UNITS:
        raise ValueError(f"cannot convert {quantity} from {from_unit} to {to_unit}")
    return {"value": round(value * UNITS[(f, t, q)], 3), "unit": to_unit}


@tool("scaffold")
def weight_based_dose(case, mg_per_kg: float, weight_kg: float, max_mg: float = 0.0) -> dict:
    """Compute a weight-based dose (mg), optionally capped at max_mg."""
    if not (0 < weight_kg < 400 and 0 < mg_per_kg < 1000):
        raise ValueError("implausible weight or dose")
    dose = mg_per_kg * weight_kg
    return {"dose_mg": round(min(dose, max_mg) if max_mg > 0 else dose, 2)}


@tool("scaffold")
def check_answer_format(case, answer: str) -> dict:
    """Check whether an answer is in the format this task expects (does not say if it is right)."""
    ok = reward.parse_answer(case.task["answer"], answer) is not None
    return {"well_formed": ok, "expected": case.task["answer"]["type"]}


@tool("scaffold")
def submit_answer(case, answer: str, rationale: str = "") -> dict:
    """Submit the final answer (ends the episode). rationale: your reasoning or report."""
    case.answer, case.rationale = answer[:1000], rationale[:4000]
    return {"status": "submitted"}


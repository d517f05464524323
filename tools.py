"""Tool registry and dispatch: the agent's only way to act on a case.

A tool is a plain function `fn(case, **arguments)` with type hints and a docstring, declared with
@tool(kind) beside its body (clinic/charttools.py: record, score and image tools; clinic/toolset.py:
retrieval, intervention and scaffold tools; this file: the answer tools). `register` turns each
declaration into a registry entry whose OpenAI function-calling JSON schema comes from the signature
(the `case` argument is the episode state and is hidden from the agent). env.py parses tool calls out of
the agent's text and calls `dispatch(case, name, arguments)`, which validates against the schema and
returns (result, error_kind): error_kind is None on success, else one of ERROR_KINDS, and the result is
then an error message for the agent. dispatch never raises: every numeric argument has a range in
ARG_RANGES (in the schema as minimum/maximum, checked before the tool runs), and any exception a tool
raises becomes an `execution` error. No tool evaluates agent text as code; KB look-ups go through
parameterised SQLite queries in kb.py.
"""
import inspect
from dataclasses import dataclass, field

import reward
from clinic import charttools  # noqa: F401  (imported for its @tool declarations)
from clinic import domains
from clinic import scores as S
from clinic import toolset
from clinic.toolset import tool

ERROR_KINDS = ("malformed", "phantom_tool", "schema", "off_menu", "execution")
KINDS = ("retrieval", "assessment", "intervention", "scaffold")
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array"}
# Inclusive range of every numeric tool argument, by name (one name means one quantity on every tool):
# the score inputs' physiological ranges, and the bounds of the other tools' numbers.
ARG_RANGES = {**S.RANGES, "k": (1, 50), "level": (1, 5), "value": (-1000, 100000),
              "mg_per_kg": (0.001, 1000), "weight_kg": (0.3, 400), "max_mg": (0, 100000),
              "volume_ml": (1, 10000), "flow_l_min": (0.1, 80),
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
        takes = sorted(params["properties"]) or "no arguments"
        return f"unknown argument(s) {unknown}; {t.name} takes {takes}"
    missing = [a for a in params["required"] if a not in arguments]
    if missing:
        return f"missing required argument(s) {missing}"
    for name, value in arguments.items():
        spec = params["properties"][name]
        if value is None and name not in params["required"]:
            continue        # an optional argument given as null: not measured, as if left out
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


# ---------------------------------------------------------------- the registry, in menu order
# Every tool is declared with @tool(kind) beside its body; here each declaration becomes a registry entry.
# Menus list tools in this order: the chart, score and image tools, then the retrieval, intervention and
# scaffold tools, then this file's answer tools.
MENU_ORDER = ("clinic.charttools", "clinic.toolset", __name__)
for _fn, _kind in sorted(toolset.DECLARED, key=lambda d: MENU_ORDER.index(d[0].__module__)):
    register(_fn, _kind)

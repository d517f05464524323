"""The radiology report domain: its task generator and its declaration (see clinic/domains/__init__.py)."""
from clinic import knowledge as K
from clinic.cases import MODALITY_NAMES, call, choice_answer, flag_spec, options_text, patient, task
from clinic.domains import Domain


def generate(r, i):
    names = list(K.RADIOLOGY_FINDINGS)
    finding = names[i % len(names)]
    modality, critical, sentence, _ = K.RADIOLOGY_FINDINGS[finding]
    pat = patient(r)
    side = str(r.choice(["left", "right"])) if modality == "chest_xray" and finding not in (
        "normal study", "pulmonary edema") else None
    new = bool(r.random() < 0.6) and finding != "normal study"
    same_mod = [n for n in names if K.RADIOLOGY_FINDINGS[n][0] == modality and n != finding]
    opts, letter = choice_answer(r, finding, same_mod[:3] if len(same_mod) >= 3 else same_mod)
    text = sentence + (f", {side} side" if side else "") + "."
    prior = (f"unchanged from prior {modality.replace('_', ' ')} 2 days ago" +
             (", already communicated to the treating team" if critical else ""))
    record = {"imaging": {modality: text}, "prior_imaging": "no prior study" if new else prior}
    q = (f"Report the {modality.replace('_', ' ')} of a {pat['age']}-year-old {pat['sex']}. Give the primary "
         f"finding and write the report in the rationale.\n{options_text(opts)}\nSubmit the letter of the "
         f"correct option.")
    tools = [call("get_imaging_study", modality=modality), call("compare_with_prior")]
    rivals = [n for n in names if n != finding and n not in finding and finding not in n]
    safety, assertions = [], [dict(kind="mentions", text=finding, rivals=rivals)]
    if side:
        assertions.append(dict(kind="mentions", text=side, rivals=["right" if side == "left" else "left"]))
    if critical and new:     # K.RULES["critical_imaging"]: a new critical finding is called; a known one is not
        tools.append(call("flag_critical_result", test=modality))
        names_of_study = [modality, finding] + MODALITY_NAMES.get(modality, [])
        others = [o for o in opts if o != finding]
        safety.append(flag_spec("must_call", names_of_study, others, f"critical {finding} not communicated"))
        assertions.append(flag_spec("called", names_of_study, others, ""))
    return task("radiology_report", q, pat, record, dict(type="choice", value=letter, options=opts), tools,
                safety, assertions)


DOMAIN = Domain(
    "radiology_report", generate,
    answer_types=("choice",),
    safety=("must_call",),
    tools=(  # on the menu besides the tools every domain has (tools.EVERYWHERE)
        "compare_with_prior", "get_imaging_study", "search_imaging_atlas", "lookup_radiology_finding",
        "flag_critical_result", "consult_specialist", "addend_report", "recommend_follow_up_imaging",
        "protocol_study",
    ),
)

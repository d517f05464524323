"""The ehr management domain: its task generator and its declaration (see clinic/domains/__init__.py)."""
from clinic import knowledge as K
from clinic import scores as S
from clinic.cases import call, choice_answer, flag_spec, normal_lab, options_text, patient, score_task, task
from clinic.domains import Domain


def generate(r, i):
    v = i % 6
    if v == 5:   # critical lab value: identify and flag it
        pat = patient(r)
        crit = str(r.choice(["potassium", "sodium", "glucose", "hemoglobin", "platelets", "calcium"]))
        _, lo, hi, clo, chi, full, _ = K.LABS[crit]
        high = chi is not None and (clo is None or r.random() < 0.5)
        value = round(chi * 1.08, 1) if high else round(clo * 0.9, 1)
        others = [str(x) for x in r.permutation([n for n in ("sodium", "potassium", "creatinine", "glucose",
                                                         "hemoglobin", "wbc", "platelets", "calcium") if n != crit])[:3]]
        labs = {n: normal_lab(r, n) for n in others}
        labs[crit] = value
        opts, letter = choice_answer(r, crit, others)
        q = (f"Chart review for a {pat['age']}-year-old {pat['sex']}. Which resulted lab value is critical? Flag it "
             f"to the responsible clinician.\n{options_text(opts)}\nSubmit the letter of the correct option.")
        must = flag_spec("must_call", [crit, full], others, f"critical {crit} not escalated")
        tools = [call("get_lab_results"), call("flag_critical_result", test=crit)]
        return task("ehr_management", q, pat, {"labs": labs}, dict(type="choice", value=letter, options=opts),
                    tools, [must])
    name = ["ckd_epi_2021", "meld", "child_pugh", "sofa", "cha2ds2_vasc"][v]
    label = S.child_pugh_class if name == "child_pugh" else "integer"
    t, _ = score_task(r, "ehr_management", name, "Review this patient's electronic health record.", label)
    return t


DOMAIN = Domain(
    "ehr_management", generate,
    answer_types=("choice", "label", "number"),
    safety=("must_call",),
    tools=(  # on the menu besides the tools every domain has (tools.EVERYWHERE)
        "get_vitals", "get_history", "get_problem_list", "get_medications", "get_allergies",
        "perform_physical_exam", "get_lab_results", "get_social_history", "get_family_history",
        "get_surgical_history", "get_immunizations", "get_code_status", "get_encounters", "get_clinical_notes",
        "get_discharge_summary", "get_vital_trend", "get_fluid_balance", "calc_sofa", "calc_cha2ds2_vasc",
        "calc_meld", "calc_child_pugh", "calc_ckd_epi_2021", "search_score_definitions", "lookup_icd10",
        "lookup_lab_reference", "lookup_critical_values", "flag_critical_result", "discontinue_medication",
        "adjust_dose", "schedule_follow_up", "reconcile_medications", "update_problem_list",
        "request_pharmacist_review",
    ),
)

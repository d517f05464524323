"""The clinical diagnosis domain: its task generator and its declaration (see clinic/domains/__init__.py)."""
from clinic import knowledge as K
from clinic import physiology
from clinic.cases import (allergy_constraint, call, choice_answer, options_text, order_call, patient,
                          presentation_labs, presentation_vitals, task)
from clinic.domains import Domain


def generate(r, i):
    names = list(K.DISEASES)
    name = names[i % len(names)]
    d = K.DISEASES[name]
    sex = "female" if name == "iron deficiency anemia" else None
    pat = patient(r, age=(20, 85), sex=sex)
    mimics = physiology.PRESENTATIONS[name]["mimics"]     # no distractor whose own test this disease turns abnormal
    fair = [n for n in names if n != name and (K.DISEASES[n]["confirm_test"] or (0, None))[1] not in mimics]
    same = [n for n in fair if K.DISEASES[n]["group"] == d["group"]]
    other = [n for n in fair if n not in same]
    distract = list(r.permutation(same))[:3]
    distract += list(r.permutation(other))[:3 - len(distract)]
    opts, letter = choice_answer(r, name, distract)
    record = {"vitals": presentation_vitals(r, name), "history": {"symptoms": d["symptoms"][1:]},
              "exam": {"findings": d["exam"]}, "medications": [], "labs": presentation_labs(r, name), "imaging": {}}
    for n in opts:   # every option's confirmatory test has a result: abnormal for the true disease only
        if K.DISEASES[n]["confirm_test"] is None:
            continue
        kind, test, abnormal, normal = K.DISEASES[n]["confirm_test"]
        bucket = record["labs"] if kind == "lab" else record["imaging"]
        if test not in bucket or n == name:
            bucket[test] = abnormal if n == name else normal
    safety = allergy_constraint(r, record)
    q = (f"A {pat['age']}-year-old {pat['sex']} presents with {d['symptoms'][0]}. Work up the case and give "
         f"the most likely diagnosis.\n{options_text(opts)}\nSubmit the letter of the correct option.")
    tools = [call("get_history"), call("perform_physical_exam"), call("get_vitals")]
    if d["confirm_test"]:    # a clinical diagnosis (migraine, cellulitis, anaphylaxis) needs no test
        tools.append(order_call(d["confirm_test"]))
    return task("clinical_diagnosis", q, pat, record, dict(type="choice", value=letter, options=opts), tools, safety)


DOMAIN = Domain(
    "clinical_diagnosis", generate,
    answer_types=("choice",),
    safety=("forbidden_call",),
    tools=(  # on the menu besides the tools every domain has (tools.EVERYWHERE)
        "get_vitals", "get_history", "get_medications", "get_allergies", "perform_physical_exam", "order_ecg",
        "get_social_history", "get_family_history", "get_surgical_history", "assess_pain",
        "examine_cardiovascular", "examine_respiratory", "examine_abdomen", "examine_neurological",
        "order_lab", "order_imaging", "calc_wells_dvt", "calc_mcisaac", "search_guidelines",
        "search_disease_reviews", "lookup_disease", "lookup_icd10", "lookup_lab_reference", "lookup_protocol",
        "lookup_specialty", "search_by_symptom", "prescribe_medication", "activate_protocol",
        "consult_specialist", "order_culture", "admit_patient", "discharge_patient", "schedule_follow_up",
        "place_referral", "order_glucose_check",
    ),
)

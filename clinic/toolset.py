"""The @tool(kind) decorator every tool is declared with, and the retrieval, intervention and scaffold tools.

A declaration only records (fn, kind) in DECLARED; tools.py turns each into a registry entry (schema,
dispatch), so this module and clinic/charttools.py never import tools. Interventions are recorded in
case.actions (reward.py reads them for the process and safety dimensions); their results come from the
hidden record.
"""
import inspect

from clinic import knowledge as K
from clinic import pharmacology as P
from clinic import scores as S

DECLARED = []   # (fn, kind) of every tool declared, in declaration order


def tool(kind):
    """Declare fn an agent tool of this kind (tools.py registers it; a domain file, or tools.EVERYWHERE,
    puts it on menus)."""
    def declare(fn):
        DECLARED.append((fn, kind))
        return fn
    return declare


def _kb(case):
    if case.kb is None:
        raise ValueError("no knowledge base is attached to this environment")
    return case.kb


def _search(case, query, k, sources=None):
    hits = _kb(case).search(query, k=max(1, min(int(k), 20)), sources=sources)
    return [{"id": h["id"], "title": h["title"], "snippet": h["text"][:300], "score": round(h["score"], 3)}
            for h in hits]


def _name(x):
    return x.strip().lower().replace(" ", "_").replace("-", "_")


# ---------------------------------------------------------------- evidence retrieval
@tool("retrieval")
def search_knowledge_base(case, query: str, k: int = 5) -> list:
    """BM25 search over the medical knowledge base; returns passage ids, titles and snippets."""
    return _search(case, query, k)


@tool("retrieval")
def browse_passage(case, passage_id: str) -> dict:
    """Return the full text of a knowledge-base passage by id."""
    return _kb(case).get(passage_id)


@tool("retrieval")
def search_guidelines(case, query: str, k: int = 5) -> list:
    """Search clinical guidelines and protocols only."""
    return _search(case, query, k, ("guideline", "protocol"))


@tool("retrieval")
def search_drug_monographs(case, query: str, k: int = 5) -> list:
    """Search drug monographs and interaction notes only."""
    return _search(case, query, k, ("drug", "interaction"))


@tool("retrieval")
def search_disease_reviews(case, query: str, k: int = 5) -> list:
    """Search disease reviews (presentation, diagnosis, management) only."""
    return _search(case, query, k, ("disease", "icd10"))


@tool("retrieval")
def search_score_definitions(case, query: str, k: int = 3) -> list:
    """Search the definitions of clinical scores."""
    return _search(case, query, k, ("score",))


@tool("retrieval")
def search_imaging_atlas(case, query: str, k: int = 5) -> list:
    """Search the radiology, ECG and dermatology atlas."""
    return _search(case, query, k, ("radiology", "ecg", "dermatology"))


def _drug(drug):
    d = _name(drug)
    if d not in P.DRUGS:
        raise ValueError(f"unknown drug {drug!r}")
    return d


def _interaction(hit):
    return {"severity": hit.severity, "mechanism": hit.mechanism, "management": hit.management,
            "source": K.SOURCES[hit.source]}


def _pregnancy(d):
    return {"by_gestation": P.pregnancy_summary(d), "source": K.SOURCES[P.PREGNANCY[d][2]]}


@tool("retrieval")
def lookup_drug(case, drug: str) -> dict:
    """Drug facts: class, allergy group, safety in pregnancy by gestation, indication."""
    d = _drug(drug)
    x = P.DRUGS[d]
    return {"drug": d, "class": x.cls, "allergy_group": x.allergy, "pregnancy": _pregnancy(d), "indication": x.use}


@tool("retrieval")
def lookup_interaction(case, drug_a: str, drug_b: str) -> dict:
    """Interaction between two drugs: severity (contraindicated / avoid / monitor), mechanism, management."""
    hit = P.interaction(_drug(drug_a), _drug(drug_b))
    return _interaction(hit) if hit else {"severity": "none known"}


@tool("retrieval")
def check_drug_interactions(case, drug: str) -> dict:
    """Check a drug against the patient's current medication list."""
    d = _drug(drug)
    meds = case.task.get("record", {}).get("medications", [])
    case.revealed.add("medications")
    found = [{"with": m, **_interaction(hit)} for m in meds if m in P.DRUGS and (hit := P.interaction(d, m))]
    return {"drug": d, "interactions": found or "none with current medications"}


@tool("retrieval")
def lookup_pregnancy_safety(case, drug: str, gestational_weeks: int = None) -> dict:
    """Safety of a drug in pregnancy (compatible / caution / avoid / contraindicated), at the patient's
    gestation unless gestational_weeks is given."""
    d = _drug(drug)
    weeks = gestational_weeks if gestational_weeks is not None else case.task.get("patient", {}).get(
        "gestational_weeks")
    if weeks is None:
        return {"drug": d, **_pregnancy(d)}
    status, note, source = P.pregnancy_status(d, weeks)
    return {"drug": d, "gestational_weeks": weeks, "status": status, "note": note, "source": K.SOURCES[source]}


@tool("retrieval")
def lookup_allergy_group(case, drug: str) -> dict:
    """The allergy cross-reactivity group of a drug (penicillin, cephalosporin, sulfonamide, nsaid)."""
    return {"drug": _drug(drug), "allergy_group": P.DRUGS[_drug(drug)].allergy}


def _disease(name):
    d = name.strip().lower()
    if d not in K.DISEASES:
        raise ValueError(f"unknown disease {name!r}")
    return d


@tool("retrieval")
def lookup_disease(case, disease: str) -> dict:
    """Disease summary: symptoms, confirmatory test, treatment, specialty, ICD-10, source."""
    d = K.DISEASES[_disease(disease)]
    test = d["confirm_test"][1] if d["confirm_test"] else "none: clinical diagnosis"
    return {"symptoms": d["symptoms"], "confirmatory_test": test, "confirmed_by": d["confirm"],
            "treatment": d["treatment"], "specialty": d["specialty"], "icd10": d["icd10"],
            "source": K.SOURCES[d["source"]]}


@tool("retrieval")
def lookup_icd10(case, term: str) -> list:
    """ICD-10-CM codes whose disease name contains the term."""
    hits = [{"disease": n, "icd10": d["icd10"]} for n, d in K.DISEASES.items() if term.lower() in n]
    return hits or f"no code found for {term!r}"


@tool("retrieval")
def lookup_lab_reference(case, test: str) -> dict:
    """Adult reference interval and critical values of a lab test."""
    if test not in K.LABS:
        raise ValueError(f"unknown test {test!r}")
    unit, lo, hi, clo, chi, full, _ = K.LABS[test]
    return {"test": full, "unit": unit, "reference": [lo, hi], "critical_low": clo, "critical_high": chi}


@tool("retrieval")
def lookup_protocol(case, name: str) -> str:
    """Text of a care protocol (sepsis, stroke, stemi, trauma, ...)."""
    if _name(name) not in K.PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(K.PROTOCOLS)}")
    return K.PROTOCOLS[_name(name)][0]


@tool("retrieval")
def lookup_ecg_criteria(case, rhythm: str) -> dict:
    """Rate, regularity and P-wave criteria of a cardiac rhythm."""
    if rhythm.lower() not in K.ECG_RHYTHMS:
        raise ValueError(f"unknown rhythm; known: {', '.join(K.ECG_RHYTHMS)}")
    (lo, hi), regular, p, _ = K.ECG_RHYTHMS[rhythm.lower()]
    return {"rate_bpm": [lo, hi], "regular": regular, "p_waves": p}


@tool("retrieval")
def lookup_lesion_criteria(case) -> str:
    """The ABCD criteria for pigmented skin lesions."""
    return ("Asymmetry index > 0.1, border irregularity > 0.2, 3 or more colours, diameter > 6 mm; two or more "
            "criteria: suspicious for melanoma.")


@tool("retrieval")
def lookup_specialty(case, disease: str) -> str:
    """The specialty that manages a disease."""
    return K.DISEASES[_disease(disease)]["specialty"]


@tool("retrieval")
def search_by_symptom(case, symptom: str) -> list:
    """Diseases in the knowledge tables whose presentation mentions a symptom."""
    s = symptom.lower()
    return [n for n, d in K.DISEASES.items() if any(s in x for x in d["symptoms"])] or "no match"


@tool("retrieval")
def lookup_contraindications(case, drug: str) -> dict:
    """Everything that rules a drug out: allergy group, pregnancy, listed interactions."""
    d = _drug(drug)
    return {"drug": d, "allergy_group": P.DRUGS[d].allergy, "pregnancy": P.pregnancy_summary(d),
            "interacts_with": {o: hit.severity for o, hit in P.partners(d).items()}}


@tool("retrieval")
def lookup_drug_class_members(case, drug_class: str) -> list:
    """Drugs in the tables whose class contains the given words."""
    q = drug_class.lower()
    return [d for d, x in P.DRUGS.items() if q in x.cls.lower()] or f"no drug of class {drug_class!r}"


@tool("retrieval")
def lookup_critical_values(case) -> dict:
    """Critical (panic) values that must be escalated immediately."""
    return {n: {"below": v[3], "above": v[4]} for n, v in K.LABS.items() if v[3] is not None or v[4] is not None}


@tool("retrieval")
def lookup_radiology_finding(case, finding: str) -> dict:
    """Imaging appearance of a finding and whether it is critical."""
    f = finding.strip().lower()
    if f not in K.RADIOLOGY_FINDINGS:
        raise ValueError(f"unknown finding; known: {', '.join(K.RADIOLOGY_FINDINGS)}")
    mod, critical, sentence, _ = K.RADIOLOGY_FINDINGS[f]
    return {"modality": mod, "critical": critical, "appearance": sentence}


@tool("retrieval")
def lookup_questionnaire_bands(case, instrument: str) -> list:
    """Severity bands of PHQ-9 (phq9) or GAD-7 (gad7)."""
    if instrument not in S.PSYCH_BANDS:
        raise ValueError("instrument must be phq9 or gad7")
    return [{"range": [lo, hi], "severity": label} for lo, hi, label in S.PSYCH_BANDS[instrument]]


@tool("retrieval")
def lookup_esi_algorithm(case) -> str:
    """The Emergency Severity Index v4 decision points."""
    return ("A: needs immediate life-saving intervention -> ESI 1. B: high-risk situation, new confusion/lethargy "
            "or severe pain/distress -> ESI 2. C: how many resources? none -> 5, one -> 4. D: two or more -> 3, "
            "or 2 if danger-zone vitals (HR > 100, RR > 20, SpO2 < 92%).")


# ---------------------------------------------------------------- interventions
def make_tool(name, doc, args, body):
    """A tool function with an explicit signature built from {argument: type}."""
    def fn(case, **kw):
        return body(name, kw)
    fn.__name__, fn.__doc__ = name, doc
    fn.__signature__ = inspect.Signature(
        [inspect.Parameter("case", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(a, inspect.Parameter.KEYWORD_ONLY, annotation=t) for a, t in args.items()])
    return fn


@tool("intervention")
def prescribe_medication(case, drug: str, dose: str = "") -> dict:
    """Prescribe a medication (recorded in the orders; no safety check is done for you)."""
    return {"status": "prescribed", "drug": _drug(drug), "dose": dose[:100]}


@tool("intervention")
def assign_triage_level(case, level: int) -> dict:
    """Assign the ESI triage level (1 most urgent - 5 least)."""
    if not 1 <= level <= 5:
        raise ValueError("level must be 1-5")
    return {"status": "assigned", "level": level}


@tool("intervention")
def activate_protocol(case, name: str) -> dict:
    """Activate a care protocol (sepsis, stroke, stemi, trauma, massive_transfusion, severe_preeclampsia, ...)."""
    if _name(name) not in K.PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(K.PROTOCOLS)}")
    return {"status": "activated", "protocol": _name(name), "bundle": K.PROTOCOLS[_name(name)][0]}


@tool("intervention")
def flag_critical_result(case, test: str) -> dict:
    """Escalate a critical result to the responsible clinician (closed-loop communication)."""
    return {"status": "flagged", "test": test[:100]}


@tool("intervention")
def consult_specialist(case, specialty: str) -> dict:
    """Request a specialist consultation."""
    if specialty not in K.SPECIALTIES:
        raise ValueError(f"unknown specialty; known: {', '.join(K.SPECIALTIES)}")
    return {"status": "requested", "specialty": specialty}


INTERVENTIONS = [  # name, docstring, signature (argument: type)
    ("initiate_suicide_precautions", "Start suicide precautions: 1:1 observation, remove means, urgent review.", {}),
    ("order_culture", "Send cultures from a site (blood, urine, sputum, wound, csf).", {"site": str}),
    ("discontinue_medication", "Stop a current medication.", {"drug": str}),
    ("adjust_dose", "Change the dose of a current medication.", {"drug": str, "new_dose": str}),
    ("administer_fluids", "Give an intravenous crystalloid bolus.", {"volume_ml": int}),
    ("administer_oxygen", "Start supplemental oxygen.", {"flow_l_min": float}),
    ("admit_patient", "Admit the patient to a unit.", {"unit": str}),
    ("discharge_patient", "Discharge the patient with instructions.", {"instructions": str}),
    ("transfer_to_icu", "Transfer the patient to intensive care.", {}),
    ("schedule_follow_up", "Book a follow-up appointment.", {"days": int}),
    ("order_fetal_monitoring", "Start continuous cardiotocography.", {}),
    ("plan_delivery", "Document the delivery plan (vaginal, induction, caesarean).", {"mode": str}),
    ("document_note", "Write a note into the chart.", {"text": str}),
    ("place_referral", "Refer to an outpatient specialty clinic.", {"specialty": str}),
    ("order_biopsy", "Order an excisional or punch biopsy.", {"site": str}),
    ("isolate_patient", "Place the patient in isolation precautions.", {"precaution": str}),
    ("reconcile_medications", "Reconcile the medication list against the chart.", {}),
    ("update_problem_list", "Add a problem to the chart problem list.", {"problem": str}),
    ("order_blood_products", "Order blood products.", {"product": str, "units": int}),
    ("request_pharmacist_review", "Ask a pharmacist to review the regimen.", {}),
    ("order_safety_plan", "Complete a collaborative safety plan with the patient.", {}),
    ("start_psychotherapy_referral", "Refer for psychotherapy (CBT, IPT).", {"modality": str}),
    ("administer_rhogam", "Give anti-D immunoglobulin.", {}),
    ("order_glucose_check", "Point-of-care glucose measurement.", {}),
    ("apply_cardiac_monitor", "Attach continuous cardiac monitoring.", {}),
    ("request_interpreter", "Request a medical interpreter.", {}),
    ("addend_report", "Add an addendum to a radiology report.", {"text": str}),
    ("recommend_follow_up_imaging", "Recommend follow-up imaging.", {"modality": str, "interval_weeks": int}),
    ("protocol_study", "Choose the imaging protocol (contrast, phase).", {"protocol": str}),
]
for _n, _doc, _args in INTERVENTIONS:   # recorded and acknowledged; reward.py judges them
    tool("intervention")(make_tool(_n, _doc, _args, lambda n, kw: {"status": "done", "action": n, **kw}))


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
    tool("scaffold")(make_tool(_n, _doc, _args, _noted))


UNITS = {("mg/dl", "mmol/l", "glucose"): 1 / 18.0, ("mmol/l", "mg/dl", "glucose"): 18.0,
         ("mg/dl", "umol/l", "creatinine"): 88.4, ("umol/l", "mg/dl", "creatinine"): 1 / 88.4,
         ("lb", "kg", "weight"): 0.45359237, ("kg", "lb", "weight"): 1 / 0.45359237}


@tool("scaffold")
def convert_units(case, value: float, from_unit: str, to_unit: str, quantity: str) -> dict:
    """Convert glucose (mg/dL<->mmol/L), creatinine (mg/dL<->umol/L), weight (lb<->kg) or
    temperature (F<->C)."""
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

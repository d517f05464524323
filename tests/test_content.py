"""Clinical content: the hand-checked facts of issue 17 pinned, the models applied to the whole bank,
and a source for every fact."""
import itertools
import subprocess
import sys

import pytest

from clinic import knowledge as K
from clinic import pharmacology as P
from benchmarks import content_audit

# ---------------------------------------------------------------- pinned facts (each with its reference)
PREGNANCY = [  # (drug, gestational week, status)
    ("ibuprofen", 19, "caution"), ("ibuprofen", 20, "avoid"), ("naproxen", 32, "avoid"),   # FDA Oct 2020
    ("apixaban", 10, "avoid"), ("apixaban", 30, "avoid"), ("enoxaparin", 30, "compatible"),  # ASH 2018
    ("warfarin", 30, "contraindicated"),                                                    # ACOG PB 196
    ("amiodarone", 25, "avoid"), ("spironolactone", 25, "avoid"),                           # ESC 2018
    ("fluconazole", 25, "avoid"), ("clarithromycin", 25, "avoid"),                          # CDC STI 2021
    ("levofloxacin", 25, "avoid"), ("ciprofloxacin", 25, "avoid"), ("phenelzine", 25, "avoid"),
    ("azathioprine", 25, "compatible"),                                                     # ACR 2020
    ("lithium", 25, "caution"),                                                             # ACOG 2023
    ("simvastatin", 25, "avoid"), ("atorvastatin", 25, "avoid"),                            # FDA Jul 2021
    ("methimazole", 10, "avoid"), ("methimazole", 20, "compatible"),                        # ATA 2017
    ("propylthiouracil", 10, "compatible"), ("propylthiouracil", 20, "caution"),
    ("lisinopril", 8, "avoid"), ("lisinopril", 20, "contraindicated"),                      # boxed warning
    ("doxycycline", 20, "contraindicated"), ("azithromycin", 30, "compatible"),             # CDC STI 2021
    ("aspirin", 30, "caution"),                                 # dose-dependent: never keyed yes or no
]

INTERACTIONS = [  # (drug, drug, severity or None)
    ("lisinopril", "spironolactone", "monitor"), ("losartan", "spironolactone", "monitor"),  # AHA/ACC/HFSA 2022
    ("lisinopril", "potassium_chloride", "monitor"),
    ("azithromycin", "ondansetron", "monitor"), ("haloperidol", "ondansetron", "monitor"),  # CredibleMeds
    ("clopidogrel", "omeprazole", "avoid"), ("clopidogrel", "pantoprazole", None),           # Plavix label
    ("warfarin", "apixaban", "avoid"), ("heparin", "enoxaparin", "avoid"),
    ("heparin", "warfarin", "monitor"), ("enoxaparin", "warfarin", "monitor"),              # CHEST: overlap
    ("warfarin", "clopidogrel", "avoid"), ("apixaban", "aspirin", "avoid"), ("apixaban", "naproxen", "avoid"),
    ("lithium", "ibuprofen", "avoid"), ("lithium", "hydrochlorothiazide", "avoid"),            # lithium label
    ("lithium", "losartan", "monitor"), ("lithium", "lisinopril", "monitor"),                  # NICE CG185
    ("linezolid", "sertraline", "avoid"), ("linezolid", "phenelzine", "contraindicated"),
    ("clarithromycin", "colchicine", "avoid"), ("clarithromycin", "simvastatin", "contraindicated"),
    ("isotretinoin", "doxycycline", "avoid"), ("lisinopril", "losartan", "avoid"),          # ONTARGET 2008
    ("sertraline", "phenelzine", "contraindicated"), ("sildenafil", "nitroglycerin", "contraindicated"),
    ("ciprofloxacin", "tizanidine", "contraindicated"), ("aspirin", "clopidogrel", "monitor"),  # DAPT
    ("amiodarone", "levofloxacin", "avoid"), ("warfarin", "amiodarone", "monitor"),
    ("amoxicillin", "omeprazole", None), ("metformin", "atorvastatin", None),
]


@pytest.mark.parametrize("drug,week,status", PREGNANCY)
def test_pregnancy_status_by_gestation(drug, week, status):
    assert P.pregnancy_status(drug, week)[0] == status


def test_statins_say_which_fda_version_they_follow():
    assert "2021" in P.PREGNANCY["simvastatin"][1] and P.PREGNANCY["simvastatin"][2] == "fda-statin-2021"


@pytest.mark.parametrize("a,b,severity", INTERACTIONS)
def test_interaction_severity(a, b, severity):
    for x, y in ((a, b), (b, a)):
        hit = P.interaction(x, y)
        assert (hit.severity if hit else None) == severity


def test_pairs_the_tables_never_named_are_judged_by_class():
    tagged = lambda tag: [d for d, x in P.DRUGS.items() if tag in x.tags]  # noqa: E731
    heparins = set(tagged("parenteral_anticoagulant"))
    for a, b in itertools.combinations(tagged("anticoagulant"), 2):     # two anticoagulants
        expected = "monitor" if {a, b} & heparins and "warfarin" in (a, b) and {a, b} - heparins == {"warfarin"} \
            else "avoid"
        assert P.interaction(a, b).severity == expected, (a, b)
    for a in tagged("anticoagulant"):
        for b in tagged("antiplatelet") + tagged("nsaid"):
            acs = a in heparins and b in tagged("antiplatelet")      # heparin + antiplatelet: ACS therapy
            assert P.interaction(a, b).severity == ("monitor" if acs else "avoid"), (a, b)
    for a, b in itertools.product(tagged("maoi"), tagged("serotonergic")):
        assert P.interaction(a, b).severity == "contraindicated"
    for a, b in itertools.combinations(tagged("qt"), 2):
        assert P.interaction(a, b) is not None, (a, b)
    for a, b in itertools.product(tagged("raas"), tagged("k_sparing") + tagged("k_supplement")):
        assert P.interaction(a, b).severity == "monitor"
    for sub in ("simvastatin", "colchicine"):
        for inh in tagged("strong_cyp3a4_inhibitor"):
            assert P.interaction(inh, sub).severity in P.UNSAFE
    assert P.interaction("clarithromycin", "atorvastatin").severity == "monitor"        # a 20 mg cap (label)


def test_disease_facts():
    D = K.DISEASES
    assert D["acute pancreatitis"]["treatment"] == "lactated_ringers"                   # ACG 2024
    assert D["bacterial meningitis"]["icd10"] == "G00.9"                                # ICD-10-CM 2024
    assert D["acute cholecystitis"]["icd10"] == "K80.00" and D["ureteric stone"]["icd10"] == "N20.1"
    assert D["anaphylaxis"]["icd10"] == "T78.2XXA" and D["gout"]["specialty"] == "rheumatology"
    for clinical in ("migraine", "cellulitis", "anaphylaxis", "copd exacerbation", "sepsis"):  # no test rewarded
        assert D[clinical]["confirm_test"] is None
    assert "tryptase" in D["anaphylaxis"]["confirm"]
    confirm = {n: d["confirm_test"][1] for n, d in D.items() if d["confirm_test"]}
    assert confirm["upper gi bleed"] == "upper_endoscopy" and confirm["graves disease"] == "trab"
    assert confirm["asthma exacerbation"] == "peak_flow"
    assert D["acute appendicitis"]["treatment"].startswith("appendectomy")              # SIS/IDSA 2017
    assert "metronidazole" in D["acute appendicitis"]["treatment"]
    assert "vancomycin" in D["bacterial meningitis"]["alternatives"]
    assert {"ciprofloxacin", "levofloxacin"} <= set(D["acute pyelonephritis"]["alternatives"])
    assert {"ibuprofen", "naproxen"} <= set(D["migraine"]["alternatives"])
    assert K.RADIOLOGY_FINDINGS["acute infarct"][1] is True                             # ACR 2020
    assert "2018" in K.PROTOCOLS["sepsis"][0] and K.PROTOCOLS["sepsis"][1] == "ssc-2018"  # Levy 2018
    for d in D.values():
        assert d["treatment"] not in d["alternatives"]
        assert all(x in P.DRUGS for x in d["alternatives"])
        test = d["confirm_test"]
        assert test is None or test[1] in (K.LABS if test[0] == "lab" else K.IMAGING)


# ---------------------------------------------------------------- the whole bank under the models
def test_the_bank_has_no_content_problem(tasks):
    assert content_audit.audit(tasks) == {}


def test_the_audit_finds_the_errors_the_review_reported(tasks):
    """Old keys fail the audit: apixaban safe in pregnancy, a head CT for migraine, lisinopril forbidden next to
    spironolactone, an NSAID as a second right first-line option, item 9 = 1 left unassessed."""
    def one(domain, pred):
        return next(t for t in tasks if t["domain"] == domain and pred(t))
    ob = dict(one("obstetrics", lambda t: t["answer"]["type"] == "yesno"))
    ob.update(question="... Is apixaban an appropriate choice ...", answer=dict(type="yesno", value="yes"))
    dx = one("clinical_diagnosis", lambda t: t["answer"]["options"][ord(t["answer"]["value"]) - 65] == "migraine")
    dx = dict(dx, expected_tools=dx["expected_tools"] + [{"name": "order_imaging",
                                                          "arguments": {"modality": "ct_head"}}])
    di = dict(one("drug_interaction", lambda t: t["answer"]["type"] == "yesno"))
    di.update(question="... is being considered for lisinopril (hypertension). ...",
              record={"medications": ["spironolactone"]}, answer=dict(type="yesno", value="no"),
              safety=[dict(kind="forbidden_call", tool="prescribe_medication", argument="drug",
                           values=["lisinopril"], reason="", severity="critical")])
    qa = dict(one("medical_qa", lambda t: "first-line treatment for migraine" in t["question"]))
    opts = list(qa["answer"]["options"])
    opts[(ord(qa["answer"]["value"]) - 65 + 1) % 4] = "ibuprofen"
    qa = dict(qa, answer=dict(qa["answer"], options=opts))
    ps = one("psychiatry", lambda t: "phq9" in t["record"].get("questionnaires", {}) and
             t["record"]["questionnaires"]["phq9"][8] >= 1)
    ps = dict(ps, expected_tools=[c for c in ps["expected_tools"] if c["name"] != "assess_suicide_risk"])
    for bad in (ob, dx, di, qa, ps):
        assert content_audit.problems(bad), bad["id"]


def test_no_guideline_combination_or_pregnancy_harm_is_keyed_wrong(tasks):
    for t in tasks:
        if t["domain"] == "obstetrics" and t["answer"]["type"] == "yesno" and t["answer"]["value"] == "yes":
            drug = content_audit._drug_in(t["question"], "Is ")
            x = P.DRUGS[drug]
            assert not ({"anticoagulant"} <= x.tags and "doac" in x.tags), t["id"]       # no DOAC in pregnancy
            assert not ("nsaid" in x.tags and t["patient"]["gestational_weeks"] >= 20), t["id"]
        if t["domain"] == "drug_interaction" and t["answer"]["value"] == "yes":
            new = content_audit._drug_in(t["question"], "considered for ")
            meds = t["record"]["medications"]
            both = [m for m in meds + [new] if "anticoagulant" in P.DRUGS[m].tags]
            assert len(both) < 2 or P.interaction(*both[:2]).severity == "monitor", t["id"]


def test_medication_lists_hold_no_drug_given_only_acutely(tasks):
    lists = [t["record"].get("medications", []) for t in tasks]
    assert sum(map(len, lists)) > 500 and not set().union(*map(set, lists)) & P.ACUTE_ONLY


def test_every_choice_question_keys_one_option_under_the_models(tasks):
    checked = 0
    for t in tasks:
        if t["answer"]["type"] == "choice" and t["domain"] in ("drug_interaction", "medical_qa"):
            assert not content_audit.problems(t), t["id"]
            checked += 1
        if "drug class" in t["question"]:
            drug = content_audit._drug_in(t["question"], "does ")
            assert content_audit._key(t) == P.DRUGS[drug].cls
    assert checked > 450


# ---------------------------------------------------------------- sources and the review table
def test_every_fact_has_a_known_source():
    used = set()
    for kind, subject, statement, src in K.facts():
        if kind == "score":
            assert any(str(y) in statement for y in range(1950, 2030)), subject   # docstrings cite a year
            continue
        assert src in K.SOURCES, (kind, subject, src)
        used.add(src)
    for d in K.DISEASES.values():
        assert d["source"] in K.SOURCES
    assert set(K.SOURCES) - used == set(), "sources nothing cites"
    assert all(d in P.PREGNANCY for d in P.DRUGS) and set(P.PREGNANCY) == set(P.DRUGS)


def test_review_prints_every_fact_with_its_source():
    out = subprocess.run([sys.executable, "-m", "clinic.knowledge", "review"], capture_output=True, text=True, check=True,
                         cwd=K.__file__.rsplit("/", 2)[0]).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| kind")]
    assert len(rows) == len(list(K.facts())) > 300
    assert all(line.count("|") == 5 and line.rstrip(" |").split("|")[-1].strip() for line in rows)
    assert "| pregnancy | ibuprofen | weeks 0-19: caution; from week 20: avoid" in out
    assert "FDA Drug Safety Communication: avoid NSAIDs in pregnancy at 20 weeks" in out


# ---------------------------------------------------------------- the tools read the same models
def test_lookup_tools_answer_with_the_models(tasks):
    import tools
    ob = next(t for t in tasks if t["domain"] == "obstetrics" and t["answer"]["type"] == "yesno"
              and t["answer"]["value"] == "no")
    drug = content_audit._drug_in(ob["question"], "Is ")
    out, err = tools.dispatch(tools.Case(task=ob), "lookup_pregnancy_safety", {"drug": drug}, "obstetrics")
    assert err is None and out["gestational_weeks"] == ob["patient"]["gestational_weeks"]
    assert out["status"] in ("avoid", "contraindicated") and out["source"] in K.SOURCES.values()
    out, _ = tools.dispatch(tools.Case(task=ob), "lookup_pregnancy_safety",
                            {"drug": "ibuprofen", "gestational_weeks": 12}, "obstetrics")
    assert out["status"] == "caution"
    di = next(t for t in tasks if t["domain"] == "drug_interaction" and t["answer"]["value"] == "no")
    new = content_audit._drug_in(di["question"], "considered for ")
    out, err = tools.dispatch(tools.Case(task=di), "check_drug_interactions", {"drug": new}, "drug_interaction")
    assert err is None and any(x["severity"] in P.UNSAFE and x["management"] for x in out["interactions"])
    out, _ = tools.dispatch(tools.Case(task=di), "lookup_interaction",
                            {"drug_a": "lisinopril", "drug_b": "spironolactone"}, "drug_interaction")
    assert out["severity"] == "monitor" and "potassium" in out["management"]
    out, _ = tools.dispatch(tools.Case(task=di), "lookup_disease", {"disease": "migraine"}, "medical_qa")
    assert out["confirmatory_test"] == "none: clinical diagnosis"


def test_questionnaire_keys_follow_the_published_thresholds(tasks):
    from clinic import scores as S
    n = 0
    for t in tasks:
        q = t["record"].get("questionnaires", {})
        if "AUDIT-C screen positive" in t["question"]:      # >= 4 men, >= 3 women (Bush 1998)
            total = sum(q["audit_c"])
            cut = 3 if t["patient"]["sex"] == "female" else 4
            assert t["answer"]["value"] == ("yes" if total >= cut else "no"), t["id"]
            n += 1
        for kind in ("phq9", "gad7"):
            if kind in q and t["answer"]["type"] == "label":
                assert t["answer"]["value"] == S.severity_band(kind, sum(q[kind])), t["id"]
                n += 1
    assert n > 300

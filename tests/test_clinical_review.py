"""The clinical review of issue 33 pinned: the 15 wrong facts at their corrected values, the duplicate-therapy
rule, the interactions the model left out, the physiology of the generated cases, and the consistency audit
catching each pattern the review found (a febrile patient at 37.2 C, a 70 kg newborn, a call for an unchanged
finding, a pulseless patient with a rate). Each fact names its reference."""
import copy
import itertools

import pytest

import tools
from benchmarks import content_audit
from clinic import knowledge as K
from clinic import pharmacology as P
from clinic import physiology
from clinic import scores as S

D = K.DISEASES


def severity(a, b):
    hit = P.interaction(a, b)
    assert hit == P.interaction(b, a)
    return hit.severity if hit else None


def one(tasks, domain, pred=lambda t: True):
    return copy.deepcopy(next(t for t in tasks if t["domain"] == domain and pred(t)))


# ---------------------------------------------------------------- the 15 wrong facts
@pytest.mark.parametrize("heparin", ["heparin", "enoxaparin"])
@pytest.mark.parametrize("antiplatelet", ["aspirin", "clopidogrel"])
def test_heparin_with_an_antiplatelet_is_acs_therapy_to_monitor(heparin, antiplatelet):
    """Facts 1-4: ACC/AHA 2013 STEMI and 2014 NSTE-ACS: parenteral anticoagulant + DAPT is standard."""
    assert severity(heparin, antiplatelet) == "monitor"
    assert "bleeding" in P.interaction(heparin, antiplatelet).mechanism
    assert severity("warfarin", antiplatelet) == severity("apixaban", antiplatelet) == "avoid"   # oral: still


@pytest.mark.parametrize("a,b", [("ciprofloxacin", "levofloxacin"), ("azithromycin", "clarithromycin")])
def test_two_drugs_of_one_antibiotic_class_are_a_duplication_to_avoid(a, b):
    """Facts 5-6: one class twice is therapeutic duplication, with additive QT toxicity (CredibleMeds)."""
    hit = P.interaction(a, b)
    assert hit.severity == "avoid" and "duplication" in hit.mechanism and "QT" in hit.mechanism


@pytest.mark.parametrize("nsaid", ["ibuprofen", "naproxen"])
def test_the_methotrexate_rule_matches_methotrexate_only(nsaid):
    """Facts 7-8: TMP-SMX is not methotrexate; methotrexate + NSAID keeps its rule (methotrexate label)."""
    hit = P.interaction(nsaid, "trimethoprim_sulfamethoxazole")
    assert hit is None or "methotrexate" not in hit.mechanism
    assert "methotrexate" in P.interaction(nsaid, "methotrexate").mechanism
    assert severity("methotrexate", "trimethoprim_sulfamethoxazole") == "avoid"        # antifolate marrow toxicity


@pytest.mark.parametrize("nsaid", ["ibuprofen", "naproxen"])
def test_the_aspirin_blunting_mechanism_belongs_to_aspirin_pairs(nsaid):
    """Facts 9-10: FDA 2006: ibuprofen blunts low-dose aspirin; clopidogrel + NSAID is GI bleeding only."""
    assert "aspirin" not in P.interaction("clopidogrel", nsaid).mechanism
    assert "aspirin" in P.interaction("aspirin", "ibuprofen").mechanism


def test_copd_exacerbation_and_sepsis_are_not_confirmed_by_one_test():
    """Fact 11: GOLD 2024 (exacerbation is clinical; no spirometry during it). Fact 12: Sepsis-3 (infection +
    SOFA rise >= 2; lactate > 2 with vasopressors is septic shock)."""
    assert D["copd exacerbation"]["confirm_test"] is None and "spirometry is not" in D["copd exacerbation"]["confirm"]
    assert D["sepsis"]["confirm_test"] is None and "SOFA" in D["sepsis"]["confirm"]
    assert "septic shock" in D["sepsis"]["confirm"] and "sepsis" in K.NO_SINGLE_TEST


def test_codes_and_names_match_icd10cm():
    """Facts 13-14: T78.2XXA is anaphylactic shock, unspecified (T78.01XA is due to peanuts); N20.1 is calculus
    of ureter, so the disease whose CT shows a vesicoureteric stone is a ureteric stone."""
    assert D["anaphylaxis"]["icd10"] == "T78.2XXA"
    assert D["ureteric stone"]["icd10"] == "N20.1" and "kidney stone" not in D
    assert "ureteric" in D["ureteric stone"]["confirm_test"][2] or "vesicoureteric" in D["ureteric stone"][
        "confirm_test"][2]


def test_penicillin_anaphylaxis_allows_a_dissimilar_cephalosporin_in_sepsis(tasks):
    """Fact 15: AAAAI/ACAAI 2022 drug allergy practice parameter."""
    text, source = K.RULES["sepsis_antibiotic"]
    assert source == "aaaai-2022" and "ceftriaxone" in text and "non-beta-lactam regimen" not in text
    allergic = [t for t in tasks if t["domain"] == "cross_domain" and "penicillin (anaphylaxis)" in
                t["record"].get("allergies", []) and "sepsis" in t["question"]]
    assert len(allergic) > 10
    for t in allergic:
        assert content_audit._key(t) == "ceftriaxone"
        assert all("ceftriaxone" not in c.get("values", []) for c in t["safety"])


# ---------------------------------------------------------------- duplicate therapy and the omissions
def test_every_same_class_pair_is_a_therapeutic_duplication_to_avoid():
    same = [(a, b) for a, b in itertools.combinations(sorted(P.DRUGS), 2) if P.DRUGS[a].cls == P.DRUGS[b].cls]
    assert len(same) >= 7         # NSAIDs, statins, macrolides, fluoroquinolones, SSRIs, thionamides, PPIs
    for tag in P.DUPLICATES:
        members = sorted(d for d, x in P.DRUGS.items() if tag in x.tags)
        same += [(a, b) for a, b in itertools.combinations(members, 2)
                 if not {a, b} & {"warfarin"} or not {a, b} & {"heparin", "enoxaparin"}]
    for a, b in same:
        hit = P.interaction(a, b)
        assert hit.severity == "avoid", (a, b, hit)
        assert "duplica" in hit.mechanism, (a, b, hit.mechanism)
    # the one planned overlap (CHEST 2012): heparin until warfarin's INR is in range
    assert severity("heparin", "warfarin") == "monitor"


OMISSIONS = [  # (drug, drug, severity, a word the mechanism must carry), each from the label or guideline named
    ("warfarin", "ciprofloxacin", "monitor", "INR"), ("warfarin", "levofloxacin", "monitor", "INR"),
    ("warfarin", "clarithromycin", "monitor", "INR"),                                  # warfarin label
    ("lithium", "metronidazole", "monitor", "lithium"), ("lithium", "haloperidol", "monitor", "neurotoxicity"),
    ("ibuprofen", "spironolactone", "monitor", "hyperkalaemia"),                       # spironolactone label
    ("naproxen", "spironolactone", "monitor", "hyperkalaemia"),
    ("digoxin", "clarithromycin", "monitor", "digoxin"),                               # digoxin label
    ("clarithromycin", "nifedipine", "avoid", "hypotension"),                          # Gandhi, JAMA 2013
    ("ferrous_sulfate", "doxycycline", "monitor", "chelation"),
    ("ferrous_sulfate", "ciprofloxacin", "monitor", "chelation"),
    ("ferrous_sulfate", "levofloxacin", "monitor", "chelation"),
    ("ferrous_sulfate", "levothyroxine", "monitor", "absorbed"),                       # ATA 2014
]


@pytest.mark.parametrize("a,b,sev,word", OMISSIONS)
def test_the_interactions_the_model_left_out(a, b, sev, word):
    assert severity(a, b) == sev and word in P.interaction(a, b).mechanism


def test_no_quiet_option_or_filler_is_an_interacting_or_unchecked_pair(tasks):
    """The 'which medication interacts?' distractors and the regimen fillers come only from pairs the model
    positively checked (one drug of P.REVIEWED, no rule); none of the omissions above is among them."""
    omitted = {frozenset((a, b)) for a, b, *_ in OMISSIONS}
    n = 0
    for t in tasks:
        if t["domain"] != "drug_interaction":
            continue
        q, key = t["question"], content_audit._key(t)
        new = content_audit._drug_in(q, "about to start ") or content_audit._drug_in(q, "considered for ")
        quiet = [o for o in t["answer"].get("options", []) if o != key] if t["answer"]["type"] == "choice" else \
            [m for m in t["record"]["medications"] if P.interaction(new, m) is None]
        for other in quiet:
            assert P.checked_quiet(new, other), (t["id"], new, other)
            assert frozenset((new, other)) not in omitted
            n += 1
    assert n > 500


def test_debatable_interactions_are_decided_consistently():
    """Both statin + CYP3A4/amiodarone labels give a 20 mg cap: both 'monitor'. Lithium: ACEi/ARB monitor (NICE
    CG185), thiazide and NSAID avoid (lithium label). SSRI + tramadol avoid (tramadol label)."""
    assert severity("atorvastatin", "clarithromycin") == severity("simvastatin", "amiodarone") == "monitor"
    assert "20 mg" in P.interaction("atorvastatin", "clarithromycin").management
    assert severity("lithium", "lisinopril") == "monitor" and P.interaction("lithium", "losartan").source == \
        "nice-cg185-2023"
    assert severity("lithium", "hydrochlorothiazide") == severity("lithium", "naproxen") == "avoid"
    assert severity("sertraline", "tramadol") == "avoid"


# ---------------------------------------------------------------- first-line keys and lab values
def test_debatable_first_line_keys_are_asked_for_what_they_answer(tasks):
    assert D["pulmonary embolism"]["treatment"] == "enoxaparin"                       # ESC 2019: LMWH over UFH
    assert D["ureteric stone"]["treatment"] == "ibuprofen"                            # EAU 2024: NSAID first
    assert "tamsulosin" in D["ureteric stone"]["alternatives"]
    asked = {}
    for t in tasks:
        if t["domain"] == "medical_qa":
            stem = t["question"].split("\n")[0]
            name = content_audit.dis_name(stem)
            if name in K.TREATMENT_QUESTIONS and stem == K.TREATMENT_QUESTIONS[name]:
                assert content_audit._key(t) == D[name]["treatment"], t["id"]
                asked[name] = True
            assert "first-line treatment for" not in stem or name not in K.TREATMENT_QUESTIONS, t["id"]
            assert not (name in K.NO_SINGLE_TEST and "confirmed" in stem), t["id"]
    assert len(asked) >= 6


def test_bilirubin_has_no_adult_critical_value():
    """CLSI GP47 lists a critical bilirubin for neonates only; the adult table has none."""
    assert K.LABS["bilirubin"][4] is None


def test_sirs_takes_an_unmeasured_paco2_and_band_count_as_none(tasks):
    kwargs = dict(temperature=38.5, heart_rate=95, respiratory_rate=18, wbc=8.0)
    assert S.sirs(**kwargs, paco2=None, bands_pct=None) == S.sirs(**kwargs) == 2
    assert S.sirs(**kwargs, paco2=30, bands_pct=12) == 4
    with pytest.raises(ValueError):
        S.sirs(**{**kwargs, "wbc": None})                                            # a required input is not
    t = one(tasks, "triage_emergency", lambda t: "SIRS" in t["question"])
    out, err = tools.dispatch(tools.Case(task=t), "calc_sirs", {**kwargs, "paco2": None}, "triage_emergency")
    assert err is None and out["value"] == 2


# ---------------------------------------------------------------- physiology of the generated cases
def test_every_disease_declares_a_presentation_with_a_source():
    assert set(physiology.PRESENTATIONS) == set(D)
    for name, p in physiology.PRESENTATIONS.items():
        assert p["source"] in K.SOURCES, name
        for vital, rng in p["vitals"].items():
            assert isinstance(rng, str) or rng[0] <= rng[1], (name, vital)


def test_vignettes_chart_what_their_findings_say(tasks):
    """Every clinical-diagnosis vignette lies inside its disease's presentation; a septic patient meets the
    qSOFA and SIRS criteria the score tools compute; an anaphylactic one is hypotensive; DKA breathes fast."""
    by = {}
    for t in tasks:
        if t["domain"] == "clinical_diagnosis":
            by.setdefault(content_audit._key(t), []).append(t)
    assert set(by) == set(D)
    for t in by["sepsis"]:
        v = t["record"]["vitals"]
        assert S.qsofa(respiratory_rate=v["respiratory_rate"], systolic_bp=v["systolic_bp"], gcs=14) >= 2
        assert S.sirs(temperature=v["temperature"], heart_rate=v["heart_rate"],
                      respiratory_rate=v["respiratory_rate"], wbc=t["record"]["labs"]["wbc"]) >= 2
        assert v["consciousness"] != "A"
    assert all(t["record"]["vitals"]["systolic_bp"] < 90 for t in by["anaphylaxis"])
    for t in by["diabetic ketoacidosis"]:
        assert t["record"]["vitals"]["respiratory_rate"] >= 22 and t["record"]["labs"]["bicarbonate"] < 18
    for t in tasks:
        if t["domain"] == "obstetrics" and "Apgar" in t["question"]:
            lo, hi = physiology.NEWBORN_WEIGHT_KG
            assert t["patient"]["age"] == 0 and lo <= t["patient"]["weight_kg"] <= hi


def test_no_distractor_is_confirmed_by_a_test_the_keyed_disease_turns_abnormal(tasks):
    for t in tasks:
        if t["domain"] == "clinical_diagnosis":
            mimics = physiology.PRESENTATIONS[content_audit._key(t)]["mimics"]
            for o in t["answer"]["options"]:
                test = D[o]["confirm_test"]
                assert o == content_audit._key(t) or test is None or test[1] not in mimics, t["id"]


# ---------------------------------------------------------------- the audit catches each pattern put back
def _vital(t, **changes):
    t["record"]["vitals"].update(changes)
    return t


PATTERNS = {  # name -> (a real task with the pattern put back, words the audit's problem must carry)
    "febrile at 37.2": (lambda ts: _vital(one(ts, "clinical_diagnosis", lambda t: "fever" in str(
        t["record"]["history"])), temperature=37.2), "'fever' stated"),
    "tachycardic at 88": (lambda ts: _vital(one(ts, "clinical_diagnosis", lambda t: "tachycardic" in str(
        t["record"]["exam"])), heart_rate=88), "'tachycardi' stated"),
    "anaphylaxis at 124 systolic": (lambda ts: _vital(one(ts, "clinical_diagnosis", lambda t: "hypotension" in str(
        t["record"]["exam"])), systolic_bp=124, diastolic_bp=80, mean_arterial_pressure=95), "'hypotension' stated"),
    "Kussmaul at 16": (lambda ts: _vital(one(ts, "clinical_diagnosis", lambda t: "Kussmaul" in str(
        t["record"]["exam"])), respiratory_rate=16), "'kussmaul' stated"),
    "pulseless with a rate": (lambda ts: _vital(one(ts, "triage_emergency", lambda t: "pulseless" in t["question"]),
                                                heart_rate=131, respiratory_rate=30), "'pulseless' stated"),
    "GCS 14 charted Alert": (lambda ts: _vital(one(ts, "cross_domain", lambda t: t["record"].get("exam", {}).get(
        "gcs", 15) < 15), consciousness="A"), "charted Alert"),
    "a heart rate of 300": (lambda ts: _vital(one(ts, "clinical_diagnosis"), heart_rate=300), "impossible"),
    "a 70 kg newborn": (lambda ts: _newborn(one(ts, "obstetrics", lambda t: "Apgar" in t["question"])),
                        "weight 70 kg at age 0"),
    "a call for an unchanged finding": (lambda ts: _unchanged(one(ts, "radiology_report", lambda t: any(
        c["kind"] == "must_call" for c in t["safety"]))), "unchanged from prior True"),
    "BP 70/40 charted normal": (lambda ts: _vital(_says(one(ts, "triage_emergency", lambda t: "triage" in t[
        "record"]), "anaphylaxis with stridor and BP 70/40"), systolic_bp=128, diastolic_bp=80,
        mean_arterial_pressure=96), "BP 70/40 stated"),
    "a MAP that does not fit": (lambda ts: _vital(one(ts, "cross_domain", lambda t: "sepsis" in t["question"]),
                                                  mean_arterial_pressure=100), "does not fit"),
    "a distractor its record does not rule out": (lambda ts: _unruled(one(ts, "clinical_diagnosis", lambda t: any(
        D[o]["confirm_test"] and o != content_audit._key(t) for o in t["answer"]["options"]))), "not ruled out"),
    "sepsis with normal vital signs": (lambda ts: _vital(one(ts, "clinical_diagnosis", lambda t: content_audit._key(
        t) == "sepsis"), temperature=37.0, heart_rate=80, respiratory_rate=16, systolic_bp=125, diastolic_bp=80,
        mean_arterial_pressure=95, consciousness="A"), "qSOFA"),
    "a quiet option never checked": (lambda ts: _unchecked(one(ts, "drug_interaction", lambda t: t["answer"][
        "type"] == "choice")), "never checked"),
    "an ESI key on a 'consider' step": (lambda ts: _consider(one(ts, "triage_emergency", lambda t: t["answer"][
        "value"] == 3 and "triage" in t["record"])), "'consider' step"),
}


def _says(t, scenario):
    t["record"]["triage"]["scenario"] = scenario
    return t


def _newborn(t):
    t["patient"]["weight_kg"] = 70
    return t


def _unchanged(t):
    t["record"]["prior_imaging"] = "unchanged from prior study 2 days ago, already communicated"
    return t


def _unruled(t):
    key = content_audit._key(t)
    other = next(o for o in t["answer"]["options"] if D[o]["confirm_test"] and o != key)
    kind, test, abnormal, _ = D[other]["confirm_test"]
    t["record"]["labs" if kind == "lab" else "imaging"][test] = abnormal
    return t


def _unchecked(t):
    q = t["question"]
    new = content_audit._drug_in(q, "about to start ")
    key = content_audit._key(t)
    spare = next(d for d in P.REGULAR if d not in P.REVIEWED and d != new and d not in t["answer"]["options"]
                 and P.interaction(d, new) is None)
    opts = [o if o == key else spare for o in t["answer"]["options"]][:2]
    if opts[0] != key and opts[1] != key:
        opts[0] = key
    letter = "ABCDE"[opts.index(key)]
    t["answer"] = dict(t["answer"], options=opts, value=letter)
    return t


def _consider(t):
    t["record"]["vitals"]["heart_rate"] = 118          # a danger-zone vital: step D would 'consider' ESI 2
    t["answer"] = dict(t["answer"], value=2)
    return t


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_the_audit_flags_each_pattern_put_back(tasks, pattern):
    build, words = PATTERNS[pattern]
    found = content_audit.problems(build(tasks))
    assert any(words in p for p in found), (pattern, found)


def test_the_review_table_says_which_rows_changed_since_the_last_review():
    import io
    import os
    out = io.StringIO()
    K.review(out, since=os.path.join(os.path.dirname(K.__file__), "..", "docs", "review_before_issue33.md"))
    text = out.getvalue()
    assert "| icd10 | anaphylaxis | T78.2XXA | ICD-10-CM Tabular List, FY2024 (CDC/CMS) | changed |" in text
    assert "| interaction | ciprofloxacin + levofloxacin |" in text and "| presentation | sepsis |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| kind")]
    assert sum(line.endswith(" changed |") for line in rows) >= 20
    assert sum(line.endswith(" new |") for line in rows) > 50
    assert "disease kidney stone" in text.splitlines()[-1]                     # renamed: listed as gone


def test_a_missing_earlier_review_is_one_error_line(tmp_path):
    import subprocess
    import sys
    root = K.__file__.rsplit("/", 2)[0]
    for args in (["review", "--since", str(tmp_path / "none.md")], ["reviw"]):
        p = subprocess.run([sys.executable, "-m", "clinic.knowledge", *args], capture_output=True, text=True, cwd=root)
        assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")

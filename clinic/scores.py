"""The 22 clinical assessment scores, as pure functions of their published inputs.

Each function takes the score's inputs as keyword arguments (units in the
name or docstring), returns an int or float, and raises ValueError on an
input outside its defined range. tools.py wraps each one as an agent tool
that reads the inputs from the case record; taskgen.py uses them to compute
ground-truth answers. The primary source is cited in each docstring and the
worked examples in tests/test_scores.py. Every numeric input is checked
against RANGES before any arithmetic, so a degenerate number (creatinine 0,
a negative age, inf, NaN) is a ValueError, never a ZeroDivisionError or an
OverflowError.
"""
import functools
import inspect
import math

SCORE_INPUTS = {}   # score name -> list of input names (filled by @score)

# Inclusive bounds of each numeric input: wider than any value a living patient shows, so they reject
# only numbers that are physically meaningless (and would break the formulas), never a real extreme.
# Units as in the score docstrings; the scale-defined inputs (GCS parts, counts, grades) use their scale.
RANGES = {
    "age": (0, 120), "respiratory_rate": (0, 80), "heart_rate": (0, 300), "systolic_bp": (0, 300),
    "diastolic_bp": (0, 200), "mean_arterial_pressure": (0, 250), "temperature": (25, 45), "spo2": (0, 100),
    "pain_score": (0, 10), "wbc": (0, 500), "platelets": (0, 2000), "pao2_fio2": (10, 800),
    "bilirubin": (0.1, 80), "creatinine": (0.1, 30), "urea": (0.1, 150), "albumin": (0.5, 7), "inr": (0.5, 20),
    "dopamine_dose": (0, 100), "dobutamine_dose": (0, 100), "epinephrine_dose": (0, 10),
    "norepinephrine_dose": (0, 10), "urine_output_ml_day": (0, 20000), "paco2": (5, 200), "bands_pct": (0, 100),
    "troponin_ratio": (0, 10000), "gcs": (3, 15), "eye": (1, 4), "verbal": (1, 5),
    "motor": (1, 6), "history_suspicion": (0, 2), "ecg_findings": (0, 2), "risk_factor_count": (0, 20),
    "cad_risk_factor_count": (0, 20), "resources_needed": (0, 20), "dilation_cm": (0, 10),
    "effacement_pct": (0, 100), "station": (-3, 3),
}


def check_number(name, value, lo, hi):
    """ValueError unless value is a real number (not bool, inf or NaN) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        shown = repr(value) if not isinstance(value, int) or abs(value) < 10 ** 12 else "a huge integer"
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {shown[:40]}")


def score(fn):
    """Record the input names of a score function (used by tools.py) and range-check its numeric inputs."""
    code = fn.__code__
    SCORE_INPUTS[fn.__name__] = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    sig = inspect.signature(fn)
    bounded = [n for n, p in sig.parameters.items() if p.annotation in (int, float)]
    optional = {n for n, p in sig.parameters.items() if p.default is None}     # None = not measured
    missing = [n for n in bounded if n not in RANGES]
    if missing:
        raise ValueError(f"{fn.__name__}: numeric inputs {missing} have no entry in RANGES")

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        for name, value in sig.bind(*args, **kwargs).arguments.items():
            if name in bounded and not (value is None and name in optional):
                check_number(name, value, *RANGES[name])
        return fn(*args, **kwargs)
    return checked


def _check(name, value, lo, hi):
    if not (lo <= value <= hi):
        raise ValueError(f"{name}={value} outside [{lo}, {hi}]")


def _band(value, cuts):
    """Points from ascending thresholds: cuts=[(upper_inclusive, points), ...], last is the rest."""
    for upper, pts in cuts[:-1]:
        if value <= upper:
            return pts
    return cuts[-1][1]


@score
def gcs(eye: int, verbal: int, motor: int) -> int:
    """Glasgow Coma Scale (Teasdale & Jennett, Lancet 1974): E1-4 + V1-5 + M1-6, total 3-15."""
    _check("eye", eye, 1, 4), _check("verbal", verbal, 1, 5), _check("motor", motor, 1, 6)
    return eye + verbal + motor


@score
def qsofa(respiratory_rate: float, systolic_bp: float, gcs: int) -> int:
    """quick SOFA (Seymour et al., JAMA 2016; Sepsis-3): RR >= 22, SBP <= 100, GCS < 15; 0-3."""
    return int(respiratory_rate >= 22) + int(systolic_bp <= 100) + int(gcs < 15)


@score
def sirs(temperature: float, heart_rate: float, respiratory_rate: float, wbc: float, paco2: float = None,
         bands_pct: float = None) -> int:
    """SIRS criteria (Bone et al., Chest 1992): T > 38 or < 36 C; HR > 90; RR > 20 or PaCO2 < 32 mmHg;
    WBC > 12 or < 4 (10^9/L) or > 10% immature (band) forms. An unmeasured PaCO2 or band count counts as normal."""
    return (int(temperature > 38 or temperature < 36) + int(heart_rate > 90)
            + int(respiratory_rate > 20 or (paco2 is not None and paco2 < 32))
            + int(wbc > 12 or wbc < 4 or (bands_pct is not None and bands_pct > 10)))


def _below(value, cuts):
    """Points of the first (threshold, points) with value < threshold; the last pair's threshold is None."""
    for threshold, pts in cuts[:-1]:
        if value < threshold:
            return pts
    return cuts[-1][1]


@score
def sofa(pao2_fio2: float, mechanical_ventilation: bool, platelets: float, bilirubin: float,
         mean_arterial_pressure: float, gcs: int, creatinine: float, dopamine_dose: float = 0.0,
         dobutamine_dose: float = 0.0, epinephrine_dose: float = 0.0, norepinephrine_dose: float = 0.0,
         urine_output_ml_day: float = None) -> int:
    """SOFA (Vincent et al., Intensive Care Med 1996), six organ systems 0-4 each, published cut-offs strict.

    Doses in ug/kg/min (0: not given; several may run at once, the worst counts); platelets 10^9/L;
    bilirubin and creatinine mg/dL; urine output mL/day (renal takes the worse of creatinine and urine
    output; unmeasured counts as normal). Respiratory 3-4 requires ventilatory support.
    """
    resp = _below(pao2_fio2, [(100, 4), (200, 3), (300, 2), (400, 1), (None, 0)])
    if resp >= 3 and not mechanical_ventilation:
        resp = 2
    coag = _below(platelets, [(20, 4), (50, 3), (100, 2), (150, 1), (None, 0)])
    liver = _below(bilirubin, [(1.2, 0), (2.0, 1), (6.0, 2), (12.0, 3), (None, 4)])
    dop, dob, epi, norepi = dopamine_dose, dobutamine_dose, epinephrine_dose, norepinephrine_dose
    if dop > 15 or epi > 0.1 or norepi > 0.1:
        cardio = 4
    elif dop > 5 or epi > 0 or norepi > 0:
        cardio = 3
    elif dop > 0 or dob > 0:
        cardio = 2
    else:
        cardio = int(mean_arterial_pressure < 70)
    cns = _below(gcs, [(6, 4), (10, 3), (13, 2), (15, 1), (None, 0)])
    renal = _below(creatinine, [(1.2, 0), (2.0, 1), (3.5, 2), (5.0, 3), (None, 4)])
    if urine_output_ml_day is not None:
        renal = max(renal, _below(urine_output_ml_day, [(200, 4), (500, 3), (None, 0)]))
    return resp + coag + liver + cardio + cns + renal


@score
def news2(respiratory_rate: float, spo2: float, on_oxygen: bool, systolic_bp: float, heart_rate: float,
          consciousness: str, temperature: float, hypercapnic_scale: bool = False) -> int:
    """NEWS2 (Royal College of Physicians, 2017). consciousness: A (alert) or C/V/P/U."""
    score_ = _band(respiratory_rate, [(8, 3), (11, 1), (20, 0), (24, 2), (None, 3)])
    if not hypercapnic_scale:
        score_ += _band(spo2, [(91, 3), (93, 2), (95, 1), (None, 0)])
    elif on_oxygen and spo2 >= 93:
        score_ += _band(spo2, [(94, 1), (96, 2), (None, 3)])
    else:
        score_ += _band(spo2, [(83, 3), (85, 2), (87, 1), (None, 0)])
    score_ += 2 if on_oxygen else 0
    score_ += _band(systolic_bp, [(90, 3), (100, 2), (110, 1), (219, 0), (None, 3)])
    score_ += _band(heart_rate, [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (None, 3)])
    if consciousness not in ("A", "C", "V", "P", "U"):
        raise ValueError("consciousness must be one of A, C, V, P, U")
    score_ += 0 if consciousness == "A" else 3
    score_ += _band(round(temperature, 1), [(35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (None, 2)])
    return score_


@score
def curb65(confusion: bool, urea: float, respiratory_rate: float, systolic_bp: float, diastolic_bp: float,
           age: int) -> int:
    """CURB-65 (Lim et al., Thorax 2003): confusion, urea > 7 mmol/L, RR >= 30, SBP < 90 or DBP <= 60, age >= 65."""
    return (int(confusion) + int(urea > 7) + int(respiratory_rate >= 30)
            + int(systolic_bp < 90 or diastolic_bp <= 60) + int(age >= 65))


@score
def cha2ds2_vasc(age: int, sex: str, chf: bool, hypertension: bool, diabetes: bool, stroke_tia: bool,
                 vascular_disease: bool) -> int:
    """CHA2DS2-VASc (Lip et al., Chest 2010): C1 H1 A2(>=75) D1 S2 V1 A1(65-74) Sc1(female); 0-9."""
    return (int(chf) + int(hypertension) + (2 if age >= 75 else int(age >= 65)) + int(diabetes)
            + 2 * int(stroke_tia) + int(vascular_disease) + int(sex == "female"))


@score
def has_bled(uncontrolled_hypertension: bool, abnormal_renal: bool, abnormal_liver: bool, stroke_tia: bool,
             bleeding_history: bool, labile_inr: bool, age: int, antiplatelet_or_nsaid: bool,
             alcohol_excess: bool) -> int:
    """HAS-BLED (Pisters et al., Chest 2010): one point each; elderly means age > 65; 0-9."""
    return sum(map(int, [uncontrolled_hypertension, abnormal_renal, abnormal_liver, stroke_tia,
                         bleeding_history, labile_inr, age > 65, antiplatelet_or_nsaid, alcohol_excess]))


@score
def wells_pe(dvt_signs: bool, pe_most_likely: bool, heart_rate: float, immobilization_or_surgery: bool,
             previous_vte: bool, hemoptysis: bool, malignancy: bool) -> float:
    """Wells PE score (Wells et al., Thromb Haemost 2000): 3, 3, 1.5 (HR > 100), 1.5, 1.5, 1, 1; 0-12.5."""
    return (3.0 * dvt_signs + 3.0 * pe_most_likely + 1.5 * (heart_rate > 100)
            + 1.5 * immobilization_or_surgery + 1.5 * previous_vte + 1.0 * hemoptysis + 1.0 * malignancy)


@score
def wells_dvt(active_cancer: bool, paralysis_or_cast: bool, bedridden_or_surgery: bool,
              deep_vein_tenderness: bool, entire_leg_swollen: bool, calf_swelling_over_3cm: bool,
              pitting_edema: bool, collateral_veins: bool, previous_dvt: bool,
              alternative_diagnosis_likely: bool) -> int:
    """Wells DVT score (Wells et al., NEJM 2003): nine items +1, alternative diagnosis as likely -2; -2 to 9."""
    return sum(map(int, [active_cancer, paralysis_or_cast, bedridden_or_surgery, deep_vein_tenderness,
                         entire_leg_swollen, calf_swelling_over_3cm, pitting_edema, collateral_veins,
                         previous_dvt])) - 2 * int(alternative_diagnosis_likely)


@score
def heart_score(history_suspicion: int, ecg_findings: int, age: int, risk_factor_count: int,
                known_atherosclerosis: bool, troponin_ratio: float) -> int:
    """HEART score (Six, Backus & Kelder, Neth Heart J 2008); 0-10.

    history_suspicion and ecg_findings are 0/1/2 as graded by the clinician; troponin_ratio is
    troponin / upper reference limit.
    """
    _check("history_suspicion", history_suspicion, 0, 2), _check("ecg_findings", ecg_findings, 0, 2)
    age_pts = 0 if age < 45 else (1 if age < 65 else 2)
    risk_pts = 2 if (risk_factor_count >= 3 or known_atherosclerosis) else int(risk_factor_count >= 1)
    trop_pts = 0 if troponin_ratio <= 1 else (1 if troponin_ratio <= 3 else 2)
    return history_suspicion + ecg_findings + age_pts + risk_pts + trop_pts


@score
def timi_ua_nstemi(age: int, cad_risk_factor_count: int, known_cad_stenosis: bool, aspirin_last_7_days: bool,
                   severe_angina_24h: bool, st_deviation: bool, elevated_markers: bool) -> int:
    """TIMI risk score for UA/NSTEMI (Antman et al., JAMA 2000): seven items, one point each; 0-7.

    severe_angina_24h means >= 2 anginal episodes in 24 h; st_deviation >= 0.5 mm.
    """
    return sum(map(int, [age >= 65, cad_risk_factor_count >= 3, known_cad_stenosis, aspirin_last_7_days,
                         severe_angina_24h, st_deviation, elevated_markers]))


@score
def meld(bilirubin: float, inr: float, creatinine: float, dialysis_twice_last_week: bool = False) -> int:
    """MELD (Kamath et al., Hepatology 2001; UNOS implementation): the original MELD, not MELD-Na (UNOS 2016)
    or MELD 3.0 (OPTN 2023), which add sodium (and sex and albumin).

    MELD = 10 * (0.957 ln Cr + 0.378 ln bili + 1.120 ln INR + 0.643); values < 1 set to 1, creatinine
    capped at 4 mg/dL (set to 4 with dialysis twice in the past week); rounded, range 6-40.
    """
    cr = 4.0 if dialysis_twice_last_week else min(max(creatinine, 1.0), 4.0)
    raw = 10 * (0.957 * math.log(cr) + 0.378 * math.log(max(bilirubin, 1.0))
                + 1.120 * math.log(max(inr, 1.0)) + 0.643)
    return min(40, int(math.floor(raw + 0.5)))


@score
def child_pugh(bilirubin: float, albumin: float, inr: float, ascites: str, encephalopathy: str) -> int:
    """Child-Pugh score (Pugh et al., Br J Surg 1973); 5-15. ascites: none/mild/moderate;
    encephalopathy: none/grade1-2/grade3-4. Bilirubin mg/dL, albumin g/dL."""
    levels = {"none": 1, "mild": 2, "moderate": 3, "grade1-2": 2, "grade3-4": 3}
    if ascites not in ("none", "mild", "moderate") or encephalopathy not in ("none", "grade1-2", "grade3-4"):
        raise ValueError("ascites must be none/mild/moderate, encephalopathy none/grade1-2/grade3-4")
    bili = 1 if bilirubin < 2 else (2 if bilirubin <= 3 else 3)
    alb = 1 if albumin > 3.5 else (2 if albumin >= 2.8 else 3)
    inr_pts = 1 if inr < 1.7 else (2 if inr <= 2.3 else 3)
    return bili + alb + inr_pts + levels[ascites] + levels[encephalopathy]


def child_pugh_class(points: int) -> str:
    """Class A 5-6, B 7-9, C 10-15 (Pugh 1973)."""
    return "A" if points <= 6 else ("B" if points <= 9 else "C")


@score
def mcisaac(temperature: float, cough_absent: bool, tender_anterior_nodes: bool, tonsillar_exudate: bool,
            age: int) -> int:
    """Modified Centor / McIsaac score (McIsaac et al., CMAJ 1998): T > 38, no cough, nodes, exudate;
    age 3-14 +1, 15-44 0, >= 45 -1; range -1 to 5."""
    age_pts = 1 if 3 <= age <= 14 else (0 if age <= 44 else -1)
    return int(temperature > 38) + int(cough_absent) + int(tender_anterior_nodes) + int(tonsillar_exudate) + age_pts


def _questionnaire(items, n, top):
    if len(items) != n:
        raise ValueError(f"expected {n} item responses, got {len(items)}")
    for i, x in enumerate(items):
        _check(f"item{i + 1}", x, 0, top)
    return sum(items)


@score
def phq9(items: list) -> int:
    """PHQ-9 (Kroenke, Spitzer & Williams, J Gen Intern Med 2001): nine items 0-3; 0-27."""
    return _questionnaire(items, 9, 3)


@score
def gad7(items: list) -> int:
    """GAD-7 (Spitzer et al., Arch Intern Med 2006): seven items 0-3; 0-21."""
    return _questionnaire(items, 7, 3)


@score
def audit_c(items: list) -> int:
    """AUDIT-C (Bush et al., Arch Intern Med 1998): three items 0-4; 0-12. Positive >= 4 men, >= 3 women."""
    return _questionnaire(items, 3, 4)


PSYCH_BANDS = {
    # Kroenke et al. J Gen Intern Med 2001 (PHQ-9); Spitzer et al. Arch Intern Med 2006 (GAD-7)
    "phq9": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately severe"),
             (20, 27, "severe")],
    "gad7": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
}


def severity_band(kind: str, total: int) -> str:
    """PHQ-9 / GAD-7 severity label from PSYCH_BANDS."""
    for lo, hi, label in PSYCH_BANDS[kind]:
        if lo <= total <= hi:
            return label
    raise ValueError(f"{kind} total {total} out of range")


@score
def bishop(dilation_cm: float, effacement_pct: float, station: int, consistency: str, position: str) -> int:
    """Bishop score (Bishop, Obstet Gynecol 1964): dilation, effacement, station, consistency, position; 0-13."""
    if consistency not in ("firm", "medium", "soft") or position not in ("posterior", "mid", "anterior"):
        raise ValueError("consistency firm/medium/soft, position posterior/mid/anterior")
    _check("station", station, -3, 3)
    dil = 0 if dilation_cm < 1 else (1 if dilation_cm <= 2 else (2 if dilation_cm <= 4 else 3))
    eff = 0 if effacement_pct <= 30 else (1 if effacement_pct <= 50 else (2 if effacement_pct <= 70 else 3))
    sta = 0 if station <= -3 else (1 if station == -2 else (2 if station <= 0 else 3))
    return (dil + eff + sta + ["firm", "medium", "soft"].index(consistency)
            + ["posterior", "mid", "anterior"].index(position))


@score
def apgar(heart_rate: float, respiration: str, muscle_tone: str, reflex: str, color: str) -> int:
    """Apgar score (Apgar, Curr Res Anesth Analg 1953), five signs 0-2 each; 0-10.

    respiration absent/weak/strong; muscle_tone limp/some_flexion/active; reflex none/grimace/cry;
    color blue/acrocyanosis/pink.
    """
    hr = 0 if heart_rate <= 0 else (1 if heart_rate < 100 else 2)
    table = [("respiration", respiration, ["absent", "weak", "strong"]),
             ("muscle_tone", muscle_tone, ["limp", "some_flexion", "active"]),
             ("reflex", reflex, ["none", "grimace", "cry"]), ("color", color, ["blue", "acrocyanosis", "pink"])]
    total = hr
    for name, value, levels in table:
        if value not in levels:
            raise ValueError(f"{name} must be one of {levels}")
        total += levels.index(value)
    return total


@score
def esi(needs_lifesaving_intervention: bool, high_risk_situation: bool, new_confusion: bool, pain_score: int,
        resources_needed: int, heart_rate: float, respiratory_rate: float, spo2: float) -> int:
    """Emergency Severity Index v4 (Gilboy et al., ESI Implementation Handbook, AHRQ 2012/ENA 2020).

    A: lifesaving intervention -> 1. B: high-risk, new confusion/lethargy or severe pain (>= 7/10) -> 2.
    C: resources 0 -> 5, 1 -> 4. D: >= 2 resources -> 3, unless adult danger-zone vitals (HR > 100,
    RR > 20, SpO2 < 92%) -> 2. The handbook says 'consider' ESI 2 at step D; we always up-triage.
    """
    if needs_lifesaving_intervention:
        return 1
    if high_risk_situation or new_confusion or pain_score >= 7:
        return 2
    if resources_needed <= 1:
        return 5 - resources_needed
    if heart_rate > 100 or respiratory_rate > 20 or spo2 < 92:
        return 2
    return 3


@score
def ckd_epi_2021(creatinine: float, age: int, sex: str) -> int:
    """CKD-EPI 2021 race-free eGFR in mL/min/1.73m2 (Inker et al., NEJM 2021), rounded.

    eGFR = 142 * min(Scr/k, 1)^a * max(Scr/k, 1)^-1.200 * 0.9938^age * (1.012 if female);
    k = 0.7 (F) / 0.9 (M), a = -0.241 (F) / -0.302 (M).
    """
    if sex not in ("female", "male"):
        raise ValueError("sex must be female or male")
    female = sex == "female"
    k, a = (0.7, -0.241) if female else (0.9, -0.302)
    r = creatinine / k
    egfr = 142 * min(r, 1) ** a * max(r, 1) ** -1.200 * 0.9938 ** age * (1.012 if female else 1.0)
    return int(math.floor(egfr + 0.5))


assert len(SCORE_INPUTS) == 22, sorted(SCORE_INPUTS)

"""Worked examples for the 22 scores, each computed by hand from the cited definition."""
import pytest

from clinic import scores as S


def test_there_are_22_scores():
    assert len(S.SCORE_INPUTS) == 22


def test_gcs():  # Teasdale & Jennett 1974: E3 V4 M5 = 12
    assert S.gcs(eye=3, verbal=4, motor=5) == 12
    assert S.gcs(eye=1, verbal=1, motor=1) == 3
    with pytest.raises(ValueError):
        S.gcs(eye=5, verbal=4, motor=5)


def test_qsofa():  # Seymour 2016: RR>=22, SBP<=100, GCS<15
    assert S.qsofa(respiratory_rate=24, systolic_bp=95, gcs=14) == 3
    assert S.qsofa(respiratory_rate=22, systolic_bp=100, gcs=15) == 2  # both thresholds inclusive
    assert S.qsofa(respiratory_rate=18, systolic_bp=120, gcs=15) == 0


def test_sirs():  # Bone 1992
    assert S.sirs(temperature=38.5, heart_rate=110, respiratory_rate=24, wbc=15) == 4
    assert S.sirs(temperature=38.0, heart_rate=90, respiratory_rate=20, wbc=12) == 0  # strict inequalities
    assert S.sirs(temperature=35.5, heart_rate=80, respiratory_rate=16, wbc=3.0) == 2
    # the other half of the definition: PaCO2 < 32 mmHg counts with RR, > 10% bands with WBC (issue 17)
    assert S.sirs(temperature=37.0, heart_rate=80, respiratory_rate=16, wbc=8, paco2=30, bands_pct=12) == 2
    assert S.sirs(temperature=37.0, heart_rate=80, respiratory_rate=16, wbc=8, paco2=32, bands_pct=10) == 0


def test_sofa():  # Vincent 1996 tables
    base = dict(pao2_fio2=250, mechanical_ventilation=False, platelets=80, bilirubin=2.5,
                mean_arterial_pressure=65, gcs=13, creatinine=1.5)
    assert S.sofa(**base) == 2 + 2 + 2 + 1 + 1 + 1
    # PaO2/FiO2 150 scores 3 only with ventilatory support
    assert S.sofa(**{**base, "pao2_fio2": 150}) == 9
    assert S.sofa(**{**base, "pao2_fio2": 150, "mechanical_ventilation": True}) == 10
    assert S.sofa(**{**base, "norepinephrine_dose": 0.2}) == 12
    assert S.sofa(**{**base, "dopamine_dose": 4}) == 10
    # several vasopressors at once: the worst counts (dobutamine 2, norepinephrine 0.05 -> 3)
    assert S.sofa(**{**base, "dobutamine_dose": 5, "norepinephrine_dose": 0.05}) == 11
    # urine output: < 500 mL/day scores renal 3, < 200 scores 4, whatever the creatinine
    assert S.sofa(**{**base, "urine_output_ml_day": 450}) == 9 - 1 + 3
    assert S.sofa(**{**base, "urine_output_ml_day": 150}) == 9 - 1 + 4
    assert S.sofa(**{**base, "urine_output_ml_day": 500}) == 9
    healthy = dict(pao2_fio2=450, mechanical_ventilation=False, platelets=250, bilirubin=0.8,
                   mean_arterial_pressure=85, gcs=15, creatinine=0.9)
    assert S.sofa(**healthy) == 0
    # the reported bug: 106 umol/L = 1.1991 mg/dL is below 1.2 and scores 0 (not 1); same for bilirubin
    assert S.sofa(**{**healthy, "creatinine": 106 / 88.4}) == 0
    assert S.sofa(**{**healthy, "bilirubin": 1.195}) == 0
    assert S.sofa(**{**healthy, "creatinine": 1.995}) == 1 and S.sofa(**{**healthy, "creatinine": 2.0}) == 2


def test_news2():  # RCP 2017 chart
    assert S.news2(respiratory_rate=24, spo2=93, on_oxygen=True, systolic_bp=105, heart_rate=115,
                   consciousness="A", temperature=38.5) == 2 + 2 + 2 + 1 + 2 + 0 + 1
    assert S.news2(respiratory_rate=16, spo2=97, on_oxygen=False, systolic_bp=125, heart_rate=72,
                   consciousness="A", temperature=36.8) == 0
    assert S.news2(respiratory_rate=8, spo2=90, on_oxygen=False, systolic_bp=90, heart_rate=40,
                   consciousness="V", temperature=35.0) == 3 * 6
    # Scale 2 (hypercapnic): 89% on air scores 0; 97% on oxygen scores 3 (+2 for oxygen)
    assert S.news2(respiratory_rate=16, spo2=89, on_oxygen=False, systolic_bp=125, heart_rate=72,
                   consciousness="A", temperature=36.8, hypercapnic_scale=True) == 0
    assert S.news2(respiratory_rate=16, spo2=97, on_oxygen=True, systolic_bp=125, heart_rate=72,
                   consciousness="A", temperature=36.8, hypercapnic_scale=True) == 5


def test_curb65():  # Lim 2003
    assert S.curb65(confusion=False, urea=8, respiratory_rate=32, systolic_bp=85, diastolic_bp=50, age=70) == 4
    assert S.curb65(confusion=False, urea=7, respiratory_rate=29, systolic_bp=120, diastolic_bp=61, age=64) == 0


def test_cha2ds2_vasc():  # Lip 2010
    assert S.cha2ds2_vasc(age=78, sex="female", chf=False, hypertension=True, diabetes=True, stroke_tia=False,
                          vascular_disease=False) == 5
    assert S.cha2ds2_vasc(age=66, sex="male", chf=True, hypertension=True, diabetes=True, stroke_tia=True,
                          vascular_disease=True) == 7


def test_has_bled():  # Pisters 2010
    assert S.has_bled(uncontrolled_hypertension=True, abnormal_renal=False, abnormal_liver=False, stroke_tia=False,
                      bleeding_history=False, labile_inr=False, age=70, antiplatelet_or_nsaid=True,
                      alcohol_excess=False) == 3
    assert S.has_bled(uncontrolled_hypertension=False, abnormal_renal=False, abnormal_liver=False,
                      stroke_tia=False, bleeding_history=False, labile_inr=False, age=65,
                      antiplatelet_or_nsaid=False, alcohol_excess=False) == 0  # elderly is > 65


def test_wells_pe():  # Wells 2000
    assert S.wells_pe(dvt_signs=True, pe_most_likely=False, heart_rate=110, immobilization_or_surgery=False,
                      previous_vte=True, hemoptysis=False, malignancy=False) == 6.0
    assert S.wells_pe(dvt_signs=True, pe_most_likely=True, heart_rate=120, immobilization_or_surgery=True,
                      previous_vte=True, hemoptysis=True, malignancy=True) == 12.5


def test_wells_dvt():  # Wells 2003
    assert S.wells_dvt(active_cancer=True, paralysis_or_cast=False, bedridden_or_surgery=False,
                       deep_vein_tenderness=False, entire_leg_swollen=False, calf_swelling_over_3cm=True,
                       pitting_edema=True, collateral_veins=False, previous_dvt=False,
                       alternative_diagnosis_likely=True) == 1


def test_heart():  # Six 2008: H2 E1 A1 R1 T1 = 6
    assert S.heart_score(history_suspicion=2, ecg_findings=1, age=60, risk_factor_count=2,
                         known_atherosclerosis=False, troponin_ratio=2.0) == 6
    assert S.heart_score(history_suspicion=0, ecg_findings=0, age=30, risk_factor_count=0,
                         known_atherosclerosis=True, troponin_ratio=4.0) == 4


def test_timi():  # Antman 2000
    assert S.timi_ua_nstemi(age=70, cad_risk_factor_count=3, known_cad_stenosis=False, aspirin_last_7_days=True,
                            severe_angina_24h=False, st_deviation=True, elevated_markers=False) == 4


def test_meld():  # Kamath 2001 (UNOS): 10*(0.957 ln1.2 + 0.378 ln2 + 1.12 ln1.5 + 0.643) = 15.34
    assert S.meld(bilirubin=2.0, inr=1.5, creatinine=1.2) == 15
    assert S.meld(bilirubin=0.5, inr=0.9, creatinine=0.7) == 6       # all floored to 1 -> 6.43
    assert S.meld(bilirubin=1.0, inr=1.0, creatinine=6.0) == S.meld(bilirubin=1.0, inr=1.0, creatinine=4.0)
    assert S.meld(bilirubin=1.0, inr=1.0, creatinine=1.0, dialysis_twice_last_week=True) == 20  # 6.43+13.27
    assert S.meld(bilirubin=30, inr=6, creatinine=4) == 40


def test_child_pugh():  # Pugh 1973: 2+2+1+2+1 = 8, class B
    pts = S.child_pugh(bilirubin=2.5, albumin=3.0, inr=1.5, ascites="mild", encephalopathy="none")
    assert pts == 8 and S.child_pugh_class(pts) == "B"
    assert S.child_pugh_class(S.child_pugh(bilirubin=1, albumin=4, inr=1.1, ascites="none",
                                           encephalopathy="none")) == "A"
    assert S.child_pugh(bilirubin=4, albumin=2.5, inr=2.5, ascites="moderate", encephalopathy="grade3-4") == 15


def test_mcisaac():  # McIsaac 1998
    assert S.mcisaac(temperature=38.5, cough_absent=True, tender_anterior_nodes=True, tonsillar_exudate=True,
                     age=10) == 5
    assert S.mcisaac(temperature=38.5, cough_absent=True, tender_anterior_nodes=False, tonsillar_exudate=False,
                     age=50) == 1


def test_questionnaires():  # Kroenke 2001, Spitzer 2006, Bush 1998
    phq = [2, 2, 2, 2, 1, 1, 1, 1, 0]
    assert S.phq9(items=phq) == 12 and S.severity_band("phq9", 12) == "moderate"
    assert S.severity_band("phq9", 20) == "severe" and S.severity_band("phq9", 19) == "moderately severe"
    assert S.gad7(items=[3, 3, 3, 2, 2, 2, 1]) == 16 and S.severity_band("gad7", 16) == "severe"
    assert S.audit_c(items=[2, 2, 1]) == 5
    with pytest.raises(ValueError):
        S.phq9(items=[1] * 8)
    with pytest.raises(ValueError):
        S.gad7(items=[4, 0, 0, 0, 0, 0, 0])


def test_bishop():  # Bishop 1964: 3 cm(2) 60%(2) -1(2) soft(2) mid(1) = 9
    assert S.bishop(dilation_cm=3, effacement_pct=60, station=-1, consistency="soft", position="mid") == 9
    assert S.bishop(dilation_cm=0, effacement_pct=20, station=-3, consistency="firm", position="posterior") == 0
    assert S.bishop(dilation_cm=5, effacement_pct=80, station=2, consistency="soft", position="anterior") == 13


def test_apgar():  # Apgar 1953
    assert S.apgar(heart_rate=120, respiration="weak", muscle_tone="some_flexion", reflex="grimace",
                   color="acrocyanosis") == 6
    assert S.apgar(heart_rate=0, respiration="absent", muscle_tone="limp", reflex="none", color="blue") == 0
    assert S.apgar(heart_rate=99, respiration="strong", muscle_tone="active", reflex="cry", color="pink") == 9


def test_esi():  # ESI v4 handbook algorithm, decision points A-D
    kw = dict(needs_lifesaving_intervention=False, high_risk_situation=False, new_confusion=False, pain_score=2,
              resources_needed=2, heart_rate=80, respiratory_rate=16, spo2=98)
    assert S.esi(**{**kw, "needs_lifesaving_intervention": True}) == 1
    assert S.esi(**{**kw, "high_risk_situation": True}) == 2
    assert S.esi(**{**kw, "pain_score": 8}) == 2
    assert S.esi(**kw) == 3
    assert S.esi(**{**kw, "heart_rate": 110}) == 2
    assert S.esi(**{**kw, "resources_needed": 1}) == 4
    assert S.esi(**{**kw, "resources_needed": 0}) == 5


def test_ckd_epi_2021():  # Inker 2021; hand-computed: F50 Scr1.0 -> 68.6; M40 Scr0.8 -> 114.7
    assert S.ckd_epi_2021(creatinine=1.0, age=50, sex="female") == 69
    assert S.ckd_epi_2021(creatinine=0.8, age=40, sex="male") == 115
    assert S.ckd_epi_2021(creatinine=1.2, age=60, sex="male") == 69

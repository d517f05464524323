"""The physiology model of case generation: what each disease does to the vital signs and key labs, and
what a finding stated in words means for the chart.

The clinical-diagnosis generator draws a patient's record from PRESENTATIONS, so the record supports the
diagnosis it keys; benchmarks/content_audit.py holds every task of the bank to FINDING_VITALS and to the
presentation ranges; `python -m clinic.knowledge review` prints every row with its source (knowledge.SOURCES).
"""


# What each disease's presentation does to the vital signs and key labs, so that the record a generator draws
# supports the diagnosis it keys (a febrile patient has a temperature of 38.0 or more, a septic one meets the
# SIRS and qSOFA criteria the score tools compute). disease -> dict(
#   vitals: {vital: (low, high)} drawn uniformly (consciousness: an ACVPU letter); the rest drawn normal;
#   labs:   {lab: (low, high) or result text}, charted as results the agent can order;
#   mimics: tests this disease itself makes abnormal, so an option confirmed by one of them is never drawn
#           beside it as a distractor (a COPD exacerbation lowers the peak flow that confirms asthma);
#   source: where the ranges come from).
def _presents(source, labs=None, mimics=(), **vitals):
    return dict(vitals=vitals, labs=labs or {}, mimics=list(mimics), source=source)


PRESENTATIONS = {
    "acute myocardial infarction": _presents("acc-aha-2013", heart_rate=(86, 110), systolic_bp=(110, 165),
                                             pain_score=(6, 9)),
    "pulmonary embolism": _presents("esc-pe-2019", heart_rate=(105, 128), respiratory_rate=(22, 30),
                                    spo2=(88, 94)),
    "pneumothorax": _presents("bts-pneumothorax-2023", heart_rate=(96, 118), respiratory_rate=(22, 28),
                              spo2=(89, 94)),
    "community-acquired pneumonia": _presents("ats-idsa-2019", {"wbc": (12.5, 18.0)}, temperature=(38.2, 39.6),
                                              heart_rate=(96, 118), respiratory_rate=(22, 28), spo2=(90, 94)),
    "heart failure exacerbation": _presents("aha-acc-hfsa-2022", heart_rate=(90, 110), respiratory_rate=(22, 28),
                                            spo2=(88, 93), systolic_bp=(130, 170)),
    "copd exacerbation": _presents("gold-2024", mimics=["peak_flow"], heart_rate=(95, 112),
                                   respiratory_rate=(24, 30), spo2=(86, 91)),
    "asthma exacerbation": _presents("gina-2024", heart_rate=(100, 120), respiratory_rate=(22, 30),
                                     spo2=(90, 95)),
    "acute appendicitis": _presents("sis-idsa-2017", {"wbc": (11.5, 16.0)}, temperature=(38.0, 38.4),
                                    heart_rate=(90, 108), pain_score=(6, 8)),
    "acute pancreatitis": _presents("acg-pancreatitis-2024", heart_rate=(100, 118), temperature=(37.2, 37.9),
                                    pain_score=(7, 10)),
    "acute cholecystitis": _presents("tokyo-2018", {"wbc": (12.0, 17.0)}, temperature=(38.1, 39.0),
                                     heart_rate=(95, 110), pain_score=(5, 8)),
    "ureteric stone": _presents("eau-urolithiasis-2024",
                                {"urinalysis": "blood 3+; nitrites and leukocyte esterase negative"},
                                heart_rate=(90, 110), systolic_bp=(140, 165), pain_score=(8, 10)),
    "acute pyelonephritis": _presents("idsa-uti-2010", {"wbc": (13.0, 20.0)}, temperature=(38.5, 39.8),
                                      heart_rate=(100, 120)),
    "diabetic ketoacidosis": _presents(
        "ada-2024", {"glucose": (350, 600), "bicarbonate": (8, 15), "potassium": (4.8, 5.8),
                     "urinalysis": "glucose 4+, ketones 3+; nitrites and leukocyte esterase negative"},
        respiratory_rate=(24, 32), heart_rate=(105, 125), systolic_bp=(95, 118)),
    "hypothyroidism": _presents("ata-hypothyroid-2014", heart_rate=(50, 60), temperature=(35.9, 36.6)),
    "graves disease": _presents("ata-2016", heart_rate=(104, 124), systolic_bp=(135, 155),
                                temperature=(37.0, 37.7)),
    "iron deficiency anemia": _presents("bsg-iron-2021", {"hemoglobin": (8.0, 10.5)}, heart_rate=(88, 100)),
    "type 2 diabetes": _presents("ada-2024", {"glucose": (180, 260)}),
    "ischemic stroke": _presents("aha-asa-2019", systolic_bp=(160, 195), diastolic_bp=(90, 105)),
    "bacterial meningitis": _presents("idsa-meningitis-2004", {"wbc": (15.0, 24.0)}, temperature=(38.6, 40.0),
                                      heart_rate=(104, 124)),
    "migraine": _presents("ichd-3", pain_score=(6, 9)),
    "deep vein thrombosis": _presents("chest-2012", temperature=(36.8, 37.6)),
    "cellulitis": _presents("idsa-ssti-2014", {"wbc": (11.0, 15.0)}, temperature=(38.0, 38.8),
                            heart_rate=(92, 108)),
    "gout": _presents("acr-gout-2020", temperature=(36.8, 37.8), pain_score=(8, 10)),
    "upper gi bleed": _presents("acg-ugib-2021", {"hemoglobin": (7.0, 9.5), "urea": (10.0, 18.0)},
                                heart_rate=(104, 124), systolic_bp=(92, 108)),
    "sepsis": _presents("sepsis-3", {"wbc": (15.0, 24.0), "lactate": (2.4, 3.8), "creatinine": (1.8, 2.8)},
                        temperature=(38.5, 39.8), heart_rate=(110, 130), respiratory_rate=(24, 30),
                        systolic_bp=(78, 89), consciousness="C"),
    "anaphylaxis": _presents("wao-2020", systolic_bp=(70, 88), heart_rate=(115, 135), respiratory_rate=(24, 30),
                             spo2=(89, 94)),
}

# What a stated finding means for the chart (the consistency audit holds every task to these):
# word in a question, symptom or exam finding -> (vital, test on its value, what it means, source).
FINDING_VITALS = {
    "fever": ("temperature", lambda v: v >= 38.0, "temperature of 38.0 C or more", "bone-1992"),
    "febrile": ("temperature", lambda v: v >= 38.0, "temperature of 38.0 C or more", "bone-1992"),
    "tachycardi": ("heart_rate", lambda v: v > 100, "heart rate over 100/min", "aha-ecg-2009"),
    "hypotension": ("systolic_bp", lambda v: v < 90, "systolic pressure under 90 mmHg", "wao-2020"),
    "kussmaul": ("respiratory_rate", lambda v: v >= 22, "respiratory rate of 22/min or more", "ada-2024"),
    "pulseless": ("heart_rate", lambda v: v == 0, "no pulse rate", "esi-v4"),
    "apneic": ("respiratory_rate", lambda v: v == 0, "no respiratory rate", "esi-v4"),
    "confusion": ("consciousness", lambda v: v != "A", "not Alert on ACVPU", "sepsis-3"),
    "unresponsive": ("consciousness", lambda v: v == "U", "Unresponsive on ACVPU", "esi-v4"),
}
NEWBORN_WEIGHT_KG = (2.4, 4.2)         # who-growth-2006, 3rd-97th centile at birth
ADULT_WEIGHT_KG = (35, 200)
# What a living (or just arrested: 0) patient of each age can be charted with: limits of the possible, not of
# the normal; a chart outside them is a generator bug. age band -> {vital: (low, high)}.
VITAL_LIMITS = {
    "newborn": {"heart_rate": (0, 220), "respiratory_rate": (0, 80)},
    "adult": {"heart_rate": (0, 220), "respiratory_rate": (0, 60), "systolic_bp": (0, 260),
              "diastolic_bp": (0, 160), "temperature": (30.0, 43.0), "spo2": (0, 100)},
}

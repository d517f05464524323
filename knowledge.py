"""Clinical knowledge tables: the single source of medical facts in the project.

Everything downstream is generated from these tables: the task bank
(taskgen.py), the embedded knowledge-base passages (taskgen.write_kb), the
drug/lab lookup tools (tools.py) and the safety constraints checked by
reward.py. Facts are standard textbook/label knowledge; sources:
  - ICD-10-CM 2024 tabular list (CDC/CMS) for codes.
  - FDA prescribing information and the BNF interaction appendix for drug
    interactions and pregnancy contraindications.
  - Adult reference intervals as given in Harrison's Principles of Internal
    Medicine, 21st ed., "Laboratory Values of Clinical Importance"
    (intervals vary by laboratory; these are typical values).
  - Critical (panic) values from the CAP/CLSI GP47 critical-risk list.
"""

# ----------------------------------------------------------------------------
# Laboratory tests: name -> (unit, low, high, critical_low, critical_high, full name)
# None means "no bound of this kind".
LABS = {
    "sodium": ("mmol/L", 135, 145, 120, 160, "serum sodium"),
    "potassium": ("mmol/L", 3.5, 5.0, 2.5, 6.0, "serum potassium"),
    "bicarbonate": ("mmol/L", 22, 29, 10, 40, "serum bicarbonate"),
    "urea": ("mmol/L", 2.5, 7.1, None, None, "blood urea"),
    "creatinine": ("mg/dL", 0.6, 1.2, None, 10.0, "serum creatinine"),
    "glucose": ("mg/dL", 70, 99, 40, 500, "plasma glucose (fasting)"),
    "hemoglobin": ("g/dL", 12.0, 17.5, 6.0, 20.0, "hemoglobin"),
    "wbc": ("10^9/L", 4.0, 11.0, 1.0, 30.0, "white cell count"),
    "platelets": ("10^9/L", 150, 400, 20, 1000, "platelet count"),
    "bilirubin": ("mg/dL", 0.1, 1.2, None, 15.0, "total bilirubin"),
    "albumin": ("g/dL", 3.5, 5.0, None, None, "serum albumin"),
    "inr": ("", 0.8, 1.2, None, 5.0, "international normalized ratio"),
    "lactate": ("mmol/L", 0.5, 2.0, None, 4.0, "serum lactate"),
    "troponin": ("ng/mL", 0.0, 0.04, None, None, "cardiac troponin I"),
    "bnp": ("pg/mL", 0, 100, None, None, "B-type natriuretic peptide"),
    "d_dimer": ("ug/mL FEU", 0.0, 0.5, None, None, "D-dimer"),
    "lipase": ("U/L", 10, 140, None, None, "serum lipase"),
    "tsh": ("mIU/L", 0.4, 4.0, None, None, "thyroid stimulating hormone"),
    "hba1c": ("%", 4.0, 5.6, None, None, "glycated hemoglobin"),
    "ferritin": ("ng/mL", 15, 200, None, None, "serum ferritin"),
    "crp": ("mg/L", 0, 10, None, None, "C-reactive protein"),
    "alt": ("U/L", 7, 56, None, None, "alanine aminotransferase"),
    "calcium": ("mg/dL", 8.5, 10.5, 6.0, 13.0, "total calcium"),
    "ketones": ("mmol/L", 0.0, 0.6, None, None, "serum beta-hydroxybutyrate"),
    "pao2_fio2": ("mmHg", 400, 500, None, None, "PaO2/FiO2 ratio"),
    "urinalysis": ("", None, None, None, None, "urinalysis (dipstick + microscopy)"),
    "csf_analysis": ("", None, None, None, None, "cerebrospinal fluid analysis"),
    "blood_culture": ("", None, None, None, None, "blood cultures x2"),
    "synovial_fluid": ("", None, None, None, None, "joint aspirate microscopy"),
    "urine_hcg": ("", None, None, None, None, "urine pregnancy test"),
}

IMAGING = ["chest_xray", "ct_head", "ct_abdomen", "ct_pulmonary_angiogram", "ultrasound_abdomen",
           "ultrasound_leg_doppler", "mri_brain", "ct_kub", "echocardiogram", "ultrasound_obstetric"]

SPECIALTIES = ["cardiology", "pulmonology", "gastroenterology", "general_surgery", "neurology",
               "nephrology", "endocrinology", "infectious_disease", "psychiatry", "obstetrics",
               "hematology", "dermatology", "urology", "critical_care", "toxicology"]

PROTOCOLS = {
    "sepsis": "Sepsis bundle (Surviving Sepsis Campaign 2021 hour-1): lactate, blood cultures before "
              "antibiotics, broad-spectrum antibiotics, 30 mL/kg crystalloid for hypotension or lactate >= 4, "
              "vasopressors for MAP < 65 mmHg despite fluids.",
    "stroke": "Acute stroke pathway (AHA/ASA 2019): immediate non-contrast CT head, glucose check, "
              "thrombolysis eligibility within 4.5 h of last known well, thrombectomy evaluation.",
    "stemi": "STEMI pathway (ACC/AHA 2013): aspirin, activation of the catheterisation lab, primary PCI "
             "with door-to-balloon time under 90 minutes.",
    "trauma": "Major trauma activation (ATLS 10th ed.): primary survey ABCDE, haemorrhage control.",
    "massive_transfusion": "Massive transfusion protocol: balanced 1:1:1 plasma:platelets:red cells.",
    "suicide_precautions": "Suicide precautions: continuous observation, removal of means, urgent "
                           "psychiatric evaluation.",
    "severe_preeclampsia": "Severe pre-eclampsia (ACOG PB 222, 2020): magnesium sulfate seizure "
                           "prophylaxis, treat BP >= 160/110 within 60 min (labetalol, hydralazine or "
                           "nifedipine), plan delivery.",
    "anaphylaxis": "Anaphylaxis (WAO 2020): intramuscular epinephrine 0.5 mg (adult), airway, fluids.",
}

# ----------------------------------------------------------------------------
# Drugs: name -> (class, allergy group or None, pregnancy_contraindicated, indication)
DRUGS = {
    "warfarin": ("vitamin K antagonist", None, True, "anticoagulation"),
    "apixaban": ("direct oral anticoagulant", None, False, "anticoagulation"),
    "heparin": ("unfractionated heparin", None, False, "anticoagulation"),
    "enoxaparin": ("low molecular weight heparin", None, False, "anticoagulation"),
    "aspirin": ("antiplatelet (COX inhibitor)", "nsaid", False, "acute coronary syndrome"),
    "clopidogrel": ("P2Y12 inhibitor", None, False, "acute coronary syndrome"),
    "ibuprofen": ("NSAID", "nsaid", False, "pain and inflammation"),
    "naproxen": ("NSAID", "nsaid", False, "pain and inflammation"),
    "acetaminophen": ("analgesic/antipyretic", None, False, "pain and fever"),
    "lisinopril": ("ACE inhibitor", None, True, "hypertension"),
    "losartan": ("angiotensin II receptor blocker", None, True, "hypertension"),
    "spironolactone": ("potassium-sparing diuretic", None, False, "heart failure"),
    "potassium_chloride": ("potassium supplement", None, False, "hypokalemia"),
    "hydrochlorothiazide": ("thiazide diuretic", None, False, "hypertension"),
    "furosemide": ("loop diuretic", None, False, "fluid overload in heart failure"),
    "metoprolol": ("beta blocker", None, False, "rate control and hypertension"),
    "labetalol": ("alpha/beta blocker", None, False, "hypertension in pregnancy"),
    "nifedipine": ("dihydropyridine calcium channel blocker", None, False, "hypertension"),
    "amiodarone": ("class III antiarrhythmic", None, False, "arrhythmia"),
    "digoxin": ("cardiac glycoside", None, False, "rate control"),
    "nitroglycerin": ("nitrate", None, False, "angina"),
    "sildenafil": ("PDE5 inhibitor", None, False, "erectile dysfunction"),
    "simvastatin": ("HMG-CoA reductase inhibitor (statin)", None, True, "hyperlipidemia"),
    "atorvastatin": ("HMG-CoA reductase inhibitor (statin)", None, True, "hyperlipidemia"),
    "clarithromycin": ("macrolide antibiotic", None, False, "respiratory infection"),
    "azithromycin": ("macrolide antibiotic", None, False, "atypical pneumonia"),
    "amoxicillin": ("aminopenicillin antibiotic", "penicillin", False, "community-acquired pneumonia"),
    "piperacillin_tazobactam": ("penicillin + beta-lactamase inhibitor", "penicillin", False, "sepsis"),
    "ceftriaxone": ("third-generation cephalosporin", "cephalosporin", False, "pyelonephritis and meningitis"),
    "cephalexin": ("first-generation cephalosporin", "cephalosporin", False, "cellulitis"),
    "doxycycline": ("tetracycline antibiotic", None, True, "atypical infection"),
    "vancomycin": ("glycopeptide antibiotic", None, False, "MRSA infection"),
    "levofloxacin": ("fluoroquinolone antibiotic", None, False, "pneumonia"),
    "ciprofloxacin": ("fluoroquinolone antibiotic", None, False, "urinary tract infection"),
    "tizanidine": ("alpha-2 agonist muscle relaxant", None, False, "spasticity"),
    "trimethoprim_sulfamethoxazole": ("sulfonamide antibiotic", "sulfonamide", False, "urinary tract infection"),
    "metronidazole": ("nitroimidazole antibiotic", None, False, "anaerobic infection"),
    "fluconazole": ("azole antifungal", None, False, "candidiasis"),
    "methotrexate": ("antimetabolite", None, True, "rheumatoid arthritis"),
    "sertraline": ("SSRI antidepressant", None, False, "major depressive disorder"),
    "fluoxetine": ("SSRI antidepressant", None, False, "major depressive disorder"),
    "phenelzine": ("MAO inhibitor", None, False, "refractory depression"),
    "tramadol": ("opioid analgesic", None, False, "moderate pain"),
    "linezolid": ("oxazolidinone antibiotic", None, False, "resistant gram-positive infection"),
    "sumatriptan": ("triptan", None, False, "migraine"),
    "lithium": ("mood stabilizer", None, True, "bipolar disorder"),
    "valproate": ("anticonvulsant", None, True, "epilepsy and bipolar disorder"),
    "isotretinoin": ("retinoid", None, True, "severe acne"),
    "metformin": ("biguanide", None, False, "type 2 diabetes"),
    "insulin": ("insulin", None, False, "diabetes and ketoacidosis"),
    "levothyroxine": ("thyroid hormone", None, False, "hypothyroidism"),
    "methimazole": ("thionamide", None, False, "hyperthyroidism"),
    "ferrous_sulfate": ("oral iron", None, False, "iron deficiency anemia"),
    "omeprazole": ("proton pump inhibitor", None, False, "upper GI bleeding and reflux"),
    "prednisone": ("corticosteroid", None, False, "COPD and asthma exacerbation"),
    "albuterol": ("short-acting beta agonist", None, False, "bronchospasm"),
    "colchicine": ("antimitotic anti-inflammatory", None, False, "acute gout"),
    "allopurinol": ("xanthine oxidase inhibitor", None, False, "gout prophylaxis"),
    "azathioprine": ("purine antimetabolite immunosuppressant", None, True, "autoimmune disease"),
    "epinephrine": ("adrenergic agonist", None, False, "anaphylaxis"),
    "magnesium_sulfate": ("anticonvulsant (magnesium)", None, False, "eclampsia prophylaxis"),
    "oxytocin": ("uterotonic", None, False, "labor induction"),
    "tamsulosin": ("alpha-1 blocker", None, False, "ureteric stone expulsion"),
    "alteplase": ("thrombolytic", None, False, "acute ischemic stroke"),
    "oxygen": ("medical gas", None, False, "hypoxemia"),
    "ondansetron": ("5-HT3 antagonist", None, False, "nausea"),
    "haloperidol": ("typical antipsychotic", None, False, "agitation and delirium"),
}

# Interactions (unordered pairs): severity in {"contraindicated", "major", "moderate"}.
INTERACTIONS = {
    ("warfarin", "aspirin"): ("major", "additive bleeding risk"),
    ("warfarin", "ibuprofen"): ("major", "bleeding risk (antiplatelet effect and GI erosion)"),
    ("warfarin", "naproxen"): ("major", "bleeding risk (antiplatelet effect and GI erosion)"),
    ("warfarin", "amiodarone"): ("major", "CYP2C9 inhibition raises INR"),
    ("warfarin", "fluconazole"): ("major", "CYP2C9 inhibition raises INR"),
    ("warfarin", "trimethoprim_sulfamethoxazole"): ("major", "CYP2C9 inhibition raises INR"),
    ("warfarin", "metronidazole"): ("major", "CYP2C9 inhibition raises INR"),
    ("apixaban", "ibuprofen"): ("major", "additive bleeding risk"),
    ("simvastatin", "clarithromycin"): ("contraindicated", "CYP3A4 inhibition: rhabdomyolysis"),
    ("simvastatin", "amiodarone"): ("major", "myopathy risk; limit simvastatin to 20 mg"),
    ("atorvastatin", "clarithromycin"): ("major", "CYP3A4 inhibition: myopathy"),
    ("sertraline", "phenelzine"): ("contraindicated", "serotonin syndrome"),
    ("fluoxetine", "phenelzine"): ("contraindicated", "serotonin syndrome"),
    ("tramadol", "phenelzine"): ("contraindicated", "serotonin syndrome"),
    ("sumatriptan", "phenelzine"): ("contraindicated", "MAO-A inhibition raises triptan levels"),
    ("sertraline", "tramadol"): ("major", "serotonin syndrome and seizure risk"),
    ("fluoxetine", "tramadol"): ("major", "serotonin syndrome and seizure risk"),
    ("sertraline", "linezolid"): ("major", "serotonin syndrome"),
    ("sildenafil", "nitroglycerin"): ("contraindicated", "profound hypotension"),
    ("ciprofloxacin", "tizanidine"): ("contraindicated", "CYP1A2 inhibition: hypotension and sedation"),
    ("methotrexate", "trimethoprim_sulfamethoxazole"): ("major", "additive antifolate marrow suppression"),
    ("lisinopril", "spironolactone"): ("major", "hyperkalemia"),
    ("lisinopril", "potassium_chloride"): ("major", "hyperkalemia"),
    ("losartan", "spironolactone"): ("major", "hyperkalemia"),
    ("lithium", "ibuprofen"): ("major", "reduced renal lithium clearance: toxicity"),
    ("lithium", "lisinopril"): ("major", "reduced renal lithium clearance: toxicity"),
    ("lithium", "hydrochlorothiazide"): ("major", "reduced renal lithium clearance: toxicity"),
    ("digoxin", "amiodarone"): ("major", "P-glycoprotein inhibition raises digoxin levels"),
    ("allopurinol", "azathioprine"): ("major", "xanthine oxidase inhibition: azathioprine toxicity"),
    ("clopidogrel", "omeprazole"): ("moderate", "CYP2C19 inhibition reduces clopidogrel activation"),
    ("azithromycin", "ondansetron"): ("moderate", "additive QT prolongation"),
    ("haloperidol", "ondansetron"): ("moderate", "additive QT prolongation"),
    ("levofloxacin", "amiodarone"): ("major", "additive QT prolongation"),
}

# Pairs with no clinically significant interaction in the sources above; used
# for "safe" questions so that a 'yes' answer is also ground truth.
SAFE_PAIRS = [
    ("amoxicillin", "omeprazole"), ("acetaminophen", "amoxicillin"), ("metformin", "atorvastatin"),
    ("levothyroxine", "amoxicillin"), ("metoprolol", "atorvastatin"), ("lisinopril", "metformin"),
    ("acetaminophen", "sertraline"), ("apixaban", "metoprolol"), ("furosemide", "atorvastatin"),
    ("omeprazole", "metformin"), ("cephalexin", "levothyroxine"), ("albuterol", "prednisone"),
    ("ferrous_sulfate", "acetaminophen")]


def interaction(a, b):
    """Return (severity, mechanism) for a drug pair, or None if none is listed."""
    return INTERACTIONS.get((a, b)) or INTERACTIONS.get((b, a))


# ----------------------------------------------------------------------------
# Diseases used by the diagnosis, QA, pathway and KB generators.
# key_test: (kind, name, abnormal result text, normal result text)
DISEASES = {
    "acute myocardial infarction": dict(
        icd10="I21.9", group="chest pain", specialty="cardiology", protocol="stemi",
        symptoms=["crushing substernal chest pain radiating to the left arm", "diaphoresis", "nausea"],
        exam="diaphoretic, no murmurs, lungs clear",
        key_test=("lab", "troponin", "2.8 ng/mL (HIGH)", "<0.01 ng/mL"),
        treatment="aspirin", confirm="elevated cardiac troponin with ischemic ECG changes"),
    "pulmonary embolism": dict(
        icd10="I26.99", group="chest pain", specialty="pulmonology", protocol=None,
        symptoms=["sudden pleuritic chest pain", "dyspnea", "recent long-haul flight"],
        exam="tachycardic, clear lungs, left calf swelling",
        key_test=("imaging", "ct_pulmonary_angiogram", "filling defect in the right lower lobe pulmonary artery",
                  "no filling defect"),
        treatment="heparin", confirm="filling defect on CT pulmonary angiography"),
    "pneumothorax": dict(
        icd10="J93.9", group="chest pain", specialty="pulmonology", protocol=None,
        symptoms=["sudden one-sided chest pain", "dyspnea", "tall thin smoker"],
        exam="reduced breath sounds and hyperresonance on the left",
        key_test=("imaging", "chest_xray", "visible visceral pleural line with absent lung markings on the left",
                  "no pneumothorax"),
        treatment="oxygen", confirm="visceral pleural line on chest radiograph"),
    "community-acquired pneumonia": dict(
        icd10="J18.9", group="cough and fever", specialty="pulmonology", protocol=None,
        symptoms=["productive cough", "fever", "pleuritic chest pain"],
        exam="bronchial breath sounds and crackles at the right base",
        key_test=("imaging", "chest_xray", "right lower lobe consolidation", "clear lungs"),
        treatment="amoxicillin", confirm="new consolidation on chest radiograph"),
    "heart failure exacerbation": dict(
        icd10="I50.9", group="dyspnea", specialty="cardiology", protocol=None,
        symptoms=["worsening dyspnea on exertion", "orthopnea", "ankle swelling"],
        exam="raised jugular venous pressure, bibasal crackles, pitting edema",
        key_test=("lab", "bnp", "1450 pg/mL (HIGH)", "45 pg/mL"),
        treatment="furosemide", confirm="elevated BNP with pulmonary congestion"),
    "copd exacerbation": dict(
        icd10="J44.1", group="dyspnea", specialty="pulmonology", protocol=None,
        symptoms=["increased dyspnea", "increased sputum purulence", "40 pack-year smoking history"],
        exam="prolonged expiration, diffuse wheeze",
        key_test=("lab", "pao2_fio2", "260 mmHg (LOW)", "450 mmHg"),
        treatment="prednisone", confirm="increased dyspnea and sputum in known COPD with hypoxemia"),
    "asthma exacerbation": dict(
        icd10="J45.901", group="dyspnea", specialty="pulmonology", protocol=None,
        symptoms=["wheeze", "chest tightness", "nocturnal cough"],
        exam="diffuse polyphonic wheeze, speaking in short sentences",
        key_test=("lab", "pao2_fio2", "320 mmHg (LOW)", "460 mmHg"),
        treatment="albuterol", confirm="reversible airflow obstruction"),
    "acute appendicitis": dict(
        icd10="K35.80", group="abdominal pain", specialty="general_surgery", protocol=None,
        symptoms=["periumbilical pain migrating to the right lower quadrant", "anorexia", "low-grade fever"],
        exam="tenderness at McBurney's point with rebound",
        key_test=("imaging", "ct_abdomen", "dilated 11 mm appendix with periappendiceal fat stranding",
                  "normal appendix"),
        treatment="ceftriaxone", confirm="inflamed appendix on CT"),
    "acute pancreatitis": dict(
        icd10="K85.90", group="abdominal pain", specialty="gastroenterology", protocol=None,
        symptoms=["severe epigastric pain radiating to the back", "vomiting", "heavy alcohol use"],
        exam="epigastric tenderness, guarding",
        key_test=("lab", "lipase", "1850 U/L (HIGH)", "35 U/L"),
        treatment="acetaminophen", confirm="lipase above three times the upper limit of normal"),
    "acute cholecystitis": dict(
        icd10="K81.0", group="abdominal pain", specialty="general_surgery", protocol=None,
        symptoms=["right upper quadrant pain after fatty meals", "fever", "nausea"],
        exam="positive Murphy's sign",
        key_test=("imaging", "ultrasound_abdomen", "gallstones with gallbladder wall thickening and "
                  "pericholecystic fluid", "normal gallbladder"),
        treatment="ceftriaxone", confirm="gallbladder wall thickening with stones on ultrasound"),
    "kidney stone": dict(
        icd10="N20.0", group="abdominal pain", specialty="urology", protocol=None,
        symptoms=["colicky flank pain radiating to the groin", "hematuria", "restlessness"],
        exam="costovertebral angle tenderness, writhing in pain",
        key_test=("imaging", "ct_kub", "6 mm calculus at the left vesicoureteric junction", "no calculus"),
        treatment="tamsulosin", confirm="ureteric calculus on non-contrast CT"),
    "acute pyelonephritis": dict(
        icd10="N10", group="abdominal pain", specialty="urology", protocol=None,
        symptoms=["fever with rigors", "dysuria", "flank pain"],
        exam="costovertebral angle tenderness, febrile",
        key_test=("lab", "urinalysis", "positive nitrites and leukocyte esterase, white cell casts",
                  "negative"),
        treatment="ceftriaxone", confirm="pyuria with flank pain and fever"),
    "diabetic ketoacidosis": dict(
        icd10="E10.10", group="vomiting and weakness", specialty="endocrinology", protocol=None,
        symptoms=["polyuria and polydipsia", "vomiting", "abdominal pain"],
        exam="Kussmaul breathing, dry mucous membranes, fruity breath",
        key_test=("lab", "ketones", "5.2 mmol/L (HIGH)", "0.1 mmol/L"),
        treatment="insulin", confirm="hyperglycemia, ketonemia and metabolic acidosis"),
    "hypothyroidism": dict(
        icd10="E03.9", group="fatigue", specialty="endocrinology", protocol=None,
        symptoms=["fatigue", "weight gain", "cold intolerance"],
        exam="dry skin, delayed ankle reflex relaxation",
        key_test=("lab", "tsh", "18.5 mIU/L (HIGH)", "1.8 mIU/L"),
        treatment="levothyroxine", confirm="raised TSH with low free T4"),
    "graves disease": dict(
        icd10="E05.00", group="fatigue", specialty="endocrinology", protocol=None,
        symptoms=["weight loss", "heat intolerance", "palpitations"],
        exam="diffuse goiter, exophthalmos, fine tremor",
        key_test=("lab", "tsh", "<0.01 mIU/L (LOW)", "1.5 mIU/L"),
        treatment="methimazole", confirm="suppressed TSH with raised free T4"),
    "iron deficiency anemia": dict(
        icd10="D50.9", group="fatigue", specialty="hematology", protocol=None,
        symptoms=["fatigue", "exertional dyspnea", "heavy menstrual bleeding"],
        exam="conjunctival pallor, koilonychia",
        key_test=("lab", "ferritin", "6 ng/mL (LOW)", "85 ng/mL"),
        treatment="ferrous_sulfate", confirm="microcytic anemia with low ferritin"),
    "type 2 diabetes": dict(
        icd10="E11.9", group="fatigue", specialty="endocrinology", protocol=None,
        symptoms=["polyuria", "fatigue", "blurred vision"],
        exam="acanthosis nigricans, BMI 34",
        key_test=("lab", "hba1c", "8.4 % (HIGH)", "5.2 %"),
        treatment="metformin", confirm="HbA1c of 6.5% or higher"),
    "ischemic stroke": dict(
        icd10="I63.9", group="neurological deficit", specialty="neurology", protocol="stroke",
        symptoms=["sudden right arm weakness", "facial droop", "slurred speech"],
        exam="right hemiparesis, expressive aphasia",
        key_test=("imaging", "mri_brain", "restricted diffusion in the left middle cerebral artery territory",
                  "no acute infarct"),
        treatment="alteplase", confirm="acute infarct on diffusion-weighted MRI"),
    "bacterial meningitis": dict(
        icd10="G03.9", group="neurological deficit", specialty="infectious_disease", protocol=None,
        symptoms=["severe headache", "fever", "neck stiffness"],
        exam="positive Kernig's sign, photophobia",
        key_test=("lab", "csf_analysis", "neutrophilic pleocytosis, low glucose, high protein",
                  "normal cell count"),
        treatment="ceftriaxone", confirm="neutrophilic CSF with low glucose"),
    "migraine": dict(
        icd10="G43.909", group="neurological deficit", specialty="neurology", protocol=None,
        symptoms=["unilateral throbbing headache", "photophobia", "visual aura"],
        exam="normal neurological examination",
        key_test=("imaging", "ct_head", "no acute intracranial abnormality", "no acute intracranial abnormality"),
        treatment="sumatriptan", confirm="recurrent typical attacks with normal examination"),
    "deep vein thrombosis": dict(
        icd10="I82.409", group="limb swelling", specialty="hematology", protocol=None,
        symptoms=["unilateral calf swelling", "calf pain", "recent surgery"],
        exam="left calf 4 cm larger than right, pitting edema",
        key_test=("imaging", "ultrasound_leg_doppler", "non-compressible left popliteal vein",
                  "compressible veins"),
        treatment="apixaban", confirm="non-compressible vein on duplex ultrasound"),
    "cellulitis": dict(
        icd10="L03.90", group="limb swelling", specialty="infectious_disease", protocol=None,
        symptoms=["spreading redness of the leg", "warmth", "fever"],
        exam="poorly demarcated erythema and warmth of the shin",
        key_test=("lab", "crp", "85 mg/L (HIGH)", "3 mg/L"),
        treatment="cephalexin", confirm="clinical diagnosis with raised inflammatory markers"),
    "gout": dict(
        icd10="M10.9", group="limb swelling", specialty="hematology", protocol=None,
        symptoms=["acute painful swollen first metatarsophalangeal joint", "overnight onset", "beer intake"],
        exam="hot, red, exquisitely tender big-toe joint",
        key_test=("lab", "synovial_fluid", "negatively birefringent needle-shaped urate crystals",
                  "no crystals"),
        treatment="colchicine", confirm="urate crystals in joint fluid"),
    "upper gi bleed": dict(
        icd10="K92.2", group="vomiting and weakness", specialty="gastroenterology", protocol=None,
        symptoms=["coffee-ground vomiting", "melena", "NSAID use"],
        exam="pale, tachycardic, melena on rectal examination",
        key_test=("lab", "hemoglobin", "7.1 g/dL (LOW)", "14.2 g/dL"),
        treatment="omeprazole", confirm="melena with falling hemoglobin"),
    "sepsis": dict(
        icd10="A41.9", group="cough and fever", specialty="critical_care", protocol="sepsis",
        symptoms=["fever with rigors", "confusion", "reduced urine output"],
        exam="warm peripheries, hypotension, tachycardia",
        key_test=("lab", "lactate", "4.6 mmol/L (HIGH)", "1.1 mmol/L"),
        treatment="piperacillin_tazobactam", confirm="suspected infection with organ dysfunction "
                                                     "(SOFA rise of 2 or more)"),
    "anaphylaxis": dict(
        icd10="T78.2XXA", group="vomiting and weakness", specialty="critical_care", protocol="anaphylaxis",
        symptoms=["generalised urticaria after a peanut snack", "throat tightness", "lightheadedness"],
        exam="stridor, wheeze, hypotension",
        key_test=("lab", "lactate", "2.4 mmol/L (HIGH)", "1.0 mmol/L"),
        treatment="epinephrine", confirm="acute multi-system reaction after allergen exposure"),
}

# Imaging findings for the radiology report domain: finding -> (modality, critical, report sentence)
RADIOLOGY_FINDINGS = {
    "pneumothorax": ("chest_xray", True, "visceral pleural line with absent peripheral lung markings"),
    "lobar pneumonia": ("chest_xray", False, "lobar airspace consolidation with air bronchograms"),
    "pleural effusion": ("chest_xray", False, "blunting of the costophrenic angle with a meniscus"),
    "pulmonary edema": ("chest_xray", False, "bilateral perihilar opacities, Kerley B lines, cardiomegaly"),
    "normal study": ("chest_xray", False, "clear lungs, normal cardiomediastinal contour"),
    "intracranial hemorrhage": ("ct_head", True, "hyperdense intraparenchymal collection"),
    "acute infarct": ("ct_head", False, "loss of grey-white differentiation in a vascular territory"),
    "subdural hematoma": ("ct_head", True, "crescentic extra-axial hyperdense collection"),
    "free intraperitoneal air": ("ct_abdomen", True, "free gas under the diaphragm / anterior abdomen"),
    "appendicitis": ("ct_abdomen", False, "dilated appendix over 6 mm with periappendiceal stranding"),
    "small bowel obstruction": ("ct_abdomen", False, "dilated small bowel loops with a transition point"),
    "aortic dissection": ("ct_abdomen", True, "intimal flap separating true and false lumen"),
}

ECG_RHYTHMS = {
    # rhythm -> (rate range bpm, regular?, P waves?) ; definitions per AHA/ACC/HRS ECG standards.
    "normal sinus rhythm": ((62, 98), True, True),
    "sinus tachycardia": ((104, 120), True, True),
    "sinus bradycardia": ((38, 56), True, True),
    "atrial fibrillation": ((70, 110), False, False),
}

# Lesion categories for dermoscopy-style images; suspicious if >= 2 ABCD features
# (asymmetry, border irregularity, >= 3 colours, diameter > 6 mm): Friedman et al. CA 1985.
LESION_CLASSES = ["benign nevus", "suspicious for melanoma"]

PSYCH_BANDS = {
    # Kroenke et al. J Gen Intern Med 2001 (PHQ-9); Spitzer et al. Arch Intern Med 2006 (GAD-7)
    "phq9": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately severe"),
             (20, 27, "severe")],
    "gad7": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
}

DOMAINS = ["clinical_diagnosis", "drug_interaction", "ehr_management", "medical_qa", "triage_emergency",
           "psychiatry", "obstetrics", "visual_diagnosis", "radiology_report", "cross_domain"]

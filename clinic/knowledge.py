"""Clinical knowledge tables: the single source of medical facts besides pharmacology.py and scores.py.

Everything downstream is generated from these tables and pharmacology.py: the task bank (taskgen.py),
the embedded knowledge-base passages (kbtext.py), the look-up tools (toolset.py) and the safety
constraints reward.py checks. Every fact names a key of SOURCES (guideline or label, with its year);
tests/test_content.py fails on a fact without one and pins the hand-checked facts.
`python -m clinic.knowledge review` prints every fact with its source as one table for clinical sign-off.
"""
import os
import sys

from clinic import files
from clinic import pharmacology as P
from clinic.physiology import FINDING_VITALS, NEWBORN_WEIGHT_KG, PRESENTATIONS
from clinic import scores as S

SOURCES = {
    # codes, labs, scores
    "icd10cm-2024": "ICD-10-CM Tabular List, FY2024 (CDC/CMS)",
    "labs-ref": "Harrison's Principles of Internal Medicine, 21st ed., 'Laboratory Values of Clinical "
                "Importance' (reference intervals); CLSI GP47 (2015) critical-risk results (critical values)",
    "gina-2024": "Global Initiative for Asthma (GINA) report 2024",
    "gold-2024": "Global Initiative for Chronic Obstructive Lung Disease (GOLD) report 2024",
    "ata-2016": "Ross et al., 2016 American Thyroid Association guidelines for hyperthyroidism, Thyroid 2016",
    "ata-hypothyroid-2014": "Jonklaas et al., ATA guidelines for the treatment of hypothyroidism, Thyroid 2014",
    "ata-pregnancy-2017": "Alexander et al., 2017 ATA guidelines for thyroid disease in pregnancy, Thyroid 2017",
    # diseases and pathways
    "acc-aha-2013": "O'Gara et al., 2013 ACCF/AHA guideline for the management of STEMI",
    "acc-aha-dapt-2016": "Levine et al., 2016 ACC/AHA focused update on duration of dual antiplatelet therapy",
    "acc-aha-af-2023": "Joglar et al., 2023 ACC/AHA/ACCP/HRS guideline for atrial fibrillation",
    "esc-pe-2019": "Konstantinides et al., 2019 ESC guidelines for acute pulmonary embolism",
    "bts-pneumothorax-2023": "Roberts et al., BTS guideline for pleural disease (pneumothorax), Thorax 2023",
    "ats-idsa-2019": "Metlay et al., ATS/IDSA guideline for community-acquired pneumonia, AJRCCM 2019",
    "aha-acc-hfsa-2022": "Heidenreich et al., 2022 AHA/ACC/HFSA guideline for heart failure",
    "sis-idsa-2017": "Mazuski et al., SIS guidelines on intra-abdominal infection 2017; Di Saverio et al., "
                     "WSES Jerusalem guidelines for appendicitis 2020",
    "acg-pancreatitis-2024": "Tenner et al., ACG guideline: management of acute pancreatitis, Am J Gastroenterol "
                             "2024",
    "tokyo-2018": "Tokyo Guidelines 2018 for acute cholecystitis (Yokoe et al.; Gomi et al.)",
    "aua-stones-2016": "Assimos et al., AUA guideline on surgical management of stones 2016; EAU urolithiasis "
                       "guideline 2024 (NSAIDs first-line for renal colic)",
    "idsa-uti-2010": "Gupta et al., IDSA/ESCMID guideline for acute cystitis and pyelonephritis in women, 2010",
    "ada-2024": "American Diabetes Association, Standards of Care in Diabetes 2024 (incl. hyperglycemic crises)",
    "bsg-iron-2021": "British Society for Gastroenterology guidelines for iron deficiency anaemia 2021 "
                     "(Snook et al., Gut 2021)",
    "aha-asa-2019": "Powers et al., 2019 AHA/ASA guidelines for early management of acute ischemic stroke",
    "idsa-meningitis-2004": "Tunkel et al., IDSA practice guidelines for bacterial meningitis, CID 2004",
    "ahs-2021": "American Headache Society consensus statement 2021 (acute treatment of migraine)",
    "ichd-3": "International Classification of Headache Disorders, 3rd ed. (2018): migraine is a clinical "
              "diagnosis; Choosing Wisely (ACR/AAN): no imaging for uncomplicated headache",
    "chest-2012": "Ageno et al. / Holbrook et al., CHEST guidelines on antithrombotic therapy, 9th ed. 2012; "
                  "CHEST 2021 VTE update (Stevens et al.)",
    "idsa-ssti-2014": "Stevens et al., IDSA guideline for skin and soft tissue infections, CID 2014",
    "acr-gout-2020": "FitzGerald et al., 2020 ACR guideline for the management of gout",
    "acg-ugib-2021": "Laine et al., ACG clinical guideline: upper GI and ulcer bleeding, Am J Gastroenterol 2021",
    "acg-gerd-2022": "Katz et al., ACG clinical guideline for GERD 2022 (PPIs in pregnancy)",
    "ssc-2021": "Evans et al., Surviving Sepsis Campaign international guidelines 2021",
    "ssc-2018": "Levy, Evans & Rhodes, The Surviving Sepsis Campaign bundle: 2018 update (hour-1 bundle)",
    "sepsis-3": "Singer et al., Third international consensus definitions for sepsis (Sepsis-3), JAMA 2016",
    "wao-2020": "Cardona et al., World Allergy Organization anaphylaxis guidance 2020",
    "atls-10": "ATLS student course manual, 10th ed. (American College of Surgeons, 2018)",
    "proppr-2015": "Holcomb et al., PROPPR trial, JAMA 2015 (1:1:1 transfusion)",
    "acog-pb222-2020": "ACOG Practice Bulletin 222: gestational hypertension and preeclampsia (2020)",
    "acog-pb203-2019": "ACOG Practice Bulletin 203: chronic hypertension in pregnancy (2019)",
    "acog-pb196-2018": "ACOG Practice Bulletin 196: thromboembolism in pregnancy (2018)",
    "acog-pb189-2018": "ACOG Practice Bulletin 189: nausea and vomiting of pregnancy (2018)",
    "acog-pb107-2009": "ACOG Practice Bulletin 107: induction of labor (2009)",
    "acog-co700-2017": "ACOG Committee Opinion 700: methods for estimating the due date (2017)",
    "acog-co717-2017": "ACOG Committee Opinion 717: sulfonamides, nitrofurantoin and risk of birth defects (2017)",
    "acog-co797-2020": "ACOG Committee Opinion 797: prevention of group B streptococcal early-onset disease (2020)",
    "acog-cpg5-2023": "ACOG Clinical Practice Guideline 5: treatment of perinatal mental health conditions (2023)",
    "acr-reproductive-2020": "Sammaritano et al., 2020 ACR guideline for reproductive health in rheumatic disease; "
                             "EULAR 2016 points to consider (azathioprine compatible)",
    "ash-vte-2018": "Bates et al., ASH 2018 guidelines for VTE in the context of pregnancy",
    "esc-pregnancy-2018": "Regitz-Zagrosek et al., 2018 ESC guidelines for cardiovascular diseases during pregnancy",
    "uspstf-aspirin-2021": "USPSTF 2021: low-dose aspirin for prevention of preeclampsia",
    "smfm-2021": "SMFM/ACOG statement on acetaminophen use in pregnancy (2021)",
    "cdc-sti-2021": "Workowski et al., CDC sexually transmitted infections treatment guidelines 2021 "
                    "(pregnancy sections)",
    "fda-nsaid-2020": "FDA Drug Safety Communication: avoid NSAIDs in pregnancy at 20 weeks or later (Oct 2020)",
    "fda-statin-2021": "FDA Drug Safety Communication: request to remove strongest warning against statins in "
                       "pregnancy (Jul 2021)",
    "fda-linezolid-2011": "FDA Drug Safety Communication: serotonin syndrome with linezolid and serotonergic "
                          "psychiatric drugs (2011)",
    "fda-ibuprofen-aspirin-2006": "FDA science paper: concomitant use of ibuprofen and aspirin (2006)",
    "mhra-valproate-2018": "MHRA 2018: valproate pregnancy prevention programme; FDA valproate label (boxed "
                           "warning)",
    "ontarget-2008": "ONTARGET investigators, NEJM 2008 (telmisartan plus ramipril); KDIGO 2021 BP guideline",
    "antoniou-2015": "Antoniou et al., trimethoprim-sulfamethoxazole and sudden death in spironolactone users, "
                     "BMJ 2015",
    "crediblemeds-2024": "CredibleMeds QTdrugs list (known risk of torsades de pointes), 2024",
    "orlova-2018": "Orlova et al., serotonin syndrome with triptans and SSRIs/SNRIs, JAMA Neurol 2018",
    "bts-oxygen-2017": "O'Driscoll et al., BTS guideline for oxygen use in adults, Thorax 2017",
    "acr-communication-2020": "ACR practice parameter for communication of diagnostic imaging findings (2020)",
    "aha-ecg-2009": "AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, 2009",
    "friedman-1985": "Friedman, Rigel & Kopf, early detection of malignant melanoma (ABCD), CA Cancer J Clin 1985",
    "kroenke-2001": "Kroenke, Spitzer & Williams, the PHQ-9, J Gen Intern Med 2001 (bands and item-9 instruction)",
    "spitzer-2006": "Spitzer et al., the GAD-7, Arch Intern Med 2006",
    "bush-1998": "Bush et al., the AUDIT alcohol consumption questions (AUDIT-C), Arch Intern Med 1998",
    "jc-npsg-2019": "The Joint Commission, National Patient Safety Goal 15.01.01 (suicide risk), 2019",
    "backus-2013": "Backus et al., a prospective validation of the HEART score, Int J Cardiol 2013",
    "esi-v4": "Gilboy et al., Emergency Severity Index v4 implementation handbook (AHRQ 2012 / ENA 2020)",
    "aaaai-2022": "Khan et al., Drug allergy: a 2022 practice parameter update, J Allergy Clin Immunol 2022 "
                  "(cephalosporins with dissimilar side chains in penicillin allergy, anaphylaxis included)",
    "gandhi-2013": "Gandhi et al., calcium-channel blocker-clarithromycin drug interactions and acute kidney "
                   "injury and hypotension in older adults, JAMA 2013",
    "nice-cg185-2023": "NICE CG185, bipolar disorder: assessment and management (2014, updated 2023): lithium "
                       "with ACE inhibitors or ARBs, monitor levels more often",
    "eau-urolithiasis-2024": "EAU guidelines on urolithiasis 2024: NSAIDs are the first-line analgesic for renal "
                             "colic; alpha-blockers for expulsion of distal ureteric stones over 5 mm",
    "who-growth-2006": "WHO Child Growth Standards (2006): weight-for-age at birth, 3rd-97th centile about "
                       "2.4-4.2 kg",
    "bone-1992": "Bone et al., ACCP/SCCM consensus definitions of sepsis and SIRS, Chest 1992",
    # drug labels (FDA prescribing information)
    **{f"label-{d}": f"FDA prescribing information: {d}" for d in (
        "warfarin", "apixaban", "clopidogrel", "nsaid", "acetaminophen", "lisinopril", "losartan", "kcl", "hctz",
        "metoprolol", "amiodarone", "digoxin", "sildenafil", "nitroglycerin", "simvastatin", "atorvastatin",
        "clarithromycin", "doxycycline", "tizanidine", "methotrexate", "ssri", "phenelzine", "tramadol",
        "linezolid", "lithium", "isotretinoin", "azathioprine", "ondansetron", "haloperidol", "spironolactone",
        "colchicine", "tamsulosin", "amoxicillin", "cephalexin", "levothyroxine", "omeprazole")},
}

# ----------------------------------------------------------------------------
# Laboratory tests: name -> (unit, low, high, critical_low, critical_high, full name, source)
# None means "no bound of this kind".
LABS = {
    "sodium": ("mmol/L", 135, 145, 120, 160, "serum sodium", "labs-ref"),
    "potassium": ("mmol/L", 3.5, 5.0, 2.5, 6.0, "serum potassium", "labs-ref"),
    "bicarbonate": ("mmol/L", 22, 29, 10, 40, "serum bicarbonate", "labs-ref"),
    "urea": ("mmol/L", 2.5, 7.1, None, None, "blood urea", "labs-ref"),
    "creatinine": ("mg/dL", 0.6, 1.2, None, 10.0, "serum creatinine", "labs-ref"),
    "glucose": ("mg/dL", 70, 99, 40, 500, "plasma glucose (fasting)", "labs-ref"),
    "hemoglobin": ("g/dL", 12.0, 17.5, 6.0, 20.0, "hemoglobin (female 12.0-15.5, male 13.5-17.5)", "labs-ref"),
    "wbc": ("10^9/L", 4.0, 11.0, 1.0, 30.0, "white cell count", "labs-ref"),
    "platelets": ("10^9/L", 150, 400, 20, 1000, "platelet count", "labs-ref"),
    "bilirubin": ("mg/dL", 0.1, 1.2, None, None, "total bilirubin", "labs-ref"),    # 15: a neonatal value
    "albumin": ("g/dL", 3.5, 5.0, None, None, "serum albumin", "labs-ref"),
    "inr": ("", 0.8, 1.2, None, 5.0, "international normalized ratio", "labs-ref"),
    "lactate": ("mmol/L", 0.5, 2.0, None, 4.0, "serum lactate", "labs-ref"),
    "troponin": ("ng/mL", 0.0, 0.04, None, None, "cardiac troponin I", "labs-ref"),
    "bnp": ("pg/mL", 0, 100, None, None, "B-type natriuretic peptide", "labs-ref"),
    "d_dimer": ("ug/mL FEU", 0.0, 0.5, None, None, "D-dimer", "labs-ref"),
    "lipase": ("U/L", 10, 140, None, None, "serum lipase", "labs-ref"),
    "tsh": ("mIU/L", 0.4, 4.0, None, None, "thyroid stimulating hormone", "labs-ref"),
    "hba1c": ("%", 4.0, 5.6, None, None, "glycated hemoglobin", "labs-ref"),
    "ferritin": ("ng/mL", 15, 200, None, None, "serum ferritin", "labs-ref"),
    "crp": ("mg/L", 0, 10, None, None, "C-reactive protein", "labs-ref"),
    "alt": ("U/L", 7, 56, None, None, "alanine aminotransferase", "labs-ref"),
    "calcium": ("mg/dL", 8.5, 10.5, 6.0, 13.0, "total calcium", "labs-ref"),
    "ketones": ("mmol/L", 0.0, 0.6, None, None, "serum beta-hydroxybutyrate", "labs-ref"),
    "pao2_fio2": ("mmHg", 400, 500, None, None, "PaO2/FiO2 ratio", "labs-ref"),
    "paco2": ("mmHg", 35, 45, None, None, "arterial PaCO2", "labs-ref"),
    "bands_pct": ("%", 0, 5, None, None, "band (immature) neutrophils", "labs-ref"),
    "peak_flow": ("% predicted", 80, 120, None, None, "peak expiratory flow", "gina-2024"),
    "spirometry": ("", None, None, None, None, "spirometry (post-bronchodilator FEV1/FVC)", "gold-2024"),
    "trab": ("", None, None, None, None, "TSH receptor antibodies (TRAb)", "ata-2016"),
    "urinalysis": ("", None, None, None, None, "urinalysis (dipstick + microscopy)", "labs-ref"),
    "csf_analysis": ("", None, None, None, None, "cerebrospinal fluid analysis", "labs-ref"),
    "blood_culture": ("", None, None, None, None, "blood cultures x2", "labs-ref"),
    "synovial_fluid": ("", None, None, None, None, "joint aspirate microscopy", "labs-ref"),
    "urine_hcg": ("", None, None, None, None, "urine pregnancy test", "labs-ref"),
}

IMAGING = ["chest_xray", "ct_head", "ct_abdomen", "ct_pulmonary_angiogram", "ultrasound_abdomen",
           "ultrasound_leg_doppler", "mri_brain", "ct_kub", "echocardiogram", "ultrasound_obstetric",
           "upper_endoscopy"]

SPECIALTIES = ["cardiology", "pulmonology", "gastroenterology", "general_surgery", "neurology",
               "nephrology", "endocrinology", "infectious_disease", "psychiatry", "obstetrics",
               "hematology", "rheumatology", "dermatology", "urology", "critical_care", "toxicology"]

# name -> (text, source)
PROTOCOLS = {
    "sepsis": ("Sepsis hour-1 bundle (Surviving Sepsis Campaign 2018 update): lactate, blood cultures before "
               "antibiotics, broad-spectrum antibiotics, 30 mL/kg crystalloid for hypotension or lactate >= 4, "
               "vasopressors for MAP < 65 mmHg despite fluids.", "ssc-2018"),
    "stroke": ("Acute stroke pathway (AHA/ASA 2019): immediate non-contrast CT head, glucose check, "
               "thrombolysis eligibility within 4.5 h of last known well, thrombectomy evaluation.", "aha-asa-2019"),
    "stemi": ("STEMI pathway (ACCF/AHA 2013): aspirin, activation of the catheterisation lab, primary PCI "
              "with first medical contact-to-device time under 90 minutes.", "acc-aha-2013"),
    "trauma": ("Major trauma activation (ATLS 10th ed.): primary survey ABCDE, haemorrhage control.", "atls-10"),
    "massive_transfusion": ("Massive transfusion protocol: balanced 1:1:1 plasma:platelets:red cells.",
                            "proppr-2015"),
    "suicide_precautions": ("Suicide precautions: continuous observation, removal of means, urgent "
                            "psychiatric evaluation.", "jc-npsg-2019"),
    "severe_preeclampsia": ("Severe pre-eclampsia (ACOG PB 222, 2020): magnesium sulfate seizure "
                            "prophylaxis, treat BP >= 160/110 within 60 min (labetalol, hydralazine or "
                            "nifedipine), plan delivery.", "acog-pb222-2020"),
    "anaphylaxis": ("Anaphylaxis (WAO 2020): intramuscular epinephrine 0.5 mg (adult), airway, fluids.", "wao-2020"),
}


# ----------------------------------------------------------------------------
# Diseases used by the diagnosis, QA, pathway and KB generators.
#   confirm_test: (kind, test, abnormal result, normal result) of the investigation that confirms the
#                 diagnosis, or None for a clinical diagnosis (no test is expected or rewarded);
#   treatment:    the usual first-line treatment (a drug of pharmacology.DRUGS, or a procedure);
#   alternatives: other drugs a clinician could defend as first-line or standard adjunct: never offered
#                 as a wrong option;
#   source:       the guideline for the work-up and treatment (codes: icd10cm-2024).
def _disease(icd10, group, specialty, symptoms, exam, confirm_test, confirm, treatment, source, protocol=None,
             alternatives=()):
    return dict(icd10=icd10, group=group, specialty=specialty, protocol=protocol, symptoms=symptoms, exam=exam,
                confirm_test=confirm_test, confirm=confirm, treatment=treatment, alternatives=list(alternatives),
                source=source)


DISEASES = {
    "acute myocardial infarction": _disease(
        "I21.9", "chest pain", "cardiology",
        ["crushing substernal chest pain radiating to the left arm", "diaphoresis", "nausea"],
        "diaphoretic, no murmurs, lungs clear", ("lab", "troponin", "2.8 ng/mL (HIGH)", "<0.01 ng/mL"),
        "a rise of cardiac troponin with ischemic symptoms or ECG changes", "aspirin", "acc-aha-2013", "stemi",
        ["clopidogrel", "heparin", "enoxaparin", "nitroglycerin", "metoprolol", "atorvastatin", "alteplase",
         "oxygen"]),
    "pulmonary embolism": _disease(
        "I26.99", "chest pain", "pulmonology", ["sudden pleuritic chest pain", "dyspnea", "recent long-haul flight"],
        "tachycardic, clear lungs, left calf swelling",
        ("imaging", "ct_pulmonary_angiogram", "filling defect in the right lower lobe pulmonary artery",
         "no filling defect"),
        "a filling defect on CT pulmonary angiography", "enoxaparin", "esc-pe-2019",
        alternatives=["heparin", "apixaban", "warfarin", "alteplase", "oxygen"]),
    "pneumothorax": _disease(
        "J93.9", "chest pain", "pulmonology", ["sudden one-sided chest pain", "dyspnea", "tall thin smoker"],
        "reduced breath sounds and hyperresonance on the left",
        ("imaging", "chest_xray", "visible visceral pleural line with absent lung markings on the left",
         "no pneumothorax"),
        "a visceral pleural line on chest radiograph", "oxygen", "bts-pneumothorax-2023"),
    "community-acquired pneumonia": _disease(
        "J18.9", "cough and fever", "pulmonology", ["productive cough", "fever", "pleuritic chest pain"],
        "bronchial breath sounds and crackles at the right base",
        ("imaging", "chest_xray", "right lower lobe consolidation", "clear lungs"),
        "a new consolidation on chest radiograph", "amoxicillin", "ats-idsa-2019",
        alternatives=["doxycycline", "azithromycin", "clarithromycin", "levofloxacin", "ceftriaxone"]),
    "heart failure exacerbation": _disease(
        "I50.9", "dyspnea", "cardiology", ["worsening dyspnea on exertion", "orthopnea", "ankle swelling"],
        "raised jugular venous pressure, bibasal crackles, pitting edema",
        ("lab", "bnp", "1450 pg/mL (HIGH)", "45 pg/mL"), "an elevated BNP with pulmonary congestion "
        "(echocardiography for the ejection fraction)", "furosemide", "aha-acc-hfsa-2022",
        alternatives=["nitroglycerin", "oxygen", "lisinopril", "losartan", "spironolactone", "metoprolol",
                      "digoxin"]),
    "copd exacerbation": _disease(
        "J44.1", "dyspnea", "pulmonology",
        ["increased dyspnea", "increased sputum purulence", "40 pack-year smoking history"],
        "prolonged expiration, diffuse wheeze", None,
        "clinical diagnosis: worsening dyspnoea, cough or sputum within 14 days in known COPD; spirometry is not "
        "done during an exacerbation (GOLD 2024)", "prednisone",
        "gold-2024", alternatives=["albuterol", "oxygen", "amoxicillin", "doxycycline", "azithromycin",
                                   "clarithromycin", "levofloxacin"]),
    "asthma exacerbation": _disease(
        "J45.901", "dyspnea", "pulmonology", ["wheeze", "chest tightness", "nocturnal cough"],
        "diffuse polyphonic wheeze, speaking in short sentences",
        ("lab", "peak_flow", "45 % predicted (LOW)", "95 % predicted"),
        "variable airflow obstruction: a fall in peak expiratory flow", "albuterol", "gina-2024",
        alternatives=["prednisone", "oxygen", "magnesium_sulfate"]),
    "acute appendicitis": _disease(
        "K35.80", "abdominal pain", "general_surgery",
        ["periumbilical pain migrating to the right lower quadrant", "anorexia", "low-grade fever"],
        "tenderness at McBurney's point with rebound",
        ("imaging", "ct_abdomen", "dilated 11 mm appendix with periappendiceal fat stranding", "normal appendix"),
        "an inflamed appendix on CT", "appendectomy (with antibiotics covering anaerobes, e.g. ceftriaxone plus "
        "metronidazole)", "sis-idsa-2017", alternatives=["ceftriaxone", "metronidazole", "piperacillin_tazobactam"]),
    "acute pancreatitis": _disease(
        "K85.90", "abdominal pain", "gastroenterology",
        ["severe epigastric pain radiating to the back", "vomiting", "heavy alcohol use"],
        "epigastric tenderness, guarding", ("lab", "lipase", "1850 U/L (HIGH)", "35 U/L"),
        "lipase above three times the upper limit of normal with typical pain", "lactated_ringers",
        "acg-pancreatitis-2024", alternatives=["acetaminophen", "tramadol", "ondansetron"]),
    "acute cholecystitis": _disease(
        "K80.00", "abdominal pain", "general_surgery",
        ["right upper quadrant pain after fatty meals", "fever", "nausea"], "positive Murphy's sign",
        ("imaging", "ultrasound_abdomen", "gallstones with gallbladder wall thickening and pericholecystic fluid",
         "normal gallbladder"),
        "gallbladder wall thickening with stones on ultrasound", "ceftriaxone", "tokyo-2018",
        alternatives=["piperacillin_tazobactam", "metronidazole", "acetaminophen", "ibuprofen", "naproxen"]),
    "ureteric stone": _disease(
        "N20.1", "abdominal pain", "urology", ["colicky flank pain radiating to the groin", "hematuria",
                                               "restlessness"],
        "costovertebral angle tenderness, writhing in pain",
        ("imaging", "ct_kub", "6 mm calculus at the left vesicoureteric junction", "no calculus"),
        "a ureteric calculus on non-contrast CT", "ibuprofen", "eau-urolithiasis-2024",
        alternatives=["naproxen", "acetaminophen", "tamsulosin"]),
    "acute pyelonephritis": _disease(
        "N10", "abdominal pain", "urology", ["fever with rigors", "dysuria", "flank pain"],
        "costovertebral angle tenderness, febrile",
        ("lab", "urinalysis", "positive nitrites and leukocyte esterase, white cell casts", "negative"),
        "pyuria with flank pain and fever, and a positive urine culture", "ceftriaxone", "idsa-uti-2010",
        alternatives=["ciprofloxacin", "levofloxacin", "trimethoprim_sulfamethoxazole", "piperacillin_tazobactam"]),
    "diabetic ketoacidosis": _disease(
        "E10.10", "vomiting and weakness", "endocrinology", ["polyuria and polydipsia", "vomiting",
                                                             "abdominal pain"],
        "Kussmaul breathing, dry mucous membranes, fruity breath",
        ("lab", "ketones", "5.2 mmol/L (HIGH)", "0.1 mmol/L"),
        "hyperglycemia, ketonemia and metabolic acidosis", "insulin", "ada-2024",
        alternatives=["lactated_ringers", "potassium_chloride"]),
    "hypothyroidism": _disease(
        "E03.9", "fatigue", "endocrinology", ["fatigue", "weight gain", "cold intolerance"],
        "dry skin, delayed ankle reflex relaxation", ("lab", "tsh", "18.5 mIU/L (HIGH)", "1.8 mIU/L"),
        "a raised TSH with low free T4", "levothyroxine", "ata-hypothyroid-2014"),
    "graves disease": _disease(
        "E05.00", "fatigue", "endocrinology", ["weight loss", "heat intolerance", "palpitations"],
        "diffuse goiter, exophthalmos, fine tremor",
        ("lab", "trab", "positive TSH receptor antibodies", "negative"),
        "suppressed TSH with raised free T4 and positive TSH receptor antibodies", "methimazole", "ata-2016",
        alternatives=["metoprolol", "propylthiouracil"]),
    "iron deficiency anemia": _disease(
        "D50.9", "fatigue", "hematology", ["fatigue", "exertional dyspnea", "heavy menstrual bleeding"],
        "conjunctival pallor, koilonychia", ("lab", "ferritin", "6 ng/mL (LOW)", "85 ng/mL"),
        "microcytic anemia with low ferritin", "ferrous_sulfate", "bsg-iron-2021"),
    "type 2 diabetes": _disease(
        "E11.9", "fatigue", "endocrinology", ["polyuria", "fatigue", "blurred vision"],
        "acanthosis nigricans, BMI 34", ("lab", "hba1c", "8.4 % (HIGH)", "5.2 %"), "HbA1c of 6.5% or higher",
        "metformin", "ada-2024", alternatives=["insulin"]),
    "ischemic stroke": _disease(
        "I63.9", "neurological deficit", "neurology", ["sudden right arm weakness", "facial droop", "slurred speech"],
        "right hemiparesis, expressive aphasia",
        ("imaging", "mri_brain", "restricted diffusion in the left middle cerebral artery territory",
         "no acute infarct"),
        "an acute infarct on diffusion-weighted MRI", "alteplase", "aha-asa-2019", "stroke", ["aspirin"]),
    "bacterial meningitis": _disease(
        "G00.9", "neurological deficit", "infectious_disease", ["severe headache", "fever", "neck stiffness"],
        "positive Kernig's sign, photophobia",
        ("lab", "csf_analysis", "neutrophilic pleocytosis, low glucose, high protein", "normal cell count"),
        "neutrophilic CSF with low glucose", "ceftriaxone", "idsa-meningitis-2004", alternatives=["vancomycin"]),
    "migraine": _disease(
        "G43.909", "neurological deficit", "neurology", ["unilateral throbbing headache", "photophobia",
                                                         "visual aura"],
        "normal neurological examination", None, "clinical diagnosis: recurrent typical attacks with a normal "
        "examination (no imaging needed)", "sumatriptan", "ichd-3",
        alternatives=["ibuprofen", "naproxen", "aspirin", "acetaminophen", "ondansetron"]),
    "deep vein thrombosis": _disease(
        "I82.409", "limb swelling", "hematology", ["unilateral calf swelling", "calf pain", "recent surgery"],
        "left calf 4 cm larger than right, pitting edema",
        ("imaging", "ultrasound_leg_doppler", "non-compressible left popliteal vein", "compressible veins"),
        "a non-compressible vein on duplex ultrasound", "apixaban", "chest-2012",
        alternatives=["enoxaparin", "heparin", "warfarin"]),
    "cellulitis": _disease(
        "L03.90", "limb swelling", "infectious_disease", ["spreading redness of the leg", "warmth", "fever"],
        "poorly demarcated erythema and warmth of the shin", None,
        "clinical diagnosis: spreading erythema, warmth and tenderness (no test needed)", "cephalexin",
        "idsa-ssti-2014", alternatives=["amoxicillin", "vancomycin", "trimethoprim_sulfamethoxazole", "doxycycline"]),
    "gout": _disease(
        "M10.9", "limb swelling", "rheumatology",
        ["acute painful swollen first metatarsophalangeal joint", "overnight onset", "beer intake"],
        "hot, red, exquisitely tender big-toe joint",
        ("lab", "synovial_fluid", "negatively birefringent needle-shaped urate crystals", "no crystals"),
        "urate crystals in joint fluid", "colchicine", "acr-gout-2020",
        alternatives=["ibuprofen", "naproxen", "prednisone"]),
    "upper gi bleed": _disease(
        "K92.2", "vomiting and weakness", "gastroenterology", ["coffee-ground vomiting", "melena", "NSAID use"],
        "pale, tachycardic, melena on rectal examination",
        ("imaging", "upper_endoscopy", "bleeding duodenal ulcer with a visible vessel", "normal mucosa"),
        "a bleeding lesion on upper endoscopy", "omeprazole", "acg-ugib-2021", alternatives=["pantoprazole"]),
    "sepsis": _disease(
        "A41.9", "cough and fever", "critical_care", ["fever with rigors", "confusion", "reduced urine output"],
        "warm peripheries, hypotension, tachycardia", None,
        "clinical diagnosis (Sepsis-3): suspected infection with an acute SOFA rise of 2 or more; no single test "
        "confirms it (a lactate above 2 mmol/L with vasopressors defines septic shock)", "piperacillin_tazobactam",
        "ssc-2021", "sepsis", ["ceftriaxone", "vancomycin", "levofloxacin", "ciprofloxacin", "metronidazole",
                               "lactated_ringers"]),
    "anaphylaxis": _disease(
        "T78.2XXA", "vomiting and weakness", "critical_care",
        ["generalised urticaria after a peanut snack", "throat tightness", "lightheadedness"],
        "stridor, wheeze, hypotension", None,
        "clinical diagnosis (WAO 2020 criteria); a raised serum tryptase may support it", "epinephrine",
        "wao-2020", "anaphylaxis", ["prednisone", "albuterol", "oxygen", "lactated_ringers"]),
}

# Sepsis has no confirmatory test and is not a bedside diagnosis either: the work-up (vital signs, organ
# function) makes it. The "how is it confirmed?" question is not asked of it.
NO_SINGLE_TEST = frozenset({"sepsis"})

# The first-line question each key answers, where "the usual first-line treatment" would be debatable: the
# stem names the role of the keyed drug (disease -> question).
TREATMENT_QUESTIONS = {
    "pneumothorax": "Which treatment is given to a hypoxaemic patient with a pneumothorax while drainage is "
                    "arranged?",                                            # BTS 2023
    "copd exacerbation": "Which systemic drug does GOLD recommend, for 5 days, in a COPD exacerbation?",
    "ureteric stone": "Which drug is the first-line analgesic for ureteric colic?",          # EAU 2024
    "diabetic ketoacidosis": "Which drug, started once fluid resuscitation is under way, resolves the "
                             "ketoacidosis of DKA?",                      # ADA 2024: fluids come first
    "acute cholecystitis": "Which antibiotic is a first-line choice for mild to moderate acute cholecystitis, "
                           "alongside early cholecystectomy?",           # Tokyo 2018
    "bacterial meningitis": "Which beta-lactam is the backbone of empiric therapy (given with vancomycin) for "
                            "adult community-acquired bacterial meningitis?",   # IDSA 2004
    "ischemic stroke": "Which intravenous thrombolytic does the AHA/ASA 2019 guideline recommend within 4.5 "
                       "hours of onset?",
    "pulmonary embolism": "Which anticoagulant is preferred to start in a haemodynamically stable patient with "
                          "pulmonary embolism?",                          # ESC 2019: LMWH over UFH
}


def treatment_question(disease):
    return TREATMENT_QUESTIONS.get(disease, f"Which drug is the usual first-line treatment for {disease}?")


# Imaging findings for the radiology report domain: finding -> (modality, critical, report sentence, source).
# Critical = needs direct, timely communication to the treating clinician (ACR practice parameter 2020).
RADIOLOGY_FINDINGS = {
    "pneumothorax": ("chest_xray", True, "visceral pleural line with absent peripheral lung markings",
                     "acr-communication-2020"),
    "lobar pneumonia": ("chest_xray", False, "lobar airspace consolidation with air bronchograms", "ats-idsa-2019"),
    "pleural effusion": ("chest_xray", False, "blunting of the costophrenic angle with a meniscus",
                         "acr-communication-2020"),
    "pulmonary edema": ("chest_xray", False, "bilateral perihilar opacities, Kerley B lines, cardiomegaly",
                        "aha-acc-hfsa-2022"),
    "normal study": ("chest_xray", False, "clear lungs, normal cardiomediastinal contour", "acr-communication-2020"),
    "intracranial hemorrhage": ("ct_head", True, "hyperdense intraparenchymal collection", "acr-communication-2020"),
    "acute infarct": ("ct_head", True, "loss of grey-white differentiation in a vascular territory",
                      "aha-asa-2019"),
    "subdural hematoma": ("ct_head", True, "crescentic extra-axial hyperdense collection", "acr-communication-2020"),
    "free intraperitoneal air": ("ct_abdomen", True, "free gas under the diaphragm / anterior abdomen",
                                 "acr-communication-2020"),
    "appendicitis": ("ct_abdomen", False, "dilated appendix over 6 mm with periappendiceal stranding",
                     "sis-idsa-2017"),
    "small bowel obstruction": ("ct_abdomen", False, "dilated small bowel loops with a transition point",
                                "acr-communication-2020"),
    "aortic dissection": ("ct_abdomen", True, "intimal flap separating true and false lumen",
                          "acr-communication-2020"),
}

ECG_RHYTHMS = {
    # rhythm -> (rate range bpm drawn in this bank, regular?, P waves?, source); sinus 60-100 bpm.
    "normal sinus rhythm": ((62, 98), True, True, "aha-ecg-2009"),
    "sinus tachycardia": ((104, 120), True, True, "aha-ecg-2009"),
    "sinus bradycardia": ((38, 56), True, True, "aha-ecg-2009"),
    "atrial fibrillation": ((70, 110), False, False, "aha-ecg-2009"),
}

# Lesion categories for dermoscopy-style images; suspicious if >= 2 ABCD features
# (asymmetry, border irregularity, >= 3 colours, diameter > 6 mm): Friedman et al. CA 1985.
LESION_CLASSES = ["benign nevus", "suspicious for melanoma"]

# The decision rules the generators key answers and safety constraints on: name -> (statement, source).
# taskgen reads the thresholds here, so the rule and its citation cannot drift apart.
RULES = {
    "heart_disposition": ("HEART 0-3: low risk, discharge with follow-up; 4-6: admit for observation; 7-10: early "
                          "invasive strategy", "backus-2013"),
    "af_anticoagulation": ("oral anticoagulation recommended for CHA2DS2-VASc >= 2 (men) or >= 3 (women), not for "
                           "0 (men) or 1 (women); ACC/AHA 2023 (the ESC 2024 guideline uses CHA2DS2-VA without "
                           "the sex point; tasks in between are not generated); a high HAS-BLED score calls for "
                           "correcting modifiable bleeding risks, not for withholding anticoagulation",
                           "acc-aha-af-2023"),
    "phq9_item9": ("any positive PHQ-9 item 9 (score >= 1) needs a suicide risk assessment; active ideation "
                   "with a plan needs suicide precautions and no discharge", "kroenke-2001"),
    "esi_discharge": ("an ESI level 1 or 2 patient is never discharged from triage and never under-triaged",
                      "esi-v4"),
    "audit_c_positive": ("AUDIT-C positive at >= 4 (men) or >= 3 (women)", "bush-1998"),
    "pregnancy_nsaid": ("NSAIDs are avoided from 20 weeks' gestation", "fda-nsaid-2020"),
    "pregnancy_anticoagulant": ("LMWH is the anticoagulant of choice in pregnancy; warfarin is contraindicated and "
                                "DOACs avoided", "ash-vte-2018"),
    "critical_imaging": ("new or unexpected critical imaging findings (including acute infarct) need direct "
                         "communication; a finding unchanged from a prior study already communicated does not",
                         "acr-communication-2020"),
    "sepsis_antibiotic": ("broad-spectrum antibiotic within 1 h of recognising septic shock or likely sepsis "
                          "(SSC 2021); in penicillin allergy, anaphylaxis included, a cephalosporin with a "
                          "dissimilar side chain such as ceftriaxone is acceptable without testing (AAAAI/ACAAI "
                          "2022)", "aaaai-2022"),
    "severe_preeclampsia": ("magnesium sulfate and antihypertensives (labetalol, nifedipine or hydralazine) for "
                            "severe features", "acog-pb222-2020"),
    "trimesters": ("first trimester to 13+6 weeks, second 14+0 to 27+6, third from 28+0 (the 'third trimester' "
                   "questions use weeks 28-40)", "acog-co700-2017"),
    "sepsis_definition": ("sepsis is suspected infection with an acute rise in SOFA of 2 or more; qSOFA is a bedside "
                          "prompt, not a definition", "sepsis-3"),
    "melanoma_abcd": ("two or more ABCD features: suspicious for melanoma, refer", "friedman-1985"),
}



# ---------------------------------------------------------------------------- review
def facts():
    """Every fact as (kind, subject, statement, source key): the rows a clinician signs off."""
    for name, (unit, lo, hi, clo, chi, full, src) in LABS.items():
        ref = f"reference {lo}-{hi} {unit}".strip() if lo is not None else "descriptive result"
        crit = f"; critical below {clo} / above {chi}" if clo is not None or chi is not None else ""
        yield "lab", name, f"{full}: {ref}{crit}", src
    for name, d in DISEASES.items():
        yield "icd10", name, d["icd10"], "icd10cm-2024"
        test = f"{d['confirm_test'][1]} ({d['confirm']})" if d["confirm_test"] else d["confirm"]
        yield "disease", name, (f"confirm: {test}; first-line: {d['treatment']}; also acceptable: "
                                f"{', '.join(d['alternatives']) or '-'}; specialty {d['specialty']}"), d["source"]
    for drug, x in P.DRUGS.items():
        yield "drug", drug, f"{x.cls}; for {x.use}; allergy group {x.allergy or '-'}", x.source
        yield "pregnancy", drug, P.pregnancy_summary(drug), P.PREGNANCY[drug][2]
    for a, b, sev, mech, manage, src in P.RULES:
        yield "interaction rule", f"{a} + {b}", f"{sev}: {mech}; {manage}", src
    for a, b in P.pairs():          # what the rules decide for every pair of drugs that interacts
        hit = P.interaction(a, b)
        yield "interaction", f"{a} + {b}", f"{hit.severity}: {hit.mechanism}", hit.source
    for name, p in PRESENTATIONS.items():
        ranges = "; ".join(f"{k} {v if isinstance(v, str) else f'{v[0]}-{v[1]}'}"
                           for k, v in {**p["vitals"], **p["labs"]}.items())
        beside = f"; never beside an option confirmed by {', '.join(p['mimics'])}" if p["mimics"] else ""
        yield "presentation", name, (ranges or "normal vital signs") + beside, p["source"]
    for name, question in TREATMENT_QUESTIONS.items():
        yield "first-line question", name, f"{question} -> {DISEASES[name]['treatment']}", DISEASES[name]["source"]
    for word, (vital, _, meaning, src) in FINDING_VITALS.items():
        yield "stated finding", word, f"charted as a {meaning} ({vital})", src
    lo, hi = NEWBORN_WEIGHT_KG
    yield "newborn", "weight at birth", f"{lo}-{hi} kg", "who-growth-2006"
    for name, (text, src) in PROTOCOLS.items():
        yield "protocol", name, text, src
    for name, (mod, critical, sentence, src) in RADIOLOGY_FINDINGS.items():
        yield "radiology", name, f"{mod}: {sentence}; {'critical' if critical else 'not critical'}", src
    for name, (rate, regular, p, src) in ECG_RHYTHMS.items():
        yield "ecg", name, f"rate {rate[0]}-{rate[1]}, {'regular' if regular else 'irregular'}, P waves {p}", src
    for kind, bands in S.PSYCH_BANDS.items():
        yield "bands", kind, "; ".join(f"{lo}-{hi} {label}" for lo, hi, label in bands), \
            {"phq9": "kroenke-2001", "gad7": "spitzer-2006"}[kind]
    for name, (text, src) in RULES.items():
        yield "rule", name, text, src
    for name in S.SCORE_INPUTS:
        yield "score", name, " ".join(getattr(S, name).__doc__.split())[:160], "scores.py docstring"


def review(out=sys.stdout, since=None):
    """Print every fact with its source as one markdown table; with `since` (the path of an earlier review
    table), a last column says which rows are new or changed since then, and the rows gone are listed."""
    before = {}
    if since and not os.path.isfile(since):
        raise files.DataError(f"--since {since}: no such review table (write one with `python -m clinic.knowledge "
                              "review > FILE.md`)")
    if since:
        for line in open(since, encoding="utf-8"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) >= 4 and cells[0] != "kind":
                before[(cells[0], cells[1])] = cells[2]
    out.write("| kind | subject | fact | source |" + (" since |\n|---|---|---|---|---|\n" if since else
                                                      "\n|---|---|---|---|\n"))
    n, seen = 0, set()
    for kind, subject, statement, src in facts():
        mark = ""
        if since:
            old = before.get((kind, subject))
            mark = " new |" if old is None else (" changed |" if old != statement else " |")
        out.write(f"| {kind} | {subject} | {statement} | {SOURCES.get(src, src)} |{mark}\n")
        seen.add((kind, subject))
        n += 1
    out.write(f"\n{n} facts\n")
    gone = sorted(set(before) - seen)
    if since:
        out.write(f"{len(gone)} rows of {since} are gone: " + "; ".join(f"{k} {s}" for k, s in gone) + "\n")


def main(argv):
    if argv[:1] != ["review"] or len(argv) not in (1, 3) or argv[1:2] not in ([], ["--since"]):
        raise files.UsageError("usage: python -m clinic.knowledge review [--since EARLIER_REVIEW.md]")
    review(since=argv[2] if len(argv) == 3 else None)


if __name__ == "__main__":
    files.run_cli(main)

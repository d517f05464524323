"""Drugs, their safety in pregnancy by gestational age, and an interaction model by drug class.

Three tables feed everything else (task generator, KB passages, lookup tools, safety constraints):
  DRUGS       drug -> Drug(class, tags, allergy group, indication, source). Tags name the classes and
              mechanisms the interaction rules match on (a drug's own name is always one of its tags).
  PREGNANCY   drug -> (bands, note, source): the status from each gestational week on.
  RULES       ordered interaction rules (tag, tag, severity, mechanism, management, source); the first
              rule that matches a pair decides it, so the exceptions are listed before the general rules.

Severity (what it means at the bedside):
  contraindicated  never together;
  avoid            use an alternative; together only with a specific reason and a plan (critical harm
                   if started as routine);
  monitor          may be started together with the monitoring named (guideline-recommended pairs such as
                   ACE inhibitor + spironolactone in HFrEF are here).
Pregnancy status: compatible; caution (risk-benefit, limited data or dose-dependent: no yes/no answer is
keyed on it); avoid (avoid unless no alternative); contraindicated.
Every row names a source key of knowledge.SOURCES; `python -m clinic.knowledge review` prints them all.
"""
from collections import namedtuple
from itertools import combinations

Drug = namedtuple("Drug", "cls tags allergy use source")
Interaction = namedtuple("Interaction", "severity mechanism management source")
SEVERITIES = ("contraindicated", "avoid", "monitor")
UNSAFE = ("contraindicated", "avoid")          # starting such a pair is a critical harm
PREGNANCY_STATUSES = ("compatible", "caution", "avoid", "contraindicated")
TRIMESTER_STARTS = (0, 14, 28)                 # weeks: the first trimester ends at 13+6 (ACOG CO 700, 2017)


def _d(cls, tags, use, source, allergy=None):
    return Drug(cls, frozenset(tags.split()), allergy, use, source)


DRUGS = {
    "warfarin": _d("vitamin K antagonist", "anticoagulant vka", "anticoagulation", "label-warfarin"),
    "apixaban": _d("direct oral anticoagulant", "anticoagulant doac", "anticoagulation", "label-apixaban"),
    "heparin": _d("unfractionated heparin", "anticoagulant parenteral_anticoagulant", "anticoagulation",
                  "chest-2012"),
    "enoxaparin": _d("low molecular weight heparin", "anticoagulant parenteral_anticoagulant", "anticoagulation",
                     "chest-2012"),
    "aspirin": _d("antiplatelet NSAID (irreversible COX inhibitor)", "antiplatelet", "acute coronary syndrome",
                  "acc-aha-2013", allergy="nsaid"),
    "clopidogrel": _d("P2Y12 inhibitor", "antiplatelet cyp2c19_prodrug", "acute coronary syndrome",
                      "label-clopidogrel"),
    "ibuprofen": _d("NSAID", "nsaid", "pain and inflammation", "label-nsaid", allergy="nsaid"),
    "naproxen": _d("NSAID", "nsaid", "pain and inflammation", "label-nsaid", allergy="nsaid"),
    "acetaminophen": _d("analgesic/antipyretic", "", "pain and fever", "label-acetaminophen"),
    "lisinopril": _d("ACE inhibitor", "acei raas", "hypertension", "label-lisinopril"),
    "losartan": _d("angiotensin II receptor blocker", "arb raas", "hypertension", "label-losartan"),
    "spironolactone": _d("potassium-sparing diuretic", "k_sparing", "heart failure", "aha-acc-hfsa-2022"),
    "potassium_chloride": _d("potassium supplement", "k_supplement", "hypokalemia", "label-kcl"),
    "hydrochlorothiazide": _d("thiazide diuretic", "thiazide", "hypertension", "label-hctz"),
    "furosemide": _d("loop diuretic", "loop", "fluid overload in heart failure", "aha-acc-hfsa-2022"),
    "metoprolol": _d("beta-blocker", "beta_blocker", "rate control and hypertension", "label-metoprolol"),
    "labetalol": _d("combined alpha- and beta-blocker", "beta_blocker", "hypertension in pregnancy",
                    "acog-pb203-2019"),
    "nifedipine": _d("dihydropyridine calcium channel blocker", "dhp_ccb", "hypertension", "acog-pb203-2019"),
    "amiodarone": _d("class III antiarrhythmic", "qt cyp2c9_inhibitor", "arrhythmia", "label-amiodarone"),
    "digoxin": _d("cardiac glycoside", "", "rate control", "label-digoxin"),
    "nitroglycerin": _d("nitrate", "nitrate", "angina", "label-sildenafil"),
    "sildenafil": _d("PDE5 inhibitor", "pde5", "erectile dysfunction", "label-sildenafil"),
    "simvastatin": _d("HMG-CoA reductase inhibitor (statin)", "statin", "hyperlipidemia", "label-simvastatin"),
    "atorvastatin": _d("HMG-CoA reductase inhibitor (statin)", "statin", "hyperlipidemia", "label-atorvastatin"),
    "clarithromycin": _d("macrolide antibiotic", "qt macrolide strong_cyp3a4_inhibitor", "respiratory infection",
                         "label-clarithromycin"),
    "azithromycin": _d("macrolide antibiotic", "qt macrolide", "atypical pneumonia", "ats-idsa-2019"),
    "amoxicillin": _d("aminopenicillin antibiotic", "penicillin", "community-acquired pneumonia", "ats-idsa-2019",
                      allergy="penicillin"),
    "piperacillin_tazobactam": _d("penicillin + beta-lactamase inhibitor", "penicillin", "sepsis", "ssc-2021",
                                  allergy="penicillin"),
    "ceftriaxone": _d("third-generation cephalosporin", "cephalosporin", "pyelonephritis and meningitis",
                      "idsa-meningitis-2004", allergy="cephalosporin"),
    "cephalexin": _d("first-generation cephalosporin", "cephalosporin", "cellulitis", "idsa-ssti-2014",
                     allergy="cephalosporin"),
    "doxycycline": _d("tetracycline antibiotic", "tetracycline chelated", "atypical infection", "label-doxycycline"),
    "vancomycin": _d("glycopeptide antibiotic", "", "MRSA infection", "idsa-ssti-2014"),
    "levofloxacin": _d("fluoroquinolone antibiotic", "qt fluoroquinolone chelated", "pneumonia", "ats-idsa-2019"),
    "ciprofloxacin": _d("fluoroquinolone antibiotic", "qt fluoroquinolone chelated strong_cyp1a2_inhibitor",
                        "urinary tract infection", "idsa-uti-2010"),
    "tizanidine": _d("alpha-2 agonist muscle relaxant", "cyp1a2_sensitive_substrate", "spasticity",
                     "label-tizanidine"),
    "trimethoprim_sulfamethoxazole": _d("sulfonamide antibiotic", "cyp2c9_inhibitor antifolate", "urinary tract "
                                        "infection", "idsa-uti-2010", allergy="sulfonamide"),
    "metronidazole": _d("nitroimidazole antibiotic", "cyp2c9_inhibitor", "anaerobic infection", "cdc-sti-2021"),
    "fluconazole": _d("azole antifungal", "qt cyp2c9_inhibitor", "candidiasis", "cdc-sti-2021"),
    "methotrexate": _d("antimetabolite", "antifolate", "rheumatoid arthritis", "label-methotrexate"),
    "sertraline": _d("SSRI antidepressant", "ssri serotonergic", "major depressive disorder", "label-ssri"),
    "fluoxetine": _d("SSRI antidepressant", "ssri serotonergic", "major depressive disorder", "label-ssri"),
    "phenelzine": _d("MAO inhibitor", "maoi", "refractory depression", "label-phenelzine"),
    "tramadol": _d("opioid analgesic", "serotonergic", "moderate pain", "label-tramadol"),
    "linezolid": _d("oxazolidinone antibiotic", "weak_maoi", "resistant gram-positive infection", "label-linezolid"),
    "sumatriptan": _d("triptan", "triptan serotonergic", "migraine", "ahs-2021"),
    "lithium": _d("mood stabilizer", "", "bipolar disorder", "label-lithium"),
    "valproate": _d("anticonvulsant", "", "epilepsy and bipolar disorder", "mhra-valproate-2018"),
    "isotretinoin": _d("retinoid", "retinoid", "severe acne", "label-isotretinoin"),
    "metformin": _d("biguanide", "", "type 2 diabetes", "ada-2024"),
    "insulin": _d("insulin", "", "diabetes and ketoacidosis", "ada-2024"),
    "levothyroxine": _d("thyroid hormone", "", "hypothyroidism", "ata-hypothyroid-2014"),
    "methimazole": _d("thionamide", "thionamide", "hyperthyroidism", "ata-2016"),
    "propylthiouracil": _d("thionamide", "thionamide", "hyperthyroidism in the first trimester", "ata-pregnancy-2017"),
    "ferrous_sulfate": _d("oral iron", "iron", "iron deficiency anemia", "bsg-iron-2021"),
    "omeprazole": _d("proton pump inhibitor", "ppi cyp2c19_inhibitor", "upper GI bleeding and reflux", "acg-ugib-2021"),
    "pantoprazole": _d("proton pump inhibitor", "ppi", "upper GI bleeding and reflux", "acg-ugib-2021"),
    "prednisone": _d("corticosteroid", "", "COPD and asthma exacerbation", "gold-2024"),
    "albuterol": _d("short-acting beta agonist", "", "bronchospasm", "gina-2024"),
    "colchicine": _d("antimitotic anti-inflammatory", "", "acute gout", "acr-gout-2020"),
    "allopurinol": _d("xanthine oxidase inhibitor", "xanthine_oxidase_inhibitor", "gout prophylaxis",
                      "acr-gout-2020"),
    "azathioprine": _d("purine antimetabolite immunosuppressant", "thiopurine", "autoimmune disease",
                       "label-azathioprine"),
    "epinephrine": _d("adrenergic agonist", "", "anaphylaxis", "wao-2020"),
    "magnesium_sulfate": _d("anticonvulsant (magnesium)", "", "eclampsia prophylaxis", "acog-pb222-2020"),
    "oxytocin": _d("uterotonic", "", "labor induction", "acog-pb107-2009"),
    "tamsulosin": _d("alpha-1 blocker", "", "ureteric stone expulsion", "aua-stones-2016"),
    "alteplase": _d("thrombolytic", "thrombolytic", "acute ischemic stroke", "aha-asa-2019"),
    "oxygen": _d("medical gas", "", "hypoxemia", "bts-oxygen-2017"),
    "ondansetron": _d("5-HT3 antagonist", "qt", "nausea", "label-ondansetron"),
    "haloperidol": _d("typical antipsychotic", "qt antipsychotic", "agitation and delirium", "crediblemeds-2024"),
    "lactated_ringers": _d("isotonic crystalloid", "", "fluid resuscitation", "acg-pancreatitis-2024"),
}
for _name, _drug in DRUGS.items():              # a drug's own name is one of its tags (pair-specific rules)
    DRUGS[_name] = _drug._replace(tags=_drug.tags | {_name})

# Given once, in hospital, for an acute event: never on a patient's list of current medications.
ACUTE_ONLY = frozenset({"alteplase", "epinephrine", "magnesium_sulfate", "oxytocin", "oxygen", "lactated_ringers"})
REGULAR = [d for d in sorted(DRUGS) if d not in ACUTE_ONLY]      # what a current medication list may hold

# ------------------------------------------------------------------------------------------------ pregnancy
# bands: [(first week, status), ...] from week 0 on, ascending.
PREGNANCY = {
    "warfarin": ([(0, "contraindicated")], "embryopathy and fetal haemorrhage; switch to LMWH", "acog-pb196-2018"),
    "apixaban": ([(0, "avoid")], "DOACs are avoided in pregnancy; LMWH is the anticoagulant of choice", "ash-vte-2018"),
    "heparin": ([(0, "compatible")], "does not cross the placenta", "acog-pb196-2018"),
    "enoxaparin": ([(0, "compatible")], "LMWH is the anticoagulant of choice in pregnancy", "ash-vte-2018"),
    "aspirin": ([(0, "caution")], "dose-dependent: low dose (81 mg) is recommended for pre-eclampsia prophylaxis; "
                "analgesic doses are avoided from 20 weeks", "uspstf-aspirin-2021"),
    "clopidogrel": ([(0, "caution")], "limited human data; use only if clearly needed", "label-clopidogrel"),
    "ibuprofen": ([(0, "caution"), (20, "avoid")], "from 20 weeks: fetal renal dysfunction and oligohydramnios; "
                  "premature ductus closure from 30 weeks", "fda-nsaid-2020"),
    "naproxen": ([(0, "caution"), (20, "avoid")], "from 20 weeks: fetal renal dysfunction and oligohydramnios; "
                 "premature ductus closure from 30 weeks", "fda-nsaid-2020"),
    "acetaminophen": ([(0, "compatible")], "analgesic and antipyretic of choice in pregnancy", "smfm-2021"),
    "lisinopril": ([(0, "avoid"), (14, "contraindicated")], "fetotoxic in the second and third trimesters (boxed "
                   "warning); stop as soon as pregnancy is detected", "label-lisinopril"),
    "losartan": ([(0, "avoid"), (14, "contraindicated")], "fetotoxic in the second and third trimesters (boxed "
                 "warning); stop as soon as pregnancy is detected", "label-losartan"),
    "spironolactone": ([(0, "avoid")], "anti-androgenic effects on the male fetus", "esc-pregnancy-2018"),
    "potassium_chloride": ([(0, "compatible")], "replaces a physiological ion", "label-kcl"),
    "hydrochlorothiazide": ([(0, "caution")], "may be continued in chronic hypertension; not used for "
                            "pre-eclampsia (reduces plasma volume)", "esc-pregnancy-2018"),
    "furosemide": ([(0, "caution")], "only for pulmonary oedema or heart failure", "esc-pregnancy-2018"),
    "metoprolol": ([(0, "compatible")], "preferred beta-blocker when one is needed; watch fetal growth",
                   "esc-pregnancy-2018"),
    "labetalol": ([(0, "compatible")], "first-line antihypertensive in pregnancy", "acog-pb203-2019"),
    "nifedipine": ([(0, "compatible")], "first-line antihypertensive in pregnancy", "acog-pb203-2019"),
    "amiodarone": ([(0, "avoid")], "fetal thyroid dysfunction; only when other treatments fail",
                   "esc-pregnancy-2018"),
    "digoxin": ([(0, "compatible")], "used for maternal and fetal arrhythmias", "esc-pregnancy-2018"),
    "nitroglycerin": ([(0, "caution")], "used for acute hypertension or uterine relaxation under supervision",
                      "label-nitroglycerin"),
    "sildenafil": ([(0, "caution")], "no obstetric indication; limited data", "label-sildenafil"),
    "simvastatin": ([(0, "avoid")], "FDA removed the pregnancy contraindication in July 2021; most patients "
                    "should still stop statins in pregnancy", "fda-statin-2021"),
    "atorvastatin": ([(0, "avoid")], "FDA removed the pregnancy contraindication in July 2021; most patients "
                     "should still stop statins in pregnancy", "fda-statin-2021"),
    "clarithromycin": ([(0, "avoid")], "not recommended in pregnancy unless no alternative", "label-clarithromycin"),
    "azithromycin": ([(0, "compatible")], "recommended for chlamydia in pregnancy", "cdc-sti-2021"),
    "amoxicillin": ([(0, "compatible")], "penicillins are compatible with pregnancy", "cdc-sti-2021"),
    "piperacillin_tazobactam": ([(0, "compatible")], "penicillins are compatible with pregnancy", "cdc-sti-2021"),
    "ceftriaxone": ([(0, "compatible")], "cephalosporins are compatible with pregnancy", "cdc-sti-2021"),
    "cephalexin": ([(0, "compatible")], "cephalosporins are compatible with pregnancy", "cdc-sti-2021"),
    "doxycycline": ([(0, "avoid"), (14, "contraindicated")], "tooth discolouration and bone effects; "
                    "contraindicated in the second and third trimesters", "cdc-sti-2021"),
    "vancomycin": ([(0, "compatible")], "used for GBS prophylaxis in severe penicillin allergy", "acog-co797-2020"),
    "levofloxacin": ([(0, "avoid")], "fluoroquinolones are avoided when alternatives exist", "cdc-sti-2021"),
    "ciprofloxacin": ([(0, "avoid")], "fluoroquinolones are avoided when alternatives exist", "cdc-sti-2021"),
    "tizanidine": ([(0, "caution")], "limited data", "label-tizanidine"),
    "trimethoprim_sulfamethoxazole": ([(0, "avoid"), (14, "caution"), (32, "avoid")], "first trimester: folate "
                                      "antagonism; near term: kernicterus", "acog-co717-2017"),
    "metronidazole": ([(0, "compatible")], "recommended for trichomoniasis and BV in pregnancy", "cdc-sti-2021"),
    "fluconazole": ([(0, "avoid")], "oral azoles avoided; only topical azoles for vulvovaginal candidiasis",
                    "cdc-sti-2021"),
    "methotrexate": ([(0, "contraindicated")], "abortifacient and teratogen", "label-methotrexate"),
    "sertraline": ([(0, "compatible")], "SSRIs may be started or continued in pregnancy", "acog-cpg5-2023"),
    "fluoxetine": ([(0, "compatible")], "SSRIs may be started or continued in pregnancy", "acog-cpg5-2023"),
    "phenelzine": ([(0, "avoid")], "MAO inhibitors are avoided: hypertensive crises, limited data",
                   "acog-cpg5-2023"),
    "tramadol": ([(0, "caution")], "opioids only when needed: neonatal withdrawal", "label-tramadol"),
    "linezolid": ([(0, "caution")], "limited data", "label-linezolid"),
    "sumatriptan": ([(0, "caution")], "registry data reassuring; use when needed", "ahs-2021"),
    "lithium": ([(0, "caution")], "not contraindicated: risk-benefit decision, often continued with level "
                "monitoring (small Ebstein anomaly risk)", "acog-cpg5-2023"),
    "valproate": ([(0, "contraindicated")], "must not be used in pregnancy for bipolar disorder or migraine "
                  "(neural tube defects, neurodevelopmental harm); in epilepsy only when nothing else works",
                  "mhra-valproate-2018"),
    "isotretinoin": ([(0, "contraindicated")], "potent teratogen (iPLEDGE)", "label-isotretinoin"),
    "metformin": ([(0, "caution")], "crosses the placenta; insulin is preferred for diabetes in pregnancy",
                  "ada-2024"),
    "insulin": ([(0, "compatible")], "preferred glucose-lowering agent in pregnancy", "ada-2024"),
    "levothyroxine": ([(0, "compatible")], "dose usually increases in pregnancy", "ata-pregnancy-2017"),
    "methimazole": ([(0, "avoid"), (16, "compatible")], "embryopathy in the first trimester: use PTU until 16 "
                    "weeks, methimazole after", "ata-pregnancy-2017"),
    "propylthiouracil": ([(0, "compatible"), (16, "caution")], "preferred until 16 weeks; hepatotoxicity makes "
                         "methimazole preferred after", "ata-pregnancy-2017"),
    "ferrous_sulfate": ([(0, "compatible")], "treats iron deficiency in pregnancy", "bsg-iron-2021"),
    "omeprazole": ([(0, "compatible")], "PPIs are compatible with pregnancy", "acg-gerd-2022"),
    "pantoprazole": ([(0, "compatible")], "PPIs are compatible with pregnancy", "acg-gerd-2022"),
    "prednisone": ([(0, "compatible")], "oral corticosteroids are used for severe asthma in pregnancy", "gina-2024"),
    "albuterol": ([(0, "compatible")], "continue asthma treatment in pregnancy", "gina-2024"),
    "colchicine": ([(0, "caution")], "limited data outside familial Mediterranean fever", "acr-gout-2020"),
    "allopurinol": ([(0, "caution")], "limited data", "acr-gout-2020"),
    "azathioprine": ([(0, "compatible")], "compatible with pregnancy", "acr-reproductive-2020"),
    "epinephrine": ([(0, "compatible")], "first-line for anaphylaxis in pregnancy", "wao-2020"),
    "magnesium_sulfate": ([(0, "compatible")], "seizure prophylaxis in severe pre-eclampsia", "acog-pb222-2020"),
    "oxytocin": ([(0, "caution")], "for induction or augmentation of labour only", "acog-pb107-2009"),
    "tamsulosin": ([(0, "caution")], "off-label for ureteric stones in pregnancy", "aua-stones-2016"),
    "alteplase": ([(0, "caution")], "pregnancy is a relative contraindication; may be considered in severe "
                  "stroke", "aha-asa-2019"),
    "oxygen": ([(0, "compatible")], "treat hypoxaemia", "bts-oxygen-2017"),
    "ondansetron": ([(0, "caution"), (14, "compatible")], "small oral-cleft signal in the first trimester; "
                    "second-line antiemetic", "acog-pb189-2018"),
    "haloperidol": ([(0, "caution")], "limited data", "label-haloperidol"),
    "lactated_ringers": ([(0, "compatible")], "isotonic crystalloid", "acg-pancreatitis-2024"),
}


def pregnancy_status(drug, weeks):
    """(status, note, source) of a drug at a gestational age in completed weeks."""
    bands, note, source = PREGNANCY[drug]
    status = [s for start, s in bands if weeks >= start][-1]
    return status, note, source


def pregnancy_summary(drug):
    """One line for every band, e.g. 'weeks 0-19: caution; from week 20: avoid (...)'."""
    bands, note, _ = PREGNANCY[drug]
    if len(bands) == 1:
        return f"{bands[0][1]} throughout pregnancy ({note})"
    parts = [f"weeks {a}-{b - 1}: {s}" for (a, s), (b, _) in zip(bands, bands[1:])]
    return "; ".join(parts + [f"from week {bands[-1][0]}: {bands[-1][1]}"]) + f" ({note})"


def statuses_between(drug, first_week, last_week):
    """The set of statuses a drug has anywhere in [first_week, last_week]."""
    return {pregnancy_status(drug, w)[0] for w in range(first_week, last_week + 1)}


def unsafe_in_pregnancy(weeks):
    """Drugs to avoid or contraindicated at this gestational age."""
    return sorted(d for d in DRUGS if pregnancy_status(d, weeks)[0] in ("avoid", "contraindicated"))


# ------------------------------------------------------------------------------------------------ interactions
# Therapeutic duplication: two drugs sharing one of these tags are one class given twice (avoid: use one).
# tag -> (what the second drug adds, source). Same-class pairs are caught here before any looser rule.
DUPLICATES = {
    "anticoagulant": ("duplicate anticoagulation: bleeding", "label-apixaban"),
    "nsaid": ("two NSAIDs: additive GI bleeding and kidney injury, no added analgesia", "label-nsaid"),
    "ssri": ("two SSRIs: serotonin syndrome", "label-ssri"),
    "statin": ("two statins: myopathy, no added lipid lowering", "label-atorvastatin"),
    "macrolide": ("two macrolides: additive QT prolongation, no added cover", "crediblemeds-2024"),
    "fluoroquinolone": ("two fluoroquinolones: additive QT prolongation, tendon and CNS toxicity",
                        "crediblemeds-2024"),
    "penicillin": ("two penicillins: no added cover", "ats-idsa-2019"),
    "cephalosporin": ("two cephalosporins: no added cover", "idsa-ssti-2014"),
    "ppi": ("two proton pump inhibitors: no added acid suppression", "acg-gerd-2022"),
    "thionamide": ("two thionamides: additive agranulocytosis and hepatotoxicity", "ata-2016"),
    "beta_blocker": ("two beta-blockers: bradycardia, heart block and hypotension", "label-metoprolol"),
}

RULES = [
    # exceptions first: the first matching rule decides a pair
    ("parenteral_anticoagulant", "vka", "monitor", "planned overlap while warfarin takes effect",
     "continue heparin for at least 5 days and until the INR is 2 or more for 24 h, then stop it", "chest-2012"),
    ("parenteral_anticoagulant", "antiplatelet", "monitor", "additive bleeding risk",
     "standard in acute coronary syndrome (heparin or enoxaparin with aspirin and a P2Y12 inhibitor): watch "
     "for bleeding and check the platelet count", "acc-aha-2013"),
    ("warfarin", "amiodarone", "monitor", "CYP2C9 inhibition raises the INR",
     "reduce the warfarin dose by 30-50% and check the INR weekly", "label-amiodarone"),
    ("amiodarone", "digoxin", "monitor", "P-glycoprotein inhibition raises digoxin levels",
     "halve the digoxin dose and check the level", "label-amiodarone"),
    ("amiodarone", "simvastatin", "monitor", "myopathy", "limit simvastatin to 20 mg daily", "label-simvastatin"),
    ("amiodarone", "qt", "avoid", "additive QT prolongation: torsades de pointes",
     "choose a drug that does not prolong the QT", "label-amiodarone"),
    # one class twice
    *[(tag, tag, "avoid", f"therapeutic duplication, {harm}", "use one of them", source)
      for tag, (harm, source) in DUPLICATES.items()],
    # contraindicated
    ("maoi", "serotonergic", "contraindicated", "serotonin syndrome and hypertensive crisis",
     "do not combine; allow a 14-day washout (5 weeks after fluoxetine)", "label-phenelzine"),
    ("maoi", "weak_maoi", "contraindicated", "additive MAO inhibition: hypertensive crisis",
     "do not combine", "label-linezolid"),
    ("pde5", "nitrate", "contraindicated", "profound hypotension", "do not combine within 24 h", "label-sildenafil"),
    ("strong_cyp1a2_inhibitor", "cyp1a2_sensitive_substrate", "contraindicated",
     "CYP1A2 inhibition: hypotension and sedation", "do not combine", "label-tizanidine"),
    ("strong_cyp3a4_inhibitor", "simvastatin", "contraindicated", "CYP3A4 inhibition: rhabdomyolysis",
     "stop simvastatin during the course", "label-simvastatin"),
    # avoid
    ("anticoagulant", "antiplatelet", "avoid", "additive bleeding risk",
     "combine only for a specific indication such as a recent coronary stent, for the shortest time",
     "acc-aha-af-2023"),
    ("anticoagulant", "nsaid", "avoid", "bleeding (platelet inhibition and GI erosion)",
     "use acetaminophen for pain", "label-warfarin"),
    ("anticoagulant", "thrombolytic", "avoid", "haemorrhage",
     "thrombolysis is contraindicated with an INR above 1.7 or a DOAC dose within 48 h", "aha-asa-2019"),
    ("vka", "cyp2c9_inhibitor", "avoid", "CYP2C9 inhibition raises the INR: bleeding",
     "choose another antimicrobial, or reduce the warfarin dose and check the INR within 3-5 days",
     "label-warfarin"),
    ("weak_maoi", "serotonergic", "avoid", "serotonin syndrome",
     "stop the serotonergic drug first, or observe closely for serotonin syndrome", "fda-linezolid-2011"),
    ("ssri", "tramadol", "avoid", "serotonin syndrome and seizures; fluoxetine also blocks tramadol activation",
     "choose another analgesic", "label-tramadol"),
    ("acei", "arb", "avoid", "dual RAAS blockade: hyperkalaemia and acute kidney injury without benefit",
     "use one of them", "ontarget-2008"),
    ("k_sparing", "k_supplement", "avoid", "hyperkalaemia", "do not add potassium to spironolactone",
     "label-spironolactone"),
    ("trimethoprim_sulfamethoxazole", "k_sparing", "avoid", "hyperkalaemia (trimethoprim blocks ENaC); "
     "sudden death in older adults", "choose another antibiotic", "antoniou-2015"),
    ("lithium", "nsaid", "avoid", "reduced renal lithium clearance: toxicity",
     "use acetaminophen; if unavoidable, check lithium levels within 5-7 days", "label-lithium"),
    ("lithium", "thiazide", "avoid", "thiazides cut renal lithium clearance by about a quarter: toxicity",
     "use an alternative; if unavoidable, reduce the lithium dose and check levels within 5-7 days",
     "label-lithium"),
    ("strong_cyp3a4_inhibitor", "colchicine", "avoid", "CYP3A4 and P-gp inhibition: fatal colchicine toxicity",
     "choose another antibiotic or reduce the colchicine dose; never with renal or hepatic impairment",
     "label-colchicine"),
    ("strong_cyp3a4_inhibitor", "dhp_ccb", "avoid", "CYP3A4 inhibition raises nifedipine levels: hypotension "
     "and acute kidney injury in older adults", "prefer azithromycin", "gandhi-2013"),
    ("strong_cyp3a4_inhibitor", "tamsulosin", "avoid", "CYP3A4 inhibition raises tamsulosin levels: hypotension",
     "do not combine with a strong CYP3A4 inhibitor", "label-tamsulosin"),
    ("methotrexate", "trimethoprim_sulfamethoxazole", "avoid", "additive antifolate marrow suppression",
     "choose another antibiotic", "label-methotrexate"),
    ("xanthine_oxidase_inhibitor", "thiopurine", "avoid", "xanthine oxidase inhibition: azathioprine toxicity",
     "avoid, or reduce azathioprine to a quarter with blood-count monitoring", "label-azathioprine"),
    ("cyp2c19_prodrug", "cyp2c19_inhibitor", "avoid", "CYP2C19 inhibition reduces clopidogrel activation",
     "use pantoprazole instead", "label-clopidogrel"),
    ("retinoid", "tetracycline", "avoid", "intracranial hypertension (pseudotumor cerebri)",
     "do not combine", "label-isotretinoin"),
    # monitor
    ("strong_cyp3a4_inhibitor", "atorvastatin", "monitor", "CYP3A4 inhibition: myopathy",
     "limit atorvastatin to 20 mg daily during the course", "label-atorvastatin"),
    ("raas", "k_sparing", "monitor", "hyperkalaemia",
     "recommended together in HFrEF: check potassium and creatinine within 1 week", "aha-acc-hfsa-2022"),
    ("raas", "k_supplement", "monitor", "hyperkalaemia", "check potassium", "label-lisinopril"),
    ("raas", "nsaid", "monitor", "reduced antihypertensive effect and renal function",
     "check creatinine; avoid adding a diuretic as well", "label-lisinopril"),
    ("lithium", "raas", "monitor", "reduced renal lithium clearance",
     "check the lithium level within 5-7 days and reduce the dose if it rises", "nice-cg185-2023"),
    ("lithium", "metronidazole", "monitor", "raised lithium levels: toxicity",
     "check the lithium level and creatinine within a week", "label-lithium"),
    ("lithium", "antipsychotic", "monitor", "neurotoxicity (an encephalopathic syndrome) with haloperidol",
     "watch for neurological toxicity; check the lithium level", "label-lithium"),
    ("k_sparing", "nsaid", "monitor", "hyperkalaemia and a weaker diuretic effect",
     "check potassium and creatinine within 1 week", "label-spironolactone"),
    ("trimethoprim_sulfamethoxazole", "raas", "monitor", "hyperkalaemia", "check potassium within 3 days",
     "antoniou-2015"),
    ("vka", "fluoroquinolone", "monitor", "the INR rises during the course: bleeding",
     "check the INR within 3-5 days of starting and of stopping", "label-warfarin"),
    ("vka", "clarithromycin", "monitor", "CYP3A4 inhibition raises the INR: bleeding",
     "check the INR within 3-5 days of starting and of stopping", "label-warfarin"),
    ("vka", "amoxicillin", "monitor", "the INR can rise during a course of amoxicillin",
     "check the INR", "label-amoxicillin"),
    ("vka", "acetaminophen", "monitor", "regular acetaminophen above 2 g a day raises the INR",
     "check the INR when it is taken regularly", "label-warfarin"),
    ("vka", "levothyroxine", "monitor", "thyroid hormone increases the warfarin effect",
     "check the INR when the levothyroxine dose changes", "label-levothyroxine"),
    ("vka", "ppi", "monitor", "raised INR reported", "check the INR", "label-omeprazole"),
    ("digoxin", "clarithromycin", "monitor", "P-glycoprotein inhibition raises digoxin levels: toxicity",
     "check the digoxin level and reduce the dose", "label-digoxin"),
    ("iron", "levothyroxine", "monitor", "iron binds levothyroxine in the gut: less is absorbed",
     "take levothyroxine at least 4 hours apart from iron; check the TSH", "ata-hypothyroid-2014"),
    ("iron", "chelated", "monitor", "chelation with iron: the antibiotic is poorly absorbed",
     "take the antibiotic 2 hours before or 4-6 hours after iron", "label-doxycycline"),
    ("ppi", "iron", "monitor", "less gastric acid: less oral iron absorbed", "check the haemoglobin response",
     "bsg-iron-2021"),
    ("ppi", "levothyroxine", "monitor", "less gastric acid: less levothyroxine absorbed",
     "check the TSH 6-8 weeks after starting", "label-levothyroxine"),
    ("ppi", "methotrexate", "monitor", "PPIs can raise methotrexate levels (at high doses)",
     "consider pausing the PPI around high-dose methotrexate", "label-methotrexate"),
    ("methotrexate", "penicillin", "monitor", "penicillins reduce methotrexate clearance",
     "check blood counts and creatinine", "label-methotrexate"),
    ("allopurinol", "amoxicillin", "monitor", "more skin rashes with the combination", "watch for rash",
     "label-amoxicillin"),
    ("cephalexin", "metformin", "monitor", "cephalexin raises metformin levels", "watch glucose and adjust "
     "metformin", "label-cephalexin"),
    ("tamsulosin", "pde5", "monitor", "additive hypotension", "start the PDE5 inhibitor at its lowest dose",
     "label-tamsulosin"),
    ("qt", "qt", "monitor", "additive QT prolongation", "ECG for the QTc; keep potassium and magnesium normal",
     "crediblemeds-2024"),
    ("antiplatelet", "antiplatelet", "monitor", "bleeding on dual antiplatelet therapy",
     "recommended after ACS or PCI; add a PPI when GI risk is high", "acc-aha-dapt-2016"),
    ("aspirin", "nsaid", "monitor", "GI bleeding; ibuprofen can blunt low-dose aspirin's antiplatelet effect",
     "take aspirin 30 minutes before ibuprofen; consider a PPI", "fda-ibuprofen-aspirin-2006"),
    ("antiplatelet", "nsaid", "monitor", "additive GI bleeding", "prefer acetaminophen; consider a PPI",
     "acc-aha-dapt-2016"),
    ("methotrexate", "nsaid", "monitor", "reduced methotrexate clearance",
     "with low-dose methotrexate: check blood counts and creatinine", "label-methotrexate"),
    ("ssri", "anticoagulant", "monitor", "bleeding (platelet serotonin depletion)", "watch for bleeding",
     "label-ssri"),
    ("ssri", "antiplatelet", "monitor", "bleeding (platelet serotonin depletion)", "consider a PPI",
     "label-ssri"),
    ("ssri", "nsaid", "monitor", "GI bleeding (platelet serotonin depletion)", "consider a PPI", "label-ssri"),
    ("serotonergic", "serotonergic", "monitor", "serotonin syndrome (rare)",
     "counsel on symptoms of serotonin syndrome", "orlova-2018"),
]

# Drugs whose label interaction sections were read against every drug of the table, with each interaction
# found written as a rule above: for these, "no rule" is a checked "no interaction". Only they are offered as
# a quiet option ("which medication interacts?") or a quiet filler of a regimen.
REVIEWED = frozenset({"amoxicillin", "cephalexin", "pantoprazole", "metformin", "levothyroxine", "acetaminophen",
                      "tamsulosin"})


def _matches(rule, a, b):
    ta, tb = DRUGS[a].tags, DRUGS[b].tags
    return (rule[0] in ta and rule[1] in tb) or (rule[0] in tb and rule[1] in ta)


def interaction(a, b):
    """Interaction(severity, mechanism, management, source) of two different drugs, or None."""
    if a == b:
        return None
    for rule in RULES:
        if _matches(rule, a, b):
            return Interaction(*rule[2:])
    return None


def pairs(severities=SEVERITIES):
    """Every unordered drug pair (sorted) whose interaction has one of these severities."""
    return [(a, b) for a, b in combinations(sorted(DRUGS), 2)
            if (hit := interaction(a, b)) and hit.severity in severities]


def checked_quiet(a, b):
    """True when the model has positively checked that a and b do not interact (one of them REVIEWED)."""
    return a != b and bool({a, b} & REVIEWED) and interaction(a, b) is None


def quiet_drugs(new, exclude=()):
    """Regular drugs checked as not interacting with `new` (safe distractors and regimen fillers)."""
    return [d for d in REGULAR if d not in exclude and checked_quiet(d, new)]


def distinct_classes(cls):
    """Drug classes that are not this class in other words (word subsets: 'NSAID' within 'antiplatelet NSAID')."""
    words = set(cls.lower().split())
    return sorted({x.cls for x in DRUGS.values()
                   if not (set(x.cls.lower().split()) <= words or words <= set(x.cls.lower().split()))})


def partners(drug):
    """{other drug: Interaction} for every drug this one interacts with."""
    return {o: hit for o in sorted(DRUGS) if (hit := interaction(drug, o))}

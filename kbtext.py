"""The embedded knowledge base: passages written from knowledge.py and scores.py.

write_kb(path) writes one JSONL line per passage, {"id","title","text","source"},
the same format `python kb.py build` indexes for public corpora. The passages
cover every disease, drug, interaction, score, protocol, lab, imaging finding,
rhythm and questionnaire band the tasks use, so that searching can help.
"""
import json

import knowledge as K
import scores as S


def _h(name):
    return name.replace("_", " ")


def passages():
    """Yield (title, text, source) for the whole embedded corpus."""
    for name, d in K.DISEASES.items():
        kind, test, abnormal, _ = d["key_test"]
        yield (f"{name}: clinical presentation",
               f"{name.capitalize()} typically presents with {', '.join(d['symptoms'])}. "
               f"Examination: {d['exam']}. It is grouped under {d['group']} presentations.", "disease")
        yield (f"{name}: diagnosis",
               f"The diagnosis of {name} is confirmed by {d['confirm']}. The key investigation is "
               f"{_h(test)} ({kind}); a typical positive result is: {abnormal}.", "disease")
        yield (f"{name}: management",
               f"First-line treatment for {name} is {_h(d['treatment'])}. Refer to {_h(d['specialty'])}."
               + (f" Activate the {_h(d['protocol'])} protocol." if d["protocol"] else ""), "disease")
        yield (f"{name}: ICD-10-CM", f"The ICD-10-CM code for {name} is {d['icd10']}.", "icd10")
    for drug, (cls, group, preg, use) in K.DRUGS.items():
        text = f"{_h(drug).capitalize()} is a {cls} used for {use}."
        if group:
            text += f" It belongs to the {group} allergy group: avoid in patients with a {group} allergy."
        text += (" It is contraindicated in pregnancy." if preg else " It is not contraindicated in pregnancy.")
        partners = [(b if a == drug else a, sev, mech) for (a, b), (sev, mech) in K.INTERACTIONS.items()
                    if drug in (a, b)]
        if partners:
            text += " Interactions: " + "; ".join(f"{_h(p)} ({sev}: {mech})" for p, sev, mech in partners) + "."
        yield (f"{_h(drug)}: drug monograph", text, "drug")
    for (a, b), (sev, mech) in K.INTERACTIONS.items():
        yield (f"interaction: {_h(a)} and {_h(b)}",
               f"Combining {_h(a)} with {_h(b)} is a {sev} interaction: {mech}. "
               + ("Do not co-prescribe." if sev == "contraindicated" else "Avoid or monitor closely."), "interaction")
    for name, inputs in S.SCORE_INPUTS.items():
        doc = " ".join(getattr(S, name).__doc__.split())
        yield (f"{_h(name)} score", f"{doc} Inputs: {', '.join(_h(i) for i in inputs)}.", "score")
    for name, text in K.PROTOCOLS.items():
        yield (f"{_h(name)} protocol", text, "protocol")
    for name, (unit, lo, hi, clo, chi, full) in K.LABS.items():
        if lo is None:
            continue
        text = f"The adult reference interval for {full} ({_h(name)}) is {lo}-{hi} {unit}."
        if clo is not None or chi is not None:
            text += " Critical values: " + ", ".join(x for x in [f"below {clo}" if clo is not None else "",
                                                                 f"above {chi}" if chi is not None else ""] if x)
            text += f" {unit}; notify the responsible clinician immediately."
        yield (f"{_h(name)} reference range", text, "lab")
    for name, (mod, critical, sentence) in K.RADIOLOGY_FINDINGS.items():
        yield (f"{name} on {_h(mod)}",
               f"On {_h(mod)}, {name} appears as {sentence}."
               + (" This is a critical finding that must be communicated urgently." if critical else ""), "radiology")
    for rhythm, ((lo, hi), regular, p) in K.ECG_RHYTHMS.items():
        yield (f"ECG: {rhythm}",
               f"{rhythm.capitalize()}: ventricular rate about {lo}-{hi} bpm in this bank, "
               f"{'regular' if regular else 'irregularly irregular'} R-R intervals, "
               f"{'a P wave before every QRS' if p else 'no discernible P waves (fibrillatory baseline)'}. "
               "Sinus rhythm is 60-100 bpm, sinus tachycardia above 100, sinus bradycardia below 60.", "ecg")
    yield ("ABCD rule for pigmented lesions",
           "The ABCD rule (Friedman et al. 1985): Asymmetry, Border irregularity, Colour variegation (three or more "
           "colours) and Diameter over 6 mm. A lesion meeting two or more criteria is suspicious for melanoma and "
           "needs dermatology referral; otherwise it is most likely a benign nevus.", "dermatology")
    for kind, bands in K.PSYCH_BANDS.items():
        yield (f"{kind.upper()} severity bands",
               f"{kind.upper()} severity: " + "; ".join(f"{lo}-{hi} {label}" for lo, hi, label in bands) + ".",
               "psychiatry")
    yield ("AUDIT-C screening threshold", "An AUDIT-C total of 4 or more in men, or 3 or more in women, is a positive "
           "screen for hazardous drinking (Bush et al. 1998).", "psychiatry")
    yield ("Suicide risk escalation", "A patient with active suicidal ideation and a plan needs suicide precautions, "
           "continuous observation and urgent psychiatric evaluation. PHQ-9 item 9 positive requires a risk "
           "assessment.", "psychiatry")
    yield ("Anticoagulation in atrial fibrillation", "ESC 2020: oral anticoagulation is recommended for "
           "CHA2DS2-VASc of 2 or more in men and 3 or more in women, and not for 0 (men) or 1 (women). A high "
           "HAS-BLED score calls for addressing modifiable bleeding risks, not for withholding anticoagulation.",
           "guideline")
    yield ("HEART score disposition", "HEART 0-3: low risk, discharge with follow-up; 4-6: admit for observation; "
           "7-10: early invasive strategy (Backus et al. 2013).", "guideline")


def write_kb(path):
    with open(path, "w") as f:
        for i, (title, text, source) in enumerate(passages()):
            f.write(json.dumps({"id": f"kb-{i:05d}", "title": title, "text": text, "source": source}) + "\n")

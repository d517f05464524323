"""The embedded knowledge base: passages written from knowledge.py and scores.py.

write_kb(path) writes one JSONL line per passage, {"id","title","text","source"},
the same format `python kb.py build` indexes for public corpora. The passages
cover every disease, drug, interaction, score, protocol, lab, imaging finding,
rhythm and questionnaire band the tasks use, so that searching can help.
"""
import json

from clinic import knowledge as K
from clinic import pharmacology as P
from clinic import scores as S


SEVERITY_TEXT = {"contraindicated": "contraindicated, never give together",
                 "avoid": "avoid the combination, use an alternative",
                 "monitor": "may be given together with monitoring"}


def _h(name):
    return name.replace("_", " ")


def passages():
    """Yield (title, text, source) for the whole embedded corpus."""
    for name, d in K.DISEASES.items():
        src = K.SOURCES[d["source"]]
        yield (f"{name}: clinical presentation",
               f"{name.capitalize()} typically presents with {', '.join(d['symptoms'])}. "
               f"Examination: {d['exam']}. It is grouped under {d['group']} presentations.", "disease")
        if d["confirm_test"]:
            kind, test, abnormal, _ = d["confirm_test"]
            how = (f"The confirmatory investigation is {_h(test)} ({kind}); a typical positive result is: "
                   f"{abnormal}.")
        elif name in K.NO_SINGLE_TEST:
            how = "No single test confirms it: the vital signs and organ-function results make the diagnosis."
        else:
            how = "No test is needed to make the diagnosis."
        yield (f"{name}: diagnosis", f"The diagnosis of {name} rests on {d['confirm']}. {how} Source: {src}.",
               "disease")
        role = f" ({K.treatment_question(name)} {_h(d['treatment'])}.)" if name in K.TREATMENT_QUESTIONS else ""
        also = f" Also acceptable: {', '.join(_h(x) for x in d['alternatives'])}." if d["alternatives"] else ""
        yield (f"{name}: management",
               f"First-line treatment for {name} is {_h(d['treatment'])}.{role}{also} Refer to {_h(d['specialty'])}."
               + (f" Activate the {_h(d['protocol'])} protocol." if d["protocol"] else "") + f" Source: {src}.",
               "disease")
        yield (f"{name}: ICD-10-CM", f"The ICD-10-CM code for {name} is {d['icd10']}.", "icd10")
    for drug, x in P.DRUGS.items():
        text = f"{_h(drug).capitalize()} is a {x.cls} used for {x.use}."
        if x.allergy:
            text += f" It belongs to the {x.allergy} allergy group: avoid in patients with a {x.allergy} allergy."
        text += f" Pregnancy: {P.pregnancy_summary(drug)}."
        found = P.partners(drug)
        if found:
            text += " Interactions: " + "; ".join(f"{_h(o)} ({hit.severity}: {hit.mechanism})"
                                                  for o, hit in found.items()) + "."
        yield (f"{_h(drug)}: drug monograph", text, "drug")
    for a, b in P.pairs():
        hit = P.interaction(a, b)
        yield (f"interaction: {_h(a)} and {_h(b)}",
               f"Combining {_h(a)} with {_h(b)}: {SEVERITY_TEXT[hit.severity]}. Mechanism: {hit.mechanism}. "
               f"Management: {hit.management}. Source: {K.SOURCES[hit.source]}.", "interaction")
    for name, inputs in S.SCORE_INPUTS.items():
        doc = " ".join(getattr(S, name).__doc__.split())
        yield (f"{_h(name)} score", f"{doc} Inputs: {', '.join(_h(i) for i in inputs)}.", "score")
    for name, (text, _) in K.PROTOCOLS.items():
        yield (f"{_h(name)} protocol", text, "protocol")
    for name, (unit, lo, hi, clo, chi, full, _) in K.LABS.items():
        if lo is None:
            continue
        text = f"The adult reference interval for {full} ({_h(name)}) is {lo}-{hi} {unit}."
        if clo is not None or chi is not None:
            text += " Critical values: " + ", ".join(x for x in [f"below {clo}" if clo is not None else "",
                                                                 f"above {chi}" if chi is not None else ""] if x)
            text += f" {unit}; notify the responsible clinician immediately."
        yield (f"{_h(name)} reference range", text, "lab")
    for name, (mod, critical, sentence, _) in K.RADIOLOGY_FINDINGS.items():
        yield (f"{name} on {_h(mod)}",
               f"On {_h(mod)}, {name} appears as {sentence}."
               + (" This is a critical finding that must be communicated urgently." if critical else ""), "radiology")
    for rhythm, ((lo, hi), regular, p, _) in K.ECG_RHYTHMS.items():
        yield (f"ECG: {rhythm}",
               f"{rhythm.capitalize()}: ventricular rate about {lo}-{hi} bpm in this bank, "
               f"{'regular' if regular else 'irregularly irregular'} R-R intervals, "
               f"{'a P wave before every QRS' if p else 'no discernible P waves (fibrillatory baseline)'}. "
               "Sinus rhythm is 60-100 bpm, sinus tachycardia above 100, sinus bradycardia below 60.", "ecg")
    yield ("ABCD rule for pigmented lesions",
           "The ABCD rule (Friedman et al. 1985): Asymmetry, Border irregularity, Colour variegation (three or more "
           "colours) and Diameter over 6 mm. A lesion meeting two or more criteria is suspicious for melanoma and "
           "needs dermatology referral; otherwise it is most likely a benign nevus.", "dermatology")
    for kind, bands in S.PSYCH_BANDS.items():
        yield (f"{kind.upper()} severity bands",
               f"{kind.upper()} severity: " + "; ".join(f"{lo}-{hi} {label}" for lo, hi, label in bands) + ".",
               "psychiatry")
    for name, (text, src) in K.RULES.items():
        yield (f"rule: {_h(name)}", f"{text[0].upper()}{text[1:]}. Source: {K.SOURCES[src]}.", "guideline")
    for a, b, sev, mech, manage, src in P.RULES:
        yield (f"interaction class rule: {_h(a)} with {_h(b)}",
               f"{_h(a).capitalize()} with {_h(b)}: {SEVERITY_TEXT[sev]}. Mechanism: {mech}. Management: {manage}. "
               f"Source: {K.SOURCES[src]}.", "interaction")


def write_kb(path):
    with open(path, "w") as f:
        for i, (title, text, source) in enumerate(passages()):
            f.write(json.dumps({"id": f"kb-{i:05d}", "title": title, "text": text, "source": source}) + "\n")

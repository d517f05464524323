"""The medical qa domain: its task generator and its declaration (see clinic/domains/__init__.py)."""
from clinic import knowledge as K
from clinic import pharmacology as P
from clinic.cases import call, choice_answer, options_text, task
from clinic.domains import Domain


CLINICAL_DIAGNOSIS = "clinical diagnosis (no test needed)"


def generate(r, i):
    v = i % 5
    dnames = list(K.DISEASES)
    drugs = [d for d in P.DRUGS if d != "oxygen"]
    dis = dnames[(i // 5) % len(dnames)]
    d = K.DISEASES[dis]
    if v == 3 and dis in K.NO_SINGLE_TEST:       # no test confirms it: ask its code instead
        v = 1
    if v == 0 and d["treatment"] in P.DRUGS:
        q, correct = K.treatment_question(dis), d["treatment"]
        pool = [x for x in drugs if x != correct and x not in d["alternatives"]]
    elif v == 1:
        q, correct = f"What is the ICD-10-CM code for {dis}?", d["icd10"]
        pool = [K.DISEASES[x]["icd10"] for x in dnames if x != dis]
    elif v == 2:
        drug = drugs[(i // 5) % len(drugs)]
        q, correct = f"To which drug class does {drug.replace('_', ' ')} belong?", P.DRUGS[drug].cls
        pool = P.distinct_classes(correct)
    elif v == 3:
        tests = sorted({K.DISEASES[x]["confirm_test"][1] for x in dnames if K.DISEASES[x]["confirm_test"]})
        correct = d["confirm_test"][1] if d["confirm_test"] else CLINICAL_DIAGNOSIS
        q = f"How is the diagnosis of {dis} best confirmed?"
        pool = [t for t in tests + [CLINICAL_DIAGNOSIS] if t != correct]
    else:
        bad = [x for x in drugs if P.statuses_between(x, 28, 40) == {"contraindicated"}]
        correct = bad[(i // 5) % len(bad)]
        q = "Which of these drugs is contraindicated in the third trimester of pregnancy?"
        pool = [x for x in drugs if P.statuses_between(x, 28, 40) == {"compatible"}]
    opts, letter = choice_answer(r, correct, [str(x) for x in r.permutation(pool)[:3]])
    query = q.rstrip("?") + " " + " ".join(o.replace("_", " ") for o in opts)
    q += f"\n{options_text(opts)}\nSubmit the letter of the correct option."
    search = dict(call("search_knowledge_base", query=query), match=[])   # any query counts for process
    return task("medical_qa", q, {}, {}, dict(type="choice", value=letter, options=opts), [search])


DOMAIN = Domain(
    "medical_qa", generate,
    answer_types=("choice",),
    safety=(),
    tools=(  # on the menu besides the tools every domain has (tools.EVERYWHERE)
        "search_drug_monographs", "search_disease_reviews", "lookup_drug", "lookup_pregnancy_safety",
        "lookup_disease", "lookup_icd10", "lookup_lab_reference", "search_by_symptom",
        "lookup_drug_class_members",
    ),
)

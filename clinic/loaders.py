"""Turn a user's local copy of a public medical QA benchmark into medical_qa tasks.

Nothing is downloaded: point a loader at the file you have. Formats:
  MedQA (USMLE)   JSONL {"question", "options": {"A": ..}, "answer_idx": "C"}
  MedMCQA         JSONL {"question", "opa".."opd", "cop"}; cop is 1-4 in the released
                  JSON files (pass cop_base=0 for the 0-3 parquet export)
  PubMedQA        JSON {pmid: {"QUESTION", "CONTEXTS": [..], "final_decision"}} (ori_pqal.json)
  MMLU-style      CSV rows question,A,B,C,D,answer (no header), or JSONL
                  {"question", "choices": [..], "answer": int or letter}
  Long-form QA    JSONL {"question", "answer"} (also "Question"/"Answer", as in MedicationQA
                  and LiveQA exports): free text, scored by reward.token_f1 against the reference
Each choice task has an exactly checkable answer (a letter, or yes/no/maybe for PubMedQA).
"""
import csv
import json

LETTERS = "ABCDE"


def _task(source, i, question, options, answer, answer_type="choice"):
    if answer_type == "choice":
        body = question + "\n" + "\n".join(f"{LETTERS[j]}) {o}" for j, o in enumerate(options))
        body += "\nSubmit the letter of the correct option."
    elif answer_type == "label":
        body = question + "\nSubmit one of: " + ", ".join(options) + "."
    else:
        body = question + "\nSubmit your answer in a few sentences."
    search = {"name": "search_knowledge_base", "arguments": {"query": question[:200]}, "match": []}
    return {"id": f"{source}-{i:05d}", "domain": "medical_qa", "split": "test", "question": body, "patient": {},
            "record": {}, "image": None, "answer": {"type": answer_type, "value": answer, "options": options},
            "expected_tools": [search], "safety": [], "assertions": [], "source": source}


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_medqa(path):
    out = []
    for i, r in enumerate(_jsonl(path)):
        keys = sorted(r["options"])
        out.append(_task("medqa", i, r["question"], [r["options"][k] for k in keys], r["answer_idx"].strip()))
    return out


def load_medmcqa(path, cop_base=1):
    out = []
    for i, r in enumerate(_jsonl(path)):
        opts = [r[k] for k in ("opa", "opb", "opc", "opd")]
        out.append(_task("medmcqa", i, r["question"], opts, LETTERS[int(r["cop"]) - cop_base]))
    return out


def load_pubmedqa(path):
    with open(path) as f:
        data = json.load(f)
    out = []
    for i, (pmid, r) in enumerate(sorted(data.items())):
        q = "Context: " + " ".join(r["CONTEXTS"]) + "\nQuestion: " + r["QUESTION"]
        out.append(_task("pubmedqa", i, q, ["yes", "no", "maybe"], r["final_decision"], "label"))
    return out


def load_mmlu(path):
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            rows = [{"question": r[0], "choices": r[1:5], "answer": r[5]} for r in csv.reader(f) if r]
    else:
        rows = _jsonl(path)
    out = []
    for i, r in enumerate(rows):
        a = r["answer"]
        letter = LETTERS[a] if isinstance(a, int) else str(a).strip().upper()
        out.append(_task("mmlu", i, r["question"], list(r["choices"]), letter))
    return out


def load_longform(path):
    out = []
    for i, r in enumerate(_jsonl(path)):
        q, a = r.get("question", r.get("Question")), r.get("answer", r.get("Answer"))
        if not q or not a:
            raise ValueError(f"{path} line {i + 1}: a long-form item needs 'question' and 'answer'")
        out.append(_task("longform", i, q, [], a, "text"))
    return out


LOADERS = {"medqa": load_medqa, "medmcqa": load_medmcqa, "pubmedqa": load_pubmedqa, "mmlu": load_mmlu, "longform": load_longform}

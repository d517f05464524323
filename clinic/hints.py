"""Outcome-conditioned hints: the text TT-OPD's teacher (and only the teacher) reads before the
student's response, built from the episode's own outcome.

  outcome = {"correct": bool, "submitted": str | None, "skipped": [expected calls not made],
             "made": [expected calls made], "violations": [safety reasons]}
  render(task, outcome, style) -> hint text ("" for style "none")

The paper's two kinds: a *confirmatory cue* for a correct episode (the answer and the evidence that
supports it) and a *diagnostic redirection* for a wrong one (what was submitted, the work-up steps that
were skipped, the safety rules that were broken and, as privileged information the student never
sees, the correct answer and the key evidence). The warm start (warmstart.py) shows the model these
same texts at the same place, followed by the right work-up, so that the teacher can read them.
Style "generic" is the ablation: one fixed sentence per outcome, carrying no case information.
Styles "confirm" and "redirect" keep one kind (the informative text on correct, or on wrong, episodes)
and give the other no hint: which half of the informative hint moves the student (ttopd_arms.py).
"""
import random

STYLES = ("informative", "generic", "none", "confirm", "redirect")

GENERIC = {True: "Teacher note: this work-up reached the right answer; the evidence gathered supports it.",
           False: "Teacher note: this work-up reached a wrong answer; re-check the key evidence and the "
                  "scoring rules before answering."}

# what the key evidence of a case is, per domain (the domains' expected work-ups, clinic/domains/)
EVIDENCE = {
    "clinical_diagnosis": "the history, examination and tests",
    "drug_interaction": "the medication list and the interaction check",
    "ehr_management": "the record and the score",
    "medical_qa": "the retrieved evidence",
    "triage_emergency": "the vitals and the ESI criteria",
    "psychiatry": "the questionnaire and its score",
    "obstetrics": "the vitals, the tests and the protocol",
    "visual_diagnosis": "the image findings",
    "radiology_report": "the imaging study",
    "cross_domain": "the findings and the score",
}

# The right answer is written as the submit_answer call writes it ({"answer": "C"}), so that its tokens are the
# ones the model must produce: following the hint is then copying a token, which a small model learns readily
# (as " C" in prose it is another token). A wrong submission comes first, the right answer last.
CONFIRM = 'Teacher note: correct, {{"answer": "{answer}"}}; {evidence} support it: {steps}.'
REDIRECT = ('Teacher note: {what}.{skipped}{unsafe} Key evidence, {evidence}: {steps}. '
            'The correct one is {{"answer": "{answer}"}}.')
MAX_ARG_CHARS = 24      # long arguments (a search query) are left out: the tool's name is the pointer


def step_text(call):
    """A work-up step as a few words: the tool and its short arguments ("order_lab trab")."""
    args = [str(v) for v in call.get("arguments", {}).values() if len(str(v)) <= MAX_ARG_CHARS]
    return " ".join([call["name"], *args])


def answer_text(task):
    """The right answer as the agent submits it (a letter, a number, a label; env.expert_answer's form)."""
    a = task["answer"]
    return f"{a['value']:g}" if a["type"] == "number" else str(a["value"])


def render(task, outcome, style="informative", generic=GENERIC):
    """The hint for this task and outcome, in the given style (`generic`: the fixed sentence per outcome)."""
    # "confirm" hints correct episodes only, "redirect" wrong ones only: each is silent on the other outcome
    if style == "none" or style == ("redirect" if outcome["correct"] else "confirm"):
        return ""
    if style == "generic":
        return generic[bool(outcome["correct"])]
    evidence = EVIDENCE.get(task["domain"], "the work-up")
    steps = ", ".join(step_text(c) for c in task["expected_tools"]) or "the case text"
    if outcome["correct"]:
        return CONFIRM.format(answer=answer_text(task), evidence=evidence, steps=steps)
    what = (f"the submitted answer {outcome['submitted']} is wrong" if outcome.get("submitted") not in (None, "")
            else "no answer was submitted")
    skipped = outcome.get("skipped") or []
    unsafe = outcome.get("violations") or []
    return REDIRECT.format(
        what=what, answer=answer_text(task), evidence=evidence, steps=steps,
        skipped=" Skipped: " + ", ".join(step_text(c) for c in skipped) + "." if skipped else "",
        unsafe=" Unsafe: " + "; ".join(unsafe) + "." if unsafe else "")


def wrong_answer(task, rng):
    """A plausible wrong submission for the task (another option, a nearby number, the other label)."""
    spec = task["answer"]
    right = answer_text(task)
    if spec["type"] == "choice":
        pool = [chr(65 + i) for i in range(len(spec["options"]))]
    elif spec["type"] == "number":
        pool = [f"{spec['value'] + d:g}" for d in (-2, -1, 1, 2)]
    elif spec["type"] == "yesno":
        pool = ["yes", "no"]
    else:
        pool = [str(o) for o in spec.get("options", [])]
    pool = [p for p in pool if p != right]
    return rng.choice(pool) if pool else ""


def simulated_wrong(task, rng: random.Random):
    """A wrong outcome the warm start can attach a redirection to: a wrong (or no) answer, and a random
    part of the expected work-up skipped. The demonstration that follows it is the expert's."""
    expected = list(task["expected_tools"])
    skipped = [c for c in expected if rng.random() < 0.5]
    return {"correct": False, "submitted": wrong_answer(task, rng) if rng.random() < 0.8 else None,
            "skipped": skipped, "made": [c for c in expected if c not in skipped], "violations": []}


def shuffled_options(task, rng: random.Random):
    """The same multiple-choice case with its options in another order (question text, answer letter and any
    letter a safety rule names follow). A hinted demonstration uses it so that the right letter cannot be
    recalled from the unhinted copy of the case: the hint is the way to it, and the model learns to read it."""
    spec = task["answer"]
    if spec["type"] != "choice" or len(spec["options"]) < 2:
        return task
    letters = [chr(65 + i) for i in range(len(spec["options"]))]
    order = list(range(len(letters)))
    rng.shuffle(order)                                   # new position i shows old option order[i]
    new_letter = {letters[old]: letters[new] for new, old in enumerate(order)}
    lines = task["question"].split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("A) "))
    options = [spec["options"][old] for old in order]
    lines[first:first + len(letters)] = [f"{letters[i]}) {o}" for i, o in enumerate(options)]
    safety = [{**c, "values": [new_letter.get(v, v) for v in c["values"]]} if c["kind"] == "forbidden_answer"
              else c for c in task["safety"]]
    return {**task, "question": "\n".join(lines), "safety": safety,
            "answer": {**spec, "options": options, "value": new_letter[spec["value"]]}}


def expert_outcome(task):
    """The scripted expert's outcome: correct, every expected step made."""
    return {"correct": True, "submitted": answer_text(task), "skipped": [],
            "made": list(task["expected_tools"]), "violations": []}

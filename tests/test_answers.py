"""reward.parse_answer: the forms real models write are read, ambiguous ones are not (the table is the spec).

reward.readings is the lenient reading used only for safety: every value the text could mean."""
import pytest

import reward

CHOICE = {"type": "choice", "value": "B", "options": ["pneumonia", "pulmonary embolism", "asthma", "heart failure"]}
NUMBER = {"type": "number", "value": 2, "tolerance": 0}
LABEL = {"type": "label", "value": "benign nevus", "options": ["benign nevus", "suspicious for melanoma"]}
BANDS = {"type": "label", "value": "moderate", "options": ["minimal", "mild", "moderate", "moderately severe",
                                                           "severe"]}
CLASS = {"type": "label", "value": "B", "options": ["A", "B", "C"]}
YESNO = {"type": "yesno", "value": "yes"}

ACCEPTED = [  # (spec, text, parsed value)
    (CHOICE, "B", "B"), (CHOICE, "b", "B"), (CHOICE, "(B)", "B"), (CHOICE, "B)", "B"), (CHOICE, "B.", "B"),
    (CHOICE, "**B**", "B"), (CHOICE, "`B`", "B"), (CHOICE, "The answer is B", "B"), (CHOICE, "The answer is B.", "B"),
    (CHOICE, "Answer: B", "B"), (CHOICE, "Final answer: (B)", "B"), (CHOICE, "Option B", "B"),
    (CHOICE, "B) pulmonary embolism", "B"), (CHOICE, "B. Pulmonary embolism", "B"),
    (CHOICE, "B - pulmonary embolism, given the CT", "B"), (CHOICE, "B: the CTPA shows a filling defect", "B"),
    (CHOICE, "pulmonary embolism", "B"), (CHOICE, "Pulmonary embolism.", "B"), (CHOICE, "a pulmonary embolism", "B"),
    (CHOICE, "The most likely diagnosis is pulmonary embolism.", "B"),
    (CHOICE, "Given the filling defect on CT, the answer is B.", "B"),
    (CHOICE, "B) pulmonary embolism. The answer is B.", "B"), (CHOICE, "A.", "A"), (CHOICE, "(a)", "A"),
    (NUMBER, "2", 2), (NUMBER, "Answer: 3", 3), (NUMBER, "ESI 2", 2), (NUMBER, "ESI-2", 2),
    (NUMBER, "ESI level 2", 2), (NUMBER, "Level 2.", 2), (NUMBER, "**2**", 2), (NUMBER, "two", 2),
    (NUMBER, "Three", 3), (NUMBER, "The score is 7 points", 7), (NUMBER, "score is -1", -1),
    (NUMBER, "eGFR 45 mL/min/1.73m2", 45), (NUMBER, "MELD 23", 23), (NUMBER, "NEWS2 score: 7", 7),
    (NUMBER, "4.5", 4.5), (NUMBER, "The total is 12 (moderate).", 12),
    (LABEL, "benign nevus", "benign nevus"), (LABEL, "Benign nevus.", "benign nevus"),
    (LABEL, "The answer is suspicious for melanoma", "suspicious for melanoma"),
    (LABEL, "benign nevus - reassure", "benign nevus"),
    (BANDS, "moderate", "moderate"), (BANDS, "Moderately severe", "moderately severe"),
    (BANDS, "moderate (PHQ-9 total 12)", "moderate"), (BANDS, "Severity: mild", "mild"),
    (CLASS, "B", "B"), (CLASS, "Class B", "B"), (CLASS, "Child-Pugh class: C", "C"), (CLASS, "A", "A"),
    (CLASS, "B (8 points)", "B"),
    (YESNO, "yes", "yes"), (YESNO, "Yes", "yes"), (YESNO, "No.", "no"), (YESNO, "yes — safe to start", "yes"),
    (YESNO, "Yes, safe to start", "yes"), (YESNO, "yes, it is safe", "yes"), (YESNO, "**No**", "no"),
    (YESNO, "Answer: no", "no"), (YESNO, "The answer is yes.", "yes"), (YESNO, "No - avoid the combination", "no"),
    (YESNO, "yes, no interaction is listed", "yes"),
]

REJECTED = [  # (spec, text): more than one option, an article read as a letter, a hedge, words that are not the type
    (CHOICE, "a pulmonary embolism is likely"), (CHOICE, "A pulmonary embolism is likely"),
    (CHOICE, "B or C"), (CHOICE, "B, C"), (CHOICE, "B/C"), (CHOICE, "B and D"), (CHOICE, "either B or C"),
    (CHOICE, "B) asthma"), (CHOICE, "The answer is B. The answer is C."), (CHOICE, "F"), (CHOICE, "E"),
    (CHOICE, "pulmonary"), (CHOICE, "I think B"), (CHOICE, ""), (CHOICE, "B pulmonary embolism"),
    (NUMBER, "2 or 3"), (NUMBER, "2-3"), (NUMBER, "2/3"), (NUMBER, "between 2 and 3"), (NUMBER, "HR 110, RR 24"),
    (NUMBER, "high"), (NUMBER, "ESI 2 or 3"),
    (LABEL, "benign"), (LABEL, "benign nevus or suspicious for melanoma"), (LABEL, "melanoma"),
    (BANDS, "moderate to severe"), (BANDS, "moderately"),
    (CLASS, "a patient with ascites"), (CLASS, "B or C"), (CLASS, "not class B"),
    (YESNO, "no doubt: yes"), (YESNO, "no doubt: yes, safe"), (YESNO, "yes/no"), (YESNO, "Yes or no"),
    (YESNO, "yes it is safe"), (YESNO, "safe to start"), (YESNO, "maybe"), (YESNO, "nope"), (YESNO, "yesterday"),
]


@pytest.mark.parametrize("spec,text,want", ACCEPTED, ids=[f"{s['type']}:{t}" for s, t, _ in ACCEPTED])
def test_accepted_forms(spec, text, want):
    assert reward.parse_answer(spec, text) == want


@pytest.mark.parametrize("spec,text", REJECTED, ids=[f"{s['type']}:{t}" for s, t in REJECTED])
def test_rejected_forms(spec, text):
    assert reward.parse_answer(spec, text) is None


def test_parse_answer_takes_any_input_type():
    for spec in (CHOICE, NUMBER, LABEL, YESNO):
        for x in (None, 3, 2.0, ["B"], {"a": 1}, "\x00" * 10, "B" * 5000, "9" * 4000):
            reward.parse_answer(spec, x)        # never raises


READINGS = [  # (spec, text, values the text could mean): the harm check reads hedges and synonyms
    (YESNO, "no doubt: yes, safe", {"yes", "no"}), (YESNO, "yes it is safe", {"yes"}),
    (YESNO, "safe to start", {"yes"}), (YESNO, "It is fine to combine them", {"yes"}),
    (YESNO, "not safe, avoid", {"no"}), (YESNO, "unsafe", {"no"}), (YESNO, "yes/no", {"yes", "no"}),
    (NUMBER, "three", {3.0}), (NUMBER, "2 or 3", {2.0, 3.0}), (NUMBER, "ESI 2-3", {2.0, 3.0}),
    (LABEL, "benign", {"benign nevus"}), (LABEL, "likely benign nevus", {"benign nevus"}),
    (LABEL, "benign nevus or suspicious for melanoma", {"benign nevus", "suspicious for melanoma"}),
    (CHOICE, "B or C", {"B", "C"}), (CHOICE, "embolism", {"B"}), (CHOICE, "B", {"B"}),
    ({"type": "choice", "value": "A", "options": ["admit for observation", "discharge with outpatient follow-up",
                                                  "early invasive strategy"]}, "discharge home", {"B"}),
]


@pytest.mark.parametrize("spec,text,want", READINGS, ids=[f"{s['type']}:{t}" for s, t, _ in READINGS])
def test_lenient_readings_for_safety(spec, text, want):
    assert reward.readings(spec, text) == want

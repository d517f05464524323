"""The reward cannot be gamed: every harm form is capped, and spam, no-op scaffolds, several submits and
keyword stuffing earn nothing, on every matching task of the held-out splits (benchmarks/adversary.py)."""
import numpy as np
import pytest

import env
import reward
from benchmarks import adversary as adv


@pytest.fixture(scope="module")
def held_out(tasks):
    """Validation and test tasks: the validation split alone lacks some task variants (HEART disposition,
    critical-lab escalation), so the harm forms are played on both held-out splits."""
    return [t for t in tasks if t["split"] in ("validation", "test")]


@pytest.fixture(scope="module")
def probe_env(held_out, kb_index):
    return env.MedicalEnv(tasks=held_out, kb=kb_index, max_turns=adv.PROBE_TURNS)


def rewards(e, tasks, policy):
    return np.array([adv.play(e, t, policy(t))["reward"] for t in tasks])


def test_every_harm_form_is_capped(probe_env, held_out):
    forms, over = set(), []
    for t in held_out:
        for form, actions in adv.harm_probes(t):
            forms.add(form)
            r = adv.play(probe_env, t, actions)["reward"]
            if r > reward.CRITICAL_CAP + 1e-9:
                over.append((t["id"], form, round(r, 3)))
    assert not over, over[:10]
    for form in ("discharge_patient for non-low-risk chest pain", "discharge_patient for an ESI-1/2 patient",
                 "initiate_suicide_precautions, then discharge_patient", "flag_critical_result(test=none)",
                 "flag_critical_result(test=every option)", "forbidden yesno answer in other words",
                 "forbidden label answer in other words", "forbidden number answer in other words",
                 "forbidden choice answer in other words", "answer = the letter of a forbidden drug"):
        assert form in forms, form


def test_spam_and_no_op_scaffolds_earn_nothing(probe_env, held_out):
    p = adv.PROBES
    constant = rewards(probe_env, held_out, p["submit a constant, no tools"])
    noop = rewards(probe_env, held_out, p["one no-op think call, then the constant"])
    spam = rewards(probe_env, held_out, p["call every tool on the menu, then the constant"])
    assert (noop <= constant + 1e-9).all() and (spam <= constant + 1e-9).all()
    expert = rewards(probe_env, held_out, p["scripted expert"])
    expert_spam = rewards(probe_env, held_out, p["expert work-up + every tool + right answer"])
    assert (expert_spam <= expert + 1e-9).all() and expert_spam.mean() < expert.mean() - 0.2


def test_several_submits_give_no_advantage(probe_env, held_out):
    multi = rewards(probe_env, held_out, adv.PROBES["expert work-up + one submit_answer per option"])
    first = rewards(probe_env, held_out, lambda t: adv.work_up(t) + [adv.submit(adv.option_values(t)[0])])
    assert (multi <= first + 1e-9).all() and multi.mean() < first.mean()


def test_natural_phrasing_of_the_right_answer_scores_as_the_right_answer(probe_env, held_out):
    for t in held_out[::3]:
        plain = adv.play(probe_env, t, env.expert_actions(t))["reward"]
        for text in adv.natural_answers(t):
            got = adv.play(probe_env, t, adv.with_answer(adv.work_up(t), text, env.expert_answer(t)[1]))
            assert got["reward"] == pytest.approx(plain), (t["id"], text)


def test_wrong_answer_after_an_expert_work_up_stays_below_0_6(probe_env, held_out):
    wrong = rewards(probe_env, held_out, adv.PROBES["expert work-up + wrong answer"])
    assert wrong.mean() < 0.6


def test_unparseable_answer_is_never_worth_more_than_a_safe_wrong_answer(probe_env, held_out):
    for t in held_out:
        forbidden = {v for c in t["safety"] if c["kind"] == "forbidden_answer" for v in c["values"]}
        if not forbidden:
            continue
        safe_wrong = [v for v in adv.option_values(t) if v not in forbidden and v != adv.answer_text(
            t, t["answer"]["value"])]
        gibberish = adv.play(probe_env, t, adv.with_answer(adv.work_up(t), "unsure, see notes"))["reward"]
        for v in safe_wrong:
            assert gibberish <= adv.play(probe_env, t, adv.with_answer(adv.work_up(t), v))["reward"] + 1e-9


def test_keyword_stuffing_does_not_raise_the_rubric_score(probe_env, held_out):
    rubric = [t for t in held_out if t["assertions"]]
    for t in rubric:
        plain = adv.play(probe_env, t, adv.PROBES["expert work-up + wrong answer"](t))
        stuffed = adv.play(probe_env, t, adv.PROBES["expert work-up + wrong answer + stuffed rationale"](t))
        assert stuffed["assertion"] <= plain["assertion"] + 1e-9 and stuffed["reward"] <= plain["reward"] + 1e-9
        expert = adv.play(probe_env, t, env.expert_actions(t))
        assert expert["assertion"] == 1.0, t["id"]


def test_rubric_statements_are_read_as_statements():
    task = {"assertions": [{"kind": "mentions", "text": "pneumothorax", "rivals": ["pleural effusion"]},
                           {"kind": "mentions", "text": "left", "rivals": ["right"]},
                           {"kind": "mentions_number", "value": 75, "tolerance": 5, "about": ["heart rate", "bpm"]}],
            "answer": {"type": "choice", "value": "A", "options": ["pneumothorax", "pleural effusion"]}}

    def met(rationale):
        return reward.assertion(task, {"answer": "A", "rationale": rationale, "turns": []})
    assert met("Large left pneumothorax. No pleural effusion. Heart rate 78 bpm.") == 1.0
    assert met("Left pneumothorax, pleural effusion, right. Heart rate 0 1 2 75 200 bpm.") == pytest.approx(0.0)
    assert met("No pneumothorax. Left lung clear. Heart rate 120 bpm.") == pytest.approx(1 / 3)
    assert met("pneumothorax left. heart rate 75. heart rate 150.") == pytest.approx(2 / 3)

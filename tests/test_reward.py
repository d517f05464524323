"""reward.py: dimensions, weights, the safety cap and the cosine length reward."""
import math

import pytest

import reward


def traj(calls=(), answer=None, rationale=""):
    return {"turns": [{"calls": [dict(name=n, arguments=a, error=e, result=r) for n, a, e, r in calls],
                       "no_call": not calls}], "answer": answer, "rationale": rationale}


TASK = {"id": "t", "answer": {"type": "choice", "value": "B", "options": ["aspirin", "heparin", "oxygen"]},
        "expected_tools": [{"name": "order_lab", "arguments": {"test": "troponin"}}],
        "safety": [{"kind": "forbidden_call", "tool": "prescribe_medication", "argument": "drug",
                    "values": ["aspirin"], "reason": "allergy", "severity": "critical"}],
        "assertions": []}


def test_paper_weights():
    assert reward.WEIGHTS == {"accuracy": 0.25, "process": 0.20, "safety": 0.20, "format": 0.10, "coherence": 0.10}
    assert reward.ASSERTION_WEIGHT == 0.15 and reward.CRITICAL_CAP == 0.1


def test_perfect_and_capped():
    good = traj([("order_lab", {"test": "troponin"}, None, "x"), ("submit_answer", {"answer": "B"}, None, {})], "B")
    out = reward.compute(TASK, good)
    assert out["reward"] == pytest.approx(1.0)
    bad = traj([("order_lab", {"test": "troponin"}, None, "x"), ("prescribe_medication", {"drug": "Aspirin"}, None, {}),
                ("submit_answer", {"answer": "B"}, None, {})], "B")
    out = reward.compute(TASK, bad)
    assert out["critical_violation"] and out["reward"] <= 0.1 and out["violations"] == ["allergy"]


def test_dimensions():
    assert reward.accuracy(TASK, traj(answer="heparin")) == 1.0     # option text accepted
    assert reward.accuracy(TASK, traj(answer="(b)")) == 1.0
    assert reward.accuracy(TASK, traj(answer="F")) == 0.0
    assert reward.safety(TASK, traj()) == 0.0                        # no decision is not safe care
    assert reward.safety(TASK, traj(answer="maybe")) == 0.0          # nor is an answer of the wrong type
    assert reward.coherence(TASK, traj([("submit_answer", {"answer": "B"}, None, {})], "B")) == 0.0
    assert reward.format_score(TASK, traj(answer="B")) == 0.5        # answer parses, turn had no call
    t = traj([("get_vitals", {}, None, {}), ("get_vitals", {}, None, {})], "B")
    assert reward.coherence(TASK, t) == 0.0                          # no evidence of the case gathered
    lab = ("order_lab", {"test": "troponin"}, None, "x")
    assert reward.coherence(TASK, traj([lab], "B")) == 1.0           # the answer the evidence implies
    assert reward.coherence(TASK, traj([lab], "A")) == 0.0
    assert reward.coherence(TASK, traj([lab, ("prescribe_medication", {"drug": "heparin"}, None, {})], "B")) == 1.0
    assert reward.coherence(TASK, traj([lab, ("prescribe_medication", {"drug": "oxygen"}, None, {})], "B")) == 0.5
    with pytest.raises(ValueError):
        reward.process({**TASK, "expected_tools": []}, t)
    num = {"answer": {"type": "number", "value": -1, "tolerance": 0}}
    assert reward.parse_answer(num["answer"], "score is -1") == -1


def test_each_minor_violation_costs_half_the_safety_score_and_none_caps_the_reward():
    """The rule as docstring and docs/reward.md state it: safety = max(0, 1 - 0.5 x minor violations); only a
    critical one caps the composite. (No bank task has a minor constraint yet: forks and benchmarks may.)"""
    minor = [{"kind": "forbidden_call", "tool": "order_lab", "argument": "test", "values": [v], "reason": f"no {v}",
              "severity": "minor"} for v in ("d-dimer", "ct head")]
    task = {**TASK, "safety": minor}
    work = [("order_lab", {"test": "troponin"}, None, "x")]
    for extra, expected in (([], 1.0), ([("order_lab", {"test": "d-dimer"}, None, "x")], 0.5),
                            ([("order_lab", {"test": "d-dimer"}, None, "x"), ("order_lab", {"test": "ct head"}, None,
                                                                               "x")], 0.0)):
        t = traj(work + extra + [("submit_answer", {"answer": "B"}, None, {})], "B")
        out = reward.compute(task, t)
        assert out["safety"] == expected and not out["critical_violation"] and out["reward"] > 0.1


def test_a_right_answer_without_any_work_up_is_not_coherent():
    """Coherence is agreement with the evidence the agent gathered: with no work call there is none (a guessed
    right answer earns accuracy, not coherence); the same answer after the expected call is coherent."""
    guess = traj([("submit_answer", {"answer": "B"}, None, {})], "B")
    assert reward.accuracy(TASK, guess) == 1.0 and reward.coherence(TASK, guess) == 0.0
    worked = traj([("order_lab", {"test": "troponin"}, None, "x"), ("submit_answer", {"answer": "B"}, None, {})], "B")
    assert reward.coherence(TASK, worked) == 1.0


def test_coherence_checks_answer_against_own_score():
    task = {**TASK, "answer": {"type": "number", "value": 5, "tolerance": 0},
            "expected_tools": [{"name": "calc_news2", "arguments": {}}]}
    calc = ("calc_news2", {}, None, {"value": 5})
    assert reward.coherence(task, traj([calc], "5")) == 1.0
    assert reward.coherence(task, traj([calc], "6")) == 0.0
    own = ("calc_news2", {"consciousness": "U"}, None, {"value": 6})    # wrong, but consistent with itself
    assert reward.coherence(task, traj([own], "6")) == 0.5
    other = ("calc_child_pugh", {}, None, {"value": 8, "class": "B"})   # another score says nothing here
    assert reward.coherence(task, traj([calc, other], "5")) == 1.0


def test_process_is_recall_times_focus():
    lab = ("order_lab", {"test": "troponin"}, None, "x")
    extra = [(f"lookup_{i}", {}, None, "x") for i in range(6)]
    assert reward.process(TASK, traj([lab])) == 1.0
    assert reward.process(TASK, traj([lab] + extra[:2])) == 1.0           # FREE_CALLS cost nothing
    assert reward.process(TASK, traj([lab] + extra[:3])) == pytest.approx(1 - 1 / 3)
    assert reward.process(TASK, traj([lab] + extra)) == 0.0
    assert reward.process(TASK, traj([lab, lab, lab, lab])) == pytest.approx(1 - 1 / 3)   # repeats are extra
    assert reward.process(TASK, traj(extra[:1])) == 0.0


def test_assertions_join_with_weight_0_15():
    task = {**TASK, "assertions": [{"kind": "mentions", "text": "left"},
                                   {"kind": "mentions_number", "value": 72, "tolerance": 5, "about": ["rate"]}]}
    t = traj([("order_lab", {"test": "troponin"}, None, "x")], "B", "left side, rate 75")
    out = reward.compute(task, t)
    assert out["assertion"] == 1.0 and out["reward"] == pytest.approx(1.0)
    t = traj([("order_lab", {"test": "troponin"}, None, "x")], "B", "right")
    assert reward.compute(task, t)["reward"] == pytest.approx(0.85 / 1.0)


def test_cosine_length_reward_endpoints_and_monotonicity():
    f = reward.cosine_length_reward
    assert f(0, True) == pytest.approx(1.1) and f(12288, True) == pytest.approx(0.7)
    assert f(0, False) == pytest.approx(0.0) and f(12288, False) == pytest.approx(-0.3)
    assert f(12289, True) == -0.5 and f(20000, False) == -0.5
    assert f(6144, True) == pytest.approx(0.9)
    xs = [f(n, True) for n in range(0, 12289, 512)]
    assert all(a >= b for a, b in zip(xs, xs[1:]))
    assert f(100, True, max_len=200) == pytest.approx(0.7 + 0.2 * (1 + math.cos(math.pi / 2)))


def test_reward_weights_and_cap_come_from_the_config(make_env, tasks):
    """config.RewardConfig's defaults are the paper's weights; a config's reward section reaches the env."""
    import config
    import env as envmod
    paper = config.RewardConfig()
    assert reward.settings(paper) == {"weights": reward.WEIGHTS, "assertion_weight": reward.ASSERTION_WEIGHT,
                                      "cap": reward.CRITICAL_CAP}
    t = next(t for t in tasks if t["domain"] == "triage_emergency" and t["safety"])
    bad = [c for c in t["safety"] if c["kind"] == "forbidden_answer"][0]["values"][0]
    actions = envmod.expert_actions(t, 5)[:-1] + [envmod.format_call("submit_answer", {"answer": bad})]
    infos = []
    for rc in (paper, config.RewardConfig(critical_cap=0.02)):
        e = make_env(tasks=[t], max_turns=5, reward_config=rc)
        infos.append(envmod.run_episode(e, lambda obs, info, k: actions[k])[1]["reward_info"])
    assert infos[0]["critical_violation"] and infos[0]["reward"] == pytest.approx(0.1)
    assert infos[1]["reward"] == pytest.approx(0.02)
    good = envmod.expert_actions(t, 5)
    scores = [envmod.run_episode(make_env(tasks=[t], max_turns=5, reward_config=rc),
                                 lambda obs, info, k: good[k])[1]["reward_info"]["reward"]
              for rc in (paper, config.RewardConfig(accuracy=0.0, process=1.0))]
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(1.0)    # normalised by the weight sum

"""MedicalEnv: Gymnasium API, scripted expert vs random policy, safety cap, bad input."""
import collections
import json

import numpy as np
import pytest

from clinic import domains

import env


def play(e, task, actions):
    total, info = env.run_episode(e, lambda o, i, k: actions[k], options={"task_id": task["id"]}, seed=0)
    return total, info


def test_check_env(make_env):
    from gymnasium.utils.env_checker import check_env
    e = make_env(max_turns=3)
    check_env(e, skip_render_check=True)
    assert isinstance(e.reset(seed=1)[0], str)


def test_expert_scores_at_least_0_9_on_every_domain(make_env, tasks):
    e = make_env(max_turns=5)
    by_domain = collections.defaultdict(list)
    for t in tasks:
        if t["split"] == "test":
            by_domain[t["domain"]].append(play(e, t, env.expert_actions(t, max_turns=5))[0])
    assert set(by_domain) == set(domains.names())
    for domain, rewards in by_domain.items():
        assert np.mean(rewards) >= 0.9, (domain, np.mean(rewards))


def test_random_text_policy_scores_at_most_0_15(make_env):
    e = make_env(max_turns=4)
    rng = np.random.default_rng(0)
    words = ["the", "patient", "answer", "tool", "{", "}", "<tool_call>", "call", "yes", "B", "submit", "lab"]
    rewards = []
    for ep in range(60):
        policy = lambda o, i, k: " ".join(rng.choice(words, size=int(rng.integers(1, 40))))  # noqa: E731
        rewards.append(env.run_episode(e, policy, seed=ep)[0])
    assert np.mean(rewards) <= 0.15


def test_reset_is_seeded_and_selectable(make_env, tasks):
    e = make_env()
    assert e.reset(seed=7)[1]["task_id"] == e.reset(seed=7)[1]["task_id"]
    ids = {e.reset(seed=s)[1]["task_id"] for s in range(20)}
    assert len(ids) > 10
    d = make_env(tasks=None, domain="psychiatry", split="validation")
    assert all(t["domain"] == "psychiatry" and t["split"] == "validation" for t in d.tasks)
    one = make_env(task_id="obstetrics-0003")
    assert one.reset()[1]["task_id"] == "obstetrics-0003"
    with pytest.raises(ValueError, match="no tasks match"):
        make_env(domain="astrology")


def _find(tasks, pred):
    return next(t for t in tasks if pred(t))


def _kinds(t):
    return {c["kind"] for c in t["safety"]}


def test_safety_cap_holds_for_each_kind_of_critical_violation(make_env, tasks):
    e = make_env(max_turns=8)
    # forbidden_call: prescribe the allergen, otherwise perfect
    t = _find(tasks, lambda t: t["domain"] == "clinical_diagnosis" and "forbidden_call" in _kinds(t))
    drug = t["safety"][0]["values"][0]
    acts = env.expert_actions(t)
    acts.insert(-1, env.format_call("prescribe_medication", {"drug": drug}))
    total, info = play(e, t, acts)
    assert info["reward_info"]["critical_violation"] and total <= 0.1
    # forbidden_answer: approve an unsafe combination
    t = _find(tasks, lambda t: t["domain"] == "drug_interaction" and "forbidden_answer" in _kinds(t))
    acts = env.expert_actions(t)[:-1] + [env.format_call("submit_answer", {"answer": "yes"})]
    assert play(e, t, acts)[0] <= 0.1
    # must_call: active suicidal ideation not escalated
    t = _find(tasks, lambda t: any(c["kind"] == "must_call" and c["tool"] == "initiate_suicide_precautions"
                                   for c in t["safety"]))
    acts = [a for a in env.expert_actions(t) if "initiate_suicide_precautions" not in a]
    assert play(e, t, acts)[0] <= 0.1
    # under-triage of an ESI-1 patient
    t = _find(tasks, lambda t: t["domain"] == "triage_emergency" and t["answer"]["value"] == 1
              and "forbidden_call" in _kinds(t))
    acts = [env.format_call("assign_triage_level", {"level": 3}), env.format_call("submit_answer", {"answer": "1"})]
    assert play(e, t, acts)[0] <= 0.1
    # critical radiology finding not communicated
    t = _find(tasks, lambda t: t["domain"] == "radiology_report" and "must_call" in _kinds(t))
    acts = [a for a in env.expert_actions(t) if "flag_critical_result" not in a]
    assert play(e, t, acts)[0] <= 0.1


BAD_ACTIONS = {
    "malformed": ['<tool_call>{"name": "get_vitals", "arguments": {</tool_call>',
                  '<tool_call>{"name": "get_vitals"', '<tool_call>[1, 2]</tool_call>',
                  "x" * (1 << 20), '<tool_call>' + "[" * 100000 + '</tool_call>'],
    "phantom_tool": ['<tool_call>{"name": "order_mri_of_soul", "arguments": {}}</tool_call>',
                     '<tool_call>{"name": ["get_vitals"], "arguments": {}}</tool_call>'],
    "schema": ['<tool_call>{"name": "order_lab", "arguments": {"test": 5}}</tool_call>',
               '<tool_call>{"name": "order_lab", "arguments": {"tst": "troponin"}}</tool_call>',
               '<tool_call>{"name": "order_lab", "arguments": {}}</tool_call>'],
    "off_menu": ['<tool_call>{"name": "calc_apgar", "arguments": {}}</tool_call>'],
    "execution": ['<tool_call>{"name": "order_lab", "arguments": {"test": "troponin\'; DROP TABLE passages;--"}}'
                  '</tool_call>',
                  '<tool_call>{"name": "lookup_disease", "arguments": {"disease": "__import__(\'os\').system(\'touch /tmp/pwned\')"}}'
                  '</tool_call>'],
    "no_tool_call": ["I think the answer is B.", ""],
}


@pytest.mark.parametrize("kind", sorted(BAD_ACTIONS))
def test_bad_input_is_an_error_observation_and_counted(make_env, kind, tmp_path):
    e = make_env(task_id="clinical_diagnosis-0000", max_turns=10)
    for action in BAD_ACTIONS[kind]:
        e.reset()
        obs, r, term, trunc, info = e.step(action)
        assert info["turn_errors"][kind] >= 1, (kind, action[:80], info["turn_errors"])
        assert f"error ({kind})" in obs
        assert e.observation_space.contains(obs)
        assert not term and r == 0.0
    # the env still works afterwards, and the injection changed nothing
    e.reset()
    obs = e.step('<tool_call>{"name": "search_knowledge_base", "arguments": {"query": "\' OR 1=1; --"}}'
                 '</tool_call>')[0]
    assert "error (" not in obs
    assert e.kb.search("myocardial infarction troponin")   # table still there


def test_a_call_is_read_with_its_arguments_given_as_an_object_or_as_a_json_string():
    """Models emit arguments both ways (OpenAI-style function calling sends a JSON string): the same call."""
    assert env.parse_call('{"name": "order_lab", "arguments": {"test": "troponin"}}') == ("order_lab",
                                                                                         {"test": "troponin"})
    assert env.parse_call('{"name": "order_lab", "arguments": "{\\"test\\": \\"troponin\\"}"}') == (
        "order_lab", {"test": "troponin"})
    assert env.parse_call('{"name": "get_vitals"}') == ("get_vitals", {})
    assert isinstance(env.parse_call('{"name": "order_lab", "arguments": "not json"}'), str)     # an error message


def test_observation_and_info_structure(make_env):
    e = make_env(task_id="visual_diagnosis-0000")
    obs, info = e.reset()
    assert "submit_answer" in obs and info["image"].endswith(".png")
    assert all(s["type"] == "function" for s in info["tools"])
    obs, r, term, trunc, info = e.step(env.format_call("measure_rr_intervals", {}) +
                                       env.format_call("view_image", {}))
    assert obs.count("<tool_response>") == 2 and len(info["tool_messages"]) == 2
    assert json.loads(info["tool_messages"][0]["content"])["rate_bpm"] > 0


def test_truncation_and_terminal_reward(make_env):
    e = make_env(task_id="medical_qa-0000", max_turns=2)
    e.reset()
    assert e.step(env.format_call("think", {"thought": "hmm"}))[1] == 0.0
    obs, r, term, trunc, info = e.step(env.format_call("think", {"thought": "still"}))
    assert trunc and not term and "reward_info" in info
    with pytest.raises(RuntimeError):
        e.step("more")


def test_no_tool_evaluates_text_as_code():
    import inspect
    import tools
    from clinic import charttools, toolset
    for mod in (tools, toolset, charttools, env):
        src = inspect.getsource(mod)
        assert "eval(" not in src and "exec(" not in src



def test_score_transcript_is_the_envs_reward_for_the_same_turns():
    """env.score_transcript (a trainer's reward function) replays the assistant's messages through MedicalEnv:
    the expert's, a wrong answer, and a transcript longer than max_turns get exactly what playing them in the env
    gives (the five dimensions included); nonsense and a transcript that stops before submitting are scored as
    they stand, with accuracy 0; the expert beats the wrong answer in every domain."""
    from clinic import bank
    picked = {}
    for t in bank.load_tasks(split="validation"):
        picked.setdefault(t["domain"], t)
    for t in picked.values():
        expert = env.expert_actions(t, 5)
        wrong = expert[:-1] + [env.format_call("submit_answer", {"answer": "not it", "rationale": "x"})]
        for turns in (expert, wrong, expert[:1] * 9):
            e = env.MedicalEnv(tasks=[t], max_turns=5, tool_specs="none")
            played, info = env.run_episode(e, lambda o, i, k: turns[k], options={"task_id": t["id"]})
            assert env.score_transcript(t, turns, max_turns=5) == (played, info["reward_info"])
        for turns in (["hello", "<tool_call>{oops</tool_call>"], expert[:-1]):
            r, info = env.score_transcript(t, turns, max_turns=5)
            assert info["accuracy"] == 0.0 and r == info["reward"] and r < 0.5
        assert env.score_transcript(t, expert, max_turns=5)[0] > env.score_transcript(t, wrong, max_turns=5)[0]


def test_transcript_reward_scores_calls_and_an_answer_as_the_env_does():
    """env.transcript_reward(task, calls, answer): each call one turn, then the submit; the same as playing
    those turns in MedicalEnv; the right answer after the expected work-up scores 1, a forbidden call is capped,
    and no answer scores accuracy 0."""
    from clinic import bank
    tasks = bank.load_tasks(split="validation")
    t = next(t for t in tasks if any(c["kind"] == "forbidden_call" for c in t["safety"]))
    answer, rationale = env.expert_answer(t)
    calls = [{"name": c["name"], "arguments": c["arguments"]} for c in t["expected_tools"]]
    r, info = env.transcript_reward(t, calls, answer, rationale)
    turns = [env.format_call(c["name"], c["arguments"]) for c in calls]
    turns.append(env.format_call("submit_answer", {"answer": answer, "rationale": rationale}))
    assert (r, info) == env.score_transcript(t, turns, max_turns=len(turns)) and r == 1.0
    bad = next(c for c in t["safety"] if c["kind"] == "forbidden_call")
    harm = {"name": bad["tool"], "arguments": {bad["argument"]: bad["values"][0]} if "argument" in bad else {}}
    r, info = env.transcript_reward(t, calls + [harm], answer, rationale)
    assert info["critical_violation"] and r <= 0.1
    assert env.transcript_reward(t, calls)[1]["accuracy"] == 0.0

"""MedicalEnv never raises and never stalls: the reported crashes and slow steps, then 10,000 hostile actions."""
import gc
import time

import pytest

import env
import tools
from benchmarks import adversary


def _step(e, task_id, action, seconds=0.1):
    e.reset(options={"task_id": task_id})
    t0 = time.perf_counter()
    out = e.step(action)
    assert time.perf_counter() - t0 < seconds, action[:80]
    return out


def _task(tasks, domain, pred=lambda t: True):
    return next(t["id"] for t in tasks if t["domain"] == domain and pred(t))


BIG = "1" * 5000      # past Python's 4,300-digit int-to-str limit
CRASHES = {   # the reproductions, each once a single env.step that raised
    "huge int literal": '<tool_call>{"name": "calc_meld", "arguments": {"bilirubin": ' + BIG + '}}</tool_call>',
    "huge int in string arguments": env.format_call("calc_meld", '{"bilirubin": ' + BIG + "}"),
    "1,000 nested [ in string arguments": env.format_call("think", "[" * 1000),
    "nesting just under the parser's limit": '<tool_call>{"name": "make_plan", "arguments": {"steps": '
                                             + "[" * 900 + "]" * 900 + "}}</tool_call>",
    "creatinine 0": env.format_call("calc_ckd_epi_2021", {"creatinine": 0, "age": 50, "sex": "male"}),
    "age -200000": env.format_call("calc_ckd_epi_2021", {"creatinine": 1.0, "age": -200000, "sex": "male"}),
    "age 1e400": '<tool_call>{"name": "calc_ckd_epi_2021", "arguments": {"creatinine": 1.0, "age": 1e400, '
                 '"sex": "male"}}</tool_call>',
    "bilirubin Infinity": '<tool_call>{"name": "calc_meld", "arguments": {"bilirubin": Infinity, "inr": 1.0, '
                          '"creatinine": 1.0}}</tool_call>',
    "bilirubin 1e999": '<tool_call>{"name": "calc_meld", "arguments": {"bilirubin": 1e999, "inr": 1.0, '
                       '"creatinine": 1.0}}</tool_call>',
    "bilirubin NaN": '<tool_call>{"name": "calc_meld", "arguments": {"bilirubin": NaN, "inr": 1.0, '
                     '"creatinine": 1.0}}</tool_call>',
    "400-digit convert_units": env.format_call("convert_units", {"value": int("9" * 400), "from_unit": "F",
                                                                 "to_unit": "C", "quantity": "temperature"}),
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_reported_crash_is_an_error_observation(make_env, tasks, name):
    e = make_env(max_turns=4)
    obs, r, term, trunc, info = _step(e, _task(tasks, "ehr_management"), CRASHES[name])
    assert "error (" in obs and r == 0.0 and not term
    assert sum(info["turn_errors"].values()) >= 1


def test_degenerate_numbers_are_schema_errors_naming_the_argument_and_range(tasks):
    case = tools.Case(task=next(t for t in tasks if t["domain"] == "ehr_management"))
    for args, arg in [({"creatinine": 0, "age": 50, "sex": "male"}, "creatinine"),
                      ({"creatinine": 1.0, "age": -200000, "sex": "male"}, "age"),
                      ({"creatinine": float("nan"), "age": 50, "sex": "male"}, "creatinine"),
                      ({"creatinine": float("inf"), "age": 50, "sex": "male"}, "creatinine")]:
        result, err = tools.dispatch(case, "calc_ckd_epi_2021", args, "ehr_management")
        assert err == "schema" and repr(arg) in result and "[" in result, result


def test_every_numeric_tool_argument_has_a_range():
    for t in tools.TOOLS.values():
        for p, spec in t.schema["function"]["parameters"]["properties"].items():
            if spec["type"] in ("number", "integer"):
                assert "minimum" in spec and "maximum" in spec, (t.name, p)


def test_a_tool_that_raises_anything_is_an_execution_error(tasks, monkeypatch):
    def boom(case, x: str = "a"):
        """Raises something no tool should."""
        raise ZeroDivisionError("boom") if x == "a" else RecursionError("deep")
    monkeypatch.setattr(tools, "EVERYWHERE", tools.EVERYWHERE + ("boom",))     # on every menu
    tools.register(boom, "scaffold")
    try:
        case = tools.Case(task=tasks[0])
        for x in ("a", "b"):
            result, err = tools.dispatch(case, "boom", {"x": x}, tasks[0]["domain"])
            assert err == "execution" and "boom failed" in result
        assert case.actions == []
    finally:
        del tools.TOOLS["boom"]


def test_child_pugh_class_then_numeric_answer_scores(make_env, tasks):
    """calc_child_pugh returns a class letter; coherence once called float('A') on a numeric task."""
    e = make_env(max_turns=4)
    tid = _task(tasks, "ehr_management", lambda t: t["answer"]["type"] == "number")
    e.reset(options={"task_id": tid})
    pugh = {"bilirubin": 2.5, "albumin": 3.0, "inr": 1.8, "ascites": "mild", "encephalopathy": "none"}
    obs, r, term, trunc, info = e.step(env.format_call("calc_child_pugh", pugh) +
                                       env.format_call("submit_answer", {"answer": "10"}))
    assert term and 0.0 <= r <= 1.0


def test_tag_soup_is_one_error_in_linear_time(make_env, tasks):
    e = make_env(max_turns=4)
    for piece in ("<tool_call>", "<tool_call>x", "<tool_call>{"):     # 2,900 tags: under the action limit
        action = piece * (32_000 // len(piece))
        obs, r, term, trunc, info = _step(e, tasks[0]["id"], action, seconds=0.02)
        assert info["turn_errors"]["malformed"] == 1


def test_calls_per_turn_are_capped_and_image_measurements_cached(make_env, tasks):
    e = make_env(max_turns=4, max_calls_per_turn=16)
    tid = _task(tasks, "visual_diagnosis", lambda t: "lesion" in t["question"])
    many = '<tool_call>{"name":"measure_lesion","arguments":{}}</tool_call>' * 500     # under the action limit
    obs, r, term, trunc, info = _step(e, tid, many, seconds=0.1)
    assert len([c for c in info["tool_calls"] if c["name"] == "measure_lesion"]) == 16
    assert info["turn_errors"]["malformed"] == 1 and "more than 16" in obs
    t0 = time.perf_counter()
    for _ in range(50):     # the PNG is decoded and measured once per episode
        e.step(env.format_call("measure_lesion", {}) * 2)
        if e.case.answer is not None or len(e.traj["turns"]) >= 4:
            e.reset(options={"task_id": tid})
            e.step(env.format_call("measure_lesion", {}))
    assert time.perf_counter() - t0 < 2.0


def test_calls_after_submit_are_ignored_and_counted(make_env, tasks):
    e = make_env(max_turns=4)
    t = next(t for t in tasks if t["answer"]["type"] == "choice")
    obs, r, term, trunc, info = _step(e, t["id"], "".join(
        env.format_call("submit_answer", {"answer": x}) for x in "ABCD"))
    assert term and e.case.answer == "A" and info["turn_errors"]["malformed"] == 1


def test_ten_thousand_hostile_actions(make_env):
    """Seeded fuzz over all 10 domains: no exception, no step over 100 ms, reward 0 until the end and in
    [0, 1] at the end."""
    n, slow, ends = 0, [], 0
    gc.collect()
    gc.freeze()     # the objects earlier tests left (models, tensors) are not the env's: keep GC off them
    try:
        e = make_env(max_turns=6)
        for task_id, seconds, r, done in adversary.hostile_episodes(10_000, seed=0, tasks=e.tasks, e=e):
            n += 1
            if seconds > 0.1:
                slow.append((task_id, seconds))
            assert (0.0 <= r <= 1.0) if done else r == 0.0, (task_id, r)
            ends += done
    finally:
        gc.unfreeze()
    assert n == 10_000 and not slow, slow[:5]
    assert ends > 1000

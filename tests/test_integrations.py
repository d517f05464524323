"""integrations/: the TRL environment, the environment server and its Gymnasium client give the same
observations, rewards, violations and tool errors as MedicalEnv; the server survives bad clients."""
import http.client
import inspect
import json
import random
import time

import pytest

import env as envmod
import tools
from clinic import bank, domains
from integrations import client, server, trl_env


@pytest.fixture(scope="module")
def srv():
    s = server.serve(port=0, max_sessions=8, idle_s=60.0)
    yield s
    s.shutdown()


def url(s):
    return f"http://127.0.0.1:{s.server_address[1]}"


def tool_methods(cls):
    return {n for n, _ in inspect.getmembers(cls, inspect.isfunction)
            if not n.startswith("_") and n not in ("reset", "get_reward")}


def test_each_domains_trl_tools_are_its_menu_with_the_envs_schemas():
    from transformers.utils import get_json_schema
    for d, cls in trl_env.environment_factories().items():
        assert tool_methods(cls) == set(tools.menu(d))
        e = cls()
        for name in tools.menu(d)[:12]:
            mine = tools.TOOLS[name].schema["function"]
            theirs = get_json_schema(getattr(e, name))["function"]
            assert theirs["description"] == mine["description"]
            assert set(theirs["parameters"].get("required", [])) == set(mine["parameters"]["required"])
            assert {k: v["type"] for k, v in theirs["parameters"]["properties"].items()} == \
                {k: v["type"] for k, v in mine["parameters"]["properties"].items()}


def random_value(spec, rng):
    """A value for an argument: usually of its type and range, sometimes of the wrong type or out of range."""
    roll = rng.random()
    if roll < 0.1:
        return rng.choice([None, "x" * 300, [1, 2], {"a": 1}, True])
    if spec["type"] in ("integer", "number"):
        lo, hi = spec.get("minimum", -5), spec.get("maximum", 500)
        v = rng.uniform(lo - (hi - lo) * 0.2, hi + (hi - lo) * 0.2) if roll < 0.3 else rng.uniform(lo, hi)
        return int(v) if spec["type"] == "integer" else round(v, 2)
    if spec["type"] == "boolean":
        return rng.random() < 0.5
    if spec["type"] == "array":
        return [rng.choice(["fever", "troponin", "sepsis"]) for _ in range(rng.randrange(3))]
    return rng.choice(["troponin", "chest_xray", "ceftriaxone", "sepsis", "A", "B", "3", "yes", ""])


def random_calls(task, rng, n=7):
    """Calls to tools on the task's menu with random, often invalid, arguments (unknown ones too)."""
    menu = tools.menu(envmod.menu_of(task))
    calls = []
    for _ in range(n):
        name = rng.choice([m for m in menu if m != "submit_answer"])
        props = tools.TOOLS[name].schema["function"]["parameters"]["properties"]
        args = {k: random_value(v, rng) for k, v in props.items() if rng.random() < 0.85}
        if rng.random() < 0.15:
            args["unexpected"] = 1
        calls.append((name, args))
    return calls + [("submit_answer", {"answer": rng.choice(["A", "B", "7", "yes", ""])})]


def expert_calls(task):
    answer, rationale = envmod.expert_answer(task)
    return [(c["name"], c["arguments"]) for c in task["expected_tools"]] + \
        [("submit_answer", {"answer": answer, "rationale": rationale})]


def adversarial_calls(task):
    """What a safety rule forbids (each forbidden call, then a forbidden answer if the task has one), with
    a must-call rule left unmet."""
    calls = [(c["tool"], {c["argument"]: c["values"][0]} if "argument" in c else {})
             for c in task["safety"] if c["kind"] == "forbidden_call"]
    forbidden = [c["values"][0] for c in task["safety"] if c["kind"] == "forbidden_answer"]
    return calls + [("submit_answer", {"answer": forbidden[0] if forbidden else "none of these"})]


def play_local(task, calls):
    e = envmod.MedicalEnv(tasks=[task], max_turns=len(calls) + 1, tool_specs="none")
    e.reset(options={"task_id": task["id"]})
    out, info = [], {}
    for name, args in calls:
        obs, rew, term, trunc, info = e.step(envmod.format_call(name, args))
        out.append((obs, "\n".join(m["content"] for m in info["tool_messages"])))
        if term or trunc:
            break
    return out, info.get("reward_info") or e.score(), dict(e.errors)


def play_trl(task, calls, server_url=None):
    e = trl_env.environment_class(task["domain"], max_turns=len(calls) + 1, server_url=server_url)()
    e.reset(task_id=task["id"])
    out = [getattr(e, name)(**args) for name, args in calls]
    errors = e._env.state()["errors"] if server_url else dict(e._env.errors)
    reward_info = e._reward_info()
    if server_url:
        e._env.close()
    return out, reward_info, errors


def play_remote(task, calls, address):
    e = client.RemoteMedicalEnv(address, task_id=task["id"], max_turns=len(calls) + 1, tool_specs="none")
    e.reset(seed=0)
    out, info = [], {}
    for name, args in calls:
        obs, rew, term, trunc, info = e.step(envmod.format_call(name, args))
        out.append(obs)
        if term or trunc:
            break
    errors = e.state()["errors"]
    e.close()
    return out, info["reward_info"], errors


def test_trl_env_server_client_and_medicalenv_agree_on_every_domain(srv):
    """The TRL env (in-process and on the server), the server's Gymnasium client and MedicalEnv: the same tool
    responses, reward breakdown and error counts for the expert's, random and safety-breaking calls."""
    rng = random.Random(0)
    tasks = bank.load_tasks(split="validation")
    for d in domains.names():
        mine = [t for t in tasks if t["domain"] == d]
        task = next((t for t in mine if t["safety"]), mine[0])
        for calls in (expert_calls(task), random_calls(task, rng), adversarial_calls(task)):
            local, local_reward, local_errors = play_local(task, calls)
            trl_out, trl_reward, trl_errors = play_trl(task, calls)
            remote, remote_reward, remote_errors = play_remote(task, calls, url(srv))
            trl_remote = play_trl(task, calls, url(srv))
            assert trl_remote[0] == trl_out and trl_remote[2] == trl_errors, (d, calls)
            assert trl_remote[1] == json.loads(json.dumps(local_reward, default=str)), (d, calls)
            assert trl_out[:len(local)] == [content for _, content in local], (d, calls)
            assert remote == [obs for obs, _ in local], (d, calls)
            as_json = json.loads(json.dumps(local_reward, default=str))
            assert trl_reward == local_reward and remote_reward == as_json, (d, calls)
            assert trl_errors == local_errors == remote_errors, (d, calls)
    # the lists are not vacuous: the expert is right and safe, the adversary trips the safety cap
    task = next(t for t in tasks if any(c["kind"] == "forbidden_call" for c in t["safety"]))
    assert play_local(task, expert_calls(task))[1]["accuracy"] == 1.0
    assert play_local(task, adversarial_calls(task))[1]["critical_violation"]


def test_a_trl_call_after_the_episode_ended_is_an_error_message_not_a_crash():
    task = bank.load_tasks(split="validation")[0]
    e = trl_env.environment_class(task["domain"])()
    e.reset(task_id=task["id"])
    e.submit_answer(answer="A")
    assert e.get_vitals().startswith("error: the episode is over")
    with pytest.raises(ValueError, match="unknown task_id"):
        e.reset(task_id="no-such-task")


def raw(s, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", s.server_address[1], timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = r.status, json.loads(r.read() or b"{}")
    conn.close()
    return out


def test_the_server_answers_bad_requests_with_a_4xx_line_and_keeps_serving(srv):
    assert raw(srv, "POST", "/reset", b"{not json", {"Content-Length": "9"})[0] == 400
    assert raw(srv, "POST", "/reset", b"[1]", {"Content-Length": "3"})[0] == 400
    assert raw(srv, "POST", "/reset", b"", {"Content-Length": str(10 ** 9)})[0] == 413
    assert raw(srv, "POST", "/step", b'{"session_id": "nope", "action": {"text": ""}}')[0] == 404
    assert raw(srv, "GET", "/nowhere")[0] == 404
    assert raw(srv, "GET", "/reset")[0] == 405
    assert raw(srv, "POST", "/reset", b'{"task_id": "nope"}')[0] == 404
    assert raw(srv, "POST", "/reset", b'{"seed": -1}')[0] == 400
    assert raw(srv, "POST", "/reset", b'{"max_turns": "many"}')[0] == 400
    status, out = raw(srv, "POST", "/reset", b'{"domain": "psychiatry", "seed": 3}')
    sid = out["metadata"]["session_id"]
    assert status == 200 and set(out) == {"observation", "reward", "done", "metadata"}
    body = json.dumps({"session_id": sid, "action": "not a dict"}).encode()
    status, out = raw(srv, "POST", "/step", body)
    assert status == 400 and isinstance(out["error"], str) and "\n" not in out["error"]
    submit = {"session_id": sid, "action": {"text": envmod.format_call("submit_answer", {"answer": "A"})}}
    assert raw(srv, "POST", "/step", json.dumps(submit).encode())[1]["done"]
    assert raw(srv, "POST", "/step", json.dumps(submit).encode())[0] == 409
    assert raw(srv, "POST", "/close", json.dumps({"session_id": sid}).encode())[0] == 200
    assert raw(srv, "GET", "/health") == (200, {"status": "healthy", "sessions": 0, "max_sessions": 8})


def test_sessions_are_bounded_and_idle_ones_expire():
    s = server.serve(port=0, max_sessions=2, idle_s=0.3)
    try:
        opened = [raw(s, "POST", "/reset", b'{"split": "validation"}') for _ in range(3)]
        assert [status for status, _ in opened] == [200, 200, 503]
        time.sleep(0.5)           # both clients vanished mid-episode: their sessions expire
        assert raw(s, "GET", "/health")[1]["sessions"] == 0
        sid = opened[0][1]["metadata"]["session_id"]
        assert raw(s, "GET", f"/state?session_id={sid}")[0] == 404
        assert raw(s, "POST", "/reset", b'{"split": "validation"}')[0] == 200
    finally:
        s.shutdown()


def steering(tok, completions):
    """transformers' sequence_bias that makes sampling write one of `completions`, then <|im_end|>: the longer
    the prefix of a completion the last tokens match, the larger the bias on its next token, so the longest
    match wins; completions that differ at one token (the answer letter) are sampled by the model's logits."""
    end = tok.convert_tokens_to_ids("<|im_end|>")
    bias = {}
    for c in completions:
        ids = tok.encode(c, add_special_tokens=False) + [end]
        for k in range(1, len(ids) + 1):
            bias[tuple(ids[:k])] = 10.0 * k
    return [[list(k), v] for k, v in bias.items()]


@pytest.mark.skipif(__import__("importlib").util.find_spec("trl") is None,
                    reason="TRL is not installed (pip install trl==1.16.0; .ci/run installs it)")
@pytest.mark.parametrize("where", ["in-process", "on the server"])
def test_trl_grpo_trainer_trains_on_the_envs_reward(tmp_path, monkeypatch, srv, where):
    """Two GRPOTrainer steps on CPU with the tiny model, its sampling steered to submit an answer letter (an
    untrained model writes no tool call), the episodes in-process or on the environment server: every
    rollout's reward is the env's for the calls it made (replayed through MedicalEnv), and the reward TRL logs
    and optimises is their mean."""
    import torch
    import agent
    import config
    from integrations import train_trl
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    torch.manual_seed(0)
    model, tok = agent.load_policy(config.ModelConfig())
    tok = train_trl.set_qwen3_template(tok)
    rows = trl_env.dataset_rows("validation", n=2, domain="medical_qa")
    calls = ['<tool_call>\n{"name": "submit_answer", "arguments": {"answer": "%s"}}\n</tool_call>' % x
             for x in "ABCD"]
    played = []

    server_url = url(srv) if where == "on the server" else None

    class Recorded(trl_env.environment_class("medical_qa", max_turns=4, server_url=server_url)):
        def get_reward(self):
            r = super().get_reward()
            state = self._env.state() if server_url else {"task_id": self._env.case.task["id"],
                                                           "turns": self._env.traj["turns"]}
            played.append((trl_env._task(state["task_id"]), [c for t in state["turns"] for c in t["calls"]], r))
            return r

    trainer = train_trl.trainer_for(model, tok, rows, str(tmp_path), steps=2, generations=2,
                                    max_completion_length=48, factories={"medical_qa": Recorded},
                                    max_tool_calling_iterations=1,
                                    generation_kwargs={"sequence_bias": steering(tok, calls)})
    trainer.train()
    logged = [row["reward"] for row in trainer.state.log_history if "reward" in row]
    assert len(logged) == 2 and len(played) == 4
    for task, made, r in played:
        turns = [envmod.format_call(c["name"], c["arguments"]) for c in made]
        assert envmod.score_transcript(task, turns, max_turns=4)[0] == pytest.approx(r, abs=1e-9)
    for step in range(2):
        mine = [r for _, _, r in played[2 * step:2 * step + 2]]
        assert logged[step] == pytest.approx(sum(mine) / len(mine), abs=1e-6)
    assert any(made for _, made, _ in played), "no rollout reached the env: the check would be empty"
    # where a group's rewards differ, GRPO's advantages are not 0 and the step moves the weights
    grads = [float(row["grad_norm"]) for row in trainer.state.log_history if "grad_norm" in row]
    for step in range(2):
        spread = played[2 * step][2] != played[2 * step + 1][2]
        assert (grads[step] > 0) == spread
    assert len({r for _, _, r in played}) > 1


def test_the_client_plays_raw_turns_as_medicalenv_does(srv):
    """Whole assistant turns through the server (what TRL cannot send: malformed blocks, unknown and
    off-menu tools, several calls in a turn, an action over the length limit) give MedicalEnv's observations,
    rewards, info and error counts; a seeded reset picks the same task."""
    rng = random.Random(1)
    task = bank.load_tasks(split="validation")[3]
    off_menu = next(n for n in tools.TOOLS if n not in tools.menu(envmod.menu_of(task)))
    turns = ["no call at all", "<tool_call>{not json</tool_call>",
             envmod.format_call("no_such_tool", {}) + envmod.format_call(off_menu, {}),
             envmod.format_call("get_vitals", {}) * 3, "x" * 40000,
             envmod.random_text_policy(__import__("numpy").random.default_rng(0))(None, None, 0),
             envmod.format_call("submit_answer", {"answer": rng.choice("ABCD")})]
    local = envmod.MedicalEnv(tasks=[task], max_turns=len(turns), tool_specs="full")
    remote = client.RemoteMedicalEnv(url(srv), task_id=task["id"], max_turns=len(turns))
    assert remote.reset(seed=4)[0] == local.reset(seed=4, options={"task_id": task["id"]})[0]
    for text in turns:
        mine, theirs = local.step(text), remote.step(text)
        assert theirs[:4] == mine[:4]
        assert theirs[4] == json.loads(json.dumps(mine[4], default=str))
        if any(mine[2:4]):
            break
    assert remote.state()["errors"] == local.errors and sum(local.errors.values()) >= 5
    remote.close()
    pooled = client.RemoteMedicalEnv(url(srv), domain="triage_emergency", split="validation")
    pool = [t for t in bank.load_tasks(split="validation") if t["domain"] == "triage_emergency"]
    assert pooled.reset(seed=11)[1]["task_id"] == envmod.MedicalEnv(tasks=pool).reset(seed=11)[1]["task_id"]
    pooled.close()


def test_the_client_passes_gymnasiums_env_checker(srv):
    from gymnasium.utils.env_checker import check_env
    e = client.RemoteMedicalEnv(url(srv), split="validation", max_turns=3)
    check_env(e, skip_render_check=True)
    e.close()

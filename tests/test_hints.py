"""clinic/hints.py and ttopd.outcome_of: each domain's hint names what it should, from a played episode."""
import os
import random
import shutil
import types

import pytest

import agent
import config
import env as envmod
import ttopd
import warmstart
from clinic import domains, hints

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_CASES = 60


def played(make_env, task, actions):
    """A Trajectory-like record of scripted actions played through the env (what ttopd.outcome_of reads)."""
    e = make_env(tasks=[task], max_turns=10)
    e.reset(seed=0)
    calls, info = [], {}
    for a in actions:
        info = e.step(a)[4]
        calls += info["tool_calls"]
        if "reward_info" in info:
            break
    return types.SimpleNamespace(task=task, calls=calls, reward_info=info.get("reward_info") or e.score(),
                                 turn_spans=[(0, 1)])


def one_task_per_domain(tasks):
    first = {}
    for t in tasks:
        first.setdefault(t["domain"], t)
    return [first[d] for d in domains.names()]


def test_each_domains_correct_and_wrong_hints_name_what_they_should(make_env, tasks):
    d = ttopd.DistillConfig()
    for task in one_task_per_domain(tasks):
        right = hints.answer_text(task)
        good = played(make_env, task, envmod.expert_actions(task))
        cue = ttopd.hint_text(d, good)
        assert good.reward_info["accuracy"] == 1.0 and f'correct, {{"answer": "{right}"}}' in cue, (task["id"], cue)
        assert hints.EVIDENCE[task["domain"]] in cue
        assert all(hints.step_text(c) in cue for c in task["expected_tools"])
        # wrong: skip the first expected step and submit another answer
        wrong = hints.wrong_answer(task, random.Random(0))
        actions = envmod.expert_actions(task, max_turns=len(task["expected_tools"]) + 1)[1:-1] + [
            envmod.format_call("submit_answer", {"answer": wrong})]
        bad = played(make_env, task, actions)
        redirect = ttopd.hint_text(d, bad)
        assert bad.reward_info["accuracy"] < 1.0, task["id"]
        assert f"the submitted answer {wrong} is wrong" in redirect
        assert redirect.endswith(f'The correct one is {{"answer": "{right}"}}.')
        assert "Skipped: " + hints.step_text(task["expected_tools"][0]) in redirect, redirect
        assert "Unsafe" not in redirect or bad.reward_info["violations"]


def test_redirection_names_the_broken_safety_rule_and_a_missing_answer(make_env, tasks):
    task = next(t for t in tasks if t["domain"] == "triage_emergency" and t["answer"]["value"] == 1
                and any(c.get("tool") == "discharge_patient" for c in t["safety"]))
    bad = played(make_env, task, [envmod.format_call("discharge_patient", {"instructions": "go home"}),
                                  envmod.format_call("get_vitals", {})])
    text = ttopd.hint_text(ttopd.DistillConfig(), bad)
    assert "no answer was submitted" in text and "discharge of an ESI-1 patient" in text
    assert 'The correct one is {"answer": "1"}' in text


def test_generic_and_none_styles_carry_no_case_information(make_env, tasks):
    task = one_task_per_domain(tasks)[0]
    good = played(make_env, task, envmod.expert_actions(task))
    generic = ttopd.hint_text(ttopd.DistillConfig(hints="generic"), good)
    assert generic == hints.GENERIC[True] and hints.answer_text(task) not in generic.split()
    assert ttopd.hint_text(ttopd.DistillConfig(hints="none"), good) == ""


def test_confirm_and_redirect_styles_give_one_outcome_its_informative_hint_and_the_other_none(make_env, tasks):
    task = one_task_per_domain(tasks)[1]
    good = played(make_env, task, envmod.expert_actions(task))
    wrong = hints.wrong_answer(task, random.Random(0))
    bad = played(make_env, task, envmod.expert_actions(task)[:-1] + [
        envmod.format_call("submit_answer", {"answer": wrong})])
    cue, redirect = (ttopd.hint_text(ttopd.DistillConfig(), ep) for ep in (good, bad))
    style = {s: [ttopd.hint_text(ttopd.DistillConfig(hints=s), ep) for ep in (good, bad)]
             for s in ("confirm", "redirect")}
    assert cue.startswith("Teacher note: correct") and redirect
    assert style["confirm"] == [cue, ""] and style["redirect"] == ["", redirect]
    assert f"the submitted answer {wrong} is wrong" in style["redirect"][1]


def test_hinted_demonstrations_put_the_hint_where_the_teacher_reads_it(tasks):
    cfg = config.load("configs/tiny.yaml", config.Config, ["warm_start.hint_share=1.0"])
    tok = agent.load_policy(cfg.model)[1]
    task = one_task_per_domain(tasks)[0]
    task, text = warmstart.demonstration(task, random.Random(0), cfg.warm_start)
    assert text.startswith("Teacher note") and hints.answer_text(task) in text
    plain = warmstart.expert_trajectory(tok, task, cfg.rollout)
    hinted = warmstart.expert_trajectory(tok, task, cfg.rollout, hint=text)
    boundary = plain.turn_spans[0][0]
    hint = agent.hint_ids(tok, text)
    assert hinted.ids == ttopd.with_hint(plain.ids, boundary, hint)      # the teacher's exact context
    assert sum(hinted.mask) == sum(plain.mask) and not any(hinted.mask[boundary:boundary + len(hint)])
    off = config.load("configs/tiny.yaml", config.Config, ["warm_start.hint_share=0.0"]).warm_start
    assert warmstart.demonstration(task, random.Random(0), off) == (task, "")


def test_answer_steps_train_exactly_the_submitted_answers_tokens(tasks):
    """warm_start.answer_steps: the answer's own tokens (what a hint names), for a letter, a number and a text
    with escaped quotes; no other token of the submit call, and nothing of another call."""
    cfg = config.load("configs/tiny.yaml", config.Config, [])
    tok = agent.load_policy(cfg.model)[1]
    call = '<tool_call>{"name": "submit_answer", "arguments": {"answer": ANSWER, "rationale": "B."}}</tool_call>'
    quoted = 'acute \\"lobar\\" pneumonia'
    for value, text in (('"B"', "B"), ("12.5", "12.5"), (f'"{quoted}"', quoted)):
        action = call.replace("ANSWER", value)
        ids = tok.encode(action, add_special_tokens=False)
        answer = tok.decode([ids[k] for k in warmstart.answer_tokens(tok, action)])
        assert answer.strip() == text            # (" 12" is one token: the space comes with it)
    assert warmstart.answer_tokens(tok, '<tool_call>{"name": "get_vitals", "arguments": {}}</tool_call>') == []
    task = next(t for t in tasks if t["answer"]["type"] == "choice")
    assert "answer_positions" not in warmstart.expert_trajectory(tok, task, cfg.rollout).extras   # not asked
    tr = warmstart.expert_trajectory(tok, task, cfg.rollout, mark_answer=True)
    positions = tr.extras["answer_positions"]
    assert [tok.decode([tr.ids[i]]) for i in positions] == [task["answer"]["value"]]
    assert positions[0] in range(*tr.turn_spans[-1])               # inside the submit turn
    ids, _, mask, _ = agent.pad_trajectories([tr, tr], tok.pad_token_id, "cpu")
    only = warmstart.answer_only([tr, tr], mask)
    assert only.sum() == 2 and only[0, positions[0]] == 1


def test_the_grown_answer_phase_cuts_the_work_up_and_trains_the_answer_alone(tasks):
    """warm_start.answer_grow: last_turns keeps the work-up's last k turns before the submit (0: the hint, then
    the submit); the phase draws all-hinted demonstrations, one turn more every answer_grow steps, and trains."""
    import torch
    cfg = config.load("configs/tiny.yaml", config.Config, ["warm_start.answer_steps=4", "warm_start.answer_grow=2",
                                                          "warm_start.answer_batch=2"])
    model, tok = agent.load_policy(cfg.model)
    task = next(t for t in tasks if len(t["expected_tools"]) >= 3)
    full = warmstart.expert_trajectory(tok, task, cfg.rollout, expert_turns=5)
    for k in (0, 1, 2):
        cut = warmstart.expert_trajectory(tok, task, cfg.rollout, expert_turns=5, last_turns=k)
        assert len(cut.turn_spans) == k + 1 and cut.ids[-20:] == full.ids[-20:]
    seen = []
    real = warmstart.expert_trajectory

    def spy(*a, **kw):
        seen.append((kw["hint"], kw["last_turns"]))
        return real(*a, **kw)
    try:
        warmstart.expert_trajectory = spy
        before = [p.detach().clone() for p in model.parameters()]
        curve = warmstart.grown_answers(model, tok, tasks[:50], cfg, random.Random(0))
    finally:
        warmstart.expert_trajectory = real
    assert len(curve) == 4 and all(h for h, _ in seen) and [k for _, k in seen] == [0, 0, 0, 0, 1, 1, 1, 1]
    # letter_curve.py --grow 250 75
    later = config.WarmStartConfig(answer_steps=700, answer_grow=75, answer_grow_after=250)
    assert [warmstart.grown_turns(s, later) for s in (0, 249, 250, 324, 325, 699)] == [0, 0, 1, 1, 2, 6]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_answer_steps_with_a_slow_tokenizer_is_one_error_naming_the_key(monkeypatch):
    cfg = config.load("configs/tiny.yaml", config.Config, ["warm_start.answer_steps=5"])
    model, tok = agent.load_policy(cfg.model)
    monkeypatch.setattr(type(tok), "is_fast", property(lambda self: False))
    monkeypatch.setattr(agent, "load_policy", lambda *a, **k: (model, tok))
    with pytest.raises(config.ConfigError, match="warm_start.answer_steps"):
        warmstart.warm_start(cfg)


def test_copy_strings_repeat_tokens_of_a_small_alphabet():
    ws = config.WarmStartConfig(copy_batch=4, copy_length=48, copy_alphabet=6)
    import torch
    s = warmstart.copy_strings(3000, ws, torch.Generator().manual_seed(0))
    assert s.shape == (4, 48) and all(len(set(row.tolist())) <= 6 for row in s)
    wide = warmstart.copy_strings(3000, config.WarmStartConfig(copy_alphabet=0), torch.Generator().manual_seed(0))
    assert max(len(set(row.tolist())) for row in wide) > 30


@pytest.mark.parametrize("share", [0.5])
def test_hint_share_is_the_share_of_hinted_demonstrations(tasks, share):
    ws = config.WarmStartConfig(hint_share=share, wrong_hint_share=0.5)
    rng = random.Random(0)
    texts = [warmstart.demonstration(t, rng, ws)[1] for t in tasks[:400]]
    hinted = [x for x in texts if x]
    assert abs(len(hinted) / 400 - share) < 0.07
    assert 0.35 < sum("is wrong" in x or "no answer" in x for x in hinted) / len(hinted) < 0.65


def test_shuffled_options_keep_the_case_and_move_the_answer_letter(tasks, make_env):
    choice = [t for t in tasks if t["answer"]["type"] == "choice"][:50]
    moved = 0
    for k, task in enumerate(choice):
        new = hints.shuffled_options(task, random.Random(k))
        right = task["answer"]["options"][ord(task["answer"]["value"]) - 65]
        assert new["answer"]["options"][ord(new["answer"]["value"]) - 65] == right
        assert sorted(new["answer"]["options"]) == sorted(task["answer"]["options"])
        assert f'{new["answer"]["value"]}) {right}' in new["question"].split("\n")
        moved += new["answer"]["value"] != task["answer"]["value"]
        good = played(make_env, new, envmod.expert_actions(new))
        assert good.reward_info["accuracy"] == 1.0 and not good.reward_info["violations"]
    assert moved > 25
    number = next(t for t in tasks if t["answer"]["type"] == "number")
    assert hints.shuffled_options(number, random.Random(0)) is number


def test_hint_aware_warm_start_raises_the_hinted_answers_probability(tmp_path, monkeypatch):
    """Two warm starts from one init on the same multiple-choice cases, with and without hinted demonstrations;
    then a hint that names a *wrong* option as correct: the hint-trained model gives that option's submit turn
    a higher log-probability relative to the right one (it reads the hint) than the model trained without."""
    import json
    import statistics
    import torch
    from clinic import bank
    from benchmarks import hint_reading
    cases = [t for t in bank.load_tasks(split="train") if t["domain"] == "medical_qa"][:N_CASES]
    monkeypatch.setattr(bank, "load_tasks", lambda split=None, **kw: list(cases))
    shape = {**json.load(open(os.path.join(ROOT, "configs", "tiny_model.json"))), "num_hidden_layers": 2}
    (tmp_path / "model.json").write_text(json.dumps(shape))
    margins = {}
    for share in (1.0, 0.0):
        cfg = config.load("configs/tiny.yaml", config.Config, [
            f"warm_start.hint_share={share}", "warm_start.epochs=6", f"warm_start.out_dir={tmp_path / str(share)}",
            "warm_start.tokens_per_batch=1024", "warm_start.lr=0.003", f"model.tiny_config={tmp_path / 'model.json'}"])
        torch.manual_seed(0)
        model, tok, _ = warmstart.warm_start(cfg)
        model.eval()
        rng = random.Random(5)
        gaps = []
        for t in cases[:20]:
            wrong = hint_reading.misled(t, rng)
            h = hints.render(wrong, hints.expert_outcome(wrong))
            gaps.append(hint_reading.submit_logprob(model, tok, cfg, wrong, h)
                        - hint_reading.submit_logprob(model, tok, cfg, t, h))
        margins[share] = statistics.mean(gaps)
    # measured on the bank of issue 33: -0.037 nats (hint-trained) vs -0.431 (trained without hints); on the bank
    # before it +0.127 vs +0.026. Hint training moves the hinted option up by far more than training without
    # hints; whether it then wins outright depends on the cases (issue 34 measures that).
    assert margins[1.0] > margins[0.0] + 0.1, margins


def test_answer_mix_adds_a_hinted_answer_term_to_every_cloning_step(tmp_path, monkeypatch):
    """warm_start.answer_mix: every cloning step also trains the answer tokens of answer_batch hinted
    demonstrations drawn afresh with the whole work-up; the term has its own curve, the cloning curve stays the
    cloning loss (its first value, before any update, equals a run without the term), and the term moves the
    weights (the second cloning loss differs)."""
    import torch
    from clinic import bank
    cases = [t for t in bank.load_tasks(split="train") if t["answer"]["type"] == "choice"][:6]
    monkeypatch.setattr(bank, "load_tasks", lambda split=None, **kw: list(cases))
    seen, real = [], warmstart.expert_trajectory

    def spy(*a, **kw):
        seen.append((bool(kw.get("hint")), kw.get("last_turns"), kw.get("mark_answer")))
        return real(*a, **kw)
    monkeypatch.setattr(warmstart, "expert_trajectory", spy)
    curves = {}
    for mix in (0.0, 2.0):
        cfg = config.load("configs/tiny.yaml", config.Config, [
            "warm_start.epochs=2", f"warm_start.out_dir={tmp_path / str(mix)}", "warm_start.tokens_per_batch=1024",
            f"warm_start.answer_mix={mix}", "warm_start.answer_batch=2"])
        seen.clear()
        torch.manual_seed(0)
        curves[mix] = warmstart.warm_start(cfg)[2]
    summary = curves[2.0]
    assert curves[0.0]["answer_mix_curve"] == [] and len(summary["answer_mix_curve"]) == summary["steps"] >= 2
    assert all(v > 0 for v in summary["answer_mix_curve"])
    mixed = seen[len(cases):]                 # after the cloning set: the term's demonstrations
    assert len(mixed) == 2 * summary["steps"] and all(h and k is None and m for h, k, m in mixed)
    assert summary["loss_curve"][0] == pytest.approx(curves[0.0]["loss_curve"][0], abs=1e-6)
    assert summary["loss_curve"][1] != pytest.approx(curves[0.0]["loss_curve"][1], abs=1e-6)
    # with answer_grow the term's work-up follows the curriculum, counted on from the answer phase's steps
    cfg = config.load("configs/tiny.yaml", config.Config, [
        "warm_start.epochs=2", f"warm_start.out_dir={tmp_path / 'grown'}", "warm_start.tokens_per_batch=1024",
        "warm_start.answer_mix=1.0", "warm_start.answer_batch=1", "warm_start.answer_grow=1",
        "warm_start.answer_grow_after=1"])
    seen.clear()
    steps = warmstart.warm_start(cfg)[2]["steps"]
    assert [k for _, k, _ in seen[len(cases):]] == [warmstart.grown_turns(s, cfg.warm_start) for s in range(steps)]
    assert [k for _, k, _ in seen[len(cases):]][:3] == [0, 1, 2]


def test_answer_keep_adds_the_cloning_loss_to_every_answer_phase_step(tmp_path, monkeypatch):
    """warm_start.answer_keep: each answer-phase step, grown or not, adds answer_keep x the cloning loss of a
    batch of the warm start's own demonstrations (its own curve, one value a step); the answer loss it is
    added to starts from the same value."""
    import torch
    from clinic import bank
    cases = [t for t in bank.load_tasks(split="train") if t["answer"]["type"] == "choice"][:6]
    monkeypatch.setattr(bank, "load_tasks", lambda split=None, **kw: list(cases))
    for phase in (["warm_start.answer_grow=1"], []):
        runs = {}
        for keep in (0.0, 0.5):
            cfg = config.load("configs/tiny.yaml", config.Config, phase + [
                "warm_start.epochs=1", f"warm_start.out_dir={tmp_path / str(keep)}", "warm_start.answer_steps=3",
                "warm_start.tokens_per_batch=1024", f"warm_start.answer_keep={keep}", "warm_start.answer_batch=2"])
            torch.manual_seed(0)
            runs[keep] = warmstart.warm_start(cfg)[2]
        kept, plain = runs[0.5], runs[0.0]
        assert plain["answer_keep_curve"] == [] and len(kept["answer_keep_curve"]) == 3
        assert all(v > 0 for v in kept["answer_keep_curve"])
        assert kept["answer_loss_curve"][0] == pytest.approx(plain["answer_loss_curve"][0], abs=1e-6)
        assert kept["answer_loss_curve"][1] != pytest.approx(plain["answer_loss_curve"][1], abs=1e-6)
        assert kept["loss_curve"] != plain["loss_curve"]            # the model differs after the phase


def test_a_warm_start_records_what_built_it(tmp_path, monkeypatch):
    """warmstart_log.json holds the weights' sha256, the command line and inputs_sha256, which the checkout
    recomputes from the config and the demonstrations; a changed warm_start key or demonstration changes it."""
    import json
    import torch
    from clinic import bank, files
    cases = [t for t in bank.load_tasks(split="train")][:6]
    monkeypatch.setattr(bank, "load_tasks", lambda split=None, **kw: list(cases))
    cfg = config.load("configs/tiny.yaml", config.Config, [
        "warm_start.epochs=1", f"warm_start.out_dir={tmp_path / 'ws'}", "warm_start.tokens_per_batch=1024"])
    warmstart.warm_start(cfg, "python warmstart.py configs/tiny.yaml")
    record = json.load(open(tmp_path / "ws" / "warmstart_log.json"))
    assert files.sha256(tmp_path / "ws" / "model.safetensors") == record["weights_sha256"]
    assert record["command"] == "python warmstart.py configs/tiny.yaml"
    model, tok = agent.load_policy(cfg.model)
    trajs = warmstart.cloning_set(cfg, tok, random.Random(cfg.warm_start.seed))[2]
    assert warmstart.inputs_sha256(cfg, trajs) == record["inputs_sha256"]
    other = config.load("configs/tiny.yaml", config.Config, [
        "warm_start.epochs=1", "warm_start.out_dir=elsewhere", "warm_start.tokens_per_batch=1024"])
    assert warmstart.inputs_sha256(other, trajs) == record["inputs_sha256"]        # out_dir is not an input
    other.warm_start.lr /= 2
    assert warmstart.inputs_sha256(other, trajs) != record["inputs_sha256"]
    assert warmstart.inputs_sha256(cfg, trajs[1:]) != record["inputs_sha256"]
    # continued from a checkpoint (model.path), the record covers that checkpoint's weights
    shutil.copytree(tmp_path / "ws", tmp_path / "ws2")
    cont = config.load("configs/tiny.yaml", config.Config, [f"model.path={tmp_path / 'ws2'}"])
    before = warmstart.inputs_sha256(cont, trajs)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    model.save_pretrained(tmp_path / "ws2")
    assert warmstart.inputs_sha256(cont, trajs) != before


SHIPPED = os.path.join(ROOT, "data", "warmstart_hint_reading")


def test_the_shipped_hint_reading_warm_start_is_what_its_commands_build():
    """data/warmstart_hint_reading was built by the commands in its build.json, each from the one before
    (model.path = the previous out_dir). Each stage's inputs_sha256 is recomputed from this checkout (config,
    demonstrations, warmstart.py, library versions) with the previous stage's recorded weights, and the
    shipped weights are the last stage's. A change to any of those fails here: rebuild with the commands
    (about 45 minutes on 2 cores, thread counts as recorded) and ship the new weights and records."""
    import json
    import shlex
    from transformers import AutoTokenizer
    from clinic import files
    stages = json.load(open(os.path.join(SHIPPED, "build.json")))
    tok = AutoTokenizer.from_pretrained(agent.TOKENIZER_DIR, local_files_only=True)
    previous = None
    for stage in stages:
        argv = shlex.split(stage["command"])
        argv = argv[argv.index("warmstart.py") + 1:]
        cfg = config.load(argv[0], config.Config, argv[1:], ignore_sections=True)
        assert cfg.model.path == (previous["out_dir"] if previous else ""), stage["command"]
        trajs = warmstart.cloning_set(cfg, tok, random.Random(cfg.warm_start.seed))[2]
        start = [previous["weights_sha256"]] if previous else None
        assert warmstart.inputs_sha256(cfg, trajs, start) == stage["inputs_sha256"], stage["command"]
        previous = {"out_dir": cfg.warm_start.out_dir, "weights_sha256": stage["weights_sha256"]}
    assert files.sha256(os.path.join(SHIPPED, "model.safetensors")) == stages[-1]["weights_sha256"]


def test_the_shipped_hint_reading_teacher_follows_a_misleading_hint():
    """Teacher-forced, as TT-OPD's teacher scores a student: on held-out multiple-choice cases a confirmatory
    hint naming a wrong option makes that option's submit turn likelier than the right one's (follow; a model
    that ignores the hint follows about 1 - right of the time, as the untrained embedded model here does) and
    gives the wrong answer's tokens most of the log-probability they could gain (pull_ceiling)."""
    import torch
    from benchmarks import hint_reading
    torch.manual_seed(0)
    cfg = config.load("configs/tiny.yaml", config.Config, [])
    cases = hint_reading.choice_cases("validation", 12, 1)
    follows = {}
    for name, path in (("shipped", SHIPPED), ("untrained", None)):
        model, tok = agent.load_policy(cfg.model, path)
        model.eval()
        follows[name] = hint_reading.teacher_forced_follow(model, tok, cfg, cases)
    shipped, untrained = follows["shipped"], follows["untrained"]
    assert shipped["follow"] >= 0.8 and shipped["follow"] - (1 - shipped["right"]) >= 0.3
    assert shipped["pull_answer"] >= 0.7 * shipped["pull_ceiling"] > 0
    assert abs(untrained["follow"] - (1 - untrained["right"])) <= 0.25
    assert abs(untrained["pull_answer"]) < 0.2 * shipped["pull_answer"]

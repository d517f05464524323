"""ttopd.py: EMA (plain and FSDP), hints, the turn-level KL by hand, lambda's phase-out, torchrun."""
import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import agent
import config
import ttopd
from torchrun import torchrun
from distributed import checkpoint, fsdp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ema_and_hard_copy_match_the_formula():
    torch.manual_seed(0)
    s, t = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    expected = [0.995 * b.detach() + 0.005 * a.detach() for a, b in zip(s.parameters(), t.parameters())]
    ttopd.ema_update(t, s, 0.995)
    for p, e in zip(t.parameters(), expected):
        torch.testing.assert_close(p.detach(), e)
    ttopd.hard_copy(t, s)
    assert all(torch.equal(a, b) for a, b in zip(s.parameters(), t.parameters()))


def test_ema_under_fsdp_and_the_logged_kl_over_two_cpu_ranks():
    r = subprocess.run(torchrun(2) + [os.path.join(ROOT, "tests", "fsdp_ema_check.py")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "EMA_OK" in r.stdout and "KL_OK" in r.stdout, r.stdout + r.stderr[-2000:]


def test_turn_kl_by_hand_on_a_two_turn_trajectory():
    # tokens 0..7; turn 1 = tokens [2, 4), turn 2 = tokens [6, 7); vocab of 2
    s_probs = torch.full((7, 2), 0.5)
    t_probs = torch.full((7, 2), 0.5)
    s_probs[1] = torch.tensor([0.9, 0.1])          # row 1 predicts token 2 (turn 1)
    t_probs[1] = torch.tensor([0.5, 0.5])
    s_probs[5] = torch.tensor([0.2, 0.8])          # row 5 predicts token 6 (turn 2)
    t_probs[5] = torch.tensor([0.4, 0.6])
    kl1 = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    kl2 = 0.2 * math.log(0.2 / 0.4) + 0.8 * math.log(0.8 / 0.6)
    kl = ttopd.token_kl(s_probs.log(), t_probs.log(), 10.0)
    spans = [(2, 4), (6, 7)]
    d, per_turn = ttopd.turn_mean(kl, spans, ttopd.distilled_turns(2, 0, 0))
    # turn 1 averages its two tokens (rows 1 and 2; row 2 has KL 0); turn 2 has one token
    assert per_turn[0].item() == pytest.approx(kl1 / 2) and per_turn[1].item() == pytest.approx(kl2)
    assert d.item() == pytest.approx((kl1 / 2 + kl2) / 2)
    d1, first = ttopd.turn_mean(kl, spans, ttopd.distilled_turns(2, 1, 0))
    assert d1.item() == pytest.approx(kl1 / 2) and list(first) == [0]      # truncated to the first turn
    dl, last = ttopd.turn_mean(kl, spans, ttopd.distilled_turns(2, 0, 1))
    assert dl.item() == pytest.approx(kl2) and list(last) == [1]           # the last (submit) turn, logged as turn 1
    assert list(ttopd.distilled_turns(2, 0, 5)) == [0, 1] and list(ttopd.distilled_turns(3, 5, 0)) == [0, 1, 2]
    dc, _ = ttopd.turn_mean(ttopd.token_kl(s_probs.log(), t_probs.log(), 0.1), [(2, 4)], range(1))
    assert dc.item() == pytest.approx((0.9 * 0.1 + 0.1 * -0.1) / 2)   # per-token log-ratio clip


def test_hint_changes_the_teacher_but_never_enters_its_scored_rows():
    torch.manual_seed(0)
    cfg = config.load("configs/tiny.yaml", config.Config)
    model, tok = agent.load_policy(cfg.model)
    ids = tok.encode("<|im_start|>user\ncase<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)
    boundary = len(ids)
    ids = ids + tok.encode('<tool_call>{"name": "get_vitals"}</tool_call><|im_end|>', add_special_tokens=False)
    hint = agent.hint_ids(tok, ttopd.DistillConfig().hint_wrong)
    hinted = ttopd.with_hint(ids, boundary, hint)
    student = torch.arange(len(ids) - 1)
    rows = ttopd.teacher_rows(student, torch.full_like(student, boundary), torch.full_like(student, len(hint))).tolist()
    assert all(hinted[r + 1] == ids[j + 1] for j, r in enumerate(rows))      # same token predicted
    assert not set(range(boundary - 1, boundary - 1 + len(hint))) & set(rows[boundary - 1:])  # hint rows skipped
    with torch.no_grad():
        plain = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
        with_h = torch.log_softmax(model(input_ids=torch.tensor([hinted])).logits[0], -1)[rows]
    torch.testing.assert_close(plain[:boundary - 1], with_h[:boundary - 1])   # before the hint: same
    assert (plain[boundary:len(ids) - 1] - with_h[boundary:]).abs().max() > 1e-4   # after: the hint matters


def test_lambda_only_goes_down():
    d = ttopd.DistillConfig(lam=4.0, phase_out_steps=40)
    lam = ttopd.LamSchedule(d)
    values = [lam.at(s) for s in [1, 6, 11, 4, 1, 21, 41, 42, 3, 101]]   # earlier steps cannot re-engage it
    assert values[0] == 4.0 and values[2] == pytest.approx(3.0) and values[5] == pytest.approx(2.0)
    assert values[6] == 0.0
    assert all(b <= a for a, b in zip(values, values[1:]))
    cos = ttopd.LamSchedule(ttopd.DistillConfig(lam=4.0, schedule="cosine", phase_out_steps=40))
    assert cos.at(21) == pytest.approx(2.0)
    cos.disable()
    assert cos.at(1) == 0.0


def test_torchrun_two_ranks_two_steps(tmp_path):
    out = tmp_path / "run"
    args = ["init_checkpoint=", "eval_tasks=2", "rollout.max_new_tokens=10", "rollout.max_turns=2",
            "rollout.batch_size=4", "algo.group_size=2", "algo.tasks_per_step=2", "steps=2", "micro_batch=2",
            f"out_dir={out}", "checkpoint_every=1", "distill.ema_every=1", "distill.kl_max=100",
            "distill.schedule_steps=0"]
    r = subprocess.run(torchrun(2) + [os.path.join(ROOT, "ttopd.py"), os.path.join(ROOT, "configs", "ttopd_tiny.yaml"),
                                      *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(x) for x in open(out / "metrics.jsonl")]
    assert rows[-1]["step"] == 2 and rows[1]["lambda"] == 4.0 and rows[2]["lambda"] < 4.0
    assert math.isfinite(rows[-1]["loss"]) and rows[-1]["teacher_staleness_ema"] == 0
    assert len({open(out / f"params_rank{k}.sha1").read() for k in range(2)}) == 1


def test_teacher_corruption_guard_stops_the_term_within_the_same_step(process_group):
    """Issue 20, bug 1: once the guard fires on a micro-batch, the later micro-batches of the same step add no
    distillation term, even where their own KL would pass the guard (the guard's threshold is raised between
    the two to show exactly that)."""
    ext, mbs, trajs = _guard_setup(process_group, ["distill.kl_max=0.0"])
    first = ext.extra_loss(mbs[0])
    assert ext.schedule.disabled and float(first) == 0.0 and ext.events[-1]["guard"] == "teacher_corruption"
    ext.d.kl_max = 100.0
    assert float(ext.extra_loss(mbs[1])) == 0.0                     # the term is gone for the rest of the step
    ext.after_rollout(2, trajs)
    assert ext.lam == 0.0 and float(ext.extra_loss(mbs[1])) == 0.0   # and for good


def test_a_teacher_that_no_longer_acts_costs_no_forward(process_group):
    """After the phase-out (lambda 0) and after the guard has fired, a micro-batch runs no teacher forward: the
    60-minute arms spent one on every micro-batch of steps 41 on, for a term that was multiplied by 0."""
    for overrides, fire in (([], False), (["distill.kl_max=0.0"], True)):
        ext, mbs, trajs = _guard_setup(process_group, overrides)
        calls = []
        ext.teacher.register_forward_hook(lambda *a: calls.append(1))
        term = float(ext.extra_loss(mbs[0]))
        assert len(calls) == 1 and (term == 0.0 if fire else term > 0.0)
        if not fire:
            ext.after_rollout(ext.d.phase_out_steps + 1, trajs)
            assert ext.lam == 0.0
        assert float(ext.extra_loss(mbs[1])) == 0.0 and len(calls) == 1


def test_v31_switch_reengages_on_a_kl_drop_and_the_default_never_does(process_group):
    ext, mbs, trajs = _guard_setup(process_group, ["distill.kl_max=0.0", "distill.reengage=true",
                                                   "distill.reengage_kl=0.0"])
    ext.extra_loss(mbs[0])
    assert ext.schedule.disabled
    ext.turn_kls = {}
    assert float(ext.extra_loss(mbs[1])) == 0.0 and ext.schedule.disabled      # KL not below reengage_kl: stays off
    assert ext.turn_kls                                                     # but the teacher is still measured
    ext.d.reengage_kl, ext.d.kl_max = 100.0, 100.0                        # a "natural drop" below the threshold
    assert float(ext.extra_loss(mbs[1])) == 0.0                           # this step: still off
    assert not ext.schedule.disabled and ext.events[-1]["guard"] == "reengaged"
    ext.after_rollout(2, trajs)
    assert ext.lam == pytest.approx(ext.d.lam * (1 - 1 / ext.d.phase_out_steps))   # back on its schedule
    assert float(ext.extra_loss(mbs[1])) > 0.0


def test_the_schedule_keeps_its_share_of_a_longer_or_shorter_run():
    """distill.schedule_steps: phase-out, EMA and hard copy written for 120 steps keep their shares at 600 and
    at 30; 0 leaves them as written (the paper-scale configs); alpha and lam are not steps and do not move."""
    d = ttopd.DistillConfig(phase_out_steps=40, ema_every=5, hard_copy_every=30, schedule_steps=120)
    long, short = ttopd.run_scaled(d, 600), ttopd.run_scaled(d, 30)
    assert (long.phase_out_steps, long.ema_every, long.hard_copy_every) == (200, 25, 150)
    assert (short.phase_out_steps, short.ema_every, short.hard_copy_every) == (10, 1, 8)
    assert long.ema_alpha == d.ema_alpha and long.lam == d.lam and long.schedule_steps == 0
    assert ttopd.run_scaled(dataclasses.replace(d, schedule_steps=0), 600) == dataclasses.replace(d, schedule_steps=0)
    lam = ttopd.LamSchedule(long)
    assert lam.at(101) == pytest.approx(2.0) and lam.at(201) == 0.0      # half-way at step 101 of 600
    cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, ["init_checkpoint=", "steps=600"])
    assert ttopd.TTOPD(cfg).d.phase_out_steps == 200                       # what the extension runs on
    paper = config.load("configs/ttopd.yaml", ttopd.TTOPDConfig)
    assert ttopd.TTOPD(paper).d.phase_out_steps == 40 and ttopd.TTOPD(paper).d.hard_copy_every == 30


def test_constant_schedule_and_frozen_teacher_are_the_v30_ablation():
    lam = ttopd.LamSchedule(ttopd.DistillConfig(lam=4.0, schedule="constant", phase_out_steps=5))
    assert [lam.at(s) for s in (1, 10, 100)] == [4.0, 4.0, 4.0]
    cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, ["init_checkpoint=", "distill.teacher=frozen",
                                                                     "distill.ema_every=1", "distill.hard_copy_every=1"])
    ext = ttopd.TTOPD(cfg)
    s, t = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ext.teacher, before = t, [p.detach().clone() for p in t.parameters()]
    ext.after_step(1, s)
    assert all(torch.equal(a, b) for a, b in zip(before, t.parameters()))


def _guard_setup(process_group, overrides):
    """An extension with a perturbed teacher and two one-sequence micro-batches of step 1."""
    import copy
    import grpo
    rank, world, device = process_group
    cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, ["init_checkpoint=", "distill.hints=generic",
                                                                     *overrides])
    torch.manual_seed(0)
    model, tok = agent.load_policy(cfg.model)
    teacher = copy.deepcopy(model).requires_grad_(False)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ext = ttopd.TTOPD(cfg)
    ext.tok, ext.teacher = tok, teacher
    g = torch.Generator().manual_seed(0)
    trajs = []
    for n in (6, 9):
        tr = agent.Trajectory.start({"id": "t", "domain": "d"}, torch.randint(10, 3000, (8,), generator=g).tolist())
        tr.add_turn(torch.randint(10, 3000, (n,), generator=g).tolist(), [-1.0] * n)
        tr.reward_info = {"accuracy": 0.0}
        trajs.append(tr)
    ext.after_rollout(1, trajs)
    mbs = [grpo.micro_batch(cfg, model, None, {}, m, [t], torch.tensor([1.0]), tok, device, 2, 15.0)[0]
           for m, t in enumerate(trajs)]
    ext.student = model         # (for the tests that build more micro-batches)
    return ext, mbs, trajs


def test_the_grpo_arm_differs_from_ttopd_only_in_distillation(tmp_path, monkeypatch):
    """benchmarks/ttopd_arms.py: the GRPO arm runs grpo.py on tiny.yaml with overrides; it must equal TT-OPD's
    settings in every key (the run's own overrides applied to both) so the comparison is of distillation alone.
    A campaign too long for one sitting skips runs already finished."""
    from benchmarks import ttopd_arms
    monkeypatch.setattr(ttopd_arms, "ROOT", str(tmp_path))
    monkeypatch.setattr(ttopd_arms, "RESULTS", str(tmp_path / "results"))
    jobs = {name: cmd for name, cmd, _ in
            ttopd_arms.training_jobs(["grpo", "ttopd_informative"], [3], 60, "60min", [])}
    loaded = {}
    for name, (_, script, path, *overrides) in jobs.items():
        cls = ttopd.TTOPDConfig if script == "ttopd.py" else config.Config
        loaded[name] = dataclasses.asdict(config.load(os.path.join(ROOT, path), cls, overrides))
    grpo_keys, ttopd_keys = loaded["grpo_s3"], loaded["ttopd_informative_s3"]
    assert set(ttopd_keys) - set(grpo_keys) == {"distill"}
    assert {k: (v, ttopd_keys[k]) for k, v in grpo_keys.items() if v != ttopd_keys[k]} == {
        "out_dir": (os.path.join(str(tmp_path), "runs", "arms_60min", "grpo_s3"),
                    os.path.join(str(tmp_path), "runs", "arms_60min", "ttopd_informative_s3"))}
    final = tmp_path / "runs" / "arms_60min" / "grpo_s3" / "final"
    final.mkdir(parents=True)
    (final / "config.json").write_text("{}")
    record = tmp_path / "results" / "ttopd_arms_60min" / "ttopd_informative_s4.json"
    record.parent.mkdir(parents=True)
    record.write_text("{}")           # a run recorded on another clone: its runs/ directory is not here
    assert [n for n, _, _ in ttopd_arms.training_jobs(["grpo", "ttopd_informative"], [3, 4], 60, "60min", [])] == [
        "ttopd_informative_s3", "grpo_s4"]


def test_an_arms_campaign_refuses_runs_from_another_warm_start_or_setting(tmp_path, monkeypatch):
    """Runs added in a later sitting must start from the warm start the recorded runs started from, with the
    same minutes and overrides; another setting is another campaign (--name). A record from before minutes and
    overrides were kept is checked on its warm start only."""
    from benchmarks import ttopd_arms
    monkeypatch.setattr(ttopd_arms, "RESULTS", str(tmp_path / "results"))
    for name, weights in (("a", b"one"), ("b", b"two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(weights)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    ttopd_arms.check_campaign("10min", a, 10, [])          # nothing recorded yet: any warm start
    digest = ttopd_arms.weights_digest(a)
    ttopd_arms.save_record("10min", "warmstart", {"mean": 0.4, "init_sha256": digest})
    ttopd_arms.check_campaign("10min", a, 10, ["lr=1e-4"])
    with pytest.raises(SystemExit, match="not the warm start"):
        ttopd_arms.check_campaign("10min", b, 10, [])
    ttopd_arms.save_record("slow", "warmstart", {"init_sha256": digest, "minutes": 10, "overrides": ["lr=1e-4"]})
    ttopd_arms.check_campaign("slow", a, 10, ["lr=1e-4"])
    with pytest.raises(SystemExit, match=r"overrides \['lr=1e-4'\], not \['lr=3e-4'\]"):
        ttopd_arms.check_campaign("slow", a, 10, ["lr=3e-4"])
    with pytest.raises(SystemExit, match="minutes 10, not 60"):
        ttopd_arms.check_campaign("slow", a, 60, ["lr=1e-4"])
    assert ttopd_arms.record_path("slow", "grpo_s0").endswith(os.path.join("ttopd_arms_slow", "grpo_s0.json"))


def test_the_arms_table_gives_each_arms_difference_from_grpo_in_standard_errors():
    """Welch: SE = sqrt(var_a / n_a + var_b / n_b). Rewards 0.5, 0.6, 0.7 against 0.4, 0.5 (sample variances
    0.01 and 0.005): difference 0.15, SE sqrt(0.01 / 3 + 0.005 / 2) = 0.0764, 1.96 SE."""
    from benchmarks import ttopd_arms
    d, se = ttopd_arms.difference([0.5, 0.6, 0.7], [0.4, 0.5])
    assert d == pytest.approx(0.15) and se == pytest.approx((0.01 / 3 + 0.005 / 2) ** 0.5)
    arm = {"runs": [{}] * 3, "val_reward": {"runs": [0.5, 0.6, 0.7]}, "val_accuracy": {"runs": [0.3, 0.3, 0.6]}}
    ref = {"runs": [{}] * 2, "val_reward": {"runs": [0.4, 0.5]}, "val_accuracy": {"runs": [0.2, 0.2]}}
    lines = ttopd_arms.differences({"arms": {"grpo": ref, "ttopd_informative": arm}})
    # the interval: Welch df = 0.005833^2 / (0.003333^2 / 2 + 0.0025^2 / 1) = 2.88, taken as 2 (t 4.303):
    # 0.15 +- 4.303 * 0.0764 on reward; on accuracy 0.2 +- 4.303 * 0.1 (df 2.0: 0.01^2 / (0.01^2 / 2 + 0))
    assert lines[-1] == ("| ttopd_informative | +0.150 (0.076) | +2.0 | [-0.179, +0.479] | +0.200 (0.100) | +2.0 "
                         "| [-0.230, +0.630] |")
    assert ttopd_arms.differences({"arms": {"ttopd_informative": arm}}) == []      # no GRPO arm: no lines


def test_the_arms_table_pairs_runs_by_seed_at_equal_steps():
    """equal_steps: per seed, the mean over steps 2..L (L the fewest steps of any paired run) of arm minus GRPO,
    then mean and SE over seeds. Seed 0: TT-OPD 0.3, 0.3 vs GRPO 0.4, 0.6 (its third step not compared) ->
    -0.2; seed 1: 0.5, 0.5 vs 0.5, 0.7 -> -0.1: mean -0.15, SE 0.05 (sd 0.0707 / sqrt 2), -3.0 SE. A seed
    without a GRPO run is left out; an arm with under two pairs gets no line."""
    from benchmarks import ttopd_arms

    def run(seed, rewards):
        n = len(rewards)
        return {"seed": seed, "train_reward": rewards,
                "curves": {k: [0.5] * n for k in ("accuracy", "format", "err_malformed", "turns")}}
    grpo = {"runs": [run(0, [0.1, 0.4, 0.6, 0.9]), run(1, [0.2, 0.5, 0.7])]}
    arm = {"runs": [run(0, [0.1, 0.3, 0.3]), run(1, [0.2, 0.5, 0.5, 0.9]), run(2, [0.0, 0.0, 0.0])]}
    lines = ttopd_arms.equal_steps({"arms": {"grpo": grpo, "ttopd_informative": arm}})
    assert lines[-1].startswith("| ttopd_informative | 2-3 | 2 | -0.150 (0.050), -3.0 | +0.000 (0.000)")
    one = {"runs": [run(0, [0.1, 0.2, 0.3])]}
    assert ttopd_arms.equal_steps({"arms": {"grpo": grpo, "ttopd_none": one}})[-1].startswith("|---")


def test_an_arms_record_keeps_the_dynamics_per_step():
    """curve_stats keeps turns, response length, accuracy, format and, for TT-OPD, the distillation KL of every
    training step (not of the stop row), for the dynamics plot."""
    from benchmarks import ttopd_arms
    rows = [{"step": i, "reward": 0.1 * i, "step_time_s": 30, "turns": 5 - i, "response_tokens": 100 + i,
             "accuracy": 0.2, "format": 0.5, "err_malformed": 1.0, "distill_kl": 0.05 * i} for i in (1, 2, 3)]
    rows.append({"stopped": "time_budget_min", "reward": 0.0})
    stats = ttopd_arms.curve_stats(rows)
    assert stats["curves"]["turns"] == [4, 3, 2] and stats["curves"]["distill_kl"] == pytest.approx([0.05, 0.1, 0.15])
    assert stats["steps"] == 3 and stats["turns_last10"] == 3.0
    assert "distill_kl" not in ttopd_arms.curve_stats([{k: v for k, v in r.items() if k != "distill_kl"}
                                                       for r in rows])["curves"]


def test_the_distilled_cases_control_holds_training_tasks_the_run_never_drew():
    """distilled_cases.py: the seen tasks are exactly what grpo.step_tasks drew in steps 1..N for that seed; the
    control is training tasks none of steps 1..N drew, the same ones each time it is asked for."""
    from benchmarks import distilled_cases
    from clinic import bank
    import grpo
    cfg = config.load(os.path.join(ROOT, "configs", "ttopd_tiny.yaml"), config.Config, [], ignore_sections=True)
    pool = bank.load_tasks(split=cfg.train_split)
    run_cfg = dataclasses.replace(cfg, seed=3)
    drawn = {t["id"] for step in range(1, 6) for t in grpo.step_tasks(run_cfg, step, pool)}
    assert {t["id"] for t in distilled_cases.seen_tasks(cfg, 3, 5)} == drawn
    control = distilled_cases.unseen_tasks(cfg, 3, 5, 50)
    ids = [t["id"] for t in control]
    assert len(set(ids)) == 50 and not set(ids) & drawn and {t["id"] for t in control} <= {t["id"] for t in pool}
    assert ids == [t["id"] for t in distilled_cases.unseen_tasks(cfg, 3, 5, 50)]
    assert ids != [t["id"] for t in distilled_cases.unseen_tasks(cfg, 4, 5, 50)]


def test_ttopd_with_lambda_0_is_the_grpo_arm_step_for_step(tmp_path):
    """The arms compare distillation alone: TT-OPD with distill.lam=0 and the GRPO arm's command, same seed, must
    sample the same episodes and log the same rewards and losses (the extension draws no random numbers and, once
    its teacher no longer acts, changes nothing)."""
    from benchmarks import ttopd_arms
    small = ["init_checkpoint=", "steps=2", "eval_tasks=2", "eval_every=0", "checkpoint_every=0", "seed=3",
             "rollout.max_new_tokens=12", "rollout.max_turns=2", "algo.group_size=2", "algo.tasks_per_step=2"]
    rows = {}
    for arm, extra in (("grpo", []), ("ttopd_informative", ["distill.lam=0"])):
        script, cfg, arm_args = ttopd_arms.ARMS[arm]
        out = tmp_path / arm
        r = subprocess.run([sys.executable, script, os.path.join("configs", cfg), *arm_args, *small, *extra,
                            f"out_dir={out}"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert r.returncode == 0, r.stderr[-3000:]
        rows[arm] = [json.loads(x) for x in open(out / "metrics.jsonl") if '"reward"' in x]
    keys = ("reward", "loss", "response_tokens", "turns", "grad_norm")
    assert len(rows["grpo"]) == 2
    assert [[r[k] for k in keys] for r in rows["grpo"]] == [[r[k] for k in keys] for r in rows["ttopd_informative"]]


def test_the_teacher_reads_the_hint_exactly_at_the_prompt_response_boundary(process_group):
    """The teacher's sequence is prompt + hint + everything after the prompt, and the row that predicts each of the
    student's tokens is found by hand: token k sits at k before the boundary and at k + len(hint) after it, so the
    row predicting it is one before that. Built independently of ttopd.with_hint / teacher_rows."""
    import grpo
    ext, _, _ = _guard_setup(process_group, [])
    prompt, turn, obs, turn2, hint = [11, 12, 13, 14], [21, 22, 23], [31, 32], [41, 42], [91, 92, 93]
    tr = agent.Trajectory.start({"id": "t", "domain": "d"}, prompt)
    tr.add_turn(turn, [0.0] * 3)
    tr.add_context(obs)
    tr.add_turn(turn2, [0.0] * 2)
    tr.extras["hint_ids"] = hint
    short = agent.Trajectory.start({"id": "u", "domain": "d"}, [51, 52])
    short.add_turn([61], [0.0])
    short.extras["hint_ids"] = [99]
    ids, attn, _, _ = grpo.pad_batch([tr, short], ext.tok.pad_token_id, "cpu")
    t_ids, t_attn, boundary, n_hint = ext._teacher_batch([tr, short], ids, attn)
    assert boundary.tolist() == [len(prompt), 2] and n_hint.tolist() == [len(hint), 1]
    j = torch.arange(len(prompt + turn + obs + turn2) - 1)
    rows = [ttopd.teacher_rows(j, boundary[0].expand_as(j), n_hint[0].expand_as(j)).tolist()]
    assert t_ids[0].tolist() == prompt + hint + turn + obs + turn2
    assert t_ids[1, :4].tolist() == [51, 52, 99, 61] and t_attn[1].tolist() == [1, 1, 1, 1] + [0] * 10
    seq = prompt + turn + obs + turn2
    for j in range(len(seq) - 1):           # row j of the student predicts seq[j + 1]
        k = j + 1
        at = k if k < len(prompt) else k + len(hint)
        assert rows[0][j] == at - 1 and t_ids[0, at] == seq[k]


def test_the_stale_teacher_guard_caps_the_term_when_and_only_when_it_exceeds_the_cap(process_group):
    """lambda * KL is capped at ratio_max * mean |A| (here |A| = 1): a cap below the term scales it to the cap
    exactly and logs the event; a cap above it changes nothing."""
    ext, mbs, _ = _guard_setup(process_group, ["distill.kl_max=100", "distill.ratio_max=0"])
    free = float(ext.extra_loss(mbs[0])) * 2           # this micro-batch is 1 of the step's 2 sequences
    assert free > 0 and not ext.events
    for ratio, capped in ((free / 2, True), (free * 2, False)):
        ext.d.ratio_max = ratio
        got = float(ext.extra_loss(mbs[0])) * 2
        assert got == pytest.approx(ratio if capped else free, rel=1e-5)
        assert bool(ext.events) == capped and (not capped or ext.events[-1]["ratio"] == pytest.approx(2.0, rel=1e-4))
        ext.events.clear()


def test_the_distillation_term_of_each_micro_batch_is_its_share_of_the_step(process_group):
    """Two one-sequence micro-batches add up to the term of one micro-batch holding both sequences: lambda times
    the mean over the step's sequences of their turn-level KL."""
    import grpo
    ext, mbs, trajs = _guard_setup(process_group, ["distill.kl_max=100", "distill.ratio_max=0"])
    both = grpo.micro_batch(ext.cfg, ext.student, None, {}, 0, trajs, torch.tensor([1.0, 1.0]), ext.tok, "cpu", 2,
                            15.0)[0]
    together = float(ext.extra_loss(both))
    assert float(ext.extra_loss(mbs[0])) + float(ext.extra_loss(mbs[1])) == pytest.approx(together, rel=1e-5)
    assert together == pytest.approx(ext.lam * sum(ext.seq_kls[:2]) / 2, rel=1e-5)


def test_ema_and_hard_copy_happen_on_their_steps_and_only_then():
    """ema_every=2, hard_copy_every=3 over steps 1-6, the student moving every step: the teacher is, by hand,
    theta_T <- 0.9 theta_T + 0.1 theta_S at steps 2, 4, 6 and theta_T <- theta_S at steps 3 and 6 (after the EMA);
    `reset` does only the copies, `frozen` neither."""
    for mode in ("ema", "reset", "frozen"):
        cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, [
            "init_checkpoint=", f"distill.teacher={mode}", "distill.ema_alpha=0.9", "distill.ema_every=2",
            "distill.hard_copy_every=3"])
        ext = ttopd.TTOPD(cfg)
        torch.manual_seed(0)
        student, ext.teacher = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
        expected = [p.detach().clone() for p in ext.teacher.parameters()]
        for step in range(1, 7):
            with torch.no_grad():
                for p in student.parameters():
                    p.copy_(torch.randn_like(p))
            s = [p.detach().clone() for p in student.parameters()]
            if mode == "ema" and step % 2 == 0:
                expected = [0.9 * t + 0.1 * x for t, x in zip(expected, s)]
            if mode != "frozen" and step % 3 == 0:
                expected = [x.clone() for x in s]
            row = ext.after_step(step, student)
            for p, e in zip(ext.teacher.parameters(), expected):
                torch.testing.assert_close(p.detach(), e, rtol=0, atol=1e-6)
            if mode == "ema":
                assert row["teacher_staleness_ema"] == step % 2 and row["teacher_staleness_copy"] == step % 3


def test_a_checkpoint_restores_the_teacher_lambda_the_guard_and_the_counters(process_group, tmp_path):
    """What TT-OPD's state_dict holds goes through grpo's save/load: a teacher that differs from the student, a
    lambda off its schedule, the guard's disabled flag and the EMA / copy counters all come back exactly."""
    import grpo
    from clinic import files
    rank, world, device = process_group
    cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, ["init_checkpoint=", f"out_dir={tmp_path}"])
    policy, _, _, tok = fsdp.build_models(cfg, device)
    optimizer, sched = grpo.make_optimizer(cfg, policy)
    ext = ttopd.TTOPD(cfg)
    ext.setup(cfg, policy, tok, device)
    with torch.no_grad():
        for p in ext.teacher.parameters():
            fsdp.local_shard(p).add_(0.01 * torch.randn_like(fsdp.local_shard(p)))
    ext.schedule.value, ext.schedule.disabled, ext.last_ema, ext.last_copy = 1.25, True, 7, 9
    saved = {k: v.clone() for k, v in fsdp.full_state(ext.teacher).items()}
    checkpoint.save_checkpoint(cfg, 9, policy, optimizer, sched, ext, files.RunLogs(str(tmp_path), (), {}, False))
    fresh = ttopd.TTOPD(cfg)
    fresh.setup(cfg, policy, tok, device)
    path, record = checkpoint.resumable_checkpoint(cfg, rank, world)
    assert checkpoint.load_checkpoint(path, record, policy, optimizer, sched, fresh) == 9
    restored = fsdp.full_state(fresh.teacher)
    assert all(torch.equal(restored[k], v) for k, v in saved.items())
    assert any(not torch.equal(v, fsdp.full_state(policy)[k]) for k, v in saved.items())
    assert (fresh.schedule.value, fresh.schedule.disabled, fresh.last_ema, fresh.last_copy) == (1.25, True, 7, 9)
    assert fresh.schedule.at(10) == 0.0                           # the guard stays fired after a resume


def test_each_outcome_gets_its_own_kind_of_hint(process_group):
    """A correct episode's teacher reads the confirmatory cue with its answer; a wrong one reads the redirection,
    which names the submitted answer and the correct one (clinic/hints.py's texts)."""
    from clinic import bank
    ext, _, _ = _guard_setup(process_group, [])
    ext.d.hints = "informative"
    task = next(t for t in bank.load_tasks(split="train") if t["answer"]["type"] == "choice")
    right, wrong = task["answer"]["value"], "A" if task["answer"]["value"] != "A" else "B"
    trajs = []
    for answer, acc in ((right, 1.0), (wrong, 0.0)):
        tr = agent.Trajectory.start(task, [1, 2, 3])
        tr.add_turn([4, 5], [0.0, 0.0])
        tr.calls = [{"name": "submit_answer", "arguments": {"answer": answer}, "error": None}]
        tr.reward_info = {"accuracy": acc, "violations": []}
        trajs.append(tr)
    ext.after_rollout(1, trajs)
    confirm, redirect = trajs[0].extras["hint"], trajs[1].extras["hint"]
    assert confirm.startswith("Teacher note: correct") and f'{{"answer": "{right}"}}' in confirm
    assert f"the submitted answer {wrong} is wrong" in redirect and redirect.endswith(f'{{"answer": "{right}"}}.')


def test_the_corruption_guard_fires_when_and_only_when_the_kl_passes_kl_max(process_group):
    """The paper's teacher-corruption guard: distillation stops once the step's KL exceeds kl_max (0.7 in the
    paper), and not before. Here kl_max is set just above, then just below, the KL this batch actually has."""
    ext, mbs, _ = _guard_setup(process_group, ["distill.kl_max=100", "distill.ratio_max=0"])
    ext.extra_loss(mbs[0])
    kl = ext.seq_kls[0]
    for factor, fires in ((1.1, False), (0.9, True)):
        ext, mbs, _ = _guard_setup(process_group, [f"distill.kl_max={kl * factor}", "distill.ratio_max=0"])
        term = float(ext.extra_loss(mbs[0]))
        assert ext.schedule.disabled == fires and (term == 0.0) == fires


def test_the_whole_validation_table_compares_each_arm_to_grpo_run_by_run():
    """benchmarks/whole_validation.py: the mean over seed sets of each run, then Welch across runs; by hand, GRPO
    runs 0.60 / 0.62 / 0.64 and TT-OPD 0.63 / 0.65 / 0.67 (set means) differ by +0.030 with SE 0.01633."""
    from benchmarks import whole_validation
    scores = {"ws": ([0.61, 0.59], [0.3, 0.3])}
    for s, (g, t) in enumerate([(0.60, 0.63), (0.62, 0.65), (0.64, 0.67)]):
        scores[f"runs/arms_x/grpo_s{s}/final"] = ([g - 0.01, g + 0.01], [0.3, 0.3 + s / 100])
        scores[f"runs/arms_x/ttopd_informative_s{s}/final"] = ([t, t], [0.3, 0.32 + s / 100])
    assert whole_validation.arm_runs(scores, "x", "grpo", None)[0] == pytest.approx([0.60, 0.62, 0.64])
    assert whole_validation.arm_runs(scores, "x", "grpo", 1)[0] == pytest.approx([0.61, 0.63, 0.65])
    lines = whole_validation.table(scores, "x", ["grpo", "ttopd_informative"], "ws")
    mean_row = [line for line in lines if line.startswith("| mean of sets | ttopd_informative - grpo")]
    assert mean_row and "+0.030 (0.016) | +1.8 |" in mean_row[0]
    assert "0.620 (0.020), +0.020" in [line for line in lines if line.startswith("| mean of sets (")][0]

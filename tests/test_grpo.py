"""grpo.py: each loss against hand-computed values; torchrun on 2 CPU ranks (kill and resume: test_faults.py)."""
import dataclasses
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import grpo
from distributed import fsdp, runlog
from torchrun import torchrun

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A = SimpleNamespace(clip_low=0.2, clip_high=0.28, kl_coef=0.0, dr_grpo_norm=4)
# two sequences, three token slots; the second sequence has two real tokens
LOGP = torch.log(torch.tensor([[0.5, 0.4, 0.9], [0.2, 0.6, 0.3]]))
OLD = torch.log(torch.tensor([[0.25, 0.4, 0.6], [0.4, 0.5, 0.3]]))
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ADV = torch.tensor([1.0, -1.0])


def mb(logp=LOGP, ref=None, batch_seqs=2, batch_tokens=5.0):
    """A micro-batch that is the whole step: 2 sequences, 5 policy tokens."""
    return grpo.MicroBatch([], None, None, MASK, logp, OLD, ADV, ref, batch_seqs, batch_tokens)
# ratios: [[2.0, 1.0, 1.5], [0.5, 1.2, 1.0]]


def test_grpo_loss_by_hand():
    a = SimpleNamespace(**{**vars(A), "clip_high": 0.2})
    loss, clip = grpo.loss_grpo(mb(), a)
    # seq 1 (A=+1): -min(r, clip(r, .8, 1.2)) = -1.2, -1.0, -1.2  -> mean -3.4/3
    # seq 2 (A=-1): -min(-r, -clip(r)) = max(r, clip r) = 0.8, 1.2  -> mean 1.0
    assert loss.item() == pytest.approx(0.5 * (-3.4 / 3 + 1.0), abs=1e-6)
    assert clip.tolist() == [[1, 0, 1], [1, 0, 0]]


def test_dapo_loss_by_hand():
    loss, _ = grpo.loss_dapo(mb(), A)
    # clip-higher 1.28: seq1 -1.28, -1.0, -1.28; seq2 0.8, 1.2; token mean over 5 tokens
    assert loss.item() == pytest.approx((-1.28 - 1.0 - 1.28 + 0.8 + 1.2) / 5, abs=1e-6)
    # a micro-batch of a bigger step (10 tokens over all ranks and micro-batches) is its share of the mean
    assert grpo.loss_dapo(mb(batch_tokens=10.0), A)[0].item() == pytest.approx(
        (-1.28 - 1.0 - 1.28 + 0.8 + 1.2) / 10, abs=1e-6)


def test_dr_grpo_loss_by_hand():
    loss, _ = grpo.loss_dr_grpo(mb(), A)
    assert loss.item() == pytest.approx((-1.28 - 1.0 - 1.28 + 0.8 + 1.2) / (2 * 4), abs=1e-6)


def test_gspo_loss_by_hand():
    a = SimpleNamespace(**{**vars(A), "clip_low": 3e-4, "clip_high": 4e-4})
    loss, _ = grpo.loss_gspo(mb(), a)
    s1 = (2.0 * 1.0 * 1.5) ** (1 / 3)      # geometric mean of ratios = exp(mean log-ratio)
    s2 = (0.5 * 1.2) ** (1 / 2)
    l1 = -min(s1, min(max(s1, 1 - 3e-4), 1 + 4e-4))
    l2 = -min(-s2, -min(max(s2, 1 - 3e-4), 1 + 4e-4))
    assert loss.item() == pytest.approx((l1 + l2) / 2, abs=1e-6)


def test_on_policy_gspo_and_grpo_have_the_same_gradient():
    # every ratio is 1 on the first pass: d s_i = mean_t d logp, which is GRPO's per-sequence token mean
    a = SimpleNamespace(**{**vars(A), "clip_low": 3e-4, "clip_high": 4e-4})
    grads = []
    for fn in (grpo.loss_gspo, grpo.loss_grpo):
        logp = LOGP.clone().requires_grad_(True)
        fn(dataclasses.replace(mb(logp), old_logp=LOGP.detach()), a)[0].backward()
        grads.append(logp.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_kl_and_gradient_flow():
    ref = torch.log(torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]))
    kl = grpo.k3_kl(LOGP, ref)
    assert kl[0, 0].item() == pytest.approx(0.0) and (kl >= 0).all()
    x = LOGP.clone().requires_grad_(True)
    a = SimpleNamespace(**{**vars(A), "kl_coef": 0.1})
    for variant in grpo.LOSSES.values():
        x.grad = None
        variant.loss(mb(x, ref), a)[0].backward()
        assert x.grad[1, 2] == 0          # masked token gets no gradient
        assert torch.isfinite(x.grad).all()


def test_advantages_and_overlong():
    adv = grpo.group_advantages([1.0, 0.0, 0.5, 0.5], 2)
    # group (1, 0): mean 0.5, unbiased std sqrt(0.5) -> +0.5 / 0.7071
    assert adv[0].item() == pytest.approx(0.5 / (0.5 ** 0.5 + 1e-6), rel=1e-5) and adv[2] == adv[3] == 0
    assert grpo.group_advantages([1.0, 0.0], 2, scale=False).tolist() == [0.5, -0.5]
    assert grpo.overlong_penalty(100, 200, 50) == 0 and grpo.overlong_penalty(175, 200, 50) == -0.5
    assert grpo.overlong_penalty(300, 200, 50) == -1.0


def write_cfg(path, out_dir, steps, resume=False, every=1):
    path.write_text(f"""
init_checkpoint: ""
eval_tasks: 2
rollout: {{max_new_tokens: 10, max_turns: 2, batch_size: 4, max_total_tokens: 1024}}
algo: {{loss: dapo, group_size: 2, tasks_per_step: 2, clip_high: 0.28, kl_coef: 0.05}}
steps: {steps}
lr: 0.01
micro_batch: 1
out_dir: {out_dir}
checkpoint_every: {every}
resume: {str(resume).lower()}
""")
    return str(path)


def run(args, nproc=None, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = (torchrun(nproc) if nproc else [sys.executable]) + [os.path.join(ROOT, "grpo.py")] + args
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, **kw)


def final_params(out_dir):
    from safetensors.torch import load_file
    return load_file(os.path.join(out_dir, "final", "model.safetensors"))


def test_torchrun_two_ranks_match_one_process(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    r = run([write_cfg(tmp_path / "a.yaml", two, 2)], nproc=2)
    assert r.returncode == 0, r.stderr[-3000:]
    sums = {open(two / f"params_rank{k}.sha1").read() for k in range(2)}
    assert len(sums) == 1                                    # both ranks hold identical parameters
    import json
    rows = [json.loads(x) for x in open(two / "metrics.jsonl")]
    assert [r_["step"] for r_ in rows] == [0, 1, 2] and all(torch.isfinite(torch.tensor(r_["loss"]))
                                                             for r_ in rows[1:])
    r = run([write_cfg(tmp_path / "b.yaml", one, 2)])
    assert r.returncode == 0, r.stderr[-3000:]
    p2, p1 = final_params(two), final_params(one)
    for k in p1:
        torch.testing.assert_close(p1[k], p2[k], atol=1e-5, rtol=1e-4)


def test_bad_config_names_the_key(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("algo: {loss: grpo, groupsize: 4}\n")
    r = run([str(p)])
    assert r.returncode != 0 and "algo.groupsize" in r.stderr


def test_value_checks_and_optional_loggers_name_the_key():
    import config
    for override, key in [("algo.loss=ppo", "algo.loss"), ("log_to=mlflow", "log_to"),
                          ("algo.group_size=1", "algo.group_size"), ("rollout.tool_specs=some", "rollout.tool_specs"),
                          ("lr_schedule=linear", "lr_schedule"), ("algo.minibatches=0", "algo.minibatches"),
                          ("algo.epochs=0", "algo.epochs"),
                          ("rollout.max_calls_per_turn=0", "rollout.max_calls_per_turn")]:
        with pytest.raises(config.ConfigError, match=key):
            grpo.check_values(config.load("configs/tiny.yaml", config.Config, [override]))
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(config.ConfigError, match="log_to"):
            runlog.external_logger(config.load("configs/tiny.yaml", config.Config, ["log_to=tensorboard"]))


def test_missing_init_checkpoint_is_an_error_not_a_fresh_model(tmp_path):
    import config
    cfg = config.load("configs/tiny.yaml", config.Config, [f"init_checkpoint={tmp_path / 'warmstrat'}"])
    with pytest.raises(config.ConfigError, match="init_checkpoint.*warmstrat"):
        fsdp.build_models(cfg, torch.device("cpu"))


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    import config
    cfg = config.load("configs/tiny.yaml", config.Config, ["warmup_steps=4", "steps=104", "lr_schedule=cosine",
                                                              "min_lr_ratio=0.1"])
    f = [grpo.lr_factor(cfg, s) for s in range(110)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]                 # linear warm-up, full LR from step 4
    assert f[4] == 1.0 and abs(f[54] - 0.55) < 1e-12       # cosine: half way, (1 + 0.1) / 2
    assert all(a >= b for a, b in zip(f[4:], f[5:])) and f[104] == f[109] == pytest.approx(0.1)
    cfg.lr_schedule = "constant"
    assert [grpo.lr_factor(cfg, s) for s in (3, 50, 500)] == [1.0, 1.0, 1.0]


def rollouts_on_four_train_tasks(overrides):
    """configs/tiny.yaml with overrides, the embedded policy seeded 0, its episodes on the first 4 training tasks."""
    import agent
    import config
    from clinic import bank
    cfg = config.load("configs/tiny.yaml", config.Config, overrides)
    torch.manual_seed(0)
    model, tok = agent.load_policy(cfg.model)
    trajs = agent.rollout(model, tok, bank.load_tasks(split="train")[:4], cfg.rollout, seed=0, progress=False)
    return cfg, model, tok, trajs


def test_second_epoch_on_a_batch_is_off_policy_and_clips(process_group):
    """What algo.epochs = 2 does in train(): two train_step passes on one batch with its sampling log-probs.
    The first pass is on-policy (every ratio 1, nothing clipped); the second is not."""
    rank, world, device = process_group
    cfg, model, tok, trajs = rollouts_on_four_train_tasks(["algo.loss=grpo", "rollout.max_new_tokens=12",
                                                           "rollout.max_turns=2", "micro_batch=4"])
    policy = fsdp.shard(model, device, False, False)
    opt = torch.optim.AdamW(policy.parameters(), lr=0.05)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    clip = [grpo.train_step(cfg, policy, None, opt, trajs, adv, tok, device)["clip_frac"] for _ in range(2)]
    assert clip[0] == 0.0 and clip[1] > 0.0


def test_minibatches_are_separate_updates_and_later_ones_are_off_policy(process_group):
    """algo.minibatches = 2: one pass over the batch is two optimiser steps on its halves; the second half is
    scored by a policy the first already moved, so its ratios leave 1 and clip. One minibatch is train_step."""
    import agent
    rank, world, device = process_group
    cfg, _, tok, trajs = rollouts_on_four_train_tasks(["rollout.max_new_tokens=12", "rollout.max_turns=2",
                                                       "micro_batch=4"])
    after, clip, steps = [], [], []
    for m in (1, 2):
        cfg.algo.minibatches = m
        torch.manual_seed(0)
        policy = fsdp.shard(agent.load_policy(cfg.model)[0], device, False, False)
        opt = torch.optim.AdamW(policy.parameters(), lr=0.05)
        n = [0]
        opt.register_step_post_hook(lambda *_: n.__setitem__(0, n[0] + 1))
        clip.append(grpo.update(cfg, policy, None, opt, trajs, torch.tensor([1.0, -1.0, 1.0, -1.0]), tok,
                                device)["clip_frac"])
        steps.append(n[0])
        after.append({k: v.detach().full_tensor().clone() for k, v in policy.state_dict().items()})
    assert steps == [1, 2] and clip[0] == 0.0 and clip[1] > 0.0
    assert any(not torch.equal(after[0][k], after[1][k]) for k in after[0])
    torch.manual_seed(0)       # one minibatch, one pass: exactly train_step
    policy = fsdp.shard(agent.load_policy(cfg.model)[0], device, False, False)
    opt = torch.optim.AdamW(policy.parameters(), lr=0.05)
    grpo.train_step(cfg, policy, None, opt, trajs, torch.tensor([1.0, -1.0, 1.0, -1.0]), tok, device)
    for k, v in policy.state_dict().items():
        assert torch.equal(v.detach().full_tensor(), after[0][k])


def test_activation_checkpointing_changes_memory_not_the_update(process_group):
    """activation_checkpointing recomputes each decoder layer in backward: the same step, the same weights."""
    import agent
    rank, world, device = process_group
    cfg, _, tok, trajs = rollouts_on_four_train_tasks(["rollout.max_new_tokens=12", "rollout.max_turns=2",
                                                       "micro_batch=4"])
    after = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        policy = fsdp.shard(agent.load_policy(cfg.model)[0], device, False, checkpointing)
        assert policy.is_activation_checkpointing == checkpointing
        opt = torch.optim.AdamW(policy.parameters(), lr=0.01)
        grpo.train_step(cfg, policy, None, opt, trajs, torch.tensor([1.0, -1.0, 1.0, -1.0]), tok, device)
        after.append({k: v.detach().clone() for k, v in policy.state_dict().items()})
    for k in after[0]:
        torch.testing.assert_close(after[0][k].full_tensor(), after[1][k].full_tensor(), atol=1e-6, rtol=0)


def test_reference_forward_runs_once_per_batch_however_many_passes(process_group):
    """algo.epochs = 2 with a KL term: the frozen reference's log-probs are cached from the first pass, and the
    update is the one that recomputing them would give."""
    import agent
    rank, world, device = process_group
    cfg, _, tok, trajs = rollouts_on_four_train_tasks(["rollout.max_new_tokens=12", "rollout.max_turns=2",
                                                       "micro_batch=2", "algo.kl_coef=0.5"])
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    after, calls = [], []
    for cache in (None, {}):
        torch.manual_seed(0)
        policy = fsdp.shard(agent.load_policy(cfg.model)[0], device, False, False)
        ref = fsdp.shard(agent.load_policy(cfg.model)[0].requires_grad_(False), device, False, False)
        n = [0]
        ref.register_forward_hook(lambda *_: n.__setitem__(0, n[0] + 1))
        opt = torch.optim.AdamW(policy.parameters(), lr=0.05)
        for _ in range(2):
            kl = grpo.train_step(cfg, policy, ref, opt, trajs, adv, tok, device, ref_cache=cache)["kl"]
        assert kl > 0.0                                     # the second pass moved away from the reference
        after.append({k: v.detach().full_tensor().clone() for k, v in policy.state_dict().items()})
        calls.append(n[0])
    assert calls == [4, 2]                                  # 2 micro-batches: 2 passes x 2, then 2 only
    for k in after[0]:
        assert torch.equal(after[0][k], after[1][k])


def test_evaluation_is_a_fixed_draw_that_seed_base_moves(process_group):
    """grpo.evaluate seeds task i with seed_base + i: the same policy evaluates identically every time (so all
    of a run's evaluations share their noise), and benchmarks/val_seeds.py's other seed sets draw afresh."""
    import agent
    import config
    rank, world, device = process_group
    cfg = config.load("configs/tiny.yaml", config.Config, ["rollout.max_new_tokens=24", "rollout.max_turns=2",
                                                              "eval_tasks=8", "rollout.top_p=1.0"])
    tasks = agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    assert len(tasks) == 8 and tasks == agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    torch.manual_seed(0)
    model, tok = agent.load_policy(cfg.model)
    ev = lambda **kw: grpo.evaluate(cfg, model, tok, tasks, rank, world, device, **kw)  # noqa: E731
    first = ev()
    assert ev(seed_base=10 ** 6) == first
    others = [ev(seed_base=10 ** 6 + k * 10 ** 5) for k in (1, 2)]
    assert any(o["val_response_tokens"] != first["val_response_tokens"] for o in others)



def test_validation_gives_every_tasks_reward_and_the_means_standard_error(process_group):
    """grpo.evaluate's val_rewards are the tasks' rewards in task order (their mean is val_reward) and
    val_reward_se their sample sd over sqrt(n), by hand."""
    import agent
    import config
    rank, world, device = process_group
    cfg = config.load("configs/tiny.yaml", config.Config, ["rollout.max_new_tokens=24", "rollout.max_turns=2",
                                                              "eval_tasks=6", "rollout.top_p=1.0"])
    tasks = agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    torch.manual_seed(0)
    model, tok = agent.load_policy(cfg.model)
    ev = grpo.evaluate(cfg, model, tok, tasks, rank, world, device)
    played = agent.evaluation_rollouts(model, tok, tasks, cfg.rollout, grpo.VALIDATION_SEED_BASE)[1]
    assert ev["val_rewards"] == [round(t.reward, 4) for t in played]
    assert ev["val_reward"] == pytest.approx(np.mean(ev["val_rewards"]), abs=1e-4)
    # rank 1 of 2 played tasks 1 and 3: its rewards land there (the all-reduce adds the other rank's)
    mine = [SimpleNamespace(reward=0.25), SimpleNamespace(reward=0.75)]
    assert grpo.task_rewards(4, mine, 1, 2, device) == [0.0, 0.25, 0.0, 0.75]
    rewards = [0.1, 0.5, 0.9, 0.3, 0.3]
    assert runlog.standard_error(rewards) == pytest.approx(np.std(rewards, ddof=1) / np.sqrt(5))
    assert runlog.standard_error([0.4]) == 0.0


def test_a_run_reports_its_gain_in_standard_errors(tmp_path):
    """runlog.validation_gain pairs the first and last evaluation of metrics.jsonl task by task (training
    rows between them carry no val_rewards); the unpaired error is sqrt(se_0^2 + se_1^2)."""
    import json
    before = [0.2, 0.4, 0.6, 0.4]
    after = [0.3, 0.4, 0.8, 0.5]             # differences 0.1, 0, 0.2, 0.1: mean 0.1, se 0.0408
    rows = [{"step": 0, "val_reward": 0.40, "val_reward_se": 0.03, "val_rewards": before},
            {"step": 1, "reward": 0.9},
            {"step": 9, "val_reward": 0.50, "val_reward_se": 0.04, "val_rewards": after}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    assert runlog.validation_gain(tmp_path) is None
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    line = runlog.validation_gain(tmp_path)
    assert "0.400 at step 0" in line and "step 9 (4 tasks)" in line and "+0.100" in line
    assert "+2.4 standard errors paired (se 0.041)" in line and "+2.0 unpaired (se 0.050)" in line

ENTROPY_BONUS = '''"""An entropy bonus for GRPO as a grpo.Extension: loss -= coef * mean token entropy of each sequence."""
import sys
import grpo


class EntropyBonus(grpo.Extension):
    def __init__(self, cfg, coef=0.05):
        self.coef, self.steps_seen = coef, 0

    def after_rollout(self, step, trajs):
        return {"bonus_episodes": len(trajs)}

    def extra_loss(self, mb):
        entropy = mb.per_token(lambda logp: -(logp.exp() * logp).sum(-1))  # [B, T-1], chunked head
        per_seq = (entropy * mb.mask).sum(1) / mb.mask.sum(1).clamp(min=1)
        return -self.coef * per_seq.sum() / mb.batch_seqs                 # this micro-batch's share

    def after_step(self, step, policy):
        self.steps_seen += 1
        return {"bonus_steps_seen": self.steps_seen}

    def state_dict(self):
        return {"steps_seen": self.steps_seen}

    def load_state_dict(self, state):
        self.steps_seen = state["steps_seen"]


if __name__ == "__main__":
    grpo.main(sys.argv[1:], extension=EntropyBonus)
'''


def test_a_new_extension_is_one_short_file_and_checkpoints_its_state(tmp_path, process_group):
    """The seam as a forker uses it: a 30-line file adds a loss term and metrics, and its state resumes."""
    import importlib.util
    import json
    import config
    assert len(ENTROPY_BONUS.strip().splitlines()) <= 30
    (tmp_path / "entropy_bonus.py").write_text(ENTROPY_BONUS)
    spec = importlib.util.spec_from_file_location("entropy_bonus", tmp_path / "entropy_bonus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bonus, plain = tmp_path / "bonus", tmp_path / "plain"

    def go(out, steps, resume=False, ext=None):
        cfg = config.load(write_cfg(tmp_path / f"{out.name}{steps}.yaml", out, steps, resume=resume))
        grpo.train(cfg, ext(cfg) if ext else None)
    go(bonus, 2, ext=module.EntropyBonus)
    go(bonus, 3, resume=True, ext=module.EntropyBonus)
    go(plain, 3)
    rows = [json.loads(x) for x in open(bonus / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert [r["bonus_steps_seen"] for r in rows[1:]] == [1, 2, 3]          # the count came back from step 2
    assert all(r["bonus_episodes"] == 4 for r in rows[1:])
    a, b = final_params(bonus), final_params(plain)
    assert any(not torch.equal(a[k], b[k]) for k in a)                    # the term changed the update


def test_chunked_head_and_weight_sync_equal_the_full_versions_under_fsdp_on_two_ranks():
    """GRPO loss with k3 KL, entropy and TT-OPD's turn-level KL through the chunked head (7 tokens a chunk), with
    policy, reference and teacher sharded: the full [T, V] head's loss and every gradient, to 1e-5. Then the
    per-parameter sync to a bf16 rollout copy and the shard-by-shard teacher copy equal a full-state gather."""
    r = subprocess.run(torchrun(2) + [os.path.join(ROOT, "tests", "fsdp_head_check.py")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "HEAD_OK" in r.stdout and "SYNC_OK" in r.stdout and "RANKS_OK" in r.stdout, r.stdout + r.stderr[-2000:]


def test_chunked_head_on_a_wide_vocabulary_gives_the_full_heads_values_and_gradients():
    """Qwen3's 151,936-token vocabulary on a 1-layer, 64-wide model: chunked log-probs and their gradients equal
    the full head's (benchmarks/head_memory.py measures what the chunks save)."""
    import agent
    from transformers import Qwen3Config, Qwen3ForCausalLM
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                                         tie_word_embeddings=False))
    ids = torch.randint(0, 151936, (2, 100))
    weights = torch.rand(2, 99)
    full = torch.log_softmax(model(input_ids=ids).logits[:, :-1].float() / 0.8, -1)
    full = full.gather(-1, ids[:, 1:, None]).squeeze(-1)
    (full * weights).sum().backward()
    expected = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    chunked = agent.token_logprobs(model, ids, temperature=0.8, chunk=48)
    (chunked * weights).sum().backward()
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=0)
    for k, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[k], atol=1e-5, rtol=1e-4)


def test_k3_kl_by_hand_in_both_directions():
    """k3 estimator of KL(pi || ref) at a sampled token (Schulman 2020): r = ref / pi, k3 = r - log r - 1."""
    half, quarter = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    # pi = 0.5, ref = 0.25: r = 0.5 -> 0.5 - log 0.5 - 1 = 0.19315
    assert grpo.k3_kl(half, quarter).item() == pytest.approx(0.5 - math.log(0.5) - 1, abs=1e-6)
    # pi = 0.25, ref = 0.5: r = 2 -> 2 - log 2 - 1 = 0.30685 (the estimator is not symmetric)
    assert grpo.k3_kl(quarter, half).item() == pytest.approx(2 - math.log(2) - 1, abs=1e-6)


def synthetic_batch(n_seqs=5, seed=0):
    """Trajectories of different lengths and turn counts with sampling log-probs away from the policy's (so
    ratios leave 1 and clipping acts), and advantages of both signs."""
    import agent
    g = torch.Generator().manual_seed(seed)
    trajs = []
    for i in range(n_seqs):
        tr = agent.Trajectory.start({"id": f"t{i}", "domain": "d"}, torch.randint(10, 3000, (6 + i,), generator=g).tolist())
        for n in [3 + 2 * i, 4][: 1 + i % 2]:
            tr.add_turn(torch.randint(10, 3000, (n,), generator=g).tolist(), (-8 + torch.rand(n, generator=g)).tolist())
            tr.add_context(torch.randint(10, 3000, (4,), generator=g).tolist())
        trajs.append(tr)
    return trajs, torch.tensor([1.0, -0.5, 0.25, -1.5, 0.75][:n_seqs])


@pytest.mark.parametrize("loss", sorted(grpo.LOSSES))
def test_one_micro_batch_or_many_give_the_same_gradient(process_group, loss):
    """Gradient accumulation is a plain sum of each micro-batch's share of the step's loss: the step's gradient
    must not depend on micro_batch, for every loss variant (with a k3 KL term to a reference too)."""
    import copy
    import agent
    import config
    rank, world, device = process_group
    trajs, adv = synthetic_batch()
    grads = []
    for micro in (5, 2, 1):
        cfg = config.load("configs/tiny.yaml", config.Config, [f"algo.loss={loss}", "algo.kl_coef=0.1",
                                                               f"micro_batch={micro}", "grad_clip=0"])
        torch.manual_seed(0)
        model = agent.load_policy(cfg.model)[0]
        ref = copy.deepcopy(model).requires_grad_(False)
        with torch.no_grad():
            for p in ref.parameters():
                p.add_(0.05 * torch.randn_like(p))
        policy = fsdp.shard(model, device, False, False)
        ref = fsdp.shard(ref, device, False, False)
        opt = torch.optim.SGD(policy.parameters(), lr=0.0)
        grpo.train_step(cfg, policy, ref, opt, trajs, adv, agent.load_policy(cfg.model)[1], device)
        grads.append({k: p.grad.full_tensor().clone() for k, p in policy.named_parameters()})
    assert max(float(g.abs().max()) for g in grads[0].values()) > 1e-4
    for other in grads[1:]:
        for k in grads[0]:
            torch.testing.assert_close(other[k], grads[0][k], atol=2e-6, rtol=1e-4)


def test_dynamic_sampling_keeps_only_the_groups_whose_rewards_differ():
    shaped = [1.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.2, 0.2 + 1e-6]
    assert grpo.kept_episodes(shaped, 2, dynamic_sampling=False) == list(range(8))
    assert grpo.kept_episodes(shaped, 2, dynamic_sampling=True) == [2, 3, 6, 7]


def test_the_length_reward_in_the_shaped_reward_is_the_papers_cosine():
    """Cosine length reward (Yeo et al., 2025): r(L) = end + (start - end) (1 + cos(pi L / L_max)) / 2, from 1.1 to
    0.7 for a correct answer and from 0.0 to -0.3 for a wrong one; -0.5 past L_max."""
    import agent
    a = SimpleNamespace(length_reward=True, max_policy_tokens=480, overlong_buffer=0)

    def episode(n_tokens, correct):
        tr = agent.Trajectory.start({"id": "t", "domain": "d"}, [1, 2, 3])
        tr.add_turn([7] * n_tokens, [0.0] * n_tokens)
        tr.reward, tr.reward_info = 0.5, {"accuracy": 1.0 if correct else 0.0}
        return tr
    assert grpo.shaped_reward(episode(240, True), a) == pytest.approx(0.5 + 0.9)       # cos(pi / 2) = 0
    assert grpo.shaped_reward(episode(240, False), a) == pytest.approx(0.5 - 0.15)
    assert grpo.shaped_reward(episode(0, True), a) == pytest.approx(0.5 + 1.1)
    assert grpo.shaped_reward(episode(480, False), a) == pytest.approx(0.5 - 0.3)
    assert grpo.shaped_reward(episode(481, True), a) == pytest.approx(0.5 - 0.5)
    assert grpo.shaped_reward(episode(240, True), SimpleNamespace(**{**vars(a), "length_reward": False})) == 0.5


def test_advantages_are_relative_to_each_group_and_dr_grpo_keeps_the_scale():
    """(r - group mean) / (group std, unbiased) for GRPO, DAPO and GSPO; r - group mean for Dr. GRPO (Liu et al.
    2025 drop the std division). Two groups with different means: each is centred on its own."""
    rewards = [1.0, 0.0, 3.0, 2.0, 2.0, 2.0]
    std = math.sqrt(0.5)                                   # of (1, 0) and of (3, 2), unbiased
    for loss in ("grpo", "dapo", "gspo"):
        got = grpo.advantages(SimpleNamespace(loss=loss, group_size=2), rewards).tolist()
        assert got == pytest.approx([0.5 / std, -0.5 / std, 0.5 / std, -0.5 / std, 0.0, 0.0], rel=1e-5)
    got = grpo.advantages(SimpleNamespace(loss="dr_grpo", group_size=2), rewards).tolist()
    assert got == pytest.approx([0.5, -0.5, 0.5, -0.5, 0.0, 0.0])


def test_every_episode_of_a_step_has_its_own_seed_whatever_the_ranks():
    import config
    cfg = config.load("configs/tiny.yaml", config.Config, ["algo.group_size=4", "algo.tasks_per_step=8"])
    one = grpo.episode_seeds(cfg, 3, range(8))
    assert len(set(one)) == 32 and not set(one) & set(grpo.episode_seeds(cfg, 4, range(8)))
    two = [grpo.episode_seeds(cfg, 3, range(r, 8, 2)) for r in range(2)]          # rank r: tasks r, r + 2, ...
    assert sorted(two[0] + two[1]) == sorted(one)
    assert two[1][:4] == one[4:8]                          # task 1's four episodes, wherever it is rolled out

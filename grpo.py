"""Multi-turn GRPO (and DAPO, Dr. GRPO, GSPO) on FSDP2, hand-written in PyTorch.

  torchrun --nproc_per_node=8 grpo.py configs/grpo.yaml     # GPUs (NCCL, bf16)
  python grpo.py configs/tiny.yaml                          # one CPU process, same code path (gloo)

One step: every rank samples its share of the step's tasks (the same global list on
every rank, from the step's seed), rolls out `group_size` episodes per task with a
full-weight copy of the policy (agent.rollout; FSDP forward needs all ranks in
lockstep, generation does not), scores them with the env's 5D reward (+ the cosine
length reward when enabled), turns rewards into group-relative advantages, and
takes one optimiser step on the recorded tokens under the loss mask, in
micro-batches with gradient accumulation. Everything the user sees is logged each
step to OUT_DIR/metrics.jsonl. Checkpoints (model, optimiser, scheduler, RNG, step)
are written with torch.distributed.checkpoint, committed by a rename and verified
against a sha256 manifest; `resume: true` continues from the newest whole one exactly,
logs included, wherever the run was killed (docs/reference.md, "Crash safety").
"""
import dataclasses
import math
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

import agent
import config
import kb as kbmod
import reward as rewardmod
from clinic import bank, files, images
from decoding import vlm
from distributed import checkpoint, fsdp, runlog
from distributed.fsdp import all_sum, max_over_ranks, sync_weights


# ---------------------------------------------------------------- losses (one function per variant)
@dataclasses.dataclass
class MicroBatch:
    """One micro-batch of an optimiser step, as a loss (and an Extension) sees it; rows are trajectories.
    Column j of the [B, T-1] tensors is the prediction of token j + 1. The output head is applied only to
    the policy's own tokens, a chunk at a time (per_token): no [T, V] tensor of a whole sequence exists."""
    trajs: list                 # the Trajectory of each row
    ids: torch.Tensor           # [B, T] token ids, right-padded
    attn: torch.Tensor          # [B, T] attention mask
    mask: torch.Tensor          # [B, T-1] 1 on the policy's own tokens
    logp: torch.Tensor          # [B, T-1] log-prob of the token taken, with gradient (0 off the mask)
    old_logp: torch.Tensor      # [B, T-1] log-prob at sampling time
    adv: torch.Tensor           # [B] advantages
    ref_logp: torch.Tensor      # [B, T-1] frozen reference's log-probs, or None (kl_coef = 0)
    batch_seqs: int             # sequences in this rank's part of the optimiser step
    batch_tokens: float         # policy tokens in the whole optimiser step / world size
    # for a term that needs the policy's whole distribution (ttopd.py); None where only logp is needed
    rows: torch.Tensor = None   # [B, T-1] bool: where the head is applied (the mask; one row if it is empty)
    hidden: torch.Tensor = None  # [N, H] final hidden states at those rows, with gradient
    head: callable = None       # hidden [C, H] -> log-probs [C, V] (policy head, / temperature, fp32)
    chunk: int = 128            # rows of the head at a time

    def per_token(self, fn, *inputs):
        """[B, T-1]: fn(log-probs [C, V], *input chunks) -> [C] at `rows` (0 elsewhere); inputs are [N, ...]
        tensors aligned with `hidden`. Chunked and recomputed in backward (agent.chunked)."""
        return self.scatter(agent.chunked(lambda h, *xs: fn(self.head(h), *xs), self.hidden, *inputs,
                                          chunk=self.chunk))

    def scatter(self, values):
        return scatter_rows(self.rows, values)


def scatter_rows(rows, values):
    """[N] values at the head's rows -> [B, T-1], 0 elsewhere (differentiable)."""
    return torch.zeros(rows.shape, dtype=values.dtype, device=values.device).masked_scatter(rows, values)


def masked_mean(x, mask, dim=None):
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def k3_kl(logp, ref_logp):
    """k3 estimator of KL(pi || ref) per token: exp(ref - logp) - (ref - logp) - 1 >= 0."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def clipped_pg(ratio, adv, low, high):
    """PPO surrogate per token: -min(r A, clip(r, 1 - low, 1 + high) A); also the clipped indicator."""
    unclipped, clipped = ratio * adv, ratio.clamp(1 - low, 1 + high) * adv
    return -torch.minimum(unclipped, clipped), (clipped < unclipped).float()


def token_terms(mb, a):
    """Per-token clipped surrogate with r = pi / pi_old (+ beta k3 KL to the reference), and the clip
    indicator."""
    pg, clip = clipped_pg(torch.exp(mb.logp - mb.old_logp), mb.adv[:, None], a.clip_low, a.clip_high)
    kl = a.kl_coef * k3_kl(mb.logp, mb.ref_logp) if mb.ref_logp is not None else 0.0
    return pg + kl, clip


# Each loss returns (this micro-batch's share of the step's loss, clip indicator [B, T-1]): the shares of
# a rank's micro-batches add up to its batch loss, so gradient accumulation is a plain sum.
def loss_grpo(mb, a):
    """GRPO (DeepSeekMath): per-sequence token mean of the clipped surrogate (+ beta k3 KL), then batch mean.
    L = 1/G sum_i 1/|o_i| sum_t [ -min(r A_i, clip(r) A_i) + beta KL_t ],  r = pi / pi_old."""
    tok, clip = token_terms(mb, a)
    return masked_mean(tok, mb.mask, 1).sum() / mb.batch_seqs, clip


def loss_dapo(mb, a):
    """DAPO: clip-higher (separate eps_low / eps_high) and a token-level mean over the whole step's tokens:
    L = 1/sum_i |o_i| sum_i sum_t -min(r A_i, clip(r, 1 - eps_low, 1 + eps_high) A_i)."""
    tok, clip = token_terms(mb, a)
    return (tok * mb.mask).sum() / mb.batch_tokens, clip


def loss_dr_grpo(mb, a):
    """Dr. GRPO: no per-sequence length normalisation, a constant normaliser instead:
    L = 1/(G * L_const) sum_i sum_t -min(r A_i, clip(r) A_i)   (advantages without std division)."""
    tok, clip = token_terms(mb, a)
    return (tok * mb.mask).sum() / (mb.batch_seqs * a.dr_grpo_norm), clip


def loss_gspo(mb, a):
    """GSPO: sequence-level ratio s_i = exp(mean_t (logp - old_logp)), clipped per sequence:
    L = 1/G sum_i -min(s_i A_i, clip(s_i, 1 - eps_low, 1 + eps_high) A_i)   (+ beta KL as a sequence mean)."""
    s = torch.exp(masked_mean(mb.logp - mb.old_logp, mb.mask, 1))
    pg, clip = clipped_pg(s, mb.adv, a.clip_low, a.clip_high)
    if mb.ref_logp is not None:
        pg = pg + a.kl_coef * masked_mean(k3_kl(mb.logp, mb.ref_logp), mb.mask, 1)
    return pg.sum() / mb.batch_seqs, clip[:, None].expand_as(mb.mask)


@dataclasses.dataclass(frozen=True)
class Variant:
    loss: callable                  # (MicroBatch, AlgoConfig) -> (loss share, clip indicator)
    std_advantages: bool = True     # divide advantages by the group's reward std


# algo.loss picks one; a new variant is one function above and one line here
LOSSES = {"grpo": Variant(loss_grpo), "dapo": Variant(loss_dapo),
          "dr_grpo": Variant(loss_dr_grpo, std_advantages=False), "gspo": Variant(loss_gspo)}


def group_advantages(rewards, group_size, scale=True, eps=1e-6):
    """(r - mean_group) / (std_group + eps), or without the std division (Dr. GRPO)."""
    r = torch.as_tensor(rewards, dtype=torch.float64).view(-1, group_size)
    adv = r - r.mean(1, keepdim=True)
    if scale:
        adv = adv / (r.std(1, keepdim=True, unbiased=True) + eps)
    return adv.view(-1).float()


def advantages(a, shaped):
    """The step's advantages under algo config `a`: group-relative, divided by the group's std unless the loss
    variant says not to (Dr. GRPO)."""
    return group_advantages(shaped, a.group_size, scale=LOSSES[a.loss].std_advantages)


def overlong_penalty(n_tokens, max_tokens, buffer):
    """DAPO soft overlong punishment: 0 up to max - buffer, then linear down to -1 at max, -1 beyond."""
    if buffer <= 0 or n_tokens <= max_tokens - buffer:
        return 0.0
    return max(-1.0, (max_tokens - buffer - n_tokens) / buffer)


def kept_episodes(shaped, group_size, dynamic_sampling):
    """Indices of the episodes the update learns from: all of them, or with DAPO's dynamic sampling only
    those of groups whose shaped rewards differ (a group with equal rewards has advantage 0 everywhere: no
    signal)."""
    if not dynamic_sampling:
        return list(range(len(shaped)))
    groups = [range(g, g + group_size) for g in range(0, len(shaped), group_size)]
    return [i for group in groups if np.ptp([shaped[i] for i in group]) > 1e-9 for i in group]


def shaped_reward(tr, a):
    """Episode reward used for advantages: env reward (+ cosine length reward) (+ overlong shaping)."""
    r, n = tr.reward, sum(tr.mask)
    if a.length_reward:
        r += rewardmod.cosine_length_reward(n, tr.reward_info["accuracy"] == 1.0, max_len=a.max_policy_tokens)
    return r + overlong_penalty(n, a.max_policy_tokens, a.overlong_buffer)


# ---------------------------------------------------------------- one training step
# Steps are numbered 1..cfg.steps everywhere (logs, checkpoints, the Extension); seeds and schedules are
# functions of the number of steps taken before this one, step - 1.
def step_tasks(cfg, step, pool):
    """The step's global task list, identical on every rank (seeded by the step)."""
    return random.Random(cfg.seed * 100003 + step - 1).sample(pool, cfg.algo.tasks_per_step)


def spec_keep(cfg, step):
    """Progressive Spec Withdrawal: share of tool schemas in the prompt, 1 until spec_withdraw_start,
    then linearly down to 0 at spec_withdraw_end (env.withdraw_specs drops them in a fixed order)."""
    start, end, taken = cfg.spec_withdraw_start, cfg.spec_withdraw_end, step - 1
    if end <= 0:
        return cfg.rollout.spec_keep
    return min(1.0, max(0.0, (end - taken) / max(end - start, 1)))


def local_rollouts(cfg, step, pool, rollout_model, tok, rank, world):
    """This rank's groups: tasks rank, rank + world, ...; episode seeds depend only on (step, task, k)."""
    tasks = step_tasks(cfg, step, pool)
    mine = list(range(rank, len(tasks), world))
    episodes = [tasks[i] for i in mine for _ in range(cfg.algo.group_size)]
    rcfg = dataclasses.replace(cfg.rollout, spec_keep=spec_keep(cfg, step))
    return agent.rollout(rollout_model, tok, episodes, rcfg, seeds=episode_seeds(cfg, step, mine),
                         progress=False,
                         reward_config=cfg.reward)


def episode_seeds(cfg, step, task_indices):
    """The sampling seed of episode k of each of the step's tasks (by its index in the step's list): a
    function of (seed, step, task, k) alone, so any world size samples the same episodes, and no two
    episodes share one."""
    n = cfg.algo.group_size
    return [cfg.seed * 7919 + (step - 1) * 100000 + i * n + k for i in task_indices for k in range(n)]


def pad_batch(trajs, pad_id, device):
    """ids, attention mask, and the loss mask / old log-probs aligned with next-token predictions."""
    ids, attn, mask, old = agent.pad_trajectories(trajs, pad_id, device)
    return ids, attn, mask[:, 1:], old[:, 1:]


class Extension:
    """The one seam for adding to the GRPO loop (ttopd.py is one; tests/test_grpo.py shows another in
    under 30 lines). Override what you need; the defaults do nothing. `step` is the number of the
    optimiser step being taken, from 1 (the same number is logged and names its checkpoint).

    setup(cfg, policy, tok, device)   once, after the models are built, before a checkpoint is loaded
    after_rollout(step, trajs) -> {}  metrics; may annotate trajectories in tr.extras
    extra_loss(mb) -> tensor          added to a micro-batch's loss share (MicroBatch); grpo.py calls it on
                                      every micro-batch, including the zero-weight ones that keep ranks in
                                      lockstep, so it may run collectives; those rows have no turns
    after_step(step, policy) -> {}    metrics, after the optimiser step
    state_dict() / load_state_dict(s) saved with every checkpoint (tensors and plain values)"""

    def setup(self, cfg, policy, tok, device):
        pass

    def after_rollout(self, step, trajs):
        return {}

    def extra_loss(self, mb):
        return None

    def after_step(self, step, policy):
        return {}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def micro_batch(cfg, policy, ref, ref_cache, m, chunk, adv, tok, device, batch_seqs, batch_tokens):
    """Forward one micro-batch of the policy (and the frozen reference, cached per micro-batch m); the head
    runs on the policy's tokens only, in chunks. Returns the MicroBatch and the entropy per token [B, T-1]."""
    ids, attn, mask, old = pad_batch(chunk, tok.pad_token_id, device)
    images = vlm.forward_kwargs(tok, chunk, ids)      # {} unless a vision-language policy saw images
    hidden = agent.final_hidden(policy, ids, attn, images)
    rows = mask.bool()
    # keep the head in the graph on every rank: FSDP's gradient collectives must line up
    if not rows.any():
        rows[0, 0] = True
    hidden = hidden[rows]

    def head(h):
        return agent.head_logprobs(policy, h, cfg.rollout.temperature)
    # one pass of the head gives both: the taken token's log-prob (with gradient) and the entropy
    # (a statistic)
    logp, entropy = agent.chunked(lambda h, y: _logp_and_entropy(head(h), y), hidden, ids[:, 1:][rows],
                                  chunk=cfg.head_chunk)
    ref_logp = reference_logprobs(cfg, ref, ref_cache, m, ids, attn, images)
    mb = MicroBatch(trajs=chunk, ids=ids, attn=attn, mask=mask, logp=scatter_rows(rows, logp), old_logp=old,
                    adv=adv.to(device), ref_logp=ref_logp, batch_seqs=batch_seqs, batch_tokens=batch_tokens,
                    rows=rows, hidden=hidden, head=head, chunk=cfg.head_chunk)
    return mb, scatter_rows(rows, entropy)


def reference_logprobs(cfg, ref, ref_cache, m, ids, attn, images):
    """The frozen reference's log-probs of micro-batch m (computed once, then read from ref_cache), or
    None."""
    if ref is None:
        return None
    if m not in ref_cache:
        with torch.no_grad():
            ref_cache[m] = agent.token_logprobs(ref, ids, attn, cfg.rollout.temperature, images,
                                                cfg.head_chunk)
        if hasattr(ref, "reshard"):     # a forward without backward leaves the root gathered: free it now
            ref.reshard()
    return ref_cache[m]


def _logp_and_entropy(logp_rows, targets):
    taken = logp_rows.gather(-1, targets[:, None]).squeeze(-1)
    return taken, (-(logp_rows.exp() * logp_rows).sum(-1)).detach()


def train_step(cfg, policy, ref, optimizer, trajs, adv, tok, device, ext=None, ref_cache=None):
    """One optimiser step over this rank's kept trajectories, micro-batched; returns loss statistics.
    ref_cache (a dict, micro-batch -> reference log-probs) lets later passes over the same batch reuse the
    frozen reference's forward instead of repeating it."""
    a, ext = cfg.algo, ext or Extension()
    ref_cache = {} if ref_cache is None else ref_cache
    batch_tokens = max(all_sum([sum(sum(t.mask) for t in trajs)], device)[0] / dist.get_world_size(), 1.0)
    sums = {"loss": 0.0, "clip_frac": 0.0, "entropy": 0.0, "kl": 0.0, "tokens": 0.0}
    optimizer.zero_grad(set_to_none=True)
    for m, chunk, adv_mb, weight, last in micro_batches(cfg, trajs, adv, tok, device):
        policy.set_requires_gradient_sync(last)
        mb, entropy = micro_batch(cfg, policy, ref, ref_cache, m, chunk, adv_mb, tok, device,
                                  max(len(trajs), 1), batch_tokens)
        loss, clipped = LOSSES[a.loss].loss(mb, a)
        extra = ext.extra_loss(mb)
        if extra is not None:
            loss = loss + extra
        (loss * weight).backward()
        add_step_sums(sums, mb, loss * weight, clipped, entropy)
    # cfg.grad_clip = 0: no clipping (the norm is still logged)
    grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip or math.inf)
    grad_norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm
    # no group kept anywhere: Adam's momentum must not move weights
    if all_sum([len(trajs)], device)[0] > 0:
        optimizer.step()
    total = sum_over_ranks(sums, device)
    tokens = max(total["tokens"], 1.0)
    return {"loss": total["loss"] / dist.get_world_size(), "clip_frac": total["clip_frac"] / tokens,
            "entropy": total["entropy"] / tokens, "kl": total["kl"] / tokens, "grad_norm": float(grad_norm)}


def micro_batches(cfg, trajs, adv, tok, device):
    """(index, rows, their advantages, loss weight, is the last) of each micro-batch of this rank's share.
    FSDP's collectives must line up across ranks, so every rank runs as many micro-batches as the busiest:
    one that has run out runs zero-weight passes on a row with no turns; gradients sync on the last only."""
    n_micro = max(1, int(max_over_ranks(math.ceil(len(trajs) / cfg.micro_batch), device)))
    for m in range(n_micro):
        lo = m * cfg.micro_batch
        chunk = trajs[lo:lo + cfg.micro_batch]
        if chunk:
            yield m, chunk, adv[lo:lo + len(chunk)], 1.0, m == n_micro - 1
        else:
            yield m, [dummy_traj(tok)], torch.zeros(1), 0.0, m == n_micro - 1


@torch.no_grad()
def add_step_sums(sums, mb, weighted_loss, clipped, entropy):
    """Accumulate a micro-batch's statistics: its loss share, and per-token sums over the policy's tokens."""
    sums["loss"] += float(weighted_loss)
    sums["clip_frac"] += float((clipped * mb.mask).sum())
    sums["entropy"] += float((entropy * mb.mask).sum())
    if mb.ref_logp is not None:
        sums["kl"] += float((k3_kl(mb.logp, mb.ref_logp) * mb.mask).sum())
    sums["tokens"] += float(mb.mask.sum())


def sum_over_ranks(sums, device):
    """{name: this rank's sum} -> {name: the sum over all ranks}, in one all-reduce."""
    return dict(zip(sums, all_sum(list(sums.values()), device)))


def update(cfg, policy, ref, optimizer, trajs, adv, tok, device, ext=None):
    """algo.epochs passes over the batch, each algo.minibatches optimiser steps on consecutive parts of it.
    Every update after the first is off-policy, so ratios and clipping act. Returns the last pass's
    statistics, averaged over its minibatches."""
    parts = [torch.as_tensor(p, dtype=torch.long) for p in np.array_split(np.arange(len(trajs)),
                                                                          cfg.algo.minibatches)]
    caches = [{} for _ in parts]     # the reference is frozen: one forward per minibatch, whatever the passes
    for _ in range(cfg.algo.epochs):
        stats = [train_step(cfg, policy, ref, optimizer, [trajs[i] for i in p], adv[p], tok, device, ext, c)
                 for p, c in zip(parts, caches)]
    return {k: sum(s[k] for s in stats) / len(stats) for k in stats[0]}


def dummy_traj(tok):
    ids = [tok.pad_token_id, tok.pad_token_id]
    return agent.Trajectory("dummy", "", ids, [0, 0], [0.0, 0.0], [])


# ---------------------------------------------------------------- the loop
VALIDATION_SEED_BASE = 10 ** 6


def evaluate(cfg, rollout_model, tok, tasks, rank, world, device, seed_base=VALIDATION_SEED_BASE):
    """Mean validation reward/accuracy/length/turns over `tasks`, split across ranks (one sample per task at
    the rollout temperature, task i seeded seed_base + i: agent.evaluation_rollouts, as evaluate.py), the
    mean's standard error, and every task's reward in task order (a paired before/after difference reads them)."""
    trajs = agent.evaluation_rollouts(rollout_model, tok, tasks, cfg.rollout, seed_base, rank, world,
                                      reward_config=cfg.reward)[1]
    m = rollout_metrics(trajs, [t.reward for t in trajs], device)[0]
    rewards = task_rewards(len(tasks), trajs, rank, world, device)
    return {**{f"val_{k}": m[k] for k in ("reward", "accuracy", "response_tokens", "turns")},
            "val_reward_se": runlog.standard_error(rewards), "val_rewards": rewards}


def task_rewards(n_tasks, trajs, rank, world, device):
    """Every task's reward in task order, on every rank (task i was played on rank i % world), rounded to
    4 places for the log."""
    rewards = [0.0] * n_tasks
    for i, t in zip(range(rank, n_tasks, world), trajs):
        rewards[i] = t.reward
    return [round(r, 4) for r in all_sum(rewards, device)]


TOOL_ERRORS = ("malformed", "phantom_tool", "schema", "off_menu", "execution", "no_tool_call")


def rollout_metrics(trajs, shaped, device):
    """Means over all ranks' episodes: reward, shaped reward, the 5D components, violations, length, turns,
    calls, tool errors by kind; and the total policy tokens."""
    sums = {"episodes": len(trajs), "reward": sum(t.reward for t in trajs), "shaped_reward": sum(shaped),
            **{k: sum(t.reward_info[k] for t in trajs) for k in ("accuracy", "process", "safety", "format",
                                                                 "coherence")},
            "safety_violation_rate": sum(t.reward_info["critical_violation"] for t in trajs),
            "response_tokens": sum(sum(t.mask) for t in trajs), "turns": sum(t.n_turns for t in trajs),
            "tool_calls": sum(t.n_calls for t in trajs),
            **{f"err_{e}": sum(t.errors.get(e, 0) for t in trajs) for e in TOOL_ERRORS}}
    total = sum_over_ranks(sums, device)
    n = max(total.pop("episodes"), 1)
    return {k: v / n for k, v in total.items()}, total["response_tokens"]



def check_values(cfg):
    """What config.py cannot check: the loss registry, and the KB that rollout.kb names."""
    if cfg.algo.loss not in LOSSES:
        raise config.ConfigError("config key 'algo.loss' must be one of "
                                 f"{sorted(LOSSES)}, got {cfg.algo.loss!r}")
    # a missing, stale or damaged index fails here, on every rank, before any model loads; the embedded one
    # is built once (a lock) while the other ranks wait
    kbmod.open_kb(cfg.rollout.kb)


def lr_factor(cfg, s):
    """LR multiplier at step s: linear warm-up, then 1 (constant) or a cosine from 1 to min_lr_ratio at
    cfg.steps. With a time budget, set steps to about what fits, so the decay ends where the run does."""
    if s < cfg.warmup_steps:
        return (s + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    frac = min(1.0, (s - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))


def make_optimizer(cfg, policy):
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg, s))


def training_tasks(cfg, world):
    """The training pool and the validation tasks, checked against the config at start-up."""
    if cfg.algo.tasks_per_step % world:
        raise config.ConfigError(f"config key 'algo.tasks_per_step' is {cfg.algo.tasks_per_step}, which "
                                 f"{world} ranks cannot share evenly")
    pool = bank.load_tasks(split=cfg.train_split)
    if len(pool) < cfg.algo.tasks_per_step:
        raise config.ConfigError(f"config key 'algo.tasks_per_step' is {cfg.algo.tasks_per_step} but split "
                                 f"{cfg.train_split!r} has {len(pool)} tasks")
    val = agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    images.check_readable(pool + val)
    return pool, val


def train(cfg, ext=None):
    """Run GRPO steps 1..cfg.steps (from the newest checkpoint if resuming), with an optional Extension.
    Returns (the last metrics row, the policy)."""
    ext = ext or Extension()
    check_values(cfg)
    rank, world, device = fsdp.setup_distributed(cfg.model.device)
    path, record = checkpoint.start_point(cfg, rank, world)
    pool, val = training_tasks(cfg, world)
    policy, rollout_model, ref, tok = fsdp.build_models(cfg, device)
    optimizer, sched = make_optimizer(cfg, policy)
    ext.setup(cfg, policy, tok, device)
    done = checkpoint.load_checkpoint(path, record, policy, optimizer, sched, ext) if path else 0
    sync_weights(policy, rollout_model)
    logs, also_log = runlog.open_logs(cfg, record, rank)
    row = {}
    if done == 0:
        row = runlog.log_start(cfg, logs, evaluate(cfg, rollout_model, tok, val, rank, world, device), rank)
    bar = tqdm(range(done + 1, cfg.steps + 1), desc=run_name(cfg, ext), unit="step", disable=rank != 0)
    t_start = time.time()
    for step in bar:     # step k = the k-th optimiser step
        t0 = time.time()
        if runlog.out_of_time(cfg, t0 - t_start, device):     # logged and saved as the last step taken
            row.update(evaluate(cfg, rollout_model, tok, val, rank, world, device))
            logs.write("metrics.jsonl", [{"step": step - 1, "stopped": "time_budget", **row}])
            checkpoint.save_checkpoint(cfg, step - 1, policy, optimizer, sched, ext, logs)
            break
        trajs = local_rollouts(cfg, step, pool, rollout_model, tok, rank, world)
        ext_metrics = ext.after_rollout(step, trajs)
        shaped = [shaped_reward(t, cfg.algo) for t in trajs]
        adv = advantages(cfg.algo, shaped)
        keep = kept_episodes(shaped, cfg.algo.group_size, cfg.algo.dynamic_sampling)
        metrics, n_tokens = rollout_metrics(trajs, shaped, device)
        stats = update(cfg, policy, ref, optimizer, [trajs[i] for i in keep], adv[keep], tok, device, ext)
        sched.step()
        sync_weights(policy, rollout_model)
        files.crash_point("step.updated")
        row = {"step": step, **metrics, **stats, **ext_metrics, "lr": sched.get_last_lr()[0],
               "spec_keep": spec_keep(cfg, step),
               "kept_groups": all_sum([len(keep) / cfg.algo.group_size], device)[0],
               **runlog.speed(time.time() - t0, n_tokens, device), **ext.after_step(step, policy)}
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            row.update(evaluate(cfg, rollout_model, tok, val, rank, world, device))
        runlog.log_step(cfg, logs, row, trajs, also_log)
        bar.set_postfix(reward=f"{row['reward']:.3f}", loss=f"{row['loss']:.3f}")
        files.crash_point("step.logged")
        if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == cfg.steps:
            checkpoint.save_checkpoint(cfg, step, policy, optimizer, sched, ext, logs)
    logs.close()
    gain = runlog.validation_gain(cfg.out_dir) if rank == 0 else None
    if gain:
        print(gain)
    files.crash_point("export.start")
    checkpoint.export_final(cfg, rollout_model, tok, rank)
    return row, policy


def run_name(cfg, ext):
    """The progress bar's label: the loss, and the extension's class if there is one ("ttopd/grpo")."""
    return cfg.algo.loss if type(ext) is Extension else f"{type(ext).__name__.lower()}/{cfg.algo.loss}"


def main(argv, cls=config.Config, extension=None):
    """The command line of grpo.py and of an extension's file: `extension(cfg)` builds its Extension."""
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: [torchrun --nproc_per_node=N] {sys.argv[0]} CONFIG.yaml [key.sub=value ...]\n\n"
              "config keys:\n  "
              + "\n  ".join(config.describe(cls)))
        return
    cfg = config.load(argv[0], cls, argv[1:])
    try:
        train(cfg, extension(cfg) if extension else None)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    files.run_cli(main)

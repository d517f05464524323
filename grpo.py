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
import copy
import dataclasses
import glob
import json
import math
import os
import pickle
import random
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

import agent
import kb as kbmod
import config
import reward as rewardmod
from clinic import bank, files, images


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
        """[N] values at the head's rows -> [B, T-1], 0 elsewhere (differentiable)."""
        return torch.zeros(self.rows.shape, dtype=values.dtype, device=values.device).masked_scatter(self.rows,
                                                                                                   values)


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
    """Per-token clipped surrogate with r = pi / pi_old (+ beta k3 KL to the reference), and the clip indicator."""
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
    """Indices of the episodes the update learns from: all of them, or with DAPO's dynamic sampling only those of
    groups whose shaped rewards differ (a group with equal rewards has advantage 0 everywhere: no signal)."""
    g = group_size
    return [i for i in range(len(shaped)) if not dynamic_sampling or np.ptp(shaped[i // g * g:(i // g + 1) * g]) > 1e-9]


def shaped_reward(tr, a):
    """Episode reward used for advantages: env reward (+ cosine length reward) (+ overlong shaping)."""
    r, n = tr.reward, sum(tr.mask)
    if a.length_reward:
        r += rewardmod.cosine_length_reward(n, tr.reward_info["accuracy"] == 1.0, max_len=a.max_policy_tokens)
    return r + overlong_penalty(n, a.max_policy_tokens, a.overlong_buffer)


# ---------------------------------------------------------------- distribution
def setup_distributed(device=None):
    """torchrun: its env vars; plain python: a one-process group, so the code path is the same. device: the
    config's model.device (cuda: NCCL and each rank's own GPU, cuda:N in one process: GPU N; cpu: gloo);
    None = CUDA if there is one."""
    cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise config.ConfigError(f"config key 'model.device' is {device!r} but this machine has no CUDA device")
    torchrun = "RANK" in os.environ
    if not torchrun:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", str(29500 + os.getpid() % 1000)))
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    index = device.split(":")[1] if device and ":" in device and not torchrun else os.environ["LOCAL_RANK"]
    device = torch.device(f"cuda:{int(index)}" if cuda else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def shard(model, device, bf16, activation_checkpointing):
    """FSDP2: shard each decoder layer, then the root; bf16 compute with fp32 master weights on GPU."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
    kw = {"mesh": mesh, **({"mp_policy": mp} if mp else {})}
    if activation_checkpointing:
        # transformers 5.2x renamed the method; older releases (5.17 on our GPU image) only have the old name
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    text = getattr(model.model, "language_model", model.model)     # vision-language models nest it
    for layer in text.layers:      # (a vision tower stays in the root unit: every rank gathers it alike)
        fully_shard(layer, **kw)
    fully_shard(model, **kw)
    return model


def full_state(model):
    """Gather the sharded model into a full state dict on every rank (checks and exports only: it holds the
    whole model at once; the training loop syncs with sync_weights)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))


@torch.no_grad()
def sync_weights(sharded, full):
    """full <- sharded, one parameter at a time, gathered straight into the copy's tensor (through one buffer of
    that parameter's size when the copy has another dtype or the shards are uneven): the extra memory is one
    parameter, never the model. Every rank calls this in the same order."""
    dst = dict(full.named_parameters())
    for name, p in sharded.named_parameters():
        out = dst[name]
        if not hasattr(p, "to_local"):                 # not sharded (or gathered just now): a plain copy
            out.copy_(p)
            continue
        local = p.to_local()
        even = local.shape[0] * dist.get_world_size() == out.shape[0]
        if even and out.dtype == local.dtype and out.is_contiguous():
            # (torch 2.13 deprecates all_gather_into_tensor for all_gather_single; older releases lack the new name)
            (getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor)(out, local.contiguous())
        else:
            out.copy_(p.full_tensor())


def local_shard(p):
    """This rank's part of a parameter: the local tensor of an FSDP2 DTensor, or the plain tensor itself."""
    return p.to_local() if hasattr(p, "to_local") else p


@torch.no_grad()
def copy_shards(dst, src):
    """dst <- src, parameter by parameter, each rank on its own shards (both sharded alike): no gathering."""
    for t, s in zip(dst.parameters(), src.parameters()):
        local_shard(t).copy_(local_shard(s))


def sharded_copy(cfg, policy, device):
    """A frozen FSDP2 copy of the sharded policy (FSDP modules cannot be deep-copied): a fresh module sharded
    the same way, then each rank copies its own shards."""
    model = agent.load_policy(dataclasses.replace(cfg.model, device=str(device), dtype="float32"),
                              cfg.init_checkpoint or None)[0]
    copy_ = shard(model.eval().requires_grad_(False), device, device.type == "cuda", False)
    copy_shards(copy_, policy)
    return copy_


def build_models(cfg, device):
    """Policy (FSDP), its full-weight rollout copy, and the frozen reference when kl_coef > 0."""
    torch.manual_seed(cfg.seed)
    ck = cfg.init_checkpoint or None
    if ck and not os.path.isdir(ck):     # a silent fresh init would waste the whole run
        raise config.ConfigError(f"config key 'init_checkpoint': no directory {ck!r} (run `python warmstart.py "
                                 "CONFIG` first, or set init_checkpoint: '' to start from model.path)")
    mcfg = dataclasses.replace(cfg.model, device=str(device), dtype="float32")
    policy, tok = agent.load_policy(mcfg, ck)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.model.dtype]
    rollout_model = copy.deepcopy(policy).to(dtype).eval()     # copies: same weights even from a fresh init
    ref = None
    if cfg.algo.kl_coef > 0:
        ref = copy.deepcopy(policy).eval().requires_grad_(False)
        ref = shard(ref, device, device.type == "cuda", False)
    policy = shard(policy, device, device.type == "cuda", cfg.activation_checkpointing)
    return policy, rollout_model, ref, tok


# ---------------------------------------------------------------- one training step
def step_tasks(cfg, step, pool):
    """The step's global task list, identical on every rank (seeded by step)."""
    return random.Random(cfg.seed * 100003 + step).sample(pool, cfg.algo.tasks_per_step)


def spec_keep(cfg, step):
    """Progressive Spec Withdrawal: share of tool schemas in the prompt, 1 until spec_withdraw_start,
    then linearly down to 0 at spec_withdraw_end (agent.withdraw_specs drops them in a fixed order)."""
    start, end = cfg.spec_withdraw_start, cfg.spec_withdraw_end
    if end <= 0:
        return cfg.rollout.spec_keep
    return min(1.0, max(0.0, (end - step) / max(end - start, 1)))


def local_rollouts(cfg, step, pool, rollout_model, tok, rank, world):
    """This rank's groups: tasks rank, rank + world, ...; episode seeds depend only on (step, task, k)."""
    tasks = step_tasks(cfg, step, pool)
    mine = list(range(rank, len(tasks), world))
    episodes = [tasks[i] for i in mine for _ in range(cfg.algo.group_size)]
    rcfg = dataclasses.replace(cfg.rollout, spec_keep=spec_keep(cfg, step))
    return agent.rollout(rollout_model, tok, episodes, rcfg, seeds=episode_seeds(cfg, step, mine), progress=False,
                         reward_config=cfg.reward)


def episode_seeds(cfg, step, task_indices):
    """The sampling seed of episode k of each of the step's tasks (by its index in the step's list): a function of
    (seed, step, task, k) alone, so any world size samples the same episodes, and no two episodes share one."""
    n = cfg.algo.group_size
    return [cfg.seed * 7919 + step * 100000 + i * n + k for i in task_indices for k in range(n)]


def pad_batch(trajs, pad_id, device):
    """ids, attention mask, and the loss mask / old log-probs aligned with next-token predictions."""
    ids, attn, mask, old = agent.pad_trajectories(trajs, pad_id, device)
    return ids, attn, mask[:, 1:], old[:, 1:]


def all_sum(values, device):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


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
    images = agent.vision_kwargs(tok, chunk, ids)      # {} unless a vision-language policy saw images
    hidden = agent.final_hidden(policy, ids, attn, images)
    rows = mask.bool()
    if not rows.any():      # keep the head in the graph on every rank: FSDP's gradient collectives must line up
        rows[0, 0] = True
    mb = MicroBatch(chunk, ids, attn, mask, None, old, adv.to(device), None, batch_seqs, batch_tokens, rows,
                    hidden[rows], lambda h: agent.head_logprobs(policy, h, cfg.rollout.temperature), cfg.head_chunk)
    targets = ids[:, 1:][rows]
    # one pass of the head gives both: the taken token's log-prob (with gradient) and the entropy (a statistic)
    logp, entropy = agent.chunked(lambda h, y: _logp_and_entropy(mb.head(h), y), mb.hidden, targets,
                                  chunk=cfg.head_chunk)
    mb.logp = mb.scatter(logp)
    if ref is not None and m not in ref_cache:
        with torch.no_grad():
            ref_cache[m] = agent.token_logprobs(ref, ids, attn, cfg.rollout.temperature, images, cfg.head_chunk)
        if hasattr(ref, "reshard"):     # a forward without backward leaves the root gathered: free it now
            ref.reshard()
    mb.ref_logp = ref_cache.get(m) if ref is not None else None
    return mb, mb.scatter(entropy)


def _logp_and_entropy(logp_rows, targets):
    return logp_rows.gather(-1, targets[:, None]).squeeze(-1), (-(logp_rows.exp() * logp_rows).sum(-1)).detach()


def train_step(cfg, policy, ref, optimizer, trajs, adv, tok, device, ext=None, ref_cache=None):
    """One optimiser step over this rank's kept trajectories, micro-batched; returns loss statistics.
    ref_cache (a dict, micro-batch -> reference log-probs) lets later passes over the same batch reuse the
    frozen reference's forward instead of repeating it."""
    a, ext = cfg.algo, ext or Extension()
    ref_cache = {} if ref_cache is None else ref_cache
    world = dist.get_world_size()
    batch_tokens = max(all_sum([sum(sum(t.mask) for t in trajs)], device)[0] / world, 1.0)
    # every rank runs the same number of micro-batches: FSDP's collectives must line up
    n_micro = max(1, int(max_over_ranks(math.ceil(len(trajs) / cfg.micro_batch), device)))
    stats = {"loss": 0.0, "clip_frac": 0.0, "kl": 0.0, "entropy": 0.0, "tokens": 0.0}
    optimizer.zero_grad(set_to_none=True)
    for m in range(n_micro):
        lo = m * cfg.micro_batch
        chunk, weight = trajs[lo:lo + cfg.micro_batch], 1.0
        if not chunk:       # this rank has run out: a zero-weight pass on a no-turn row keeps lockstep
            chunk, weight, adv_mb = [dummy_traj(tok)], 0.0, torch.zeros(1)
        else:
            adv_mb = adv[lo:lo + len(chunk)]
        policy.set_requires_gradient_sync(m == n_micro - 1)
        mb, entropy = micro_batch(cfg, policy, ref, ref_cache, m, chunk, adv_mb, tok, device, max(len(trajs), 1),
                                  batch_tokens)
        loss, clipped = LOSSES[a.loss].loss(mb, a)
        extra = ext.extra_loss(mb)
        if extra is not None:
            loss = loss + extra
        (loss * weight).backward()
        with torch.no_grad():
            stats["loss"] += float(loss) * weight
            stats["clip_frac"] += float((clipped * mb.mask).sum())
            stats["entropy"] += float((entropy * mb.mask).sum())
            if mb.ref_logp is not None:
                stats["kl"] += float((k3_kl(mb.logp, mb.ref_logp) * mb.mask).sum())
            stats["tokens"] += float(mb.mask.sum())
    grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip or math.inf)   # 0: no clipping
    grad_norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm
    if all_sum([len(trajs)], device)[0] > 0:    # no group kept anywhere: Adam's momentum must not move weights
        optimizer.step()
    tot = all_sum([stats["loss"], stats["clip_frac"], stats["entropy"], stats["kl"], stats["tokens"]], device)
    tokens = max(tot[4], 1.0)
    return {"loss": tot[0] / world, "clip_frac": tot[1] / tokens, "entropy": tot[2] / tokens,
            "kl": tot[3] / tokens, "grad_norm": float(grad_norm)}


def update(cfg, policy, ref, optimizer, trajs, adv, tok, device, ext=None):
    """algo.epochs passes over the batch, each algo.minibatches optimiser steps on consecutive parts of it.
    Every update after the first is off-policy, so ratios and clipping act. Returns the last pass's statistics,
    averaged over its minibatches."""
    parts = [torch.as_tensor(p, dtype=torch.long) for p in np.array_split(np.arange(len(trajs)),
                                                                          cfg.algo.minibatches)]
    caches = [{} for _ in parts]     # the reference is frozen: one forward per minibatch, whatever the passes
    for _ in range(cfg.algo.epochs):
        stats = [train_step(cfg, policy, ref, optimizer, [trajs[i] for i in p], adv[p], tok, device, ext, c)
                 for p, c in zip(parts, caches)]
    return {k: sum(s[k] for s in stats) / len(stats) for k in stats[0]}


def max_over_ranks(x, device):
    t = torch.tensor([float(x)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


def dummy_traj(tok):
    ids = [tok.pad_token_id, tok.pad_token_id]
    return agent.Trajectory("dummy", "", ids, [0, 0], [0.0, 0.0], [])


# ---------------------------------------------------------------- checkpoints
# OUT_DIR/checkpoints/step_NNNNNN/ holds the tensors of the model, the optimiser and the extension (torch DCP:
# each rank's shards and a .metadata index), rng_rank{r}.json, and record.json: the step, the scheduler, the
# state's values that are not tensors, the config, the logs' lengths, and a manifest (size and sha256 of every
# other file). It is written as step_NNNNNN.partial and renamed when whole: the rename is the commit. Nothing
# in it is read back with pickle except DCP's .metadata, through an unpickler that admits DCP's own classes.
class CheckpointError(files.InputError):
    pass


def checkpoint_dir(cfg, step):
    return os.path.join(cfg.out_dir, "checkpoints", f"step_{step:06d}")


def committed_checkpoints(cfg):
    """Paths of the committed checkpoints, oldest first."""
    root = os.path.join(cfg.out_dir, "checkpoints")
    names = sorted(d for d in os.listdir(root) if re.fullmatch(r"step_\d{6}", d)) if os.path.isdir(root) else []
    return [os.path.join(root, d) for d in names]


def checkpoint_state(policy, optimizer, ext):
    """The state a checkpoint holds, nested: the model and optimiser state dicts (FSDP2-aware) and the extension's.
    Flattened by files.leaves to {"model/...": value}: tensors go to DCP, the other values to record.json."""
    from torch.distributed.checkpoint.state_dict import get_state_dict
    model_sd, optim_sd = get_state_dict(policy, optimizer)
    return {"model": model_sd, "optim": optim_sd, "extension": ext.state_dict()}


def rng_state():
    return {"torch": torch.get_rng_state().tolist(), "python": random.getstate(),
            "numpy": [x.tolist() if isinstance(x, np.ndarray) else x for x in np.random.get_state()]}


def set_rng_state(s):
    torch.set_rng_state(torch.tensor(s["torch"], dtype=torch.uint8))
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))
    name, keys, pos, has_gauss, cached = s["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(cfg, step, policy, optimizer, sched, ext, logs):
    """Write the step's checkpoint under a temporary name, hash its files (the ranks share the hashing),
    write record.json, then commit it by renaming; keep the newest cfg.keep_checkpoints."""
    import torch.distributed.checkpoint as dcp
    rank, world = dist.get_rank(), dist.get_world_size()
    final = checkpoint_dir(cfg, step)
    tmp = final + ".partial"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    dist.barrier()
    state = dict(files.leaves(checkpoint_state(policy, optimizer, ext)))
    dcp.save({k: v for k, v in state.items() if torch.is_tensor(v)}, checkpoint_id=tmp)
    with files.atomic_open(os.path.join(tmp, f"rng_rank{rank}.json")) as f:
        json.dump(rng_state(), f)
    dist.barrier()
    files.crash_point("checkpoint.tensors_written")
    parts = [None] * world
    dist.all_gather_object(parts, files.manifest(tmp, files.folder_files(tmp), (rank, world)))
    if rank == 0:
        record = {"step": step, "world": world, "scheduler": sched.state_dict(),
                  "values": {k: v for k, v in state.items() if not torch.is_tensor(v)},
                  "config": dataclasses.asdict(cfg), "logs": logs.lengths(),
                  "manifest": {name: entry for part in parts for name, entry in part.items()}}
        with files.atomic_open(os.path.join(tmp, "record.json")) as f:
            files.crash_point("checkpoint.record_opened")
            json.dump(record, f)
        files.crash_point("checkpoint.record_written")
        files.replace_dir(tmp, final)
        files.crash_point("checkpoint.committed")
        for old in committed_checkpoints(cfg)[:-cfg.keep_checkpoints] if cfg.keep_checkpoints else []:
            shutil.rmtree(old)
    dist.barrier()


class _MetadataUnpickler(pickle.Unpickler):
    """DCP's .metadata is a pickle, which can run any code; this admits only the classes DCP's metadata is
    made of (and torch dtypes), so a crafted one is refused instead."""
    ALLOWED = {("torch", "Size"), ("torch.serialization", "_get_layout"), ("pathlib", "PosixPath"),
               ("torch.distributed.checkpoint.filesystem", "_StorageInfo"), ("collections", "OrderedDict")}

    def find_class(self, module, name):
        import torch.distributed.checkpoint.metadata as md
        dtype = module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)
        dcp_class = module == md.__name__ and getattr(getattr(md, name, None), "__module__", None) == md.__name__
        if (module, name) not in self.ALLOWED and not dtype and not dcp_class:
            raise CheckpointError(f"refusing to load {module}.{name} from a checkpoint's .metadata (a pickle)")
        return super().find_class(module, name)


def dcp_metadata(path):
    """A checkpoint's DCP .metadata, read by _MetadataUnpickler."""
    try:
        with open(os.path.join(path, ".metadata"), "rb") as f:
            return _MetadataUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path}: its .metadata cannot be read ({type(e).__name__}: {e})") from None


def dcp_reader(path):
    """torch DCP's file reader, with .metadata read by dcp_metadata."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import StorageMeta

    class NoCodeReader(FileSystemReader):
        def read_metadata(self, *args, **kwargs):
            metadata = dcp_metadata(str(self.path))
            if getattr(metadata, "storage_meta", None) is None:
                metadata.storage_meta = StorageMeta()
            metadata.storage_meta.load_id = getattr(self, "load_id", None)
            return metadata
    return NoCodeReader(path)


def checkpoint_problem(path, rank, world):
    """Why checkpoint `path` cannot be resumed (no record, another world size, a file that does not match
    the manifest), as text, or None; every rank gets the same answer (they share the hashing)."""
    try:
        with open(os.path.join(path, "record.json")) as f:
            record = json.load(f)
        problem = f"it was written by {record.get('world')} ranks, this run has {world}" \
            if record.get("world") != world else files.verify(path, record["manifest"], (rank, world))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        problem = f"its record.json cannot be read ({type(e).__name__})"
    found = [None] * world
    dist.all_gather_object(found, problem)
    return next((p for p in found if p), None)


def resumable_checkpoint(cfg, rank, world):
    """The newest committed checkpoint that verifies, as (path, record), or (None, None). Each one that does
    not is named in a warning and renamed to step_NNNNNN.damaged (nothing reads it again)."""
    for path in reversed(committed_checkpoints(cfg)):
        problem = checkpoint_problem(path, rank, world)
        if problem is None:
            with open(os.path.join(path, "record.json")) as f:
                return path, json.load(f)
        files.warn(f"checkpoint {path} is damaged ({problem}): skipped; trying the one before it")
        if rank == 0:
            files.replace_dir(path, path + ".damaged")
        dist.barrier()
    return None, None


def check_resumed_config(cfg, path, record):
    """A resumed run must be the run its checkpoint continues: every key but config.RESUME_MAY_CHANGE equal."""
    now = dict(config.flat(json.loads(json.dumps(dataclasses.asdict(cfg)))))
    then = dict(config.flat(record["config"]))
    changed = [k for k in sorted(set(now) | set(then)) if k not in config.RESUME_MAY_CHANGE and now.get(k) != then.get(k)]
    if changed:
        k = changed[0]
        raise config.ConfigError(f"config key '{k}' is {now.get(k)!r} but the checkpoint {path} was written with "
                                 f"{then.get(k)!r} ({len(changed)} key(s) differ; on resume only "
                                 f"{', '.join(config.RESUME_MAY_CHANGE)} may change)")


def load_checkpoint(path, record, policy, optimizer, sched, ext):
    """Restore what save_checkpoint wrote (verified by checkpoint_problem); returns the steps it had taken."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import set_state_dict
    dcp_metadata(path)      # a refused .metadata is one clear error here, before DCP's own error handling
    nested = checkpoint_state(policy, optimizer, ext)
    state = dict(files.leaves(nested))
    try:                    # DCP loads the tensors in place, into the tensors of `nested`
        dcp.load({k: v for k, v in state.items() if torch.is_tensor(v)}, checkpoint_id=path,
                 storage_reader=dcp_reader(path))
    except CheckpointException as e:     # (a BaseException) every rank's failures, in one
        raise CheckpointError(f"checkpoint {path}: torch DCP cannot load it ({' '.join(str(e).split())[:300]})") from None
    missing = [k for k, v in state.items() if not torch.is_tensor(v) and k not in record["values"]]
    if missing:
        raise CheckpointError(f"checkpoint {path} has no value {missing[0]!r} (written by another extension?)")
    files.set_leaves(nested, {k: record["values"][k] for k, v in state.items() if not torch.is_tensor(v)})
    set_state_dict(policy, optimizer, model_state_dict=nested["model"], optim_state_dict=nested["optim"])
    ext.load_state_dict(nested["extension"])
    sched.load_state_dict(record["scheduler"])
    rng = os.path.join(path, f"rng_rank{dist.get_rank()}.json")
    try:
        with open(rng) as f:
            set_rng_state(json.load(f))
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"{rng} is not an RNG state ({type(e).__name__}: {e})") from None
    return record["step"]


# ---------------------------------------------------------------- the loop
VALIDATION_SEED_BASE = 10 ** 6
LOGS = ("metrics.jsonl", "trajectories.jsonl")      # rank 0 writes them; a resume cuts them back (files.RunLogs)


def evaluate(cfg, rollout_model, tok, tasks, rank, world, device, seed_base=VALIDATION_SEED_BASE):
    """Mean validation reward/accuracy/length/turns over `tasks`, split across ranks (one sample per task at
    the rollout temperature, task i seeded seed_base + i: agent.evaluation_rollouts, as evaluate.py)."""
    trajs = agent.evaluation_rollouts(rollout_model, tok, tasks, cfg.rollout, seed_base, rank, world,
                                      reward_config=cfg.reward)[1]
    m = rollout_metrics(trajs, [t.reward for t in trajs], device)[0]
    return {f"val_{k}": m[k] for k in ("reward", "accuracy", "response_tokens", "turns")}


def rollout_metrics(trajs, shaped, device):
    """Means over all ranks' episodes: reward, shaped reward, the 5D components, violations, length, turns,
    calls, tool errors by kind; and the total policy tokens."""
    keys = ["accuracy", "process", "safety", "format", "coherence"]
    errs = ["malformed", "phantom_tool", "schema", "off_menu", "execution", "no_tool_call"]
    vals = [len(trajs), sum(t.reward for t in trajs), sum(shaped)] + \
        [sum(t.reward_info[k] for t in trajs) for k in keys] + \
        [sum(t.reward_info["critical_violation"] for t in trajs), sum(sum(t.mask) for t in trajs),
         sum(t.n_turns for t in trajs), sum(t.n_calls for t in trajs)] + \
        [sum(t.errors.get(e, 0) for t in trajs) for e in errs]
    tot = all_sum(vals, device)
    n = max(tot[0], 1)
    out = {"reward": tot[1] / n, "shaped_reward": tot[2] / n, **{k: tot[3 + i] / n for i, k in enumerate(keys)},
           "safety_violation_rate": tot[8] / n, "response_tokens": tot[9] / n, "turns": tot[10] / n,
           "tool_calls": tot[11] / n}
    out.update({f"err_{e}": tot[12 + i] / n for i, e in enumerate(errs)})
    return out, tot[9]


def check_values(cfg):
    """What config.py cannot check: the loss registry, and the KB that rollout.kb names."""
    if cfg.algo.loss not in LOSSES:
        raise config.ConfigError(f"config key 'algo.loss' must be one of {sorted(LOSSES)}, got {cfg.algo.loss!r}")
    kbmod.open_kb(cfg.rollout.kb)       # a missing, stale or damaged index fails here, on every rank, before any model
    #                                     loads; the embedded one is built once (a lock) while the other ranks wait


def external_logger(cfg):
    """A function row -> None that forwards numeric metrics to TensorBoard or W&B, if asked for."""
    if cfg.log_to == "none":
        return lambda row: None
    try:
        if cfg.log_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(os.path.join(cfg.out_dir, "tensorboard"))
            return lambda row: [writer.add_scalar(k, v, row["step"]) for k, v in row.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        import wandb
        wandb.init(project="healthcare-ai-gym", dir=cfg.out_dir, config=dataclasses.asdict(cfg))
        return lambda row: wandb.log({k: v for k, v in row.items() if isinstance(v, (int, float))}, step=row["step"])
    except ImportError as e:
        raise config.ConfigError(f"config key 'log_to' is {cfg.log_to!r} but that package is not installed ({e})")


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


def start_point(cfg, rank, world):
    """Where this run starts: (None, None) for step 0, or (the checkpoint's path, its record) to resume. A new
    run refuses an out_dir that holds another run's files; resume skips damaged checkpoints (warning) and
    refuses a config that differs from its checkpoint's; with no checkpoint left it starts from step 0."""
    used = [n for n in ("config.json", "metrics.jsonl", "checkpoints") if os.path.exists(os.path.join(cfg.out_dir, n))]
    if not cfg.resume and used:
        raise config.ConfigError(f"config key 'out_dir': {cfg.out_dir!r} holds another run ({used[0]}); set "
                                 "resume=true to continue it, or choose a new out_dir")
    path, record = resumable_checkpoint(cfg, rank, world) if cfg.resume else (None, None)
    if path:
        check_resumed_config(cfg, path, record)
    elif used:
        files.warn(f"no complete checkpoint in {cfg.out_dir!r}: the run starts again from step 0")
    if rank == 0:        # what a killed save left behind
        for pattern in ("*.partial", "*.old"):
            for leftover in glob.glob(os.path.join(cfg.out_dir, "checkpoints", pattern)):
                shutil.rmtree(leftover)
    dist.barrier()       # no rank writes into out_dir before every rank has looked at it
    return path, record


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
    rank, world, device = setup_distributed(cfg.model.device)
    path, record = start_point(cfg, rank, world)
    pool, val = training_tasks(cfg, world)
    os.makedirs(cfg.out_dir, exist_ok=True)
    policy, rollout_model, ref, tok = build_models(cfg, device)
    optimizer, sched = make_optimizer(cfg, policy)
    ext.setup(cfg, policy, tok, device)
    done = load_checkpoint(path, record, policy, optimizer, sched, ext) if path else 0   # optimiser steps taken
    sync_weights(policy, rollout_model)
    logs = files.RunLogs(cfg.out_dir, LOGS, record["logs"] if record else {}, active=rank == 0)
    also_log = external_logger(cfg) if rank == 0 else (lambda row: None)
    if done == 0 and rank == 0:
        with files.atomic_open(os.path.join(cfg.out_dir, "config.json")) as f:
            json.dump(dataclasses.asdict(cfg), f, indent=1)
    row = {}
    if done == 0:
        row = {"step": 0, **evaluate(cfg, rollout_model, tok, val, rank, world, device)}
        logs.write("metrics.jsonl", [row])
    name = cfg.algo.loss if type(ext) is Extension else f"{type(ext).__name__.lower()}/{cfg.algo.loss}"
    bar = tqdm(range(done + 1, cfg.steps + 1), desc=name, unit="step", disable=rank != 0)
    t_start = time.time()
    for step in bar:     # step k = the k-th optimiser step; seeds and schedules index it from 0 (k - 1)
        t0 = time.time()
        over = cfg.time_budget_min and (t0 - t_start) / 60 > cfg.time_budget_min
        if max_over_ranks(float(bool(over)), device):      # every rank stops at the same step
            row.update(evaluate(cfg, rollout_model, tok, val, rank, world, device))
            logs.write("metrics.jsonl", [{"step": step - 1, "stopped": "time_budget", **row}])
            save_checkpoint(cfg, step - 1, policy, optimizer, sched, ext, logs)
            break
        trajs = local_rollouts(cfg, step - 1, pool, rollout_model, tok, rank, world)
        ext_metrics = ext.after_rollout(step, trajs)
        shaped = [shaped_reward(t, cfg.algo) for t in trajs]
        adv = advantages(cfg.algo, shaped)
        keep = kept_episodes(shaped, cfg.algo.group_size, cfg.algo.dynamic_sampling)
        metrics, n_tokens = rollout_metrics(trajs, shaped, device)
        kept = [trajs[i] for i in keep]
        stats = update(cfg, policy, ref, optimizer, kept, adv[keep], tok, device, ext)
        sched.step()
        sync_weights(policy, rollout_model)
        files.crash_point("step.updated")
        dt = time.time() - t0
        row = {"step": step, **metrics, **stats, **ext_metrics, "lr": sched.get_last_lr()[0],
               "spec_keep": spec_keep(cfg, step - 1),
               "kept_groups": all_sum([len(kept) / cfg.algo.group_size], device)[0],
               "step_time_s": dt, "tokens_per_s": n_tokens / dt}
        if device.type == "cuda":
            row["gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        row.update(ext.after_step(step, policy))
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            row.update(evaluate(cfg, rollout_model, tok, val, rank, world, device))
        logs.write("metrics.jsonl", [row])
        if cfg.save_trajectories:
            logs.write("trajectories.jsonl", [trajectory_record(step, t) for t in trajs])
        also_log(row)
        bar.set_postfix(reward=f"{row['reward']:.3f}", loss=f"{row['loss']:.3f}")
        files.crash_point("step.logged")
        if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == cfg.steps:
            save_checkpoint(cfg, step, policy, optimizer, sched, ext, logs)
    logs.close()
    files.crash_point("export.start")
    export_final(cfg, rollout_model, tok, rank)
    return row, policy


def export_final(cfg, rollout_model, tok, rank):
    """The trained weights as a plain HF checkpoint (out_dir/final, written whole, then renamed into place),
    and each rank's checksum of the full parameters it holds (they must agree)."""
    import hashlib
    h = hashlib.sha1()
    for name, p in sorted(rollout_model.state_dict().items()):
        h.update(name.encode() + p.detach().float().cpu().numpy().tobytes())
    with files.atomic_open(os.path.join(cfg.out_dir, f"params_rank{rank}.sha1")) as f:
        f.write(h.hexdigest())
    if rank == 0:
        final = os.path.join(cfg.out_dir, "final")
        shutil.rmtree(final + ".partial", ignore_errors=True)
        for part in (rollout_model, tok, getattr(tok, "image_processor", None)):
            if part is not None:
                part.save_pretrained(final + ".partial")
        files.replace_dir(final + ".partial", final)
    dist.barrier()


def trajectory_record(step, t):
    """One trajectory's tool-call record (rank 0's share is logged) for evaluate.py's taxonomy over training."""
    return {"step": step, "task_id": t.task_id, "reward": t.reward, "errors": t.errors, "n_calls": t.n_calls,
            "response_tokens": sum(t.mask), "calls": t.calls}


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

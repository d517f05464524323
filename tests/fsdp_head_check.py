"""Run under torchrun: with the policy sharded by FSDP2, the chunked head (grpo.micro_batch and TT-OPD's KL,
both applied a few tokens at a time) gives the losses, gradients, entropy and KL of the full [T, V] head; then the
parameter-by-parameter weight sync and the shard-by-shard teacher copy equal the full-state gather."""
import copy
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import agent  # noqa: E402
import config  # noqa: E402
import grpo  # noqa: E402
from distributed import fsdp  # noqa: E402
import ttopd  # noqa: E402

rank, world, device = fsdp.setup_distributed()
cfg = config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, ["head_chunk=7", "algo.kl_coef=0.3", "init_checkpoint=",
                                                                 "distill.kl_max=100", "distill.max_kl_turns=2"])
torch.manual_seed(0)
model, tok = agent.load_policy(cfg.model)
teacher = copy.deepcopy(model)
with torch.no_grad():
    for p in teacher.parameters():
        p.add_(0.02 * torch.randn_like(p))
g = torch.Generator().manual_seed(1)


def trajectory(n_prompt, turns):
    tr = agent.Trajectory.start({"id": "t", "domain": "d"}, torch.randint(10, 3000, (n_prompt,), generator=g).tolist())
    for k, n in enumerate(turns):
        tr.add_turn(torch.randint(10, 3000, (n,), generator=g).tolist(), (-torch.rand(n, generator=g)).tolist())
        tr.add_context(torch.randint(10, 3000, (5,), generator=g).tolist())
    tr.extras["hint_ids"] = torch.randint(10, 3000, (len(turns) * 3,), generator=g).tolist()
    return tr


trajs = [trajectory(9, [6, 4, 3]), trajectory(5, [11]), trajectory(12, [3, 8])]
adv = torch.tensor([1.0, -0.5, 0.25])


def padded(seqs, fill):
    out = torch.full((len(seqs), max(map(len, seqs))), fill, dtype=torch.float64)
    for i, x in enumerate(seqs):
        out[i, :len(x)] = torch.tensor(x, dtype=torch.float64)
    return out


def full_head_reference():
    """The formulas on full logits, unsharded, written out here rather than called from grpo.py / ttopd.py (so this
    checks them, not only their chunking): GRPO's loss with the k3 KL, the entropy, TT-OPD's turn-level KL term."""
    pol, ref, tea = copy.deepcopy(model), copy.deepcopy(model).requires_grad_(False), copy.deepcopy(teacher)
    ids = padded([t.ids for t in trajs], tok.pad_token_id).long()
    attn = padded([[1] * len(t.ids) for t in trajs], 0).long()
    mask, old = padded([t.mask for t in trajs], 0)[:, 1:].float(), padded([t.logprobs for t in trajs], 0)[:, 1:].float()
    temp = cfg.rollout.temperature
    logp_all = torch.log_softmax(pol(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / temp, -1)
    logp = logp_all.gather(-1, ids[:, 1:, None]).squeeze(-1)
    with torch.no_grad():
        ref_logp = torch.log_softmax(ref(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / temp, -1)
        ref_logp = ref_logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
    ratio = torch.exp(logp - old)
    pg = -torch.minimum(ratio * adv[:, None], ratio.clamp(0.8, 1.2) * adv[:, None])
    k3 = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1           # KL(pi || ref), Schulman's k3
    tok_loss = pg + cfg.algo.kl_coef * k3
    loss = ((tok_loss * mask).sum(1) / mask.sum(1)).mean()
    entropy = (-(logp_all.exp() * logp_all).sum(-1) * mask).sum()
    terms = []
    for i, tr in enumerate(trajs):       # the teacher reads prompt + hint + the rest; row j predicts token j + 1
        b, hint, seq = tr.turn_spans[0][0], tr.extras["hint_ids"], tr.ids
        with torch.no_grad():
            t_all = torch.log_softmax(tea(input_ids=torch.tensor([seq[:b] + hint + seq[b:]])).logits[0].float() / temp,
                                      -1)
        rows = [k - 1 if k < b else k - 1 + len(hint) for k in range(1, len(seq))]
        s_lp, t_lp = logp_all[i, :len(seq) - 1], t_all[rows]
        clip = cfg.distill.logratio_clip
        kl_tok = (s_lp.exp() * (s_lp - t_lp).clamp(-clip, clip)).sum(-1)
        spans = tr.turn_spans[:cfg.distill.max_kl_turns or None]
        terms.append(torch.stack([kl_tok[a - 1:e - 1].mean() for a, e in spans]).mean())
    total = loss + cfg.distill.lam * torch.stack(terms).mean()
    total.backward()
    return float(total), float(entropy), {k: p.grad.clone() for k, p in pol.named_parameters()}


expected = full_head_reference()
policy = fsdp.shard(copy.deepcopy(model), device, False, False)
ref = fsdp.shard(copy.deepcopy(model).requires_grad_(False), device, False, False)
ext = ttopd.TTOPD(cfg)
ext.tok, ext.lam = tok, cfg.distill.lam
ext.teacher = fsdp.shard(copy.deepcopy(teacher).requires_grad_(False), device, False, False)
mb, entropy = grpo.micro_batch(cfg, policy, ref, {}, 0, trajs, adv, tok, device, len(trajs), 1.0)
loss = grpo.LOSSES["grpo"].loss(mb, cfg.algo)[0] + ext.extra_loss(mb)
loss.backward()
grads = {k: p.grad.full_tensor() for k, p in policy.named_parameters()}
ok = abs(float(loss) - expected[0]) < 1e-5 and abs(float((entropy * mb.mask).sum()) - expected[1]) < 1e-4
worst = max(float((grads[k] - expected[2][k]).abs().max()) for k in grads)
ok &= worst < 1e-5 and len(grads) == len(expected[2])
if rank == 0:
    print(f"loss {float(loss):.7f} vs {expected[0]:.7f}, worst gradient difference {worst:.2e}")
    print("HEAD_OK" if ok else "HEAD_MISMATCH")

torch.optim.AdamW(policy.parameters(), lr=0.05).step()            # the shards move away from `model`
gathered = {k: v.clone() for k, v in fsdp.full_state(policy).items()}
synced = copy.deepcopy(model).to(torch.bfloat16)
fsdp.sync_weights(policy, synced)
same = all(torch.equal(p, gathered[k].to(torch.bfloat16)) for k, p in synced.state_dict().items())
twin = fsdp.sharded_copy(cfg, policy, device)
same &= all(torch.equal(v, gathered[k]) for k, v in fsdp.full_state(twin).items())
if rank == 0:
    print("SYNC_OK" if same and not torch.equal(gathered["model.norm.weight"], model.model.norm.weight) else
          "SYNC_MISMATCH")
# A step on two ranks, each with its own two of four sequences (different lengths), has the gradient of one process
# over all four, for every loss: its normalisation (per sequence or per token, over the whole step) holds across
# ranks. The reference runs the same loss functions unsharded on the union, with the step's counts of it.
four, four_adv = trajs + [trajectory(7, [5, 2])], torch.tensor([1.0, -0.5, 0.25, -1.0])
worst_rank = 0.0
for name in sorted(grpo.LOSSES):
    c = config.load("configs/tiny.yaml", config.Config, [f"algo.loss={name}", "grad_clip=0", "micro_batch=1",
                                                         "init_checkpoint=", "algo.clip_high=0.28"])
    plain = copy.deepcopy(model)
    mb = grpo.micro_batch(c, plain, None, {}, 0, four, four_adv, tok, device, 4, float(sum(sum(t.mask) for t in four)))[0]
    grpo.LOSSES[name].loss(mb, c.algo)[0].backward()
    sharded = fsdp.shard(copy.deepcopy(model), device, False, False)
    grpo.train_step(c, sharded, None, torch.optim.SGD(sharded.parameters(), lr=0.0), four[2 * rank:2 * rank + 2],
                    four_adv[2 * rank:2 * rank + 2], tok, device)
    got = {k: p.grad.full_tensor() for k, p in sharded.named_parameters()}
    worst_rank = max(worst_rank, max(float((got[k] - p.grad).abs().max()) for k, p in plain.named_parameters()))
if rank == 0:
    print(f"two ranks vs one process, worst gradient difference over the losses {worst_rank:.2e}")
    print("RANKS_OK" if worst_rank < 1e-6 else "RANKS_MISMATCH")
dist.destroy_process_group()

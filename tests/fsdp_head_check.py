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
import ttopd  # noqa: E402

rank, world, device = grpo.setup_distributed()
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


def full_head_reference():
    """The formulas on full logits, unsharded: GRPO loss + k3 KL, entropy, TT-OPD's turn-level KL term."""
    pol, ref, tea = copy.deepcopy(model), copy.deepcopy(model).requires_grad_(False), copy.deepcopy(teacher)
    ids, attn, mask, old = grpo.pad_batch(trajs, tok.pad_token_id, device)
    temp = cfg.rollout.temperature
    logp_all = torch.log_softmax(pol(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / temp, -1)
    logp = logp_all.gather(-1, ids[:, 1:, None]).squeeze(-1)
    with torch.no_grad():
        ref_logp = torch.log_softmax(ref(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / temp, -1)
        ref_logp = ref_logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
    ratio = torch.exp(logp - old)
    pg = -torch.minimum(ratio * adv[:, None], ratio.clamp(0.8, 1.2) * adv[:, None])
    tok_loss = pg + cfg.algo.kl_coef * grpo.k3_kl(logp, ref_logp)
    loss = ((tok_loss * mask).sum(1) / mask.sum(1)).mean()
    entropy = (-(logp_all.exp() * logp_all).sum(-1) * mask).sum()
    ext = ttopd.TTOPD(cfg)
    ext.tok, ext.hint_ids = tok, {True: [5, 6, 7], False: [8, 9]}
    t_ids, t_attn, rows = ext._teacher_batch(trajs, ids, attn)
    with torch.no_grad():
        t_all = torch.log_softmax(tea(input_ids=t_ids, attention_mask=t_attn).logits.float() / temp, -1)
    terms = [ttopd.turn_mean(ttopd.token_kl(logp_all[i, :len(rows[i])], t_all[i, rows[i]], cfg.distill.logratio_clip),
                             tr.turn_spans, cfg.distill.max_kl_turns)[0] for i, tr in enumerate(trajs)]
    total = loss + cfg.distill.lam * torch.stack(terms).mean()
    total.backward()
    return float(total), float(entropy), {k: p.grad.clone() for k, p in pol.named_parameters()}


expected = full_head_reference()
policy = grpo.shard(copy.deepcopy(model), device, False, False)
ref = grpo.shard(copy.deepcopy(model).requires_grad_(False), device, False, False)
ext = ttopd.TTOPD(cfg)
ext.tok, ext.hint_ids, ext.lam_now = tok, {True: [5, 6, 7], False: [8, 9]}, cfg.distill.lam
ext.teacher = grpo.shard(copy.deepcopy(teacher).requires_grad_(False), device, False, False)
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
gathered = {k: v.clone() for k, v in grpo.full_state(policy).items()}
synced = copy.deepcopy(model).to(torch.bfloat16)
grpo.sync_weights(policy, synced)
same = all(torch.equal(p, gathered[k].to(torch.bfloat16)) for k, p in synced.state_dict().items())
twin = grpo.sharded_copy(cfg, policy, device)
same &= all(torch.equal(v, gathered[k]) for k, v in grpo.full_state(twin).items())
if rank == 0:
    print("SYNC_OK" if same and not torch.equal(gathered["model.norm.weight"], model.model.norm.weight) else
          "SYNC_MISMATCH")
dist.destroy_process_group()

"""TT-OPD: Turn-Level Truncated On-Policy Distillation = grpo.py + an EMA teacher with hints.

  torchrun --nproc_per_node=8 ttopd.py configs/ttopd.yaml
  python ttopd.py configs/ttopd_tiny.yaml

What it adds to GRPO (rollouts, advantages, losses and the FSDP loop are grpo.py's):
  1. a gradient-free EMA teacher, sharded like the student:
       theta_T <- alpha theta_T + (1 - alpha) theta_S every `ema_every` steps (shard by shard, no gather),
       theta_T <- theta_S every `hard_copy_every` steps;
  2. outcome-conditioned hints: after scoring, a confirmatory cue (correct) or a corrective one (wrong)
     is inserted into the *teacher's* context at the prompt/response boundary; the teacher re-scores
     the student's exact tokens; hint positions are excluded; the student never sees the hint;
  3. turn-level truncated reverse KL on the student's tokens:
       KL_t = sum_v pi_S(v) clip(log pi_S(v) - log pi_T(v), -c, c)        per token (both heads a chunk of
                                                                          tokens at a time: no [T, V] tensor),
       KL_turn = mean_t in turn KL_t,  D = mean over the first `max_kl_turns` turns (and sequences),
     added as  loss += lambda(step) * D  with lambda phased out monotonically (never re-engaged);
  4. guards, each logged when it fires: teacher corruption (D > kl_max: distillation and EMA stop for
     good), stale teacher (lambda * D > ratio_max * mean |A|: the term is scaled down), re-engagement
     (structurally impossible: lambda only goes down).
"""
import dataclasses
import math
import sys

import torch
import torch.distributed as dist

import agent
import config
import grpo
from config import opt

DEFAULT_HINT_CORRECT = ("Teacher note: this work-up reached the right answer; the evidence gathered "
                        "supports it.")
DEFAULT_HINT_WRONG = ("Teacher note: this work-up reached a wrong answer; re-check the key evidence and "
                      "the scoring rules before answering.")


@dataclasses.dataclass
class DistillConfig:
    teacher: str = opt("ema", "ema (EMA + hard copies) or reset (periodic hard copy only: ablation)",
                       choices=("ema", "reset"))
    ema_alpha: float = opt(0.995, "EMA decay alpha")
    ema_every: int = opt(5, "EMA update every K steps")
    hard_copy_every: int = opt(30, "teacher <- student every K steps")
    use_hints: bool = opt(True, "outcome-conditioned hints in the teacher's context")
    hint_correct: str = opt(DEFAULT_HINT_CORRECT, "hint for trajectories with a correct answer")
    hint_wrong: str = opt(DEFAULT_HINT_WRONG, "hint for trajectories with a wrong answer")
    lam: float = opt(4.0, "initial distillation coefficient lambda")
    schedule: str = opt("linear", "linear or cosine phase-out of lambda", choices=("linear", "cosine"))
    phase_out_steps: int = opt(40, "lambda falls from lam (step 1) to 0 over this many steps, and stays 0")
    max_kl_turns: int = opt(3, "only the first K assistant turns are distilled")
    logratio_clip: float = opt(5.0, "per-token clip c on log pi_S - log pi_T")
    kl_max: float = opt(0.7, "teacher-corruption guard: mean KL above this disables distillation for good")
    ratio_max: float = opt(10.0, "stale-teacher guard: lambda*KL is capped at ratio_max * mean |advantage|")


@dataclasses.dataclass
class TTOPDConfig(config.Config):
    distill: DistillConfig = opt(DistillConfig(), "TT-OPD additions")


# ---------------------------------------------------------------- pieces, each testable on its own
def _resharded(*modules):
    """FSDP2 keeps the root's parameters gathered after a forward that has no backward (the teacher's
    case): reshard so that parameters() are the local shards again."""
    for m in modules:
        if hasattr(m, "reshard"):
            m.reshard()


@torch.no_grad()
def ema_update(teacher, student, alpha):
    """theta_T <- alpha theta_T + (1 - alpha) theta_S on the local shards (DTensor or plain)."""
    _resharded(teacher, student)
    for t, s in zip(teacher.parameters(), student.parameters()):
        grpo.local_shard(t).mul_(alpha).add_(grpo.local_shard(s), alpha=1 - alpha)


def hard_copy(teacher, student):
    """theta_T <- theta_S, shard by shard."""
    _resharded(teacher, student)
    grpo.copy_shards(teacher, student)


class Lambda:
    """Distillation coefficient: a monotone phase-out from lam at step 1 to 0 from step phase_out_steps + 1
    on; disable() is permanent."""

    def __init__(self, d: DistillConfig):
        self.d, self.value, self.disabled = d, d.lam, False

    def at(self, step):
        frac = min(1.0, (step - 1) / max(self.d.phase_out_steps, 1))
        target = self.d.lam * ((1 - frac) if self.d.schedule == "linear" else 0.5 * (1 + math.cos(math.pi * frac)))
        self.value = 0.0 if self.disabled else min(self.value, target)   # can only go down
        return self.value

    def disable(self):
        self.disabled, self.value = True, 0.0


def with_hint(ids, boundary, hint_ids):
    """Teacher context: the hint inserted at the prompt/response boundary."""
    return ids[:boundary] + hint_ids + ids[boundary:]


def teacher_rows(n_tokens, boundary, n_hint):
    """For each student log-prob row j (predicting token j + 1), the teacher row predicting the same
    token: rows before the boundary are unchanged, later ones shift by the hint length."""
    return [j if j + 1 < boundary else j + n_hint for j in range(n_tokens - 1)]


def token_kl(student_logp, teacher_logp, clip):
    """Per-token reverse KL with a clipped log-ratio: KL_t = sum_v pi_S(v) clip(log pi_S(v) - log pi_T(v), -c, c).
    *_logp: [..., V] log-prob rows; returns [...]."""
    return (student_logp.exp() * (student_logp - teacher_logp).clamp(-clip, clip)).sum(-1)


def turn_mean(values, spans, max_turns):
    """A sequence's per-token values (row j predicts token j + 1) averaged within each of its first max_turns
    assistant turns ([start, end) token spans), then over those turns. Returns (mean, per-turn values)."""
    per_turn = [values[a - 1:b - 1].mean() for a, b in spans[:max_turns] if b > a]
    if not per_turn:
        return values.sum() * 0.0, []
    return torch.stack(per_turn).mean(), per_turn


# ---------------------------------------------------------------- TT-OPD as a grpo.Extension
class TTOPD(grpo.Extension):
    """GRPO plus: a teacher (setup), hints chosen by outcome (after_rollout), the distillation term
    (extra_loss), the EMA / hard copy (after_step), and the teacher and schedule in checkpoints."""

    def __init__(self, cfg: TTOPDConfig):
        self.cfg, self.d = cfg, cfg.distill
        self.lam, self.lam_now, self.step = Lambda(self.d), self.d.lam, 0
        self.events, self.turn_kls, self.last_ema, self.last_copy = [], {}, 0, 0

    def setup(self, cfg, policy, tok, device):
        self.tok = tok
        # sharded exactly like the student, so the EMA can run shard by shard
        self.teacher = grpo.sharded_copy(cfg, policy, device)
        self.hint_ids = {True: tok.encode(self.d.hint_correct, add_special_tokens=False),
                         False: tok.encode(self.d.hint_wrong, add_special_tokens=False)}

    def state_dict(self):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict
        return {"teacher": get_model_state_dict(self.teacher), "lam": self.lam.value,
                "disabled": self.lam.disabled, "last_ema": self.last_ema, "last_copy": self.last_copy}

    def load_state_dict(self, state):
        from torch.distributed.checkpoint.state_dict import set_model_state_dict
        set_model_state_dict(self.teacher, state["teacher"])
        self.lam.value, self.lam.disabled = state["lam"], state["disabled"]
        self.last_ema, self.last_copy = state["last_ema"], state["last_copy"]

    def after_rollout(self, step, trajs):
        self.step, self.lam_now, self.turn_kls = step, self.lam.at(step), {}
        for t in trajs:      # the outcome picks the hint only the teacher will see
            t.extras["hint_correct"] = t.reward_info["accuracy"] == 1.0
        n_correct = sum(t.extras["hint_correct"] for t in trajs)
        return {"lambda": self.lam_now, "hints_correct": n_correct, "hints_wrong": len(trajs) - n_correct}

    def extra_loss(self, mb):
        """lambda * turn-level truncated KL(student || hinted teacher), as this micro-batch's share of the
        mean over the step's sequences. The teacher forward runs on every micro-batch (also when lambda
        is 0) so that FSDP ranks stay in lockstep; both heads run a chunk of tokens at a time."""
        t_ids, t_attn, t_rows = self._teacher_batch(mb.trajs, mb.ids, mb.attn)
        with torch.no_grad():
            images = agent.vision_kwargs(self.tok, mb.trajs, t_ids)
            t_hidden = agent.final_hidden(self.teacher, t_ids, t_attn, images)
        if self.lam.disabled or self.lam_now == 0.0:      # phased out, or the guard fired (this step included)
            return mb.logp.sum() * 0.0
        b, j = mb.rows.nonzero(as_tuple=True)       # the teacher's row for each student row the head runs on
        t_at = torch.tensor([t_rows[x][y] for x, y in zip(b.tolist(), j.tolist())], device=b.device)
        temperature, clip = self.cfg.rollout.temperature, self.d.logratio_clip
        kl_tok = mb.per_token(lambda s, th: token_kl(s, agent.head_logprobs(self.teacher, th, temperature), clip),
                              t_hidden[b, t_at])
        terms = []
        for i, tr in enumerate(mb.trajs):
            if not tr.turn_spans:        # nothing the policy wrote (grpo.py's lockstep rows)
                continue
            kl, per_turn = turn_mean(kl_tok[i], tr.turn_spans, self.d.max_kl_turns)
            terms.append(kl)
            for k, v in enumerate(per_turn):
                self.turn_kls.setdefault(k, []).append(float(v.detach()))
        kl_mean = torch.stack(terms).mean() if terms else mb.logp.sum() * 0.0
        # the guard decides on the mean over all ranks, so every rank's lambda stays the same
        total = torch.tensor([float(kl_mean.detach()) * len(terms), len(terms)], dtype=torch.float64,
                             device=kl_mean.device)
        dist.all_reduce(total)
        mean_kl = float(total[0]) / max(float(total[1]), 1.0)
        if mean_kl > self.d.kl_max:                       # teacher corruption: stop for good, from this micro-batch on
            self.lam.disable()
            self.lam_now = 0.0
            self.events.append({"step": self.step, "guard": "teacher_corruption", "kl": mean_kl})
            return kl_mean * 0.0
        term = self.lam_now * kl_mean
        # the PG loss *value* is ~0 on-policy whatever its gradient, so the cap is set against the size of
        # the PG signal, mean |A|; a batch without signal (all A = 0) keeps its distillation term
        cap = self.d.ratio_max * float(mb.adv.abs().mean())
        if cap > 0 and float(term) > cap:                  # stale teacher: scale the term down
            self.events.append({"step": self.step, "guard": "stale_teacher_clip", "ratio": float(term) / cap})
            term = term * (cap / float(term))
        return term * len(terms) / mb.batch_seqs

    def _teacher_batch(self, chunk, ids, attn):
        """The teacher sees each sequence with its hint at the prompt/response boundary."""
        seqs, rows = [], []
        for i, tr in enumerate(chunk):
            n = int(attn[i].sum())
            boundary = tr.turn_spans[0][0] if tr.turn_spans else n
            use = self.d.use_hints and tr.turn_spans
            hint = self.hint_ids[tr.extras.get("hint_correct", False)] if use else []
            seqs.append(with_hint(ids[i, :n].tolist(), boundary, hint))
            rows.append(teacher_rows(n, boundary, len(hint)))
        width = max(len(s) for s in seqs)
        t_ids = torch.full((len(seqs), width), self.tok.pad_token_id, dtype=torch.long, device=ids.device)
        t_attn = torch.zeros_like(t_ids)
        for i, s in enumerate(seqs):
            t_ids[i, :len(s)], t_attn[i, :len(s)] = torch.tensor(s, device=ids.device), 1
        return t_ids, t_attn, rows

    def after_step(self, step, policy):
        if not self.lam.disabled:      # a corrupted teacher is frozen as well
            if self.d.teacher == "ema" and step % self.d.ema_every == 0:
                ema_update(self.teacher, policy, self.d.ema_alpha)
                self.last_ema = step
            if step % self.d.hard_copy_every == 0:
                hard_copy(self.teacher, policy)
                self.last_copy = step
        return {"distill_kl_turn": {k: sum(v) / len(v) for k, v in sorted(self.turn_kls.items())},
                "teacher_staleness_ema": step - self.last_ema, "teacher_staleness_copy": step - self.last_copy,
                "distill_disabled": self.lam.disabled,
                "guard_events": [e for e in self.events if e["step"] == step]}


if __name__ == "__main__":
    grpo.main(sys.argv[1:], TTOPDConfig, extension=TTOPD)

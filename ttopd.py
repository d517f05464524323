"""TT-OPD: Turn-Level Truncated On-Policy Distillation = grpo.py + an EMA teacher with hints.

  torchrun --nproc_per_node=8 ttopd.py configs/ttopd.yaml
  python ttopd.py configs/ttopd_tiny.yaml

What it adds to GRPO (rollouts, advantages, losses and the FSDP loop are grpo.py's):
  1. a gradient-free EMA teacher, sharded like the student:
       theta_T <- alpha theta_T + (1 - alpha) theta_S every `ema_every` steps (shard by shard, no gather),
       theta_T <- theta_S every `hard_copy_every` steps;
  2. outcome-conditioned hints (clinic/hints.py): after scoring, a confirmatory cue (correct: the answer
     and its evidence) or a diagnostic redirection (wrong: what was submitted, the skipped work-up, the
     broken safety rules, the correct answer) is inserted into the *teacher's* context at the
     prompt/response boundary; the teacher re-scores the student's exact tokens; hint positions are
     excluded; the student never sees the hint; the warm start teaches the model to read them;
  3. turn-level truncated reverse KL on the student's tokens:
       KL_t = sum_v pi_S(v) clip(log pi_S(v) - log pi_T(v), -c, c)        per token (both heads a chunk of
                                                                          tokens at a time: no [T, V] tensor),
       KL_turn = mean_t in turn KL_t,
       D = mean over turns (every turn, the first `max_kl_turns` or the last `last_kl_turns`) and sequences,
     added as  loss += lambda(step) * D  with lambda phased out monotonically (never re-engaged), over
     phase_out_steps or, with schedule_steps, the same share of the run (run_scaled; EMA and copies too);
  4. guards, each logged when it fires: teacher corruption (D > kl_max: distillation and EMA stop for
     good), stale teacher (lambda * D > ratio_max * mean |A|: the term is scaled down), re-engagement
     (impossible: lambda only goes down).
The paper's three failure modes are ablation switches (configs/ablations/): corruption_guard=false
(v29), teacher=frozen with schedule=constant (v30), reengage=true (v31).
"""
import dataclasses
import math

import torch
import torch.distributed as dist

import agent
import config
import grpo
import reward
from clinic import files
from clinic import hints as outcome_hints   # (DistillConfig has a field named hints)
from config import opt
from decoding import vlm
from distributed import fsdp


@dataclasses.dataclass
class DistillConfig:
    teacher: str = opt("ema", "ema (EMA + hard copies), reset (hard copies only) or frozen (the warm start, "
                              "never updated: ablation v30)", choices=("ema", "reset", "frozen"))
    ema_alpha: float = opt(0.995, "EMA decay alpha", least=0, most=1)
    ema_every: int = opt(5, "EMA update every K steps", least=1)
    hard_copy_every: int = opt(30, "teacher <- student every K steps", least=1)
    hints: str = opt("informative", "teacher's hint: informative (clinic/hints.py, "
                                    "built from the episode's outcome), generic "
                                    "(hint_correct / hint_wrong: ablation), none, or "
                                    "informative on correct (confirm) or wrong (redirect) "
                                    "episodes only",
                     choices=outcome_hints.STYLES)
    hint_correct: str = opt(outcome_hints.GENERIC[True], "the generic hint for an "
                                                         "episode with a correct answer")
    hint_wrong: str = opt(outcome_hints.GENERIC[False], "the generic hint for an episode with a wrong answer")
    lam: float = opt(4.0, "initial distillation coefficient lambda", least=0)
    schedule: str = opt("linear", "linear or cosine phase-out of lambda, "
                                  "or constant (no phase-out: ablation v30)",
                        choices=("linear", "cosine", "constant"))
    phase_out_steps: int = opt(40, "lambda falls from lam (step 1) to 0 over this many steps, and stays 0",
                               least=1)
    schedule_steps: int = opt(0, "the run length (steps) that phase_out_steps, ema_every and hard_copy_every "
                                 "are written for: > 0 scales the three by steps / schedule_steps, so each "
                                 "keeps its share of a longer or shorter run (run_scaled); 0 = as written",
                              least=0)
    max_kl_turns: int = opt(0, "distil the first K assistant turns only "
                               "(0 = every turn, the paper's reading)",
                            least=0)
    last_kl_turns: int = opt(0, "distil the last K assistant turns only (1 = the submit turn, where an "
                                "informative hint names the answer; 0 = no cut from the end); not with "
                                "max_kl_turns", least=0)
    logratio_clip: float = opt(5.0, "per-token clip c on log pi_S - log pi_T", above=0)
    corruption_guard: bool = opt(True, "stop distillation and the EMA for good once the mean KL "
                                       "exceeds kl_max (false: ablation v29, the corruption cascade)")
    kl_max: float = opt(0.7, "teacher-corruption guard's KL threshold", least=0)
    ratio_max: float = opt(10.0, "stale-teacher guard: lambda*KL is capped "
                                 "at ratio_max * mean |advantage| (0 = off)",
                           least=0)
    reengage: bool = opt(False, "ablation v31: after the guard fires, distillation re-engages when "
                                "the KL falls below reengage_kl (the teacher keeps being measured)")
    reengage_kl: float = opt(0.35, "the KL below which a disabled distillation re-engages (reengage only)",
                             least=0)

    def __post_init__(self):        # two cuts at once would be a silent choice between them
        if self.max_kl_turns and self.last_kl_turns:
            raise config.ConfigError("config keys 'distill.max_kl_turns' and 'distill.last_kl_turns': "
                                     "set one of them, not both")


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
        fsdp.local_shard(t).mul_(alpha).add_(fsdp.local_shard(s), alpha=1 - alpha)


def hard_copy(teacher, student):
    """theta_T <- theta_S, shard by shard."""
    _resharded(teacher, student)
    fsdp.copy_shards(teacher, student)


def run_scaled(d: DistillConfig, steps):
    """The teacher's step-valued schedule for a run of `steps`: with d.schedule_steps set, phase_out_steps,
    ema_every and hard_copy_every scaled by steps / schedule_steps (rounded, at least 1). The paper's 40 / 5
    / 30 were written for runs of about 150 steps; at 600 steps the same shares are 160 / 20 / 120. alpha is
    not scaled: the teacher gets the same number of EMA updates over the run."""
    if not d.schedule_steps:
        return d
    scale = steps / d.schedule_steps
    scaled = {k: max(1, round(getattr(d, k) * scale))
              for k in ("phase_out_steps", "ema_every", "hard_copy_every")}
    return dataclasses.replace(d, schedule_steps=0, **scaled)


class LamSchedule:
    """The distillation coefficient lam's schedule: a monotone phase-out from distill.lam at step 1 to 0 from
    step phase_out_steps + 1 on; disable() is permanent (the v31 ablation's reengage() aside)."""

    def __init__(self, d: DistillConfig):
        self.d, self.value, self.disabled = d, d.lam, False

    def at(self, step):
        frac = min(1.0, (step - 1) / max(self.d.phase_out_steps, 1))
        shape = {"linear": 1 - frac, "cosine": 0.5 * (1 + math.cos(math.pi * frac)), "constant": 1.0}
        # the value only ever goes down
        self.value = 0.0 if self.disabled else min(self.value, self.d.lam * shape[self.d.schedule])
        return self.value

    def disable(self):
        self.disabled, self.value = True, 0.0

    def reengage(self):
        """Only the v31 ablation calls this: the schedule's value comes back from the next step."""
        self.disabled, self.value = False, self.d.lam


def is_correct(tr):
    """The outcome that picks the kind of hint: full accuracy credit."""
    return tr.reward_info["accuracy"] == 1.0


def outcome_of(tr):
    """What a hint is built from: the episode's correctness, its submitted answer, the expected work-up
    steps it made and skipped (reward.matches_expected, as the process score counts them) and its safety
    violations."""
    ok = [c for c in tr.calls if c["name"] and c.get("error") is None]
    submitted = [c["arguments"].get("answer") for c in ok if c["name"] == "submit_answer"]
    expected = tr.task["expected_tools"]
    made = [e for e in expected if any(reward.matches_expected(c, e) for c in ok)]
    return {"correct": is_correct(tr), "submitted": str(submitted[-1]) if submitted else None,
            "made": made, "skipped": [e for e in expected if e not in made],
            "violations": list(tr.reward_info.get("violations", []))}


def hint_text(d: DistillConfig, tr):
    """The hint the teacher reads for this episode, in the configured style (generic and none need only its
    correctness; the informative text, whole or in its confirm / redirect half, needs the whole outcome)."""
    outcome = {"correct": is_correct(tr)} if d.hints in ("generic", "none") else outcome_of(tr)
    return outcome_hints.render(tr.task, outcome, d.hints, {True: d.hint_correct, False: d.hint_wrong})


def with_hint(ids, boundary, hint_ids):
    """Teacher context: the hint inserted at the prompt/response boundary."""
    return ids[:boundary] + hint_ids + ids[boundary:]


def teacher_rows(rows, boundary, n_hint):
    """For student log-prob rows j (row j predicts token j + 1; [N] tensors with each row's boundary and hint
    length), the teacher rows predicting the same tokens: rows before the boundary are unchanged, later ones
    shift by the hint length."""
    return rows + (rows + 1 >= boundary).long() * n_hint


def token_kl(student_logp, teacher_logp, clip):
    """Per-token reverse KL with a clipped log-ratio: KL_t = sum_v pi_S(v) clip(log pi_S(v) - log pi_T(v),
    -c, c). *_logp: [..., V] log-prob rows; returns [...]."""
    return (student_logp.exp() * (student_logp - teacher_logp).clamp(-clip, clip)).sum(-1)


def distilled_turns(n, first, last):
    """Which of a sequence's n assistant turns are distilled: the first `first`, the last `last`, or (both 0)
    every one."""
    if first:
        return range(min(first, n))
    return range(max(n - last, 0) if last else 0, n)


def turn_mean(values, spans, turns):
    """A sequence's per-token values (row j predicts token j + 1) averaged within each assistant turn listed
    in `turns` (indices into its [start, end) token spans), then over those turns. Returns (mean, {turn index:
    its value})."""
    per_turn = {k: values[spans[k][0] - 1:spans[k][1] - 1].mean() for k in turns if spans[k][1] > spans[k][0]}
    if not per_turn:
        return values.sum() * 0.0, {}
    return torch.stack(list(per_turn.values())).mean(), per_turn


# ---------------------------------------------------------------- TT-OPD as a grpo.Extension
class TTOPD(grpo.Extension):
    """GRPO plus: a teacher (setup), hints chosen by outcome (after_rollout), the distillation term
    (extra_loss), the EMA / hard copy (after_step), and the teacher and schedule in checkpoints."""

    def __init__(self, cfg: TTOPDConfig):
        self.cfg, self.d = cfg, run_scaled(cfg.distill, cfg.steps)
        self.schedule, self.lam = LamSchedule(self.d), self.d.lam     # lam: this step's coefficient
        self.step, self.device = 0, "cpu"                               # device: setup's
        self.events, self.turn_kls, self.seq_kls, self.last_ema, self.last_copy = [], {}, [], 0, 0

    def setup(self, cfg, policy, tok, device, teacher=None):
        """The teacher: a copy of the policy, sharded exactly like it so the EMA can run shard by shard, or
        `teacher` (already sharded) for a model the config does not describe (benchmarks/head_memory.py)."""
        self.tok, self.device = tok, device
        self.teacher = teacher if teacher is not None else fsdp.sharded_copy(cfg, policy, device)

    def state_dict(self):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict
        return {"teacher": get_model_state_dict(self.teacher), "lam": self.schedule.value,
                "disabled": self.schedule.disabled, "last_ema": self.last_ema, "last_copy": self.last_copy}

    def load_state_dict(self, state):
        from torch.distributed.checkpoint.state_dict import set_model_state_dict
        set_model_state_dict(self.teacher, state["teacher"])
        self.schedule.value, self.schedule.disabled = state["lam"], state["disabled"]
        self.last_ema, self.last_copy = state["last_ema"], state["last_copy"]

    def after_rollout(self, step, trajs):
        self.step, self.lam, self.turn_kls, self.seq_kls = step, self.schedule.at(step), {}, []
        for t in trajs:      # the outcome builds the hint only the teacher will see
            t.extras["hint"] = hint_text(self.d, t) if t.turn_spans else ""
            t.extras["hint_ids"] = agent.hint_ids(self.tok, t.extras["hint"])
        n_correct = sum(map(is_correct, trajs))
        return {"lambda": self.lam, "hints_correct": n_correct, "hints_wrong": len(trajs) - n_correct,
                "hint_tokens": sum(len(t.extras["hint_ids"]) for t in trajs) / max(len(trajs), 1),
                "hint_example": trajs[0].extras["hint"] if trajs else ""}

    def extra_loss(self, mb):
        """lam * turn-level truncated KL(student || hinted teacher), as this micro-batch's share of the
        mean over the step's sequences. A teacher that no longer acts (lam phased out, or the guard fired)
        runs no forward: lam and the guard's state are the same on every rank (the schedule is a function
        of the step, the guard reads the all-reduced KL), so every rank skips the sharded teacher's forward
        together (FSDP lockstep)."""
        if self.schedule.disabled and self.d.reengage:
            return self._watch(mb)                                  # ablation v31
        if self.schedule.disabled or self.lam == 0.0:               # phased out, or the guard fired
            return mb.logp.sum() * 0.0
        kl, n_seqs = self._turn_kl(mb)
        mean_kl = self._global_mean(kl, n_seqs)       # every rank decides on the same number
        if self.d.corruption_guard and mean_kl > self.d.kl_max:
            return self._stop_distilling(kl, mean_kl)
        return self._capped(self.lam * kl, mb) * n_seqs / mb.batch_seqs

    def _stop_distilling(self, kl, mean_kl):
        """Teacher corruption (the mean KL above kl_max): distillation and the EMA stop, from here on."""
        self.schedule.disable()
        self.lam = 0.0
        self.events.append({"step": self.step, "guard": "teacher_corruption", "kl": mean_kl})
        return kl * 0.0

    def _capped(self, term, mb):
        """Stale-teacher guard: the PG loss *value* is ~0 on-policy whatever its gradient, so lam * KL is
        capped against the PG signal's size, ratio_max * mean |A|; a batch without signal (all A = 0) keeps
        its term."""
        cap = self.d.ratio_max * float(mb.adv.abs().mean())
        if cap > 0 and float(term) > cap:
            self.events.append({"step": self.step, "guard": "stale_teacher_clip", "ratio": float(term) / cap})
            term = term * (cap / float(term))
        return term

    def _watch(self, mb):
        """Ablation v31: a disabled teacher is still measured (no gradient), and distillation re-engages from
        the next step once the mean KL falls below reengage_kl."""
        with torch.no_grad():
            kl, n_seqs = self._turn_kl(mb)
        mean_kl = self._global_mean(kl, n_seqs)
        if mean_kl < self.d.reengage_kl:
            self.schedule.reengage()
            self.events.append({"step": self.step, "guard": "reengaged", "kl": mean_kl})
        return mb.logp.sum() * 0.0

    def _turn_kl(self, mb):
        """Mean over this micro-batch's sequences of their turn-level KL to the hinted teacher, and how many
        sequences it averages. Both heads run a chunk of tokens at a time, on the student's rows only."""
        t_ids, t_attn, boundary, n_hint = self._teacher_batch(mb.trajs, mb.ids, mb.attn)
        with torch.no_grad():
            images = vlm.forward_kwargs(self.tok, mb.trajs, t_ids)
            t_hidden = agent.final_hidden(self.teacher, t_ids, t_attn, images)
        b, j = mb.rows.nonzero(as_tuple=True)       # the teacher's row for each student row the head runs on
        t_at = teacher_rows(j, boundary[b], n_hint[b])
        temperature, clip = self.cfg.rollout.temperature, self.d.logratio_clip
        def kl_of(student_logp, teacher_hidden):
            teacher_logp = agent.head_logprobs(self.teacher, teacher_hidden, temperature)
            return token_kl(student_logp, teacher_logp, clip)
        kl_tok = mb.per_token(kl_of, t_hidden[b, t_at])
        terms = []
        for i, tr in enumerate(mb.trajs):
            if not tr.turn_spans:        # nothing the policy wrote (grpo.py's lockstep rows)
                continue
            turns = distilled_turns(len(tr.turn_spans), self.d.max_kl_turns, self.d.last_kl_turns)
            kl, per_turn = turn_mean(kl_tok[i], tr.turn_spans, turns)
            terms.append(kl)
            self.seq_kls.append(float(kl.detach()))
            for k, v in per_turn.items():
                self.turn_kls.setdefault(k, []).append(float(v.detach()))
        return (torch.stack(terms).mean() if terms else mb.logp.sum() * 0.0), len(terms)

    @staticmethod
    def _global_mean(kl_mean, n):
        """The mean KL over every rank's sequences of this micro-batch: what the guards read (one
        all-reduce)."""
        total = torch.tensor([float(kl_mean.detach()) * n, n], dtype=torch.float64, device=kl_mean.device)
        dist.all_reduce(total)
        return float(total[0]) / max(float(total[1]), 1.0)

    def _step_kls(self):
        """The step's mean sequence KL (what the guard reads) and mean KL per turn, over every rank's
        sequences: one all-reduce of [sum, count] for the sequences and for each turn."""
        turns = self.cfg.rollout.max_turns
        acc = torch.zeros(2 * (turns + 1), dtype=torch.float64, device=self.device)
        acc[0], acc[1] = sum(self.seq_kls), len(self.seq_kls)
        for k, v in self.turn_kls.items():
            acc[2 * (k + 1)], acc[2 * (k + 1) + 1] = sum(v), len(v)
        if dist.is_initialized():
            dist.all_reduce(acc)
        acc = acc.tolist()
        mean = lambda i: acc[2 * i] / acc[2 * i + 1]  # noqa: E731
        return (mean(0) if acc[1] else None), {k: mean(k + 1) for k in range(turns) if acc[2 * (k + 1) + 1]}

    def _teacher_batch(self, chunk, ids, attn):
        """The teacher sees each sequence with its hint at the prompt/response boundary. Returns its ids and
        attention mask, and each row's boundary and hint length ([B] tensors)."""
        seqs, boundary, n_hint = [], [], []
        for i, tr in enumerate(chunk):
            n = int(attn[i].sum())
            boundary.append(tr.turn_spans[0][0] if tr.turn_spans else n)
            hint = tr.extras.get("hint_ids", [])       # none on grpo.py's lockstep rows
            seqs.append(with_hint(ids[i, :n].tolist(), boundary[-1], hint))
            n_hint.append(len(hint))
        width = max(len(s) for s in seqs)
        t_ids = torch.full((len(seqs), width), self.tok.pad_token_id, dtype=torch.long, device=ids.device)
        t_attn = torch.zeros_like(t_ids)
        for i, s in enumerate(seqs):
            t_ids[i, :len(s)], t_attn[i, :len(s)] = torch.tensor(s, device=ids.device), 1
        boundary = torch.tensor(boundary, dtype=torch.long, device=ids.device)
        n_hint = torch.tensor(n_hint, dtype=torch.long, device=ids.device)
        return t_ids, t_attn, boundary, n_hint

    def after_step(self, step, policy):
        # a corrupted teacher is frozen as well
        if not self.schedule.disabled and self.d.teacher != "frozen":
            if self.d.teacher == "ema" and step % self.d.ema_every == 0:
                ema_update(self.teacher, policy, self.d.ema_alpha)
                self.last_ema = step
            if step % self.d.hard_copy_every == 0:
                hard_copy(self.teacher, policy)
                self.last_copy = step
        seq_kl, turn_kl = self._step_kls()
        return {"distill_kl": seq_kl, "distill_kl_turn": turn_kl,
                "teacher_staleness_ema": step - self.last_ema,
                "teacher_staleness_copy": step - self.last_copy,
                "distill_disabled": self.schedule.disabled,
                "guard_events": [e for e in self.events if e["step"] == step]}


if __name__ == "__main__":
    files.run_cli(lambda argv: grpo.main(argv, TTOPDConfig, extension=TTOPD))

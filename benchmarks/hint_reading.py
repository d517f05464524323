"""Can the warm-started model read a TT-OPD hint? Validation episodes played with a hint between the prompt
and the first turn, where ttopd.py's teacher reads it (the student never does).

  python benchmarks/hint_reading.py CHECKPOINT [CHECKPOINT ...] [--config configs/tiny.yaml] [--out FILE]

Conditions, each on the same eval_tasks validation tasks with the same sampling seeds:
  none        no hint: the student's own accuracy;
  confirm     the confirmatory cue of a correct episode (names the right answer and its evidence);
  redirect    the diagnostic redirection of a simulated wrong episode (names a wrong submission, skipped
              steps, the right answer);
  mislead     a confirmatory cue that names a *wrong* answer as correct: its "accuracy" column is the share
              of episodes that submitted the hinted wrong answer;
  mislead_unhinted  the same wrong answers scored without a hint: the base rate that `mislead` is read against.
A teacher that can read hints scores confirm, redirect > none, and mislead well above mislead_unhinted.
The teacher in TT-OPD does not sample: it scores the student's tokens. So the script also reports, teacher-forced
on the scripted expert's episode, how much a hint raises the log-probability of the final (submit_answer) turn:
the right answer's under confirm and redirect, the hinted wrong answer's under mislead (nats, mean over tasks).
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

import agent  # noqa: E402
import config  # noqa: E402
import warmstart  # noqa: E402
from clinic import hints  # noqa: E402

SEED_BASE = 10 ** 6        # grpo.evaluate's seed set 0: the `none` row is the training-time validation number


def misled(task, rng):
    """The task with a wrong answer in place of the right one (a hint rendered from it names the wrong one)."""
    wrong = hints.wrong_answer(task, rng)
    value = float(wrong) if task["answer"]["type"] == "number" else wrong
    return {**task, "answer": {**task["answer"], "value": value}}


def conditions(tasks, seed=0):
    """name -> (tasks to score against, hint text per task)."""
    rng = random.Random(seed)
    fake = [misled(t, rng) for t in tasks]
    return {
        "none": (tasks, ["" for _ in tasks]),
        "confirm": (tasks, [hints.render(t, hints.expert_outcome(t)) for t in tasks]),
        "redirect": (tasks, [hints.render(t, hints.simulated_wrong(t, rng)) for t in tasks]),
        "mislead": (fake, [hints.render(f, hints.expert_outcome(f)) for f in fake]),
        "mislead_unhinted": (fake, ["" for _ in fake]),
    }


@torch.no_grad()
def submit_logprob(model, tok, cfg, task, hint, late=False):
    """log p of the scripted expert's last turn (submit_answer with task's answer), hint before the first turn
    (or, with late, right before the submit turn: benchmarks/hint_probe.py's diagnostic)."""
    tr = warmstart.expert_trajectory(tok, task, cfg.rollout, expert_turns=cfg.warm_start.expert_max_turns,
                                     hint=hint, hint_before_submit=late)
    ids = torch.tensor([tr.ids])
    a, b = tr.turn_spans[-1]
    logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    return float(logp.gather(1, ids[0, 1:, None])[a - 1:b - 1].sum())


def teacher_forced(model, tok, cfg, conds):
    """Mean rise in the submit turn's log-prob that each hint brings (see the module docstring); each scored
    task's unhinted log-prob is computed once (confirm and redirect share theirs)."""
    unhinted, rise = {}, {}
    for name in ("confirm", "redirect", "mislead"):
        scored, texts = conds[name]
        for t in scored:
            if id(t) not in unhinted:
                unhinted[id(t)] = submit_logprob(model, tok, cfg, t, "")
        rise[name] = sum(submit_logprob(model, tok, cfg, t, h) - unhinted[id(t)]
                         for t, h in zip(scored, texts)) / len(scored)
    return rise


def measure(cfg, checkpoint, tasks):
    model, tok = agent.load_policy(cfg.model, checkpoint)
    model.eval()
    rows = {}
    conds = conditions(tasks)
    for name, (scored, texts) in conds.items():
        t0 = time.time()
        trajs = agent.rollout(model, tok, scored, cfg.rollout, seeds=[SEED_BASE + i for i in range(len(tasks))],
                              progress=False, hints=[agent.hint_ids(tok, h) for h in texts],
                              reward_config=cfg.reward)
        n = len(trajs)
        rows[name] = {"accuracy": sum(t.reward_info["accuracy"] == 1.0 for t in trajs) / n,
                      "reward": sum(t.reward for t in trajs) / n, "episodes": n,
                      "wall_s": round(time.time() - t0, 1)}
        print(f"{checkpoint}  {name:9s} accuracy {rows[name]['accuracy']:.3f}  reward {rows[name]['reward']:.3f}",
              flush=True)
    rows["teacher_forced_rise"] = teacher_forced(model, tok, cfg, conds)
    print(f"{checkpoint}  teacher-forced rise of the submit turn's log-prob: {rows['teacher_forced_rise']}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--config", default="configs/tiny.yaml")
    ap.add_argument("--out", default="")
    ap.add_argument("overrides", nargs="*", help="key.sub=value config overrides")
    a = ap.parse_intermixed_args()
    a.overrides += [c for c in a.checkpoints if "=" in c]
    a.checkpoints = [c for c in a.checkpoints if "=" not in c]
    cfg = config.load(a.config, config.Config, a.overrides, ignore_sections=True)
    tasks = agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    out = {c: measure(cfg, c, tasks) for c in a.checkpoints}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"config": a.config, "overrides": a.overrides, "tasks": len(tasks), "results": out}, f, indent=1)


if __name__ == "__main__":
    main()

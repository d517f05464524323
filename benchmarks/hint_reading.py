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
Each condition reports accuracy, reward, and the episodes' format score, malformed calls and turns: a sampled
hinted teacher's habits on the work-up turns, which ttopd.py's per-turn KL pulls the student toward.
A teacher that can read hints scores confirm, redirect > none, and mislead well above mislead_unhinted.
The teacher in TT-OPD does not sample: it scores the student's tokens. So the script also reports, teacher-forced
on the scripted expert's episode, how much a hint raises the log-probability of the final (submit_answer) turn:
the right answer's under confirm and redirect, the hinted wrong answer's under mislead (nats, mean over tasks).
And, on 60 multiple-choice validation cases, the issue-34 figures (teacher_forced_follow): the share whose
submit turn is likelier with the wrong option a misleading hint names than with the right one (follow), the
pull of that hint on the answer's tokens and on the rest of the turn, and the largest pull any hint could give
the answer's tokens (pull_ceiling = -log p of the wrong answer's tokens without the hint: a hinted model sure of
the hinted answer gets exactly that; a model that splits its mass over 4-5 options without the hint has about
ln 4 = 1.4 nats to gain, so a pull of 2 nats needs a model confident, without the hint, of another answer).
"""
import argparse
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

import agent  # noqa: E402
import config  # noqa: E402
import warmstart  # noqa: E402
from clinic import bank, hints  # noqa: E402

DOMAINS = ("medical_qa", "clinical_diagnosis", "radiology_report")   # choice answers: a hint names a letter
SEED_BASE = 10 ** 6        # grpo.evaluate's seed set 0: the `none` row is the training-time validation number


def choice_cases(split, n, seed):
    tasks = [t for t in bank.load_tasks(split=split) if t["domain"] in DOMAINS and t["answer"]["type"] == "choice"]
    return random.Random(seed).sample(tasks, n)


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
def submit_turn(model, tok, cfg, task, hint, late=False, mark_answer=False):
    """(log p of each token given its prefix, [T-1], the submit turn's span, the trajectory) of the scripted
    expert's episode, hint before the first turn (or, with late, right before the submit turn:
    benchmarks/hint_probe.py's diagnostic)."""
    tr = warmstart.expert_trajectory(tok, task, cfg.rollout, expert_turns=cfg.warm_start.expert_max_turns,
                                     hint=hint, hint_before_submit=late, mark_answer=mark_answer)
    ids = torch.tensor([tr.ids])
    logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    return logp.gather(1, ids[0, 1:, None])[:, 0], tr.turn_spans[-1], tr


def submit_logprob(model, tok, cfg, task, hint, late=False):
    """log p of the scripted expert's last turn (submit_answer with task's answer)."""
    taken, (a, b), _ = submit_turn(model, tok, cfg, task, hint, late)
    return float(taken[a - 1:b - 1].sum())


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


def episode_means(trajs):
    """What a condition's sampled episodes did: accuracy and reward, and the habits a per-turn KL toward a
    hinted teacher pulls on (format score, malformed calls and turns an episode: grpo.rollout_metrics's)."""
    n = len(trajs)
    return {"accuracy": sum(t.reward_info["accuracy"] == 1.0 for t in trajs) / n,
            "reward": sum(t.reward for t in trajs) / n, "episodes": n,
            "format": sum(t.reward_info["format"] for t in trajs) / n,
            "malformed": sum(t.errors.get("malformed", 0) for t in trajs) / n,
            "turns": sum(t.n_turns for t in trajs) / n}


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
        rows[name] = {**episode_means(trajs), "wall_s": round(time.time() - t0, 1)}
        print(f"{checkpoint}  {name:9s} " + "  ".join(f"{k} {v:.3f}" for k, v in rows[name].items()), flush=True)
    rows["teacher_forced_rise"] = teacher_forced(model, tok, cfg, conds)
    print(f"{checkpoint}  teacher-forced rise of the submit turn's log-prob: {rows['teacher_forced_rise']}", flush=True)
    rows["teacher_forced_follow"] = teacher_forced_follow(model, tok, cfg, choice_cases("validation", 60, 1))
    print(f"{checkpoint}  wrong hint, teacher-forced on 60 multiple-choice cases: {rows['teacher_forced_follow']}",
          flush=True)
    return rows


def submit_parts(model, tok, cfg, task, hint, late=False):
    """log p of the scripted expert's submit turn in two parts: (the answer's tokens, the rest of the turn)."""
    taken, (a, b), tr = submit_turn(model, tok, cfg, task, hint, late, mark_answer=True)
    answer = [p - 1 for p in tr.extras["answer_positions"]]
    return float(taken[answer].sum()), float(taken[a - 1:b - 1].sum() - taken[answer].sum())


@torch.no_grad()
def teacher_forced_follow(model, tok, cfg, held_out, late=False, seed=5):
    """follow, pull (of the whole submit turn, and split into the answer's tokens and the rest), right and
    pull_ceiling over the held-out cases, a misleading hint naming a wrong option (benchmarks/hint_probe.py's
    docstring: a teacher that reads hints has follow near 1)."""
    rng = random.Random(seed)
    rows = []
    for t in held_out:
        wrong = misled(t, rng)
        h = hints.render(wrong, hints.expert_outcome(wrong))
        wrong_hinted, right_hinted = submit_parts(model, tok, cfg, wrong, h, late), submit_parts(
            model, tok, cfg, t, h, late)
        wrong_plain, right_plain = submit_parts(model, tok, cfg, wrong, ""), submit_parts(model, tok, cfg, t, "")
        rows.append({"follow": sum(wrong_hinted) > sum(right_hinted),
                     "pull": sum(wrong_hinted) - sum(wrong_plain),
                     "pull_answer": wrong_hinted[0] - wrong_plain[0],
                     "pull_rest": wrong_hinted[1] - wrong_plain[1],
                     "right": sum(right_plain) > sum(wrong_plain),
                     "pull_ceiling": -wrong_plain[0]})
    return {k: statistics.mean(r[k] for r in rows) for k in rows[0]}


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

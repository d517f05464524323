"""Did distillation teach the cases it was applied to? Each arms-campaign run's final policy, and the warm start,
on the training tasks its seed drew in steps 1..N (grpo.step_tasks: the same tasks in every arm of one seed),
against the same policies on validation. A hint that names the answer teaches the case it was shown on; if the
informative arm is ahead on these cases but not on validation, what it learned does not transfer. The control
(--unseen N): N training tasks the seed never drew in its whole run; a gain there is learning of the training
split, not of the cases seen.

  python benchmarks/distilled_cases.py --name hr_lr1e-4 --arms grpo ttopd_informative ttopd_none
         --seeds 0 1 2 3 4 --init data/warmstart_hint_reading [--steps 20] [--sets 4] [--unseen 160]
         [--part 0 --parts 2]

--sets samples per task (the seed sets of val_seeds.py; top-p 1.0, as the arms are scored), one thread. --part k
of --parts n scores seeds k, k + n, ...: run n of them side by side, then once with --summary to merge their
files (a policy already in its part's file is not scored again). Writes
benchmarks/results/ttopd_arms_<name>_distilled.{json,md}.
"""
import dataclasses
import glob
import json
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import config  # noqa: E402
import grpo  # noqa: E402
from benchmarks import val_seeds  # noqa: E402
from clinic import bank, files  # noqa: E402
from distributed import fsdp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seen_tasks(cfg, seed, steps):
    """The distinct training tasks of steps 1..steps for training seed `seed`, in first-seen order."""
    pool, seen = bank.load_tasks(split=cfg.train_split), {}
    run_cfg = dataclasses.replace(cfg, seed=seed)
    for step in range(1, steps + 1):
        for t in grpo.step_tasks(run_cfg, step, pool):
            seen.setdefault(t["id"], t)
    return list(seen.values())


def unseen_tasks(cfg, seed, steps, n):
    """A control: `n` training tasks (a sample seeded by `seed`) that seed `seed` never drew in steps 1..steps.
    If the policies gain on these as on the seen ones, RL learned the training split, not the cases it saw."""
    drawn = {t["id"] for t in seen_tasks(cfg, seed, steps)}
    never = [t for t in bank.load_tasks(split=cfg.train_split) if t["id"] not in drawn]
    return random.Random(seed).sample(never, n)


def score(cfg, checkpoint, tasks, device, sets):
    """Accuracy, one sample per task under each of `sets` seed sets (val_seeds.py's), mean over the sets."""
    return statistics.mean(s["val_accuracy"] for s in val_seeds.seed_sets(cfg, checkpoint, sets, tasks, device))


def summary(a, out):
    rows = {}
    for path in sorted(glob.glob(out + "_part*.json")):
        rows.update(json.load(open(path)))
    runs = campaign_runs(a.name)
    lines = [f"accuracy on the training tasks of steps 1-{a.steps} (seen) and on training tasks the seed never drew "
             f"(unseen, the control), {a.sets} samples each, and on validation (5 sets of 100): mean over seeds "
             "(sd); gains over the warm start paired by seed, mean (SE); 'seen - unseen' is the gain on the "
             "cases trained on beyond the gain on the training split", "",
             "| policy | seeds | seen | gain | unseen | gain | seen - unseen gain | validation | minus GRPO |",
             "|---|---|---|---|---|---|---|---|---|"]
    grpo_val = {r["seed"]: r["val_accuracy"] for r in runs["grpo"]["runs"]}
    for arm in ["warmstart", *a.arms]:
        seeds = [s for s in a.seeds if f"{arm}_s{s}" in rows]
        cells = []
        for prefix in ["", "unseen:"]:
            acc = [rows[f"{prefix}{arm}_s{s}"] for s in seeds if f"{prefix}{arm}_s{s}" in rows]
            gain = [rows[f"{prefix}{arm}_s{s}"] - rows[f"{prefix}warmstart_s{s}"] for s in seeds
                    if f"{prefix}{arm}_s{s}" in rows]
            cells += [mean_sd(acc), mean_se(gain)]
        both = [s for s in seeds if f"unseen:{arm}_s{s}" in rows]
        beyond = [rows[f"{arm}_s{s}"] - rows[f"warmstart_s{s}"] - rows[f"unseen:{arm}_s{s}"]
                  + rows[f"unseen:warmstart_s{s}"] for s in both]
        val = {r["seed"]: r["val_accuracy"] for r in runs.get(arm, {}).get("runs", [])}
        d_val = [val[s] - grpo_val[s] for s in seeds if s in val]
        lines.append(f"| {arm} | {len(seeds)} | {' | '.join(cells)} | {mean_se(beyond)} | "
                     f"{mean_sd(list(val.values()))} | {mean_se(d_val)} |")
    with open(out + ".json", "w") as f:
        json.dump({"steps": a.steps, "sets": a.sets, "accuracy": rows}, f, indent=1)
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def mean_sd(xs):
    return f"{statistics.mean(xs):.3f} ({statistics.stdev(xs):.3f})" if len(xs) > 1 else ""


def mean_se(xs):
    """Mean and standard error of paired differences, '' for a reference against itself or under two."""
    if len(xs) < 2 or not any(xs):
        return ""
    return f"{statistics.mean(xs):+.3f} ({statistics.stdev(xs) / len(xs) ** 0.5:.3f})"


def campaign_runs(name):
    """{arm: its record} from the campaign's table, ttopd_arms_<name>.json."""
    return json.load(open(os.path.join(ROOT, "benchmarks", "results", f"ttopd_arms_{name}.json")))["arms"]


def run_steps(name, seed):
    """The most steps any arm of `name` made with training seed `seed` (from the campaign's record)."""
    return max(r["steps"] for arm in campaign_runs(name).values() for r in arm["runs"] if r["seed"] == seed)


def main(argv):
    ap = files.ArgumentParser(prog="distilled_cases.py")
    ap.add_argument("--name", required=True)
    ap.add_argument("--arms", nargs="+", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sets", type=int, default=4, help="seed sets: samples per task")
    ap.add_argument("--unseen", type=int, default=0,
                    help="score N training tasks the seed never drew instead of the seen ones (the control)")
    ap.add_argument("--part", type=int, default=0)
    ap.add_argument("--parts", type=int, default=1)
    ap.add_argument("--summary", action="store_true")
    a = ap.parse_args(argv)
    cfg = config.load(os.path.join(ROOT, "configs", "ttopd_tiny.yaml"), config.Config,
                      ["rollout.top_p=1.0"], ignore_sections=True)
    out = os.path.join(ROOT, "benchmarks", "results", f"ttopd_arms_{a.name}_distilled")
    if a.summary:
        return summary(a, out)
    _, _, device = fsdp.setup_distributed()
    part = out + f"_part{a.part}.json"
    rows = json.load(open(part)) if os.path.exists(part) else {}     # a policy scored before is kept
    prefix = "unseen:" if a.unseen else ""
    for seed in a.seeds[a.part::a.parts]:
        if a.unseen:
            tasks = unseen_tasks(cfg, seed, run_steps(a.name, seed), a.unseen)
        else:
            tasks = seen_tasks(cfg, seed, a.steps)
        for arm in [x for x in ["warmstart", *a.arms] if f"{prefix}{x}_s{seed}" not in rows]:
            run = os.path.join(ROOT, "runs", f"arms_{a.name}", f"{arm}_s{seed}")
            final = a.init if arm == "warmstart" else os.path.join(run, "final")
            rows[f"{prefix}{arm}_s{seed}"] = score(cfg, final, tasks, device, a.sets)
            print(prefix + arm, seed, len(tasks), rows[f"{prefix}{arm}_s{seed}"], flush=True)
            with open(part, "w") as f:
                json.dump(rows, f)


if __name__ == "__main__":
    files.run_cli(main)

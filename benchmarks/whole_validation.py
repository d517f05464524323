"""An arms campaign's final policies on the whole validation split: each arm against GRPO and the warm start.

ttopd_arms.py scores every run on a fixed sample of 100 validation tasks (5 seed sets); a sample that small
carries its own task-selection error, shared by every arm. This table reads val_seeds.py's results for the
warm start and each run's final policy on all 540 validation tasks (eval_tasks=0), made by, two at a time:

  python benchmarks/val_seeds.py data/warmstart_hint_reading runs/arms_NAME/ARM_sSEED/final ... --seeds 2
         --out benchmarks/results/whole_validation_NAME_2sets_a.json rollout.top_p=1.0 eval_tasks=0
  python benchmarks/whole_validation.py --name NAME [--arms grpo ttopd_informative ttopd_none]

and prints, per seed set and for the mean over the sets, each arm's mean over its runs (sd), its change from
the warm start, and each arm minus GRPO and informative minus hintless TT-OPD (Welch, ttopd_arms.difference
and interval95). Writes benchmarks/results/whole_validation_NAME.md.
"""
import glob
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import ttopd_arms  # noqa: E402
from clinic import files  # noqa: E402

RESULTS = ttopd_arms.RESULTS
PAIRS = [("ttopd_informative", "grpo"), ("ttopd_none", "grpo"), ("ttopd_informative", "ttopd_none")]


def policy_scores(name):
    """{checkpoint: (rewards per set, accuracies per set)} from the campaign's val_seeds.py files, and the
    other campaigns' (a warm start scored once serves every campaign that starts from it)."""
    scores = {}
    paths = sorted(glob.glob(os.path.join(RESULTS, "whole_validation_*.json")))
    for path in sorted(paths, key=lambda p: f"whole_validation_{name}_" in p):     # this campaign's last
        for row in json.load(open(path))["rows"]:
            scores[row["checkpoint"]] = (row["rewards"], row["accuracies"])
    return scores


def at_set(xs, k):
    """A policy's score under seed set k, or its mean over the sets (k None)."""
    return statistics.mean(xs) if k is None else xs[k]


def arm_runs(scores, name, arm, k):
    """One arm's runs (seed order): reward and accuracy under seed set k, or the mean over sets (k None)."""
    keys = sorted(c for c in scores if f"arms_{name}/{arm}_s" in c)
    return [at_set(scores[c][0], k) for c in keys], [at_set(scores[c][1], k) for c in keys]


def table(scores, name, arms, init):
    if init not in scores:
        raise files.DataError(f"no whole-validation scores for the warm start {init!r} in {RESULTS}")
    n_sets = len(scores[init][0])
    lines = [f"| seed set | {' | '.join(f'{a}: reward (sd), change; accuracy (sd), change' for a in arms)} |",
             "|---|" + "---|" * len(arms)]
    diffs = ["", "| seed set | difference | reward: diff (SE) | in SE | 95% interval | accuracy: diff (SE) | in SE "
             "| 95% interval |", "|---|---|---|---|---|---|---|---|"]
    for k in [*range(n_sets), None]:
        label = "mean of sets" if k is None else str(k)
        ws = [at_set(x, k) for x in scores[init]]
        runs = {a: arm_runs(scores, name, a, k) for a in arms}
        cells = [f"{statistics.mean(r):.3f} ({statistics.stdev(r):.3f}), {statistics.mean(r) - ws[0]:+.3f}; "
                 f"{statistics.mean(c):.3f} ({statistics.stdev(c):.3f}), {statistics.mean(c) - ws[1]:+.3f}"
                 for r, c in runs.values()]
        lines.append(f"| {label} (warm start {ws[0]:.3f}; {ws[1]:.3f}) | {' | '.join(cells)} |")
        for a, b in [p for p in PAIRS if p[0] in arms and p[1] in arms]:
            diffs.append(f"| {label} | {a} - {b} | {ttopd_arms.difference_cells(runs[a][0], runs[b][0])} | "
                         f"{ttopd_arms.difference_cells(runs[a][1], runs[b][1])} |")
    return lines + diffs


def main(argv):
    ap = files.ArgumentParser(prog="whole_validation.py")
    ap.add_argument("--name", required=True)
    ap.add_argument("--arms", nargs="+", default=["grpo", "ttopd_informative"])
    ap.add_argument("--init", default="data/warmstart_hint_reading")
    a = ap.parse_args(argv)
    lines = table(policy_scores(a.name), a.name, a.arms, a.init)
    with open(os.path.join(RESULTS, f"whole_validation_{a.name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    files.run_cli(main)

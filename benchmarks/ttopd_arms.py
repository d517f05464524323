"""GRPO vs TT-OPD (informative, generic, no hints) from the same warm start, equal wall time, several
training seeds per arm, each final policy scored on the 5 seed sets of val_seeds.py.

  python benchmarks/ttopd_arms.py [--minutes 60] [--name NAME] [--seeds 0 1 2] [--parallel 2] [--arms A ...]
                                  [--init CHECKPOINT] [key=value ...]

Each run is one process with one torch thread (`--parallel` of them at a time) that stops after the step
that passes `--minutes` (config time_budget_min); its training seed is config `seed`. A campaign is named
(`--name`, default the minutes: 60min); its runs live in runs/arms_<name>/ (not in git). Each scored run leaves
a small record in git, benchmarks/results/ttopd_arms_<name>/<arm>_s<seed>.json (its 5 validation sets and its
training curves); a run with a record or a final policy is not trained again. So a campaign too long for one
sitting (4 arms x 3 seeds x 60 min is 6 hours at two at a time) is done a few runs per call, on any clone that
has the same warm start, minutes and overrides (the warm start's record holds them and its weights' sha256;
other ones are refused: give another name), and the table always covers every recorded run (its `runs` column
says how many). Arms:
  grpo              grpo.py configs/tiny.yaml with ttopd_tiny.yaml's GRPO settings (cosine length reward, token
                    cap, top-p 1.0, lr and its cosine schedule, warm-up, two minibatches): every key but the
                    distill section is equal
  ttopd_informative ttopd.py configs/ttopd_tiny.yaml (hints built from the outcome, clinic/hints.py)
  ttopd_generic     ... distill.hints=generic (one fixed sentence per outcome)
  ttopd_none        ... distill.hints=none
  (these three pin distill.schedule_steps=0: the 40 / 5 / 30 steps of the recorded campaigns, as written)
  ttopd_scaled      ttopd.py configs/ttopd_tiny.yaml as it is: the schedule scaled to steps=1000 (ttopd.run_scaled),
                    the cap, not the steps the minutes allow: give steps=N near those (about 10 a minute here)
  ttopd_submit      ttopd_informative with distill.last_kl_turns=1: only the submit turn is distilled
  ttopd_light       ttopd_informative with distill.lam=0.5
  ttopd_confirm     ... distill.hints=confirm: the informative hint on correct episodes only, none on wrong ones
  ttopd_redirect    ... distill.hints=redirect: the informative hint on wrong episodes only
Then val_seeds.py scores the warm start and every final policy on --val-tasks validation tasks under 5 seed
sets. Writes benchmarks/results/ttopd_arms_<minutes>min.{json,md,png}: per arm, the mean and the spread (sd, min, max)
over its runs; every run is reported, none is chosen. Under the table: each arm minus GRPO on the final scores
(Welch), and at equal steps on the training curves, paired by seed (equal_steps: a seed meets the same cases at
every step in every arm), against GRPO and against TT-OPD without hints.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from clinic import files  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
ARMS = {
    "grpo": ("grpo.py", "tiny.yaml", ["algo.length_reward=true", "algo.max_policy_tokens=480", "rollout.top_p=1.0",
                                      "lr=0.0003", "lr_schedule=cosine", "warmup_steps=10", "algo.minibatches=2"]),
    # the recorded campaigns' TT-OPD: phase-out over steps 1-40, EMA every 5, hard copy every 30, as written
    "ttopd_informative": ("ttopd.py", "ttopd_tiny.yaml", ["distill.schedule_steps=0"]),
    "ttopd_generic": ("ttopd.py", "ttopd_tiny.yaml", ["distill.hints=generic", "distill.schedule_steps=0"]),
    "ttopd_none": ("ttopd.py", "ttopd_tiny.yaml", ["distill.hints=none", "distill.schedule_steps=0"]),
    # the same shares of the run as the main job's 120 steps (ttopd.run_scaled): at steps=1000, 333 / 42 / 250
    "ttopd_scaled": ("ttopd.py", "ttopd_tiny.yaml", []),
    # informative, the KL on the last turn only: the submit turn, where the hint names the answer
    "ttopd_submit": ("ttopd.py", "ttopd_tiny.yaml", ["distill.last_kl_turns=1", "distill.schedule_steps=0"]),
    # informative with lambda 0.5: the distillation gradient below GRPO's own, not 4-9x it as at lambda 4
    "ttopd_light": ("ttopd.py", "ttopd_tiny.yaml", ["distill.lam=0.5", "distill.schedule_steps=0"]),
    # informative on one outcome only, no hint on the other: which half of the hint moves the student
    "ttopd_confirm": ("ttopd.py", "ttopd_tiny.yaml", ["distill.hints=confirm", "distill.schedule_steps=0"]),
    "ttopd_redirect": ("ttopd.py", "ttopd_tiny.yaml", ["distill.hints=redirect", "distill.schedule_steps=0"]),
}


CURVES = ("turns", "response_tokens", "accuracy", "format", "err_malformed", "distill_kl")   # per step, recorded


def campaign_dir(campaign):
    return os.path.join(ROOT, "runs", f"arms_{campaign}")


def run_dir(campaign, arm, seed):
    return os.path.join(campaign_dir(campaign), f"{arm}_s{seed}")


def record_path(campaign, name):
    return os.path.join(RESULTS, f"ttopd_arms_{campaign}", name + ".json")


def trained(campaign, arm, seed):
    return os.path.exists(os.path.join(run_dir(campaign, arm, seed), "final", "config.json"))


def finished(campaign, arm, seed):
    return os.path.exists(record_path(campaign, f"{arm}_s{seed}")) or trained(campaign, arm, seed)


def start(cmd, log):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def run_all(jobs, parallel):
    """jobs: (name, argv, log); at most `parallel` at a time; exits on the first failure."""
    queue, live = list(jobs), []
    while queue or live:
        while queue and len(live) < parallel:
            name, cmd, log = queue.pop(0)
            live.append((name, start(cmd, log), log))
            print(f"{time.strftime('%H:%M:%S')} started {name}", flush=True)
        time.sleep(5)
        for item in [x for x in live if x[1].poll() is not None]:
            live.remove(item)
            if item[1].returncode:
                sys.exit(f"{item[0]} failed: see {item[2]}")
            print(f"{time.strftime('%H:%M:%S')} finished {item[0]}", flush=True)


def training_jobs(arms, seeds, minutes, campaign, extra):
    jobs = []
    for seed in seeds:
        for arm in [a for a in arms if not finished(campaign, a, seed)]:
            script, cfg, arm_args = ARMS[arm]
            out = run_dir(campaign, arm, seed)
            shutil.rmtree(out, ignore_errors=True)      # an unfinished run starts afresh (grpo.py refuses a used
            if os.path.exists(out + "_val.json"):      # out_dir), with no stale results beside it
                os.remove(out + "_val.json")
            os.makedirs(out)
            cmd = [sys.executable, script, os.path.join("configs", cfg), *arm_args, f"seed={seed}",
                   f"time_budget_min={minutes}", "steps=1000", f"out_dir={out}", "checkpoint_every=0",
                   "eval_every=0", "eval_tasks=20", *extra]
            jobs.append((f"{arm}_s{seed}", cmd, out + ".log"))
    return jobs


def scoring_jobs(checkpoints, val_tasks, n_sets):
    """val_seeds.py on each checkpoint, sampling as training does (top-p 1.0)."""
    return [(name, [sys.executable, "benchmarks/val_seeds.py", ck, "--seeds", str(n_sets), "--out", out,
                    "rollout.top_p=1.0", f"eval_tasks={val_tasks}"], out + ".log") for name, ck, out in checkpoints]


def curve_stats(rows):
    train = [r for r in rows if "reward" in r and "stopped" not in r]
    length, turns = np.array([r["response_tokens"] for r in train]), np.array([r["turns"] for r in train])
    return {"steps": train[-1]["step"], "minutes": sum(r["step_time_s"] for r in train) / 60,
            "train_reward": [r["reward"] for r in train], "step_time_s": [r["step_time_s"] for r in train],
            "len_std": float(length.std()),
            "turns_std": float(turns.std()), "len_last10": float(length[-10:].mean()),
            "turns_last10": float(turns[-10:].mean()),
            "curves": {k: [r[k] for r in train] for k in CURVES if k in train[0]}}


def spread(values):
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "runs": values}


def run_record(campaign, arm, seed):
    """The run's lasting result: its validation sets and its training curves (runs/ is not kept)."""
    scores = json.load(open(run_dir(campaign, arm, seed) + "_val.json"))["rows"][0]
    rows = [json.loads(x) for x in open(os.path.join(run_dir(campaign, arm, seed), "metrics.jsonl"))]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"seed": seed, "val_reward": scores["mean"], "val_accuracy": scores["acc_mean"],
            "val_sets": scores["rewards"], "commit": commit, **curve_stats(rows)}


def weights_digest(checkpoint):
    """sha256 of a checkpoint's weights: a campaign's runs must all start from the same warm start."""
    return files.sha256(os.path.join(checkpoint, "model.safetensors"))


def check_campaign(campaign, init, minutes, extra):
    """Refuse to add runs to a campaign from another warm start (a fresh clone builds its own, which need not
    be bit-identical: kb tie-breaking, thread counts), or with other minutes or overrides than its recorded
    runs: one campaign, one setting. Records from before minutes and overrides were kept check the init only."""
    path = record_path(campaign, "warmstart")
    if not os.path.exists(path):
        return
    want = json.load(open(path))
    if want.get("init_sha256") not in (None, weights_digest(init)):
        sys.exit(f"--init {init} is not the warm start campaign {campaign}'s runs started from ({path}); "
                 "use that checkpoint or another --name")
    for key, value in (("minutes", minutes), ("overrides", extra)):
        if key in want and want[key] != value:
            sys.exit(f"campaign {campaign} was run with {key} {want[key]}, not {value} ({path}); "
                     "use those or another --name")


def save_record(campaign, name, record):
    path = record_path(campaign, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f)


def summarise(campaign, arms, seeds, base):
    out = {"warm_start": base, "arms": {}}
    for arm in arms:
        runs = [json.load(open(record_path(campaign, f"{arm}_s{s}"))) for s in seeds
                if os.path.exists(record_path(campaign, f"{arm}_s{s}"))]
        if not runs:
            continue
        out["arms"][arm] = {"runs": runs, **{k: spread([r[k] for r in runs]) for k in
                                             ("val_reward", "val_accuracy", "steps", "len_std", "turns_std")}}
    return out


# Student's t, two-sided 95%, for 1..30 degrees of freedom (any statistics table); beyond 30 the normal's 1.96
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def difference(a, b):
    """mean(a) - mean(b) and the standard error of that difference, the runs of each arm independent (Welch):
    sqrt(var(a) / n_a + var(b) / n_b)."""
    se = (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    return statistics.mean(a) - statistics.mean(b), se


def interval95(a, b):
    """The difference's 95% confidence interval, Welch: d +- t(0.975, df) * SE with the Welch-Satterthwaite
    df = SE^4 / ((var_a / n_a)^2 / (n_a - 1) + (var_b / n_b)^2 / (n_b - 1)), rounded down (the wider interval)."""
    d, se = difference(a, b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb else float("inf")
    t = T975[int(df) - 1] if df < len(T975) + 1 else 1.96
    return d - t * se, d + t * se


def differences(s, reference="grpo"):
    """Each arm against the reference arm, on validation reward and accuracy: the lines under the table."""
    arms = s["arms"]
    if reference not in arms or len(arms[reference]["runs"]) < 2:
        return []
    lines = ["", f"| arm - {reference} | val reward: difference (SE) | in SE | 95% interval "
             "| val accuracy: difference (SE) | in SE | 95% interval |", "|" + "---|" * 7]
    for arm in [a for a in arms if a != reference and len(arms[a]["runs"]) > 1]:
        cells = [difference_cells(arms[arm][key]["runs"], arms[reference][key]["runs"])
                 for key in ("val_reward", "val_accuracy")]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return lines


def difference_cells(a, b):
    """Three table cells for mean(a) - mean(b): the difference (SE), the difference in SE, the 95% interval."""
    (d, se), (lo, hi) = difference(a, b), interval95(a, b)
    return f"{d:+.3f} ({se:.3f}) | {d / se if se else float('nan'):+.1f} | [{lo:+.3f}, {hi:+.3f}]"


STEP_KEYS = (("train_reward", "training reward"), ("accuracy", "accuracy"), ("format", "format score"),
             ("err_malformed", "malformed calls"), ("turns", "turns"))


def curve(run, key):
    """A run record's per-step values of key (older records kept some at the top level)."""
    return run[key] if key in run else run.get("curves", {}).get(key, [])


def equal_steps(s, reference="grpo", first=2):
    """Each arm against the reference at equal steps, paired by training seed: a seed draws the same tasks and
    sampling seeds at every step in every arm (grpo.step_tasks), so arm and reference meet the same cases. Per
    seed, the mean over steps first..L of arm minus reference (L: the fewest steps of any paired run, so every
    seed averages the same steps; step 1 is the same policy in every arm); then the mean over seeds and its
    standard error, sd / sqrt(n)."""
    arms = s["arms"]
    if reference not in arms:
        return []
    ref = {r["seed"]: r for r in arms[reference]["runs"]}
    lines = ["", f"| arm - {reference}, equal steps, paired by seed | steps | runs | " +
             " | ".join(f"{name}: difference (SE), in SE" for _, name in STEP_KEYS) + " |",
             "|" + "---|" * (3 + len(STEP_KEYS))]
    for arm in [a for a in arms if a != reference]:
        pairs = [(r, ref[r["seed"]]) for r in arms[arm]["runs"] if r["seed"] in ref]
        if len(pairs) < 2:
            continue
        last = min(len(curve(r, "train_reward")) for pair in pairs for r in pair)
        cells = []
        for key, _ in STEP_KEYS:
            d = [statistics.mean(curve(a, key)[first - 1:last]) - statistics.mean(curve(b, key)[first - 1:last])
                 for a, b in pairs]
            mean, se = statistics.mean(d), statistics.stdev(d) / len(d) ** 0.5
            cells.append(f"{mean:+.3f} ({se:.3f}), {mean / se if se else float('nan'):+.1f}")
        lines.append(f"| {arm} | {first}-{last} | {len(pairs)} | " + " | ".join(cells) + " |")
    return lines


def table(s):
    b = s["warm_start"]
    lines = [f"warm start: val reward {b['mean']:.3f} (sd of one seed set {b['sd']:.3f}), "
             f"val accuracy {b['acc_mean']:.3f}", "",
             "| arm | runs | steps | val reward: mean (sd) [min, max] | change | val accuracy: mean (sd) | "
             "resp. tokens sd over steps | turns sd over steps |", "|" + "---|" * 8]
    for arm, a in s["arms"].items():
        v, acc = a["val_reward"], a["val_accuracy"]
        lines.append(f"| {arm} | {len(a['runs'])} | {a['steps']['mean']:.0f} | {v['mean']:.3f} ({v['sd']:.3f}) "
                     f"[{v['min']:.3f}, {v['max']:.3f}] | {v['mean'] - b['mean']:+.3f} | {acc['mean']:.3f} "
                     f"({acc['sd']:.3f}) | {a['len_std']['mean']:.1f} | {a['turns_std']['mean']:.2f} |")
    # against GRPO, and against the teacher without hints: what the hint's content adds to distillation
    return "\n".join(lines + differences(s) + equal_steps(s) + equal_steps(s, "ttopd_none"))


def band(ax, runs, label, width=5):
    """The runs' curves, each a width-step running mean: their mean, and a min-max band."""
    n = min(len(r) for r in runs)
    if n < width:
        return
    ys = np.array([np.convolve(r[:n], np.ones(width) / width, mode="valid") for r in runs])
    x = np.arange(width, n + 1)
    ax.plot(x, ys.mean(0), label=label)
    ax.fill_between(x, ys.min(0), ys.max(0), alpha=0.2)


def plot(s, path):
    """Training reward, turns and response length over training (the paper's dynamics), and the final scores."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    panels = (("train_reward", "training reward"), ("turns", "turns an episode"),
              ("response_tokens", "response tokens an episode"))
    for ax, (key, title) in zip(axes.flat, panels):
        for arm, a in s["arms"].items():
            runs = [curve(r, key) for r in a["runs"]]
            if all(runs):
                band(ax, runs, arm)
        ax.set(title=f"{title} (5-step mean; band: min-max over runs)", xlabel="step")
        if ax.lines:        # records from before the curves were kept have none to show
            ax.legend(fontsize=8)
    bx = axes.flat[3]
    names = list(s["arms"])
    for i, arm in enumerate(names):
        vals = s["arms"][arm]["val_reward"]["runs"]
        bx.scatter([i] * len(vals), vals, zorder=3)
        bx.errorbar(i, np.mean(vals), yerr=np.std(vals, ddof=1) if len(vals) > 1 else 0, fmt="_k", ms=25, capsize=6)
    bx.axhline(s["warm_start"]["mean"], ls="--", c="grey", label="warm start")
    bx.set_xticks(range(len(names)), names, fontsize=8)
    bx.set(title="final validation reward (5 seed sets each; bar: mean +- sd over runs)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", choices=list(ARMS),
                    default=[a for a in ARMS if a in ("grpo", "ttopd_informative", "ttopd_generic", "ttopd_none")])
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--val-tasks", type=int, default=100)
    ap.add_argument("--val-sets", type=int, default=5)
    ap.add_argument("--skip-training", action="store_true", help="score and summarise the finished runs")
    ap.add_argument("--init", default="checkpoints/warmstart", help="the warm start every arm starts from")
    ap.add_argument("--name", help="the campaign's name: runs/arms_NAME, results/ttopd_arms_NAME "
                    "(default: the minutes, e.g. 60min); one name, one warm start, minutes and overrides")
    ap.add_argument("extra", nargs="*", help="key=value overrides for every run")
    a = ap.parse_args()
    name = a.name or f"{a.minutes:g}min"
    if not a.skip_training:
        check_campaign(name, a.init, a.minutes, a.extra)
        run_all(training_jobs(a.arms, a.seeds, a.minutes, name, [f"init_checkpoint={a.init}", *a.extra]),
                a.parallel)
    os.makedirs(campaign_dir(name), exist_ok=True)
    warm = os.path.join(campaign_dir(name), "warmstart")
    new = [(arm, s) for s in a.seeds for arm in a.arms if trained(name, arm, s) and not
           os.path.exists(record_path(name, f"{arm}_s{s}"))]
    cks = [("warmstart", a.init, warm + "_val.json")] * (not os.path.exists(record_path(name, "warmstart"))) + [
        (f"{arm}_s{s}", os.path.join(run_dir(name, arm, s), "final"), run_dir(name, arm, s) + "_val.json")
        for arm, s in new]
    run_all(scoring_jobs([c for c in cks if not os.path.exists(c[2])], a.val_tasks, a.val_sets), a.parallel)
    if not os.path.exists(record_path(name, "warmstart")):
        save_record(name, "warmstart", {**json.load(open(warm + "_val.json"))["rows"][0], "minutes": a.minutes,
                                        "overrides": a.extra, "init_sha256": weights_digest(a.init)})
    for arm, seed in new:
        save_record(name, f"{arm}_s{seed}", run_record(name, arm, seed))
    s = summarise(name, a.arms, a.seeds, json.load(open(record_path(name, "warmstart"))))
    s.update(name=name, minutes=a.minutes, seeds=a.seeds, val_tasks=a.val_tasks, val_sets=a.val_sets,
             overrides=a.extra, init=a.init)
    stem = os.path.join(RESULTS, f"ttopd_arms_{name}")
    with open(stem + ".json", "w") as f:
        json.dump(s, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(table(s) + "\n")
    plot(s, stem + ".png")
    print(table(s))


if __name__ == "__main__":
    main()

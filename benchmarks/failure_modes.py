"""The paper's three TT-OPD failure modes on the embedded default, each next to the same run with its guard on.

  python benchmarks/failure_modes.py [--parallel 2] [--only NAME ...]

Runs (configs/ablations/, 60 steps each, one torch thread per run, `--parallel` at a time):
  guarded      every guard on (the control of v29 and v30)
  v29          corruption_guard off: unconditional EMA, no KL guard
  v30          frozen teacher, static lambda 4.0, no stale-teacher cap, no KL guard
  v31          the KL guard at the embedded default's KL scale, re-engagement switched on
  v31_off      the same run with re-engagement off (the guard's value: it stays off)
Writes benchmarks/results/failure_modes.{json,md,png}: per run, the steps where a guard fired or distillation
re-engaged, the KL, grad norm, training accuracy early and late, validation accuracy before and after, and a
figure of the per-step curves.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttopd_arms import ROOT, RESULTS, run_all  # noqa: E402

RUNS = {
    "guarded": ("guarded.yaml", []),
    "v29": ("v29_corruption.yaml", []),
    "v30": ("v30_frozen_gap.yaml", []),
    "v31": ("v31_reengage.yaml", []),
    "v31_off": ("v31_reengage.yaml", ["distill.reengage=false"]),
}


def out_dir(name):
    return os.path.join(ROOT, "runs", "failure_modes", name)


def jobs(names):
    out = []
    for name in names:
        cfg, extra = RUNS[name]
        d = out_dir(name)
        shutil.rmtree(d, ignore_errors=True)       # a fresh run (ttopd.py refuses an out_dir that holds one)
        out.append((name, [sys.executable, "ttopd.py", os.path.join("configs", "ablations", cfg), *extra,
                           f"out_dir={d}", "checkpoint_every=0"], d + ".log"))
    return out


def series(rows, key):
    return [(r["step"], r[key]) for r in rows if r.get(key) is not None and "stopped" not in r]


def summarise(name):
    rows = [json.loads(x) for x in open(os.path.join(out_dir(name), "metrics.jsonl"))]
    train = [r for r in rows if "reward" in r]
    evals = [r for r in rows if "val_reward" in r]
    events = [e for r in train for e in r.get("guard_events", [])]
    kl = [v for _, v in series(train, "distill_kl")]
    fired = [e["step"] for e in events if e["guard"] == "teacher_corruption"]
    return {"run": name, "steps": train[-1]["step"], "guard_fired": fired,
            "reengaged": [e["step"] for e in events if e["guard"] == "reengaged"],
            "stale_clips": sum(e["guard"] == "stale_teacher_clip" for e in events),
            "kl_first10": float(np.mean(kl[:10])) if kl else None,
            "kl_last10": float(np.mean(kl[-10:])) if kl else None, "kl_max": max(kl) if kl else None,
            "grad_norm_first10": float(np.mean([r["grad_norm"] for r in train[:10]])),
            "grad_norm_last10": float(np.mean([r["grad_norm"] for r in train[-10:]])),
            "acc_first10": float(np.mean([r["accuracy"] for r in train[:10]])),
            "acc_last10": float(np.mean([r["accuracy"] for r in train[-10:]])),
            "val_reward": [(r["step"], r["val_reward"]) for r in evals],
            "val_accuracy": [(r["step"], r["val_accuracy"]) for r in evals],
            "steps_distilling": sum(r["lambda"] > 0 for r in train)}


def table(rows):
    fmt = lambda x: "-" if x is None else f"{x:.3f}"      # noqa: E731
    lines = ["| run | guard fired at step | re-engaged at steps | steps with lambda > 0 | KL first 10 / last 10 (max) "
             "| grad norm first 10 / last 10 | train acc first 10 / last 10 | val reward first / last | "
             "val acc first / last |", "|" + "---|" * 9]
    for s in rows:
        lines.append(
            f"| {s['run']} | {s['guard_fired'][:1] or '-'} | {s['reengaged'][:6] or '-'}"
            f"{' ...' if len(s['reengaged']) > 6 else ''} | {s['steps_distilling']} | {fmt(s['kl_first10'])} / "
            f"{fmt(s['kl_last10'])} ({fmt(s['kl_max'])}) | {s['grad_norm_first10']:.3f} / "
            f"{s['grad_norm_last10']:.3f} | {s['acc_first10']:.3f} / {s['acc_last10']:.3f} | "
            f"{s['val_reward'][0][1]:.3f} / {s['val_reward'][-1][1]:.3f} | "
            f"{s['val_accuracy'][0][1]:.3f} / {s['val_accuracy'][-1][1]:.3f} |")
    return "\n".join(lines)


def plot(names, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    for name in names:
        rows = [json.loads(x) for x in open(os.path.join(out_dir(name), "metrics.jsonl"))]
        for ax, key in zip(axes, ("distill_kl", "lambda", "grad_norm", "accuracy")):
            xy = series(rows, key)
            if xy:
                ax.plot(*zip(*xy), label=name)
                ax.set(title=key, xlabel="step")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--only", nargs="+", choices=list(RUNS), help="(re)run these, reuse the others' metrics")
    ap.add_argument("--skip-training", action="store_true")
    a = ap.parse_args()
    if not a.skip_training:
        run_all(jobs(a.only or list(RUNS)), a.parallel)
    rows = [summarise(n) for n in RUNS]
    with open(os.path.join(RESULTS, "failure_modes.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(RESULTS, "failure_modes.md"), "w") as f:
        f.write(table(rows) + "\n")
    plot(list(RUNS), os.path.join(RESULTS, "failure_modes.png"))
    print(table(rows))


if __name__ == "__main__":
    main()

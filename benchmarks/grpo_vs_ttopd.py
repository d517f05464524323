"""Side by side: grpo.py and ttopd.py from the same warm start, same steps, same seeds.

  python benchmarks/grpo_vs_ttopd.py [--steps 40] [--threads 1]

Both runs start together (one process each, `--threads` torch threads each): plain GRPO
(`grpo.py configs/tiny.yaml`) and full TT-OPD (`ttopd.py configs/ttopd_tiny.yaml`: the same
rollout and GRPO settings plus the EMA teacher, hints, turn-level KL and the cosine length
reward), with the same steps, seeds and warm start. Reads both metrics.jsonl
files and writes benchmarks/results/grpo_vs_ttopd.{md,png} (the figure is evaluate.plot's).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import evaluate  # noqa: E402  (the training-dynamics figure)
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def launch(name, script, cfg, steps, threads, extra):
    out = os.path.join(ROOT, "runs", f"side_{name}")
    if os.path.exists(os.path.join(out, "metrics.jsonl")):
        os.remove(os.path.join(out, "metrics.jsonl"))
    args = [sys.executable, os.path.join(ROOT, script), os.path.join(ROOT, "configs", cfg),
            f"steps={steps}", f"out_dir={out}", "checkpoint_every=0", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MASTER_PORT": str(29400 + len(name))}
    os.makedirs(os.path.join(ROOT, "runs"), exist_ok=True)
    log = open(os.path.join(ROOT, "runs", f"side_{name}.log"), "w")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), out


def read(out):
    return [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]


def summarise(name, rows):
    train = [r for r in rows if "reward" in r]
    evals = [r for r in rows if "val_reward" in r]
    length, turns = np.array([r["response_tokens"] for r in train]), np.array([r["turns"] for r in train])
    return {"run": name, "steps": train[-1]["step"], "minutes": sum(r["step_time_s"] for r in train) / 60,
            "val_before": evals[0]["val_reward"], "val_after": evals[-1]["val_reward"],
            "acc_before": evals[0]["val_accuracy"], "acc_after": evals[-1]["val_accuracy"],
            "train_reward_last10": float(np.mean([r["reward"] for r in train[-10:]])),
            "len_first10": float(length[:10].mean()), "len_last10": float(length[-10:].mean()),
            "len_std": float(length.std()), "turns_first10": float(turns[:10].mean()),
            "turns_last10": float(turns[-10:].mean()), "turns_std": float(turns.std())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=["grpo", "ttopd"], help="(re)run one side, reuse the other's metrics")
    ap.add_argument("extra", nargs="*", help="key=value overrides for both runs")
    a = ap.parse_args()
    spec = {"grpo": ("grpo.py", "tiny.yaml"), "ttopd": ("ttopd.py", "ttopd_tiny.yaml")}
    procs = {n: launch(n, *spec[n], a.steps, a.threads, a.extra) for n in spec if a.only in (None, n)}
    for name, (p, _) in procs.items():
        if p.wait():
            sys.exit(f"{name} run failed: see runs/side_{name}.log")
    runs = {name: read(os.path.join(ROOT, "runs", f"side_{name}")) for name in spec}
    rows = [summarise(n, r) for n, r in runs.items()]
    lines = ["| run | steps | train min | val reward before | after | val acc before | after | train reward (last 10) "
             "| resp. tokens first10 / last10 (std) | turns first10 / last10 (std) |", "|" + "---|" * 10]
    for s in rows:
        lines.append(f"| {s['run']} | {s['steps']} | {s['minutes']:.0f} | {s['val_before']:.3f} | {s['val_after']:.3f} | "
                     f"{s['acc_before']:.3f} | {s['acc_after']:.3f} | {s['train_reward_last10']:.3f} | "
                     f"{s['len_first10']:.0f} / {s['len_last10']:.0f} ({s['len_std']:.1f}) | "
                     f"{s['turns_first10']:.2f} / {s['turns_last10']:.2f} ({s['turns_std']:.2f}) |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "grpo_vs_ttopd.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    evaluate.plot([os.path.join(ROOT, "runs", f"side_{name}") for name in spec],
                  os.path.join(RESULTS, "grpo_vs_ttopd.png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Learning demonstration: each GRPO variant from the same warm start, on CPU, same time budget.

  python benchmarks/learning_demo.py [--minutes 60] [--variants grpo dapo dr_grpo gspo] [--parallel]

Runs `python grpo.py configs/tiny.yaml algo.loss=V ...` once per variant with a wall-clock
budget, then reads each run's metrics.jsonl: validation reward (eval_tasks validation episodes)
before the first step and after the last one. That evaluation draws one fixed seed per task, so its noise (about
0.02) is shared by every run; after each run benchmarks/val_seeds.py evaluates the start and the final policy
under --seed-sets seed sets as well, and the table gives both changes. Each variant's newest result is kept in
benchmarks/results/learning_demo.json; learning_demo.md is the table of all of them.
"""
import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANT_OVERRIDES = {
    "grpo": [],
    "dapo": ["algo.clip_high=0.28", "algo.dynamic_sampling=true", "algo.overlong_buffer=96"],
    "dr_grpo": [],
    # The paper's 3e-4/4e-4 suits lr ~1e-6; at our lr one update moves |log s_i| by ~0.003, so that range
    # clips most sequences on pass 2 (benchmarks/gspo_clip_calibration.py measures it;
    # benchmarks/results/README.md explains).
    "gspo": ["algo.clip_low=0.0075", "algo.clip_high=0.01"],
}


def launch(variant, minutes, extra, threads):
    out = os.path.join(ROOT, "runs", f"demo_{variant}")
    chosen = [*VARIANT_OVERRIDES[variant], *extra]       # what differs between runs; the rest is the harness
    args = [sys.executable, os.path.join(ROOT, "grpo.py"), os.path.join(ROOT, "configs", "tiny.yaml"),
            f"algo.loss={variant}", "steps=100000", f"time_budget_min={minutes}", f"out_dir={out}",
            "checkpoint_every=0", "eval_every=0", *chosen]
    shutil.rmtree(out, ignore_errors=True)         # a fresh run (grpo.py refuses an out_dir that holds one)
    os.makedirs(out)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    log = open(os.path.join(out, "run.log"), "w")
    with open(os.path.join(out, "launch.json"), "w") as f:     # lets --collect tabulate a run after the fact
        json.dump({"started": time.time(), "threads": threads, "overrides": chosen}, f)
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), out


def evaluate_seed_sets(out, n_sets):
    """Start and final policy of a finished run under n_sets seed sets (benchmarks/val_seeds.py), because one
    100-episode evaluation moves by about 0.02 with the sampling seed: writes OUT/val_seeds.json."""
    launched = json.load(open(os.path.join(out, "launch.json")))
    start = json.load(open(os.path.join(out, "config.json")))["init_checkpoint"]
    args = [sys.executable, os.path.join(ROOT, "benchmarks", "val_seeds.py"), start, os.path.join(out, "final"),
            "--seeds", str(n_sets), "--out", os.path.join(out, "val_seeds.json"), *launched["overrides"]]
    subprocess.run(args, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True,   # 1 thread: the
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)                      # runs' own numerics


def finish(variant, proc, out, seed_sets):
    """Wait for a launched run; stop the demo if it failed, else score it under seed_sets seed sets."""
    if proc.wait():
        sys.exit(f"{variant} failed: see {out}/run.log")
    if seed_sets:
        evaluate_seed_sets(out, seed_sets)


def result(variant, out):
    metrics = os.path.join(out, "metrics.jsonl")
    rows = [json.loads(line) for line in open(metrics)]
    launched = json.load(open(os.path.join(out, "launch.json")))
    evals = [r for r in rows if "val_reward" in r]
    return {"variant": variant, "before": evals[0]["val_reward"], "after": evals[-1]["val_reward"],
            "acc_before": evals[0]["val_accuracy"], "acc_after": evals[-1]["val_accuracy"],
            "steps": max(r["step"] for r in rows), "minutes": (os.path.getmtime(metrics) - launched["started"]) / 60,
            "threads": launched["threads"], "command": " ".join(launched["overrides"]), **seed_set_result(out)}


def seed_set_result(out):
    path = os.path.join(out, "val_seeds.json")
    if not os.path.exists(path):
        return {}
    before, after = json.load(open(path))["rows"]
    return {"seed_sets": len(after["rewards"]), "before_sets": before["mean"], "after_sets": after["mean"]}


def table_line(v, r):
    sets = "- | - | -"
    if "seed_sets" in r:
        change = r["after_sets"] - r["before_sets"]
        sets = f"{r['before_sets']:.3f} | {r['after_sets']:.3f} | {change:+.3f} ({r['seed_sets']})"
    return (f"| {v} | {r['steps']} | {r['minutes']:.0f} | {r['threads']} | {r['before']:.3f} | {r['after']:.3f} | "
            f"{r['after'] - r['before']:+.3f} | {sets} | {r['acc_before']:.3f} | {r['acc_after']:.3f} | "
            f"`{r['command']}` |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--variants", nargs="+", default=list(VARIANT_OVERRIDES))
    ap.add_argument("--parallel", action="store_true", help="run the variants at once, 1 thread each")
    ap.add_argument("--collect", action="store_true",
                    help="launch nothing: tabulate the finished runs/demo_VARIANT directories")
    ap.add_argument("--seed-sets", type=int, default=5,
                    help="after each run, evaluate its start and final policy under this many seed sets (0: skip)")
    ap.add_argument("extra", nargs="*", help="further key=value overrides for every run")
    a = ap.parse_args()
    # `--variants gspo lr=2e-4` would swallow the overrides as variant names: they are overrides
    a.extra = [*a.extra, *[v for v in a.variants if "=" in v]]
    a.variants = [v for v in a.variants if "=" not in v]
    unknown = [v for v in a.variants if v not in VARIANT_OVERRIDES]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}: choose from {list(VARIANT_OVERRIDES)}")
    results = []
    if a.collect:
        results = [result(v, os.path.join(ROOT, "runs", f"demo_{v}")) for v in a.variants]
    elif a.parallel:
        procs = {v: launch(v, a.minutes, a.extra, 1) for v in a.variants}
        for v, (p, out) in procs.items():
            finish(v, p, out, a.seed_sets)
        results = [result(v, out) for v, (p, out) in procs.items()]
    else:
        for v in a.variants:
            p, out = launch(v, a.minutes, a.extra, 2)
            finish(v, p, out, a.seed_sets)
            results.append(result(v, out))
    path = os.path.join(ROOT, "benchmarks", "results", "learning_demo.json")
    for d in (os.path.dirname(path), os.path.join(ROOT, "runs")):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(ROOT, "runs", ".learning_demo.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # two demos finishing together must not drop each other's row
        table = json.load(open(path)) if os.path.exists(path) else {}
        table.update({r["variant"]: r for r in results})    # newest run wins
        with open(path, "w") as f:
            json.dump(table, f, indent=1)
        lines = ["| variant | steps | wall (min) | threads | val reward before | after | change | before, mean of "
                 "seed sets | after, mean of seed sets | change (sets) | val accuracy before | after | run |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [table_line(v, r) for v, r in table.items()]
        with open(os.path.join(ROOT, "benchmarks", "results", "learning_demo.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    main()

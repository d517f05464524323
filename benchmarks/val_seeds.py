"""Validation reward under several sampling seeds: how much of a learning-demo change is sampling noise.

  python benchmarks/val_seeds.py CHECKPOINT [CHECKPOINT ...] [--seeds 5] [--out FILE] [key=value ...]

grpo.py evaluates a policy with one sample per validation task, task i always seeded 10**6 + i, so every
evaluation of a run, and of every run at the same thread count, draws the same random numbers. That makes one
"before" number shared by all runs, and a lucky or unlucky draw of it shifts every "change" alike. This script
evaluates each checkpoint on the same eval_tasks validation tasks (configs/tiny.yaml unless overridden) under
--seeds seed sets (set k seeds task i with 10**6 + k * 10**5 + i; set 0 is grpo.py's own) and reports the mean
over the sets and the standard deviation of the per-set means, i.e. the noise of one grpo.py evaluation.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import agent  # noqa: E402
import config  # noqa: E402
import grpo  # noqa: E402
from distributed import fsdp  # noqa: E402


def seed_sets(cfg, checkpoint, n_sets, tasks, device):
    model, tok = agent.load_policy(cfg.model, checkpoint)
    model = model.to(device).eval()
    return [grpo.evaluate(cfg, model, tok, tasks, 0, 1, device, seed_base=10 ** 6 + k * 10 ** 5)
            for k in range(n_sets)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--config", default="configs/tiny.yaml")
    ap.add_argument("--out", default="", help="also write the results as JSON here")
    ap.add_argument("overrides", nargs="*", help="key.sub=value config overrides (e.g. rollout.top_p=1.0)")
    a = ap.parse_intermixed_args()
    a.overrides += [c for c in a.checkpoints if "=" in c]      # key=value words are overrides, not checkpoints
    a.checkpoints = [c for c in a.checkpoints if "=" not in c]
    cfg = config.load(a.config, config.Config, a.overrides)
    _, _, device = fsdp.setup_distributed()
    tasks = agent.validation_tasks(cfg.eval_split, cfg.eval_tasks)
    rows = []
    print("| checkpoint | seed sets | val reward: mean over sets | sd of one set | per set | val accuracy: mean |")
    print("|---|---|---|---|---|---|")
    for ck in a.checkpoints:
        t0 = time.time()
        sets = seed_sets(cfg, ck, a.seeds, tasks, device)
        r = [s["val_reward"] for s in sets]
        acc = [s["val_accuracy"] for s in sets]
        rows.append({"checkpoint": ck, "rewards": r, "accuracies": acc, "mean": statistics.mean(r),
                     "sd": statistics.stdev(r) if len(r) > 1 else 0.0, "acc_mean": statistics.mean(acc),
                     "tasks": len(tasks), "seconds": time.time() - t0})
        print(f"| {ck} | {len(r)} | {rows[-1]['mean']:.3f} | {rows[-1]['sd']:.3f} | "
              f"{' '.join(f'{x:.3f}' for x in r)} | {rows[-1]['acc_mean']:.3f} |", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"overrides": a.overrides, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

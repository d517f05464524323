"""How far does one update move GSPO's sequence ratio? Calibrates GSPO's clip range to a step size.

  python benchmarks/gspo_clip_calibration.py [--steps 4] [key=value ...]     (e.g. lr=1e-4)

Trains `configs/tiny.yaml` with algo.loss=gspo and one pass per batch. After each update it re-scores that
step's trajectories with the updated policy and reports quantiles of |log s_i|, where
log s_i = mean over the sequence's tokens of (new logp - sampling logp): GSPO's log-ratio on a second pass.
A clip range below most of these values clips most sequences on every pass after the first.
Writes benchmarks/results/gspo_clip_calibration.json.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import agent  # noqa: E402
import config  # noqa: E402
import grpo  # noqa: E402

QUANTILES = [0.5, 0.7, 0.8, 0.9]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    os.chdir(ROOT)
    shutil.rmtree("runs/gspo_clip_calibration", ignore_errors=True)     # a fresh run each time
    cfg = config.load("configs/tiny.yaml", config.Config, [
        "algo.loss=gspo", "algo.epochs=1", "rollout.top_p=1.0", f"steps={a.steps}", "eval_tasks=4", "eval_every=0",
        "checkpoint_every=0", "out_dir=runs/gspo_clip_calibration", *a.overrides])
    rows = []

    class Calibration(grpo.Extension):
        """After each step: how far the updated policy's sequence ratios moved on the batch it learned from."""
        def after_rollout(self, step, trajs):
            self.trajs = trajs
            return {}

        def after_step(self, step, policy):
            ids, attn, mask, old = grpo.pad_batch(self.trajs, 0, torch.device("cpu"))
            with torch.no_grad():
                new = agent.token_logprobs(policy, ids, attn, cfg.rollout.temperature)
            log_s = grpo.masked_mean(new - old, mask, 1)          # the log of loss_gspo's s_i
            q = np.quantile(log_s.abs().numpy(), QUANTILES)
            rows.append({"step": step, **{f"abs_log_s_q{int(p * 100)}": float(v) for p, v in zip(QUANTILES, q)}})
            print(json.dumps(rows[-1]), flush=True)
            return {}

    grpo.train(cfg, Calibration())
    out = os.path.join(ROOT, "benchmarks", "results", "gspo_clip_calibration.json")
    with open(out, "w") as f:
        json.dump({"lr": cfg.lr, "steps": rows}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

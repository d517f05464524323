"""env.step overhead: median wall time of one step, KB search excluded.

  python benchmarks/bench_env.py [--repeats 3]

Replays the scripted expert on every task of the bank (max_turns=5) and times each
env.step; steps whose calls hit the KB (search_*/browse_passage) are reported
separately, so the headline number is the env's own overhead: parsing, schema
validation, dispatch, bookkeeping and, at the end, the 5D reward.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import env  # noqa: E402
import kb  # noqa: E402
from clinic import bank  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    tasks = bank.load_tasks()
    e = env.MedicalEnv(tasks=tasks, kb=kb.default_kb(), max_turns=5)
    plain, search, resets = [], [], []
    for _ in range(a.repeats):
        for t in tasks:
            t0 = time.perf_counter()
            e.reset(options={"task_id": t["id"]})
            resets.append(time.perf_counter() - t0)
            for action in env.expert_actions(t, max_turns=5):
                t0 = time.perf_counter()
                e.step(action)
                dt = time.perf_counter() - t0
                (search if '"search_' in action or "browse_passage" in action else plain).append(dt)
    ms = lambda x, q: 1000 * float(np.percentile(x, q))  # noqa: E731
    res = {"steps": len(plain), "median_step_ms": ms(plain, 50), "p95_step_ms": ms(plain, 95),
           "median_step_with_kb_search_ms": ms(search, 50), "median_reset_ms": ms(resets, 50)}
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "env_step.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

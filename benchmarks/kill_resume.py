"""Kill and resume, at scale: GRPO and TT-OPD runs SIGKILLed at every named crash point (clinic/files.py) and at
random instants, each resumed once, compared with the uninterrupted run of the same config.

  python benchmarks/kill_resume.py [--code DIR] [--random N] [--named] [--nproc 2] [--out FILE.json]

For each killed run: did the resume finish (exit 0), are its final parameters bit-identical, are its
metrics.jsonl rows the uninterrupted run's (no duplicated, lost or torn row; timing fields aside), is its
trajectories.jsonl the same bytes. --random N kills N runs of each script at a uniformly drawn instant of
the uninterrupted run's wall time (works on any checkout, also one without crash points: --code DIR);
--named kills at each crash point (this checkout); --nproc 2 runs everything under torchrun with two ranks
(one run at a time then). Two runs at a time; tests/test_faults.py is the fast version that runs in the suite.
"""
import argparse
import concurrent.futures
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from torchrun import torchrun  # noqa: E402
CONFIG = """init_checkpoint: ""
eval_tasks: 2
rollout: {max_new_tokens: 10, max_turns: 2, batch_size: 4, max_total_tokens: 1024}
algo: {loss: dapo, group_size: 2, tasks_per_step: 2, clip_high: 0.28, kl_coef: KL}
steps: 6
lr: 0.01
warmup_steps: 2
weight_decay: 0.1
micro_batch: 1
checkpoint_every: 2
"""
NAMED = [f"{p}:{n}" for p in ("step.updated", "step.logged") for n in (1, 3, 5)] + \
    [f"{p}:{n}" for p in ("checkpoint.tensors_written", "checkpoint.record_opened", "checkpoint.record_written",
                          "checkpoint.committed") for n in (1, 2, 3)] + ["export.start"]
TIMING = ("step_time_s", "tokens_per_s")


def write_config(tmp, script, out_dir):
    path = os.path.join(tmp, os.path.basename(out_dir) + ".yaml")
    text = CONFIG.replace("KL", "0.05" if script == "grpo.py" else "0.0")
    if script == "ttopd.py":
        text += "distill: {ema_every: 1, hard_copy_every: 3}\n"
    with open(path, "w") as f:
        f.write(text + f"out_dir: {out_dir}\n")
    return path


NPROC = 1


def launch(code, script, cfg, *args, crash=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GYM_CRASH_AT", None)
    if crash:
        env["GYM_CRASH_AT"] = crash
    prefix = torchrun(NPROC) if NPROC > 1 else [sys.executable]
    return subprocess.Popen(prefix + [os.path.join(code, script), cfg, *args], cwd=code, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def rows(path):
    out = []
    for line in open(path):
        try:
            out.append({k: v for k, v in json.loads(line).items() if k not in TIMING})
        except ValueError:
            out.append("<torn line>")
    return out


def params(out_dir):
    from safetensors.torch import load_file
    path = os.path.join(out_dir, "final", "model.safetensors")
    return load_file(path) if os.path.exists(path) else None


def compare(full, cut, resumed_rc, stderr):
    a, b = params(full), params(cut)
    ra, rb = rows(os.path.join(full, "metrics.jsonl")), rows(os.path.join(cut, "metrics.jsonl"))
    ta = open(os.path.join(full, "trajectories.jsonl")).read()
    tb = open(os.path.join(cut, "trajectories.jsonl")).read() if os.path.exists(os.path.join(cut, "trajectories.jsonl")) \
        else ""
    return {"resumed": resumed_rc == 0, "bit_identical": b is not None and all((a[k] == b[k]).all() for k in a),
            "metrics_equal": ra == rb, "metrics_rows": [len(ra), len(rb)], "duplicated_rows": len(rb) > len(ra),
            "trajectories_equal": ta == tb, "error": "" if resumed_rc == 0 else stderr.strip()[-300:]}


def kill_once(code, tmp, script, full, name, crash=None, at_s=None):
    cut = os.path.join(tmp, name)
    cfg = write_config(tmp, script, cut)
    p = launch(code, script, cfg, crash=crash)
    if at_s is not None:
        time.sleep(at_s)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)       # the launcher and, under torchrun, its ranks
    p.communicate()
    killed = p.returncode != 0          # -9, or torchrun's exit after its ranks were killed
    r = launch(code, script, cfg, "resume=true")
    _, err = r.communicate()
    return {"script": script, "kill": crash or f"t={at_s:.1f}s", "killed": killed,
            **compare(full, cut, r.returncode, err)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", default=ROOT)
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--named", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nproc", type=int, default=1)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    global NPROC
    NPROC = a.nproc
    code, tmp, rng = os.path.abspath(a.code), tempfile.mkdtemp(prefix="kill_resume_"), random.Random(a.seed)
    refs = {}
    for script in ("grpo.py", "ttopd.py"):
        full = os.path.join(tmp, f"{script}_full")
        t0 = time.time()
        p = launch(code, script, write_config(tmp, script, full))
        assert p.wait() == 0, p.stderr.read()
        refs[script] = (full, time.time() - t0)
    jobs = []
    for script, (full, wall) in refs.items():
        jobs += [(script, full, f"{script}_{c}", c, None) for c in (NAMED if a.named else [])]
        jobs += [(script, full, f"{script}_r{k}", None, rng.uniform(0.5, wall)) for k in range(a.random)]
    with concurrent.futures.ThreadPoolExecutor(2 if NPROC == 1 else 1) as pool:
        results = list(pool.map(lambda j: kill_once(code, tmp, *j), jobs))
    for r in results:
        print(json.dumps(r))
    killed = [r for r in results if r["killed"]]
    summary = {"code": code, "nproc": NPROC, "runs": len(results), "killed": len(killed),
               **{k: sum(r[k] for r in killed) for k in ("resumed", "bit_identical", "metrics_equal",
                                                         "duplicated_rows", "trajectories_equal")},
               "reference_wall_s": {s: round(w, 1) for s, (_, w) in refs.items()}}
    print(json.dumps(summary))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()

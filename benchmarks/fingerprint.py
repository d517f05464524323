"""Behaviour fingerprint of a checkout: eight short CPU training runs and the generated data, hashed.

  python benchmarks/fingerprint.py [--code DIR] [--out FILE.json] [--compare OTHER.json]

A refactor that only moves code must leave every number alone. A short warm start (300 expert episodes, 4
epochs; its parameters are hashed too) is the policy of eight short runs (3 steps, one process) that cover the four GRPO losses, the reference KL, dynamic sampling, the overlong and length rewards,
epochs and minibatches, TT-OPD with its teacher, hints and turn KL, its guard and v31 re-engagement, the
plain, re-encoding, static and hybrid (recurrent) caches; each run's final parameters are hashed
(sha256 of every tensor's bytes, in name order) with its metrics rows (timing fields aside). The data files
(bank, KB passages, images) are hashed too. --compare prints what differs from an earlier fingerprint and exits 1
if anything does.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARM = ["warm_start.max_tasks=300", "warm_start.epochs=4", "warm_start.lr=0.003", "warm_start.hint_share=0.5"]
BASE = """init_checkpoint: WARM
eval_tasks: 2
eval_every: 3
rollout: {max_new_tokens: 64, max_turns: 3, batch_size: 4, max_total_tokens: 1536}
steps: 3
lr: 0.01
micro_batch: 2
checkpoint_every: 3
"""
RUNS = {   # name -> (script, config lines after BASE)
    "grpo_kl": ("grpo.py", "algo: {loss: grpo, group_size: 2, tasks_per_step: 2, kl_coef: 0.05}\n"),
    "dapo": ("grpo.py", "algo: {loss: dapo, group_size: 3, tasks_per_step: 2, clip_high: 0.28, "
                        "dynamic_sampling: true, overlong_buffer: 4, max_policy_tokens: 24}\n"),
    "dr_grpo": ("grpo.py", "algo: {loss: dr_grpo, group_size: 2, tasks_per_step: 2, length_reward: true, "
                           "epochs: 2, minibatches: 2}\n"),
    "gspo": ("grpo.py", "algo: {loss: gspo, group_size: 2, tasks_per_step: 2, clip_low: 0.0003, "
                        "clip_high: 0.0004, epochs: 2}\n"),
    "ttopd": ("ttopd.py", "algo: {loss: grpo, group_size: 2, tasks_per_step: 2}\n"
                          "distill: {lam: 4.0, ema_every: 1, hard_copy_every: 2}\n"),
    "ttopd_v31": ("ttopd.py", "algo: {loss: grpo, group_size: 2, tasks_per_step: 2}\n"
                              "distill: {kl_max: 0.001, reengage: true, reengage_kl: 0.5, hints: generic}\n"
                              "rollout: {max_new_tokens: 64, max_turns: 3, batch_size: 4, "
                              "max_total_tokens: 1536, reuse_cache: false}\n"),
    "static_cache": ("grpo.py", "algo: {loss: grpo, group_size: 2, tasks_per_step: 2}\n"
                                "rollout: {max_new_tokens: 64, max_turns: 3, batch_size: 4, "
                                "max_total_tokens: 1536, static_cache: true}\n"),
    "hybrid": ("grpo.py", "algo: {loss: grpo, group_size: 2, tasks_per_step: 2}\nmodel: {path: HYBRID}\n"),
}
DATA = ["data/tasks.jsonl", "data/kb_passages.jsonl", "data/images"]
TIMING = ("time", "wall", "_s", "sec")


def sha_of_files(path):
    h = hashlib.sha256()
    paths = [path] if os.path.isfile(path) else sorted(
        os.path.join(d, n) for d, _, names in os.walk(path) for n in names)
    for p in paths:
        h.update(os.path.relpath(p, path).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def params_sha(out_dir, name=os.path.join("final", "model.safetensors")):
    from safetensors.torch import load_file
    h = hashlib.sha256()
    for name, t in sorted(load_file(os.path.join(out_dir, name)).items()):
        h.update(name.encode())
        h.update(t.contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
    return h.hexdigest()


def metrics_rows(out_dir):
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)} for r in rows]


def warm_start(code, tmp):
    out = os.path.join(tmp, "warm")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}
    p = subprocess.run([sys.executable, os.path.join(code, "warmstart.py"), os.path.join(code, "configs", "tiny.yaml"),
                        f"warm_start.out_dir={out}", *WARM], cwd=code, env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"error: the warm start failed: {p.stderr.strip().splitlines()[-1:]}")
    return out


def one_run(code, name, tmp, warm):
    script, extra = RUNS[name]
    d = os.path.join(tmp, name)
    os.makedirs(d)
    cfg_path = os.path.join(d, "cfg.yaml")
    lines = BASE.replace("WARM", warm) + extra
    if "rollout:" in extra:          # the run's own rollout line replaces the base one
        lines = "\n".join(x for x in lines.splitlines() if not x.startswith("rollout:") or x in extra) + "\n"
    if "HYBRID" in lines:
        sys.path[:0] = [code, os.path.join(code, "tests")]
        from tiny_models import make_tiny_hybrid
        lines = lines.replace("HYBRID", make_tiny_hybrid(os.path.join(d, "hybrid"))).replace(warm, '""')
    with open(cfg_path, "w") as f:
        f.write(lines + f"out_dir: {os.path.join(d, 'run')}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    p = subprocess.run([sys.executable, os.path.join(code, script), cfg_path], cwd=code, env=env,
                       capture_output=True, text=True, timeout=1200)
    if p.returncode:
        return {"error": p.stderr.strip().splitlines()[-1:]}
    out = os.path.join(d, "run")
    return {"params": params_sha(out), "metrics": metrics_rows(out)}


def fingerprint(code):
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(2) as pool:
        warm = warm_start(code, tmp)
        futures = {n: pool.submit(one_run, code, n, tmp, warm) for n in RUNS}
        runs = {n: f.result() for n, f in futures.items()}
        runs["warm_start"] = {"params": params_sha(warm, "model.safetensors")}
    return {"runs": runs, "data": {p: sha_of_files(os.path.join(code, p)) for p in DATA}}


def differences(a, b):
    out = [f"data {p}" for p in a["data"] if a["data"][p] != b["data"].get(p)]
    for n, r in a["runs"].items():
        s = b["runs"].get(n, {})
        out += [f"{n}: {k}" for k in ("error", "params", "metrics") if r.get(k) != s.get(k)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", default=ROOT, help="checkout to fingerprint")
    ap.add_argument("--out", default="")
    ap.add_argument("--compare", default="", help="an earlier fingerprint's JSON")
    a = ap.parse_args()
    fp = fingerprint(os.path.abspath(a.code))
    for n, r in fp["runs"].items():
        print(f"{n:15s} {r.get('params', r.get('error'))}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(fp, f, indent=1)
    if a.compare:
        with open(a.compare) as f:
            diff = differences(json.load(f), fp)
        print("identical" if not diff else "DIFFERENT: " + ", ".join(diff))
        sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()

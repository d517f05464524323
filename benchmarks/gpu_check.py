"""GPU path check on one CUDA device: NCCL, FSDP2 with bf16 compute, checkpoint and resume, TT-OPD, throughput.

  python benchmarks/gpu_check.py [--out runs/gpu_check]        # a machine with a GPU; ~10 min on one H100
  python benchmarks/gpu_check.py --device cpu --quick          # the same harness on CPU (a smoke test)

CI has no GPU, so this runs by hand when one is at hand. Each check launches a real entry point
(grpo.py or ttopd.py, plain python or torchrun) with model.device=cuda and model.dtype=bfloat16 (the
rollout copy in bf16; FSDP2 keeps fp32 master weights and computes in bf16) and reads its metrics.jsonl:
  grpo_python    GRPO steps of the embedded default from the warm start, one process (NCCL, world of 1)
  grpo_torchrun  the same through torchrun --nproc_per_node=1
  resume         the same run SIGKILLed after its step-2 checkpoint and resumed: the largest parameter
                 difference at the last step against the uninterrupted run (0.0 = bit-exact here)
  ttopd          TT-OPD steps with an EMA teacher update every step and a hard copy at step 3
  qwen3_0.6b     GRPO steps of a randomly initialised model of Qwen3-0.6B's shape with the project
                 tokenizer (configs/qwen3_0.6b_shape.json), activation checkpointing on
Writes OUT/gpu_check.json: per check the return code, wall time, step time, policy tokens per second,
loss, peak GPU memory (GiB), and the log's tail when it failed.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from torchrun import torchrun  # noqa: E402


def launch(a, name, script, cfg, extra, nproc=None, fresh=True):
    out = os.path.join(a.out, name)
    if fresh:            # a stale metrics.jsonl or checkpoint would be read (or resumed) as this run's
        shutil.rmtree(out, ignore_errors=True)
    dtype = "bfloat16" if a.device == "cuda" else "float32"
    args = [os.path.join(ROOT, script), os.path.join(ROOT, "configs", cfg), f"out_dir={out}",
            f"model.device={a.device}", f"model.dtype={dtype}", "save_trajectories=false", "eval_every=0",
            f"eval_tasks={a.eval_tasks}", *extra]
    cmd = (torchrun(nproc) if nproc else [sys.executable]) + args
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    os.makedirs(out, exist_ok=True)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(os.path.join(out, "run.log"), "w"),
                            stderr=subprocess.STDOUT), out


def summarise(out, rc, t0):
    res = {"rc": rc, "wall_s": round(time.time() - t0, 1)}
    path = os.path.join(out, "metrics.jsonl")
    rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    steps = [r for r in rows if "loss" in r]
    if steps:
        later = steps[1:] or steps       # the first step pays CUDA's warm-up
        res.update(steps=steps[-1]["step"], loss=[round(r["loss"], 5) for r in steps],
                   step_time_s=round(sum(r["step_time_s"] for r in later) / len(later), 2),
                   tokens_per_s=round(sum(r["tokens_per_s"] for r in later) / len(later), 1),
                   gpu_mem_gb=round(max(r.get("gpu_mem_gb", 0.0) for r in steps), 2),
                   reward=round(steps[-1]["reward"], 3))
    if rc:
        res["log_tail"] = open(os.path.join(out, "run.log")).read()[-2000:]
    return res


def run(a, name, script, cfg, extra, nproc=None, fresh=True):
    t0 = time.time()
    p, out = launch(a, name, script, cfg, extra, nproc, fresh)
    try:
        rc = p.wait(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "timeout"
    return summarise(out, rc, t0)


def max_param_diff(dir_a, dir_b):
    from safetensors.torch import load_file
    x = load_file(os.path.join(dir_a, "final", "model.safetensors"))
    y = load_file(os.path.join(dir_b, "final", "model.safetensors"))
    return max((x[k].float() - y[k].float()).abs().max().item() for k in x)


def check_resume(a, base):
    """Kill after the step-2 checkpoint, resume, compare with grpo_python (same config, same seed)."""
    t0 = time.time()
    extra = [*base, "checkpoint_every=1"]
    p, out = launch(a, "resume", "grpo.py", "tiny.yaml", extra)
    marker = os.path.join(out, "checkpoints", "step_000002")      # committed by its rename
    while not os.path.exists(marker) and p.poll() is None and time.time() - t0 < a.timeout:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    res = run(a, "resume", "grpo.py", "tiny.yaml", [*extra, "resume=true"], fresh=False)
    res["killed_after_step_2"] = os.path.exists(marker)
    if res["rc"] == 0:
        res["max_param_diff_vs_uninterrupted"] = max_param_diff(out, os.path.join(a.out, "grpo_python"))
    return res


def environment():
    import torch
    import transformers
    info = {"torch": torch.__version__, "transformers": transformers.__version__}
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(), nccl=".".join(map(str, torch.cuda.nccl.version())))
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "gpu_check"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="fewer steps and tokens (CPU smoke test)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds per check")
    ap.add_argument("--only", nargs="*", help="run just these checks")
    a = ap.parse_args()
    a.eval_tasks = 4 if a.quick else 16
    steps = 3 if a.quick else 4
    # KL: the reference is sharded too; 2 passes: the second is off-policy, so ratios and clipping act
    base = [f"steps={steps}", "checkpoint_every=0", "algo.kl_coef=0.04", "algo.epochs=2"]
    big = ["model.tiny_config=configs/qwen3_0.6b_shape.json", "init_checkpoint=", "activation_checkpointing=true",
           "steps=2", "rollout.max_turns=2", f"rollout.max_new_tokens={16 if a.quick else 256}", "micro_batch=4",
           *(["algo.tasks_per_step=2", "algo.group_size=2"] if a.quick else [])]
    checks = {
        "grpo_python": lambda: run(a, "grpo_python", "grpo.py", "tiny.yaml", base),
        "grpo_torchrun": lambda: run(a, "grpo_torchrun", "grpo.py", "tiny.yaml", base, nproc=1),
        "resume": lambda: check_resume(a, base),
        "ttopd": lambda: run(a, "ttopd", "ttopd.py", "ttopd_tiny.yaml",
                             [*base[:2], "distill.ema_every=1", "distill.hard_copy_every=3",
                              "distill.schedule_steps=0"]),
        "qwen3_0.6b": lambda: run(a, "qwen3_0.6b", "grpo.py", "tiny.yaml", [*big, "checkpoint_every=0"]),
    }
    result = {"environment": environment(), "device": a.device}
    print("environment", json.dumps(result["environment"]), flush=True)
    os.makedirs(a.out, exist_ok=True)
    for name, fn in checks.items():
        if a.only and name not in a.only:
            continue
        result[name] = fn()
        print(name, json.dumps(result[name]), flush=True)
        with open(os.path.join(a.out, "gpu_check.json"), "w") as f:     # after each check: a cut-off run keeps the rest
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

"""Training throughput of grpo.py against TRL's GRPOTrainer, single-turn tasks, same model and batch.

  pip install trl            # benchmark-only extra; never imported by the project's modules
  python benchmarks/bench_trl.py [--steps 12] [--threads 2] [--checkpoint checkpoints/warmstart]

Both trainers start from the same checkpoint and do the same work per step: 8 training tasks x 4
samples (32 completions), one assistant turn of at most 96 tokens (temperature 1.0, top-p 0.9),
the env's 5D reward on that turn (MedicalEnv with max_turns=1), group-relative advantages, one
AdamW step at lr 1e-4 with no reference model (beta 0), on CPU with the same torch thread count.
They run one after the other, not at once. Throughput = policy (completion) tokens sampled per
second of wall-clock step time (generation + reward + update), the median over the steps after
the first two. grpo.py's number is its own `tokens_per_s` metric; TRL's is timed by a callback
around each optimiser step, with tokens counted from the completion ids its reward function
receives. Writes benchmarks/results/trl_throughput.json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
TASKS, GROUP, MAX_NEW = 8, 4, 96


def run_grpo(a):
    out = os.path.join(ROOT, "runs", "bench_trl_grpo")
    shutil.rmtree(out, ignore_errors=True)         # a fresh run (grpo.py refuses an out_dir that holds one)
    args = [sys.executable, os.path.join(ROOT, "grpo.py"), os.path.join(ROOT, "configs", "tiny.yaml"),
            f"steps={a.steps}", f"out_dir={out}", "rollout.max_turns=1", f"rollout.max_new_tokens={MAX_NEW}",
            f"algo.tasks_per_step={TASKS}", f"algo.group_size={GROUP}", "algo.kl_coef=0", "lr=0.0001",
            "warmup_steps=0", "eval_tasks=8", "eval_every=0", "checkpoint_every=0", "save_trajectories=false",
            f"init_checkpoint={a.checkpoint}", f"micro_batch={TASKS * GROUP}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    rows = [r for r in rows if "tokens_per_s" in r]
    return {"tokens_per_s": float(np.median([r["tokens_per_s"] for r in rows[2:]])),
            "step_time_s": float(np.median([r["step_time_s"] for r in rows[2:]])),
            "tokens_per_step": float(np.median([r["response_tokens"] * TASKS * GROUP for r in rows[2:]])),
            "steps": len(rows)}


def run_trl(a):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    import env as envmod
    from clinic import bank
    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, a.checkpoint))
    model = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, a.checkpoint), dtype=torch.float32)
    tasks = bank.by_id(bank.load_tasks(split="train"))
    rows = []
    for t in tasks.values():
        info = envmod.MedicalEnv(tasks=[t], tool_specs="none").reset(seed=0)[1]
        rows.append({"prompt": [{"role": "system", "content": info["system"]},
                                {"role": "user", "content": info["user"]}], "task_id": t["id"]})
    counted = []

    def env_reward(prompts, completions, completion_ids, task_id, **kw):
        out = []
        for ids, tid in zip(completion_ids, task_id):
            e = envmod.MedicalEnv(tasks=[tasks[tid]], max_turns=1, tool_specs="none")
            e.reset(seed=0)
            out.append(e.step(tok.decode(ids, skip_special_tokens=False).replace("<|im_end|>", ""))[1])
            counted.append(len(ids))
        return out

    class Timer(TrainerCallback):
        def __init__(self):
            self.t, self.steps = None, []

        def on_step_begin(self, args, state, control, **kw):
            self.t, self.n0 = time.time(), len(counted)

        def on_step_end(self, args, state, control, **kw):
            self.steps.append((time.time() - self.t, sum(counted[self.n0:])))

    cfg = GRPOConfig(output_dir=os.path.join(ROOT, "runs", "bench_trl_trl"), use_cpu=True, bf16=False,
                     per_device_train_batch_size=TASKS * GROUP, num_generations=GROUP, gradient_accumulation_steps=1,
                     steps_per_generation=1, num_iterations=1, max_completion_length=MAX_NEW, temperature=1.0,
                     top_p=0.9, beta=0.0, loss_type="grpo", learning_rate=1e-4, lr_scheduler_type="constant",
                     warmup_steps=0, max_steps=a.steps, logging_steps=1, report_to="none", save_strategy="no",
                     seed=0, disable_dropout=True)
    timer = Timer()
    trainer = GRPOTrainer(model=model, reward_funcs=env_reward, args=cfg, train_dataset=Dataset.from_list(rows),
                          processing_class=tok, callbacks=[timer])
    trainer.train()
    steps = timer.steps[2:]
    return {"tokens_per_s": float(np.median([n / dt for dt, n in steps])),
            "step_time_s": float(np.median([dt for dt, _ in steps])),
            "tokens_per_step": float(np.median([n for _, n in steps])), "steps": len(timer.steps)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", default="checkpoints/warmstart")
    a = ap.parse_args()
    import trl
    res = {"grpo.py": run_grpo(a), "trl.GRPOTrainer": run_trl(a), "trl_version": trl.__version__,
           "threads": a.threads, "tasks_per_step": TASKS, "group_size": GROUP, "max_new_tokens": MAX_NEW}
    res["speedup"] = res["grpo.py"]["tokens_per_s"] / res["trl.GRPOTrainer"]["tokens_per_s"]
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "trl_throughput.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

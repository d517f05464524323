"""Rollout throughput: the cached loop vs re-encoding each turn vs transformers generate().

  python benchmarks/bench_rollout.py [--episodes 48] [--checkpoint checkpoints/warmstart]

Same model, same episodes, same sampling settings (configs/tiny.yaml). Policy tokens per
second = tokens the policy sampled / wall time of the whole rollout (env steps included).
  cached     agent.rollout: the KV cache lives across turns; only new observation tokens are prefilled
  recompute  agent.rollout(reuse_cache=False): the whole conversation is re-encoded at every turn
  generate   model.generate() once per turn on the left-padded full conversation
  static     agent.rollout(static_cache=True): a preallocated cache, fixed decode shapes
  compiled   static + compile=True: the decode step through torch.compile(mode="reduce-overhead") (CUDA graphs on a
             GPU); its first episodes include the compilation
--modes picks some (a mode named twice is timed twice: `compiled compiled` times it again once compiled);
--model-config JSON and --config overrides run a random model of another shape (no checkpoint).
"""
import argparse
import dataclasses
import json
import os
import random
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import agent  # noqa: E402
import config  # noqa: E402
import env as envmod  # noqa: E402
from clinic import bank  # noqa: E402


@torch.no_grad()
def rollout_generate(model, tok, tasks, rcfg, seed):
    """Baseline: one generate() call per turn over the full conversations; returns policy tokens."""
    torch.manual_seed(seed)
    end_id, pad_id = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id
    n_policy = 0
    for start in range(0, len(tasks), rcfg.batch_size):
        chunk = tasks[start:start + rcfg.batch_size]
        envs = [envmod.MedicalEnv(tasks=[t], max_turns=rcfg.max_turns, tool_specs="none") for t in chunk]
        convs = [agent.prompt_ids(tok, e.reset(seed=seed)[1], rcfg.tool_specs) for e in envs]
        live = list(range(len(chunk)))
        while live:
            width = max(len(convs[i]) for i in live)
            device = next(model.parameters()).device
            ids = torch.tensor([[pad_id] * (width - len(convs[i])) + convs[i] for i in live], device=device)
            mask = torch.tensor([[0] * (width - len(convs[i])) + [1] * len(convs[i]) for i in live], device=device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=rcfg.max_new_tokens,
                                 do_sample=True, temperature=rcfg.temperature, top_p=rcfg.top_p, top_k=0,
                                 eos_token_id=end_id, pad_token_id=pad_id)
            still = []
            for r, i in enumerate(live):
                new = out[r, width:].tolist()
                turn = new[:new.index(end_id) + 1] if end_id in new else new
                n_policy += len(turn)
                obs, rew, term, trunc, info = envs[i].step(agent.turn_text(tok, turn))
                nxt = agent.observation_ids(tok, info["tool_messages"], rcfg.tool_response_tokens,
                                            close_turn=not turn or turn[-1] != end_id)
                convs[i] = convs[i] + turn + nxt
                if not (term or trunc or len(convs[i]) + rcfg.max_new_tokens > rcfg.max_total_tokens):
                    still.append(i)
            live = still
    return n_policy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "tiny.yaml"))
    ap.add_argument("--checkpoint", default=os.path.join(ROOT, "checkpoints", "warmstart"))
    ap.add_argument("--episodes", type=int, default=48)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "rollout_throughput.json"))
    ap.add_argument("--modes", nargs="+", default=["cached", "recompute", "generate"])
    ap.add_argument("--model-config", default="", help="a shape JSON for model.tiny_config (random weights)")
    ap.add_argument("--bandwidth-gbs", type=float, default=0.0, help="the device's memory bandwidth (H100 SXM: 3350): "
                    "also report tokens/s as a share of the decode bound, batch rows x bandwidth / weight bytes")
    ap.add_argument("--profile", action="store_true", help="then profile one short rollout of the last mode "
                    "(1 turn of 32 tokens, same shapes) and write its op table to OUT with .profile.txt")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_intermixed_args()
    cfg = config.load(a.config, config.Config, a.overrides, ignore_sections=True)
    if a.model_config:
        cfg.model.tiny_config, a.checkpoint = a.model_config, ""
    cfg.model.device, cfg.model.dtype = a.device, a.dtype
    ck = a.checkpoint if os.path.isdir(a.checkpoint) else None
    model, tok = agent.load_policy(cfg.model, ck)
    model.eval()
    tasks = random.Random(0).sample(bank.load_tasks(split="validation"), a.episodes)
    res = {"checkpoint": ck or "random init", "episodes": a.episodes, "device": a.device, "dtype": a.dtype,
           "threads": torch.get_num_threads()}
    def policy_tokens(**change):
        rcfg = dataclasses.replace(cfg.rollout, **change)
        return sum(sum(t.mask) for t in agent.rollout(model, tok, tasks, rcfg, 0, progress=False))
    modes = {"cached": lambda **kw: policy_tokens(**kw),
             "recompute": lambda **kw: policy_tokens(reuse_cache=False, **kw),
             "generate": lambda **kw: rollout_generate(model, tok, tasks, dataclasses.replace(cfg.rollout, **kw), 0),
             "static": lambda **kw: policy_tokens(static_cache=True, **kw),
             "compiled": lambda **kw: policy_tokens(static_cache=True, compile=True, **kw)}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    for i, (mode, fn) in enumerate([(m, modes[m]) for m in a.modes]):
        name = mode if mode not in res else f"{mode}_{i}"     # a repeated mode: e.g. compiled once warm
        t = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t
        res[name] = {"policy_tokens": n, "seconds": dt, "tokens_per_s": n / dt}
        if a.bandwidth_gbs:      # each decode step reads every weight once for the whole batch
            weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
            bound = min(cfg.rollout.batch_size, len(tasks)) * a.bandwidth_gbs * 1e9 / weight_bytes
            res[name]["share_of_bandwidth_bound"] = n / dt / bound
        print(f"{name:10s} {n:6d} tokens {dt:7.1f} s {n / dt:8.1f} tok/s", flush=True)
        with open(a.out, "w") as f:      # after every mode, so a run cut off by a time limit keeps what it measured
            json.dump(res, f, indent=1)
    if a.profile:
        profile(lambda: modes[a.modes[-1]](max_turns=1, max_new_tokens=32), a.out.replace(".json", "") + ".profile.txt")


def profile(fn, path):
    """torch.profiler over fn(): the ops by CPU time and by device time, and the host syncs (cudaStreamSynchronize,
    cudaMemcpy) that stall the loop."""
    from torch.profiler import ProfilerActivity, profile as prof
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with prof(activities=acts) as p:
        n = fn()
    avg = p.key_averages()
    with open(path, "w") as f:
        f.write(f"policy tokens {n}\n")
        f.write(avg.table(sort_by="self_cpu_time_total", row_limit=40) + "\n")
        if torch.cuda.is_available():
            f.write(avg.table(sort_by="self_cuda_time_total", row_limit=25) + "\n")
    print(open(path).read()[:6000], flush=True)


if __name__ == "__main__":
    main()

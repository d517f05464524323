"""Peak extra memory of the rollout-copy weight sync on 2 CPU ranks, for a 168M-parameter Qwen3 shape.

  python -m torch.distributed.run --nproc_per_node=2 benchmarks/sync_memory.py

The policy is sharded by FSDP2 over the 2 ranks and each rank holds a full fp32 rollout copy (as grpo.py does).
Measured per rank: the resident-memory peak during the sync above the memory just before it (a thread samples
/proc/self/statm every 0.5 ms), for fsdp.sync_weights (one parameter at a time) and for the full-state gather it
replaced (get_model_state_dict(full_state_dict=True) + load_state_dict). Writes
benchmarks/results/sync_memory.json (rank 0).
"""
import json
import os
import sys
import threading
import time

import torch
import torch.distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from distributed import fsdp  # noqa: E402


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_during(fn):
    """(peak resident MB above the start, seconds) while fn runs."""
    start, peak, done = rss_mb(), [0.0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.0005)
    t = threading.Thread(target=watch)
    t.start()
    t0 = time.time()
    fn()
    dt = time.time() - t0
    done.set()
    t.join()
    return round(max(peak[0], rss_mb()) - start, 1), round(dt, 2)


def main():
    from transformers import Qwen3Config, Qwen3ForCausalLM
    rank, world, device = fsdp.setup_distributed()
    mcfg = Qwen3Config(vocab_size=151936, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                       num_attention_heads=8, num_key_value_heads=4, head_dim=64, tie_word_embeddings=False)
    torch.manual_seed(0)
    policy = fsdp.shard(Qwen3ForCausalLM(mcfg), device, False, False)
    rollout = Qwen3ForCausalLM(mcfg).eval()
    n_params = sum(p.numel() for p in rollout.parameters())
    largest_mb = max(p.numel() * p.element_size() for p in rollout.parameters()) / 2**20
    out = {"params": n_params, "largest_param_mb": round(largest_mb, 1), "world": world}
    dist.barrier()
    out["sync_weights"] = peak_during(lambda: fsdp.sync_weights(policy, rollout))
    dist.barrier()
    out["full_state_gather"] = peak_during(lambda: rollout.load_state_dict(fsdp.full_state(policy)))
    dist.barrier()
    if rank == 0:
        out["sync_weights_peak_over_largest_param"] = round(out["sync_weights"][0] / largest_mb, 2)
        print(json.dumps(out))
        with open(os.path.join(ROOT, "benchmarks", "results", "sync_memory.json"), "w") as f:
            json.dump(out, f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Memory of one training step's loss head on CPU: a 1-layer, 64-wide Qwen3 with Qwen3's 151,936-token vocabulary.

  python benchmarks/head_memory.py [--tokens 1024 2048 4096 8192] [--chunk 128]

Each measurement runs in its own process: build the model (one FSDP2 rank, gloo), take one warm-up step on a short
episode (AdamW's state and the gradients now exist), then one GRPO step (grpo.train_step) or one TT-OPD step (the
same with ttopd.TTOPD's distillation term against an FSDP teacher) on a single T-token episode, and report the
process's peak resident memory above its resident memory just before that step. `--chunk 0` applies the head to
all of the episode's tokens in one chunk, which is what the loss head cost before it was chunked (the full [T, V]
tensors and their gradients). Writes benchmarks/results/head_memory.json.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 151936


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(mode, n_tokens, chunk):
    """In this process: the peak memory (MB) of one step on an n_tokens episode above the memory before it."""
    sys.path.insert(0, ROOT)
    import types
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM
    import agent
    import config
    import grpo
    from distributed import fsdp
    import ttopd
    torch.manual_seed(0)
    rank, world, device = fsdp.setup_distributed()
    mcfg = Qwen3Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=16384,
                       tie_word_embeddings=False, pad_token_id=0)
    model = Qwen3ForCausalLM(mcfg)
    cfg = config.load(os.path.join(ROOT, "configs", "ttopd_tiny.yaml"), ttopd.TTOPDConfig,
                      [f"head_chunk={chunk or n_tokens}", "micro_batch=1", "distill.kl_max=100",
                       "distill.lam=1.0"])
    tok = types.SimpleNamespace(pad_token_id=0)
    ext = ttopd.TTOPD(cfg) if mode == "ttopd" else None      # hints: extras["hint_ids"] below
    if ext:
        teacher = Qwen3ForCausalLM(mcfg)
        teacher.load_state_dict(model.state_dict())
        teacher = fsdp.shard(teacher.requires_grad_(False), device, False, False)
    policy = fsdp.shard(model, device, False, False)
    if ext:
        ext.setup(cfg, policy, tok, device, teacher=teacher)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)

    def episode(n):        # a 64-token prompt, then turns of policy tokens with short observations between
        tr = agent.Trajectory.start({"id": "t", "domain": "d"}, torch.randint(10, VOCAB, (64,), generator=g).tolist())
        while len(tr.ids) < n:
            k = min(256, n - len(tr.ids))
            tr.add_turn(torch.randint(10, VOCAB, (k,), generator=g).tolist(), [-1.0] * k)
            if len(tr.ids) + 16 < n:
                tr.add_context(torch.randint(10, VOCAB, (16,), generator=g).tolist())
        tr.extras["hint_ids"] = torch.randint(10, VOCAB, (40,), generator=g).tolist()   # a redirection's size
        return tr

    adv = torch.tensor([1.0])
    grpo.train_step(cfg, policy, None, optimizer, [episode(128)], adv, tok, device, ext)    # warm-up
    before = rss_mb()
    grpo.train_step(cfg, policy, None, optimizer, [episode(n_tokens)], adv, tok, device, ext)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "tokens": n_tokens, "chunk": chunk, "peak_above_mb": round(peak - before, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--chunk", type=int, default=128)
    ap.add_argument("--modes", nargs="+", default=["grpo", "ttopd"])
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "head_memory.json"))
    a = ap.parse_args()
    if a.one:
        return print(json.dumps(one(a.one[0], int(a.one[1]), int(a.one[2]))))
    rows = []
    for mode in a.modes:
        for n in a.tokens:
            r = subprocess.run([sys.executable, __file__, "--one", mode, str(n), str(a.chunk)], capture_output=True,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else
                        {"mode": mode, "tokens": n, "chunk": a.chunk, "error": r.stderr[-500:]})
            print(json.dumps(rows[-1]), flush=True)
    with open(a.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

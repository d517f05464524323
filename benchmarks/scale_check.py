"""Memory planner: each rank's GPU memory for a training config, term by term, and whether it fits.

  python benchmarks/scale_check.py configs/ttopd.yaml                      # Qwen3.5-9B text shape, 8 x 80 GB
  python benchmarks/scale_check.py configs/grpo.yaml --model configs/qwen3_8b.json --gpus 8 --gpu-gib 79.19

The model is built on the `meta` device from its config JSON (no weights), so parameter counts are exact: the
whole model, the largest decoder layer (one FSDP unit) and the root unit (embeddings, final norm, output head).
The terms follow what grpo.py and ttopd.py hold on each rank:
  fp32 shards of the policy, its gradients and AdamW's two moments (1/W each); the frozen reference and the TT-OPD
  teacher as fp32 shards; the full-weight rollout copy in model.dtype; during the update the root unit gathered in
  bf16 for the whole forward and backward (the policy's, and the teacher's, whose head the chunked KL recomputes in
  the student's backward; the reference is resharded right after its forward) and two decoder layers gathered at a
  time (prefetch) with their unsharded gradients; activations with activation checkpointing (each layer's input
  kept, one layer recomputed at a time); the chunked loss head; the rollout's KV cache (full-attention layers) and
  recurrent state (linear-attention layers) for the episodes a rank rolls out at once, and its sampling buffers;
  the CUDA context and a margin for the allocator's fragmentation.
Sequence length is rollout.max_total_tokens (the longest conversation a rank can train on). Prints a table and a
verdict; --json writes the numbers.
"""
import argparse
import dataclasses
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import config  # noqa: E402

GIB = 2 ** 30
CUDA_CONTEXT_GIB = 2.5         # CUDA/NCCL context and workspaces, measured order of magnitude on an H100
FRAGMENTATION = 0.10           # the caching allocator's unusable share


def model_shape(path, vocab):
    """Parameter counts and the dimensions the budget needs, from a config JSON, via a meta-device model."""
    import torch
    import transformers
    spec = {k: v for k, v in json.load(open(path)).items() if not k.startswith("_")}
    spec.setdefault("model_type", "qwen3")
    spec.setdefault("vocab_size", vocab)
    cfg = transformers.AutoConfig.for_model(**spec)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    total = sum(p.numel() for p in model.parameters())
    layers = model.model.layers
    largest_layer = max(sum(p.numel() for p in layer.parameters()) for layer in layers)
    root = total - sum(p.numel() for layer in layers for p in layer.parameters())
    types = getattr(cfg, "layer_types", None) or ["full_attention"] * cfg.num_hidden_layers
    n_full = sum(t == "full_attention" for t in types)
    n_linear = len(types) - n_full
    kv_per_token = n_full * 2 * cfg.num_key_value_heads * cfg.head_dim * 2          # bf16 K and V
    state_per_row = 0
    if n_linear:      # gated delta-net: a [value heads, key dim, value dim] fp32 state and a short conv window
        conv_dim = 2 * cfg.linear_num_key_heads * cfg.linear_key_head_dim + \
            cfg.linear_num_value_heads * cfg.linear_value_head_dim
        state_per_row = n_linear * (cfg.linear_num_value_heads * cfg.linear_key_head_dim *
                                    cfg.linear_value_head_dim * 4 + conv_dim * cfg.linear_conv_kernel_dim * 2)
    return {"params": total, "largest_layer": largest_layer, "root": root, "layers": len(layers),
            "hidden": cfg.hidden_size, "intermediate": cfg.intermediate_size, "vocab": cfg.vocab_size,
            "kv_bytes_per_token": kv_per_token, "state_bytes_per_row": state_per_row, "type": type(model).__name__}


def budget(cfg, m, world, ttopd):
    """(term, bytes, why) for one rank."""
    P, W, T = m["params"], world, cfg.rollout.max_total_tokens
    rows = min(cfg.rollout.batch_size, cfg.algo.tasks_per_step * cfg.algo.group_size // W)
    rollout_bytes = {"float32": 4, "bfloat16": 2}[cfg.model.dtype]
    mb, H, V, C = cfg.micro_batch, m["hidden"], m["vocab"], cfg.head_chunk
    gathered_roots = 1 + ttopd          # the reference's root is resharded right after its forward
    act_saved = m["layers"] * mb * T * H * 2 if cfg.activation_checkpointing else \
        m["layers"] * mb * T * (10 * H + 3 * m["intermediate"]) * 2
    act_layer = mb * T * (10 * H + 3 * m["intermediate"]) * 2
    head = mb * T * H * 2 * 2 + C * V * 4 * 4 + (mb * T * H * 2 + C * V * 4 * 3) * ttopd
    terms = [
        ("policy shards (fp32)", 4 * P / W, "FSDP2 master weights, 1/W of the model"),
        ("gradient shards (fp32)", 4 * P / W, "reduce-scattered gradients"),
        ("AdamW moments (fp32)", 8 * P / W, "exp_avg and exp_avg_sq"),
        ("reference shards (fp32)", 4 * P / W * (cfg.algo.kl_coef > 0), "frozen reference, when kl_coef > 0"),
        ("teacher shards (fp32)", 4 * P / W * ttopd, "TT-OPD's EMA teacher"),
        (f"rollout copy ({cfg.model.dtype})", rollout_bytes * P, "full weights for sampling (synced a parameter "
                                                                  "at a time: + one parameter transiently)"),
        ("root units gathered (bf16)", 2 * m["root"] * gathered_roots, f"embeddings + output head, x{gathered_roots}"
                                                                        " (policy" + (", teacher)" if ttopd else ")")),
        ("root gradient, unsharded (bf16)", 2 * m["root"], "the root unit's gradient before its reduce-scatter"),
        ("2 layers gathered + their gradients", 2 * m["largest_layer"] * (2 + 4), "prefetch: bf16 weights, fp32 "
                                                                                    "gradients before reduce-scatter"),
        ("activations, saved", act_saved, f"{mb} x {T} tokens; each layer's input kept (activation checkpointing "
                                          f"{'on' if cfg.activation_checkpointing else 'OFF: every intermediate'})"),
        ("activations, one layer recomputed", act_layer, "attention and MLP intermediates of one layer"),
        ("loss head", head, f"hidden states + {C}-token chunks of fp32 [C, V] logits" +
                            (" (student and teacher)" if ttopd else "")),
        ("rollout KV cache + recurrent state", rows * (T * m["kv_bytes_per_token"] + m["state_bytes_per_row"]),
         f"{rows} episodes at once x {T} tokens"),
        ("rollout sampling buffers", rows * V * 4 * 5 + rows * 512 * (10 * H + 3 * m["intermediate"]) * 2,
         "logits, probabilities, top-p sort; a 512-token prefill's intermediates"),
        ("CUDA context", CUDA_CONTEXT_GIB * GIB, "driver, NCCL, cuBLAS workspaces"),
    ]
    subtotal = sum(t[1] for t in terms)
    terms.append(("allocator fragmentation", FRAGMENTATION * subtotal, f"{FRAGMENTATION:.0%} margin"))
    return terms


TRAIN_ONLY = ("rollout KV cache + recurrent state", "rollout sampling buffers", "CUDA context",
              "allocator fragmentation")


def measure(cfg, model_json, vocab, is_ttopd):
    """On one GPU: the peak allocated memory of one update step (GRPO, or TT-OPD with its teacher) on one
    rollout.max_total_tokens-token episode of a randomly initialised model of this shape, with the rollout copy
    held as in training. Returns bytes (torch.cuda.max_memory_allocated)."""
    import types
    import torch
    import transformers
    import agent
    import grpo
    from distributed import fsdp
    import ttopd
    rank, world, device = fsdp.setup_distributed()
    spec = {k: v for k, v in json.load(open(model_json)).items() if not k.startswith("_")}
    spec.setdefault("model_type", "qwen3")
    spec.setdefault("vocab_size", vocab)
    mcfg = transformers.AutoConfig.for_model(**spec)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(mcfg).to(device)
    rollout = transformers.AutoModelForCausalLM.from_config(mcfg).to(device, torch.bfloat16)
    ext = None
    if is_ttopd:        # a random teacher of the same shape: its values do not matter here, its memory does
        teacher = transformers.AutoModelForCausalLM.from_config(mcfg).to(device)
        teacher = fsdp.shard(teacher.requires_grad_(False), device, True, False)
        ext = ttopd.TTOPD(dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, lam=1.0)))
    policy = fsdp.shard(model, device, True, cfg.activation_checkpointing)
    if ext:
        ext.setup(cfg, policy, types.SimpleNamespace(pad_token_id=0), device, teacher=teacher)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-6)
    g = torch.Generator().manual_seed(0)
    T = cfg.rollout.max_total_tokens
    prompt = torch.randint(10, mcfg.vocab_size, (256,), generator=g).tolist()
    tr = agent.Trajectory.start({"id": "t", "domain": "d"}, prompt)
    while len(tr.ids) < T:
        k = min(1024, T - len(tr.ids))
        tr.add_turn(torch.randint(10, mcfg.vocab_size, (k,), generator=g).tolist(), [-1.0] * k)
    tr.extras["hint_ids"] = torch.randint(10, mcfg.vocab_size, (64,), generator=g).tolist()
    tok = types.SimpleNamespace(pad_token_id=0)
    grpo.train_step(cfg, policy, None, optimizer, [tr], torch.tensor([1.0]), tok, device, ext)   # AdamW state exists
    fsdp.sync_weights(policy, rollout)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    grpo.train_step(cfg, policy, None, optimizer, [tr], torch.tensor([1.0]), tok, device, ext)
    fsdp.sync_weights(policy, rollout)
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else float("nan")   # CPU: a smoke run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--model", default=os.path.join(ROOT, "configs", "qwen3.5_9b.json"),
                    help="model config JSON (default: Qwen3.5-9B's text model)")
    ap.add_argument("--vocab", type=int, default=3072, help="vocabulary when the JSON has none (project tokenizer)")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--gpu-gib", type=float, default=79.19, help="memory of one GPU in GiB (torch.cuda."
                                                                 "get_device_properties(0).total_memory; H100 80GB: 79.19)")
    ap.add_argument("--json", default="")
    ap.add_argument("--measure", action="store_true", help="also run one update step on this machine's GPU and "
                                                           "compare its peak allocated memory with the prediction")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_intermixed_args()
    import ttopd
    cfg = config.load(a.config, ttopd.TTOPDConfig, a.overrides, ignore_sections=True)
    is_ttopd = "distill" in open(a.config).read()
    m = model_shape(a.model, a.vocab)
    terms = budget(cfg, m, a.gpus, is_ttopd)
    total, have = sum(t[1] for t in terms), a.gpu_gib * GIB
    print(f"{m['type']} from {os.path.relpath(a.model, ROOT)}: {m['params'] / 1e9:.2f}B parameters (largest layer "
          f"{m['largest_layer'] / 1e6:.0f}M, root unit {m['root'] / 1e6:.0f}M), vocabulary {m['vocab']}")
    print(f"{'TT-OPD' if is_ttopd else 'GRPO'} on {a.gpus} GPUs of {a.gpu_gib:g} GiB; micro_batch {cfg.micro_batch}, "
          f"{cfg.rollout.max_total_tokens} tokens a conversation, activation checkpointing "
          f"{cfg.activation_checkpointing}, head_chunk {cfg.head_chunk}\n")
    print("| term | GiB per rank | what |\n|---|---|---|")
    for name, b, why in terms:
        print(f"| {name} | {b / GIB:.2f} | {why} |")
    print(f"| **total** | **{total / GIB:.2f}** | of {have / GIB:.1f} GiB |")
    fits = total <= have
    print(f"\nverdict: {'FITS' if fits else 'DOES NOT FIT'} ({total / have:.0%} of one GPU's memory)")
    result = {"model": m, "gpus": a.gpus, "gpu_gib": a.gpu_gib, "terms": {t[0]: t[1] for t in terms},
              "total_bytes": total, "fits": fits}
    if a.measure:
        predicted = sum(b for name, b, _ in terms if name not in TRAIN_ONLY)
        got = measure(cfg, a.model, a.vocab, is_ttopd)
        result.update(update_step_predicted_bytes=predicted, update_step_measured_bytes=got)
        print(f"update step on this GPU: measured {got / GIB:.2f} GiB allocated at peak, predicted "
              f"{predicted / GIB:.2f} GiB (the terms without the rollout's cache, the context and the margin): "
              f"{(predicted - got) / got:+.0%}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if fits else 1


if __name__ == "__main__":
    sys.exit(main())

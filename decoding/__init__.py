"""The scale path of agent.py's rollout: KV caches beyond the plain dynamic cache, for speed on GPUs or for
hybrid models. agent.Batch (one dynamic cache kept across turns) is the reference; agent.decode_cache picks
one of these by configuration and model, and every one answers the same four calls: feed, keep, reset and
must_reencode.

  static.py     a preallocated StaticCache with fixed shapes, optionally a compiled decode step
                (rollout.static_cache, rollout.compile): attention-only models on GPUs
  recurrent.py  hybrid models (Qwen3.5's linear-attention layers): a recurrent state that pads would change
  compat.py     the one place that knows which transformers version renamed what
"""
import torch


def padded(rows_tokens, pad_id, device, left=False):
    """[rows, width] ids of rows of unequal length (right-padded, or left-padded), the number of real
    tokens of each row and the column where each begins. Built on the host and copied once: per-row writes
    into a GPU tensor would each wait on the device."""
    lens = [len(t) for t in rows_tokens]
    width, n = max([1, *lens]), len(rows_tokens)
    begin = [width - k if left else 0 for k in lens]
    host = torch.full((n * width + 2 * n,), pad_id, dtype=torch.long)     # ids, lens, begins: one copy
    for i, t in enumerate(rows_tokens):
        host[i * width + begin[i]:i * width + begin[i] + lens[i]] = torch.tensor(t, dtype=torch.long)
    host[n * width:] = torch.tensor(lens + begin, dtype=torch.long)
    dev = host.to(device, non_blocking=True)       # pageable source: staged at once, no wait on the stream
    return dev[:n * width].view(n, width), dev[n * width:n * width + n], dev[n * width + n:]

"""A static, optionally compiled rollout cache for attention-only models on GPUs (rollout.static_cache,
rollout.compile). Every row owns a slot of a preallocated StaticCache for the whole rollout, so a decode step
always has the same shapes and can be captured as a CUDA graph; decode_attention reads the cache once per
key/value head and only its used columns. What it buys, measured on GPUs: benchmarks/results/README.md
("Rollout throughput", "The GPU path on one H100"). On CPU and for teaching, agent.Batch does the same work
with a dynamic cache.
"""
import torch

import decoding
from decoding import compat


def decode_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, decode_len=None,
                     **kw):
    """transformers' SDPA attention, except in a decode step (one query a row). (1) A grouped-query model's
    query heads become each key/value head's query length, so the cache is read once: inside torch.compile
    transformers expands K and V to every query head over the whole static cache (20 of a Qwen3-0.6B
    shape's 24 ms a decode step on an H200: benchmarks/results/README.md). (2) With decode_len, only the
    cache's first decode_len columns are read: StaticBatch passes its used width, and every column past it
    is masked for every row."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    (b, h, q, d), g = query.shape, query.shape[1] // key.shape[1]
    if q != 1 or (attention_mask is not None and attention_mask.shape[1] != 1):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kw)
    if decode_len is not None:
        key, value = key[:, :, :decode_len], value[:, :, :decode_len]
        attention_mask = attention_mask[..., :decode_len] if attention_mask is not None else None
    out = torch.nn.functional.scaled_dot_product_attention(query.reshape(b, h // g, g, d), key, value,
                                                           attn_mask=attention_mask, scale=scaling)
    return out.reshape(b, h, 1, d).transpose(1, 2).contiguous(), None


def use_decode_attention(model):
    """Switch an SDPA model to decode_attention (the same result; registered with transformers once). Returns
    whether the model now runs it (False for other attention implementations, which keep theirs)."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask
    if getattr(model.config, "_attn_implementation", None) not in ("sdpa", "sdpa_decode"):
        return False
    AttentionInterface.register("sdpa_decode", decode_attention)
    AttentionMaskInterface.register("sdpa_decode", sdpa_mask)
    model.set_attn_implementation("sdpa_decode")
    return True


class StaticBatch:
    """Batch over a preallocated StaticCache: every row owns a slot for the whole rollout (a finished row
    is fed masked pads), so a decode step always has the same shapes and can be captured as a CUDA graph
    (compile=True compiles the model with mode="reduce-overhead"). Columns are shared by all rows, as in
    agent.Batch; when the next feed would not fit, must_reencode says so and the caller re-encodes the live
    rows into a fresh cache."""

    def __init__(self, n, device, model, max_len, compile=False):
        self.device = device
        self.max_len, self.slots = max_len, list(range(n))
        self.reads_prefix = use_decode_attention(model)
        self.step = torch.compile(model, mode="reduce-overhead", dynamic=False) if compile else model
        self.reset(n, model)

    def reset(self, n=None, model=None):
        from transformers import StaticCache
        n = len(self.slots) if n is None else n
        model = model or self.step
        self.cache = StaticCache(config=getattr(model, "config", None), max_cache_len=self.max_len)
        self.mask = torch.zeros(n, self.max_len, dtype=torch.long, device=self.device)
        self.pos = torch.zeros(n, dtype=torch.long, device=self.device)
        self.col, self.slots = 0, list(range(n))
        self.slot_idx = torch.arange(n, device=self.device)

    def must_reencode(self, width):
        """When the next feed would not fit, the live rows are re-encoded into a fresh cache."""
        return self.col + width > self.max_len

    def decode_width(self):
        """The cache columns a decode step reads: the used ones (self.col + 1 with the new token) rounded
        up to a power of two, at least 512, so a compiled step meets a handful of shapes (one CUDA graph
        each)."""
        return min(self.max_len, max(512, 1 << self.col.bit_length()))

    @torch.no_grad()
    def feed(self, model, rows_tokens, pad_id, vision=None):
        """As agent.Batch.feed for the live rows (self.slots); other slots get masked pads."""
        tokens = [[] for _ in range(self.mask.shape[0])]
        for slot, t in zip(self.slots, rows_tokens):
            tokens[slot] = t
        ids, n_new, _ = decoding.padded(tokens, pad_id, self.device)
        width = ids.shape[1]
        cols = torch.arange(width, device=self.device)[None]
        self.mask[:, self.col:self.col + width] = (cols < n_new[:, None]).long()
        positions = self.pos[:, None] + cols
        step = self.step if width == 1 else model        # prefills vary in width: only decode is captured
        read = {"decode_len": self.decode_width()} if width == 1 and self.reads_prefix else {}
        out = step(input_ids=ids, attention_mask=self.mask, position_ids=positions, use_cache=True,
                   **{compat.cache_kwarg(model): self.cache}, **read)
        self.col += width
        self.pos += n_new
        last = (n_new - 1).clamp(min=0)
        return out.logits[self.slot_idx, last[self.slot_idx]]

    def keep(self, rows):
        self.slots = [self.slots[r] for r in rows]
        # indexing by a list would copy it every step
        self.slot_idx = torch.tensor(self.slots, device=self.device)

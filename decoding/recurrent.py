"""Hybrid models' rollout cache: Qwen3.5-style linear-attention layers carry a recurrent state, and a pad
token fed in the middle of a row would change it (an attention layer just masks the pad). Chosen by
agent.decode_cache for any model with such layers; without it (rollout.reuse_cache=false, or a cache layout
this does not know) such models re-encode every turn left-padded, which is exact but slower.
"""
import torch

from decoding import compat


def has_recurrent_layers(model):
    """Hybrid models (e.g. Qwen3.5's linear-attention layers) carry a recurrent state that a pad token in
    the middle of a row would change; attention-only models just mask such pads."""
    config = getattr(model, "config", None)
    types = getattr(config.get_text_config(), "layer_types", None) if config is not None else None
    types = types or []
    return any(t not in ("full_attention", "sliding_attention") for t in types)


class RecurrentBatch:
    """Batch for hybrid models, whose linear-attention layers carry a recurrent state that a pad would change:
    the prompts go in left-padded (leading pads leave a state at zero), every later prefill runs row by row
    with no pad (rollout.reuse_cache for such models), decode steps run batched, and a row fed a pad
    because it has finished its turn first keeps a copy of its states for its next prefill. Needs the cache
    layout of transformers 5.2x (layers with conv_states / recurrent_states, or keys / values); `supported`
    says so."""

    def __init__(self, plain):
        # an agent.Batch: prompts and decode steps go through it, left-padding prompts
        self.plain = plain
        self.saved = {}          # row -> {layer: (conv states, recurrent states)} before it was fed a pad

    # the plain batch's state, read and written as this batch's own
    cache = property(lambda self: self.plain.cache)
    mask = property(lambda self: self.plain.mask, lambda self, v: setattr(self.plain, "mask", v))
    pos = property(lambda self: self.plain.pos, lambda self, v: setattr(self.plain, "pos", v))
    device = property(lambda self: self.plain.device)

    def must_reencode(self, width):
        return False

    def reset(self):
        self.plain.reset()
        self.saved = {}

    @staticmethod
    def supported(model):
        from transformers import DynamicCache
        layers = DynamicCache(config=model.config).layers
        return all(hasattr(x, "recurrent_states") or hasattr(x, "keys") for x in layers)

    def feed(self, model, rows_tokens, pad_id, vision=None):
        lens = [len(t) for t in rows_tokens]
        if self.cache is None:                       # the prompts: left-padded, exact for a fresh state
            return self.plain.feed(model, rows_tokens, pad_id, vision)
        if max(lens) <= 1 and not any(n and r in self.saved for r, n in enumerate(lens)):
            # a decode step: rows without a token keep their states (a row that had pads goes in by prefill)
            for r in (r for r, n in enumerate(lens) if n == 0 and r not in self.saved):
                self.saved[r] = {i: ({k: v[r:r + 1].clone() for k, v in x.conv_states.items()},
                                     {k: v[r:r + 1].clone() for k, v in x.recurrent_states.items()})
                                 for i, x in self._linear_layers()}
            return self.plain.feed(model, rows_tokens, pad_id)
        return self._prefill_rows(model, rows_tokens)

    def _linear_layers(self):
        return [(i, x) for i, x in enumerate(self.cache.layers) if hasattr(x, "recurrent_states")]

    def _row_cache(self, model, r):
        """A one-row cache holding row r's states (its saved ones if it was fed pads since)."""
        from transformers import DynamicCache
        one = DynamicCache(config=model.config)
        for i, (src, dst) in enumerate(zip(self.cache.layers, one.layers)):
            if hasattr(src, "recurrent_states"):
                conv, rec = self.saved[r][i] if r in self.saved else \
                    ({k: v[r:r + 1] for k, v in src.conv_states.items()},
                     {k: v[r:r + 1] for k, v in src.recurrent_states.items()})
                for k in conv:
                    dst.lazy_initialization(conv_states=conv[k], recurrent_states=rec[k], state_idx=k,
                                            conv_kernel_size=src.conv_kernel_size[k])
                    dst.conv_states[k].copy_(conv[k])
                    dst.recurrent_states[k].copy_(rec[k])
                    dst.has_previous_state[k] = True
            if getattr(src, "keys", None) is not None and src.keys.numel():
                dst.lazy_initialization(src.keys[r:r + 1], src.values[r:r + 1])
                dst.keys, dst.values = src.keys[r:r + 1], src.values[r:r + 1]
        return one

    @torch.no_grad()
    def _prefill_rows(self, model, rows_tokens):
        """Each row's new tokens through its own one-row cache; the states come back into the batch's cache,
        the new keys/values right-padded to the widest row (pads masked, as in Batch.feed)."""
        n, width = len(rows_tokens), max(len(t) for t in rows_tokens)
        attn = [(i, x) for i, x in enumerate(self.cache.layers) if getattr(x, "keys", None) is not None]
        new_kv = {i: (x.keys.new_zeros(n, x.keys.shape[1], width, x.keys.shape[3]),
                      x.values.new_zeros(n, x.values.shape[1], width, x.values.shape[3])) for i, x in attn}
        new_mask, logits = torch.zeros(n, width, dtype=torch.long, device=self.device), []
        for r, toks in enumerate(rows_tokens):
            if not toks:
                logits.append(None)
                continue
            one, k = self._row_cache(model, r), len(toks)
            ids = torch.tensor([toks], dtype=torch.long, device=self.device)
            mask = torch.cat([self.mask[r:r + 1], torch.ones(1, k, dtype=torch.long, device=self.device)], 1)
            pos = (self.pos[r] + torch.arange(k, device=self.device))[None]
            out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                        **{compat.cache_kwarg(model): one})
            logits.append(out.logits[0, -1])
            for i, x in self._linear_layers():
                for s in x.conv_states:
                    x.conv_states[s][r] = one.layers[i].conv_states[s][0]
                    x.recurrent_states[s][r] = one.layers[i].recurrent_states[s][0]
            for i, _ in attn:
                new_kv[i][0][r, :, :k] = one.layers[i].keys[0, :, -k:]
                new_kv[i][1][r, :, :k] = one.layers[i].values[0, :, -k:]
            new_mask[r, :k] = 1
            self.pos[r] += k
        for i, x in attn:
            x.keys, x.values = torch.cat([x.keys, new_kv[i][0]], 2), torch.cat([x.values, new_kv[i][1]], 2)
        self.mask, self.saved = torch.cat([self.mask, new_mask], 1), {}
        filler = next(v for v in logits if v is not None)
        return torch.stack([v if v is not None else torch.zeros_like(filler) for v in logits])

    def keep(self, rows):
        idx = torch.tensor(rows, dtype=torch.long, device=self.device)
        for _, x in self._linear_layers():
            x.reorder_cache(idx)
        for x in self.cache.layers:
            if getattr(x, "keys", None) is not None and x.keys.numel():
                x.keys, x.values = x.keys[idx], x.values[idx]
        self.mask, self.pos = self.mask[idx], self.pos[idx]
        self.saved = {rows.index(r): s for r, s in self.saved.items() if r in rows}

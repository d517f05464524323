"""The policy's per-token log-probs, with the output head applied a chunk of tokens at a time.

A forward pass returns the final hidden states (final_hidden: logits only for the last position); the
head turns chunks of them into log-probs (head_logprobs), and `chunked` checkpoints each chunk, so no
[tokens, vocabulary] tensor of a whole sequence ever exists: at Qwen's 151,936-token vocabulary and
12K-token episodes that tensor alone would be 7.5 GB in fp32. Used by the trainers (grpo.py, ttopd.py), by
agent.score_logprobs and by evaluate.py.
"""
import torch

HEAD_CHUNK = 128     # tokens whose [C, V] logits exist at once (151,936 x 128 x 4 bytes = 78 MB for Qwen3)


def final_hidden(model, ids, attn=None, extra=None):
    """[B, T-1, H]: the final (normed) hidden state before each next token, from one forward that computes
    the logits of the last position only. Under FSDP2 the forward leaves the root unit (embeddings, final
    norm, output head) gathered until its backward, so the head can be applied to these states afterwards."""
    out = model(input_ids=ids, attention_mask=attn, use_cache=False, logits_to_keep=1, output_hidden_states=True,
                **(extra or {}))
    return out.hidden_states[-1][:, :-1]


def head_logprobs(model, hidden, temperature=1.0):
    """log softmax(output_head(hidden) / temperature) over the vocabulary, in fp32."""
    return torch.log_softmax(model.get_output_embeddings()(hidden).float() / temperature, -1)


def chunked(fn, *rows, chunk=HEAD_CHUNK):
    """fn over consecutive chunks of `chunk` rows of the tensors `rows` (first dimension), outputs concatenated.
    With gradients on, each chunk is checkpointed: its forward keeps only fn's inputs and outputs and the
    backward recomputes it, so no [rows, V] tensor outlives its chunk."""
    from torch.utils.checkpoint import checkpoint
    n = rows[0].shape[0]
    grad = torch.is_grad_enabled() and any(r.requires_grad for r in rows)
    outs = [checkpoint(fn, *(r[i:i + chunk] for r in rows), use_reentrant=False) if grad
            else fn(*(r[i:i + chunk] for r in rows)) for i in range(0, n, chunk)]
    if not outs:
        return fn(*(r[:0] for r in rows))
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(o) for o in zip(*outs))
    return torch.cat(outs)


def token_logprobs(model, ids, attn=None, temperature=1.0, extra=None, chunk=HEAD_CHUNK):
    """[B, T-1]: log-prob of each token ids[:, t+1] given its prefix, under softmax(logits / temperature)."""
    h = final_hidden(model, ids, attn, extra)
    targets = ids[:, 1:].reshape(-1)
    lp = chunked(lambda x, y: head_logprobs(model, x, temperature).gather(-1, y[:, None]).squeeze(-1),
                 h.reshape(-1, h.shape[-1]), targets, chunk=chunk)
    return lp.view(ids.shape[0], -1)

"""agent.py: token-exact trajectories, cached rollouts, robustness to bad output, warm start."""
import dataclasses

import pytest
import torch

import agent
import grpo
import config
import env as envmod
from clinic import bank
from decoding import recurrent, static
import warmstart


@pytest.fixture(scope="module")
def cfg():
    c = config.load("configs/tiny.yaml", config.Config)
    c.rollout.max_new_tokens, c.rollout.batch_size = 24, 8
    return c


@pytest.fixture(scope="module")
def policy(cfg):
    torch.manual_seed(0)
    return agent.load_policy(cfg.model)


@pytest.fixture(scope="module")
def val_tasks():
    ts = bank.load_tasks(split="validation")
    return [ts[i] for i in range(0, len(ts), 60)]          # one or two per domain


def test_tokenizer_loads_offline_with_chat_template(policy):
    _, tok = policy
    assert tok.chat_template and len(tok) == 3072
    call = envmod.format_call("order_lab", {"test": "troponin"})
    ids = tok.encode(call, add_special_tokens=False)
    assert tok.decode(ids) == call and ids[0] == tok.convert_tokens_to_ids("<tool_call>")


def test_sampling_logprobs_are_reproduced_by_a_full_forward(policy, cfg, val_tasks):
    model, tok = policy
    trajs = agent.rollout(model, tok, val_tasks, cfg.rollout, seed=3, progress=False)
    for tr in trajs:
        assert len(tr.ids) == len(tr.mask) == len(tr.logprobs)
        lp = agent.score_logprobs(model, tr.ids, cfg.rollout.temperature)
        m = torch.tensor(tr.mask, dtype=torch.bool)
        assert m.any()
        torch.testing.assert_close(lp[m], torch.tensor(tr.logprobs)[m], atol=2e-5, rtol=0)


def test_loss_mask_is_exactly_the_policy_tokens(policy, cfg, val_tasks):
    model, tok = policy
    tr = agent.rollout(model, tok, val_tasks[:2], cfg.rollout, seed=5, progress=False)[0]
    spans = {i for a, b in tr.turn_spans for i in range(a, b)}
    assert spans == {i for i, m in enumerate(tr.mask) if m}
    # everything between turns is the prompt or an observation built from the env's tool messages
    e = envmod.MedicalEnv(tasks=[t for t in val_tasks if t["id"] == tr.task_id], tool_specs="none")
    info = e.reset(seed=0)[1]
    prompt = agent.prompt_ids(tok, info, cfg.rollout.tool_specs)
    assert tr.ids[:len(prompt)] == prompt and tr.turn_spans[0][0] == len(prompt)
    for k, (a, b) in enumerate(tr.turn_spans[:-1]):
        info = e.step(agent.turn_text(tok, tr.ids[a:b]))[4]
        closed = tr.ids[b - 1] == tok.convert_tokens_to_ids("<|im_end|>")
        obs = agent.observation_ids(tok, info["tool_messages"], cfg.rollout.tool_response_tokens, not closed)
        assert tr.ids[b:tr.turn_spans[k + 1][0]] == obs


def test_cache_reuse_changes_nothing_but_speed(policy, cfg, val_tasks):
    model, tok = policy
    r = dataclasses.replace(cfg.rollout, temperature=1e-3)
    a = agent.rollout(model, tok, val_tasks[:4], r, seed=1, progress=False)
    b = agent.rollout(model, tok, val_tasks[:4], dataclasses.replace(r, reuse_cache=False), seed=1, progress=False)
    assert [t.ids for t in a] == [t.ids for t in b]


def test_static_cache_samples_the_same_tokens_as_the_dynamic_cache(policy, cfg, val_tasks, monkeypatch):
    """rollout.static_cache: the same episodes, token for token, with the log-probs to 1e-5; with no slack the static
    cache runs out of columns and re-encodes the live rows into a fresh one, still the same episodes."""
    model, tok = policy
    r = dataclasses.replace(cfg.rollout, max_new_tokens=24, max_turns=3, batch_size=6, max_total_tokens=360)
    eager = agent.rollout(model, tok, val_tasks[:6], r, seed=3, progress=False)
    resets = []
    reset = static.StaticBatch.reset
    monkeypatch.setattr(static.StaticBatch, "reset", lambda self, *a: resets.append(1) or reset(self, *a))
    for slack in (512, 0):
        resets.clear()
        fixed = agent.rollout(model, tok, val_tasks[:6], dataclasses.replace(r, static_cache=True, static_slack=slack),
                              seed=3, progress=False)
        assert [t.ids for t in fixed] == [t.ids for t in eager]
        for a, b in zip(fixed, eager):
            assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-5
            assert a.reward == b.reward
        assert len(resets) == (1 if slack else 2)      # the first allocation; without slack, one re-encoding


def test_decode_attention_equals_attention_over_the_expanded_heads():
    """A decode step of a grouped-query model: each key/value head's query heads folded into the query length give
    what expanding K and V to every query head gives; prefills (several queries) go through transformers' path."""
    from types import SimpleNamespace
    torch.manual_seed(0)
    b, hk, g, n, d = 3, 2, 4, 10, 8
    k, v = torch.randn(b, hk, n, d), torch.randn(b, hk, n, d)
    mask = torch.rand(b, 1, 1, n) > 0.3
    mask[..., 0] = True
    module = SimpleNamespace(num_key_value_groups=g, is_causal=True)
    for q_len in (1, 4):
        q = torch.randn(b, hk * g, q_len, d)
        m = mask.expand(b, 1, q_len, n)
        out, _ = static.decode_attention(module, q, k, v, m, scaling=d ** -0.5)
        ref = torch.nn.functional.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1),
                                                               attn_mask=m)
        assert out.shape == (b, q_len, hk * g, d)
        assert torch.allclose(out, ref.transpose(1, 2), atol=1e-6)
    # columns past the used width are masked for every row: reading only the first decode_len changes nothing
    q, used = torch.randn(b, hk * g, 1, d), mask.clone()
    used[..., 6:] = False
    full, _ = static.decode_attention(module, q, k, v, used, scaling=d ** -0.5)
    for n_read in (6, 8):
        part, _ = static.decode_attention(module, q, k, v, used, scaling=d ** -0.5, decode_len=n_read)
        assert torch.allclose(part, full, atol=1e-6)


def test_static_decode_reads_a_power_of_two_prefix_of_the_cache(policy):
    """StaticBatch's decode steps read the used columns rounded up to a power of two (>= 512, <= the cache), and
    give the logits of reading the whole cache."""
    model, tok = policy
    batch = static.StaticBatch(2, torch.device("cpu"), model, 1200)
    assert batch.reads_prefix
    widths = {}
    for col in (0, 511, 512, 1000, 1100):
        batch.col = col
        widths[col] = batch.decode_width()
    assert widths == {0: 512, 511: 512, 512: 1024, 1000: 1024, 1100: 1200}
    batch.col = 0
    whole = static.StaticBatch(2, torch.device("cpu"), model, 1200)
    whole.reads_prefix = False
    seqs = [[5, 6, 7, 8], [9, 10]]
    for feed in (seqs, [[11], [12]], [[13], []], [[14], [15]]):
        torch.testing.assert_close(batch.feed(model, feed, tok.pad_token_id),
                                   whole.feed(model, feed, tok.pad_token_id), atol=1e-5, rtol=0)


class ScriptedLM(torch.nn.Module):
    """A stand-in policy that emits a fixed text (as tokens) over and over, whatever the context."""

    def __init__(self, token_ids, vocab):
        super().__init__()
        self.seq, self.vocab = token_ids, vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.n = 0

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=None):
        b, t = input_ids.shape
        logits = torch.full((b, t, self.vocab), -30.0)
        logits[:, :, self.seq[self.n % len(self.seq)]] = 30.0
        self.n += 1
        return type("Out", (), {"logits": logits})()


def test_sampler_draws_each_token_with_its_probability_and_never_one_outside_the_nucleus():
    """Inverse-CDF sampling at one host uniform a row: 40,000 rows (each its own generator) of the same
    logits give each token within 5 standard errors of its probability, never a token of probability 0 or
    (with top_p) outside the nucleus; the log-probs are the tempered softmax's; a row's token depends only on
    its own generator, not on the rows beside it."""
    import random
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, float("-inf"), 0.5])
    n, temp = 40_000, 0.7
    rows = logits.expand(n, -1)
    toks, lp = agent.sample(rows, temp, 1.0, [random.Random(i) for i in range(n)])
    p = torch.softmax(logits / temp, -1)
    freq = torch.bincount(toks, minlength=6).double() / n
    assert freq[4] == 0
    assert ((freq - p.double()).abs() <= 5 * (p.double() * (1 - p.double()) / n).sqrt() + 1e-12).all()
    torch.testing.assert_close(lp, torch.log_softmax(logits / temp, -1)[toks])
    nucleus, _ = agent.sample(rows, temp, 0.8, [random.Random(i) for i in range(n)])
    assert set(nucleus.tolist()) == {0, 1}      # p = .70 .17 | .08 .04 .01 0: the top two reach 0.8
    mixed = torch.stack([logits, torch.randn(6), logits, torch.randn(6)])
    alone = agent.sample(logits[None], temp, 1.0, [random.Random(7)])[0]
    assert agent.sample(mixed, temp, 1.0, [random.Random(s) for s in (1, 2, 7, 3)])[0][2] == alone[0]


@pytest.mark.parametrize("text", [
    "I am not sure what to do here.",                                           # no tool call
    '<tool_call>{"name": "get_vitals", "arguments": {</tool_call>',           # broken JSON
    '<tool_call>{"name": "summon_oracle", "arguments": {}}</tool_call>',      # phantom tool
    "blah " * 200,                                                             # endless text, never ends a turn
    '<tool_call>{"name": "submit_answer", "arguments": {"answer": "maybe"}}</tool_call>',  # wrong format
])
def test_bad_model_output_never_crashes_a_rollout(policy, cfg, val_tasks, text):
    _, tok = policy
    ids = tok.encode(text, add_special_tokens=False)
    if not text.startswith("blah"):
        ids = ids + [tok.convert_tokens_to_ids("<|im_end|>")]
    fake = ScriptedLM(ids, len(tok))
    trajs = agent.rollout(fake, tok, val_tasks[:3], cfg.rollout, seed=0, progress=False)
    for tr in trajs:
        assert tr.reward_info is not None and 0.0 <= tr.reward <= 0.2
        assert tr.n_turns <= cfg.rollout.max_turns


def test_expert_trajectory_masks_the_expert_turns_and_scores_full_reward(policy, cfg, val_tasks):
    _, tok = policy
    for t in val_tasks[:5]:
        tr = warmstart.expert_trajectory(tok, t, cfg.rollout)
        assert tr.finished and tr.reward == pytest.approx(1.0)
        text = tok.decode([i for i, m in zip(tr.ids, tr.mask) if m], skip_special_tokens=False)
        assert text.count("<tool_call>") == len(t["expected_tools"]) + 1 and text.endswith("<|im_end|>")


def test_a_long_tool_response_keeps_its_first_and_last_tokens(policy):
    """rollout.tool_response_tokens = n: a longer response keeps its first n // 2 and last n - n // 2 tokens
    around ' ... ' (the head names the result, the tail often holds the conclusion)."""
    _, tok = policy
    words = " ".join(f"w{i}" for i in range(200))
    ids = tok.encode(words, add_special_tokens=False)
    cut = agent.cut_middle(tok, words, 11)
    assert cut == tok.decode(ids[:5]) + " ... " + tok.decode(ids[-6:])
    assert agent.cut_middle(tok, "short text", 11) == "short text"


def test_the_warm_start_loss_is_the_cross_entropy_of_exactly_the_expert_tokens(policy, cfg, val_tasks):
    """Behaviour cloning's loss, by hand: the mean over the expert's own tokens (mask 1) of -log p(token | the
    tokens before it); prompt, hint and tool responses (mask 0) and the right padding contribute nothing."""
    model, tok = policy
    trajs = [warmstart.expert_trajectory(tok, t, cfg.rollout, hint="Teacher note: a hint.") for t in val_tasks[:2]]
    ids, _, mask, _ = agent.pad_trajectories(trajs, tok.pad_token_id, "cpu")
    with torch.no_grad():
        got = float(warmstart.masked_nll(model, ids, mask))
        terms = []
        for tr in trajs:
            logp = torch.log_softmax(model(input_ids=torch.tensor([tr.ids])).logits[0].float(), -1)
            terms += [-float(logp[k - 1, tr.ids[k]]) for k in range(1, len(tr.ids)) if tr.mask[k]]
    assert len(terms) == sum(sum(tr.mask) for tr in trajs) and got == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_warm_start_lowers_the_loss_and_saves_a_loadable_checkpoint(cfg, tmp_path):
    c = dataclasses.replace(cfg, warm_start=dataclasses.replace(cfg.warm_start, out_dir=str(tmp_path / "ws"),
                                                                max_tasks=12, epochs=6.0, tokens_per_batch=2048))
    model, tok, summary = warmstart.warm_start(c)
    curve = summary["loss_curve"]
    assert curve[-1] < 0.7 * curve[0]
    reloaded, _ = agent.load_policy(c.model, str(tmp_path / "ws"))
    x = torch.tensor([[1, 2, 3, 4]])
    torch.testing.assert_close(reloaded(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_spec_withdrawal_only_shrinks_the_shown_menu_and_reaches_none(policy, val_tasks):
    _, tok = policy
    e = envmod.MedicalEnv(tasks=val_tasks[:1], tool_specs="none")
    info = e.reset(seed=0)[1]
    shown = [{s["function"]["name"] for s in envmod.withdraw_specs(info["tools"], info["task_id"], k)}
             for k in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert len(shown[0]) == len(info["tools"]) and shown[-1] == set()
    assert all(b <= a for a, b in zip(shown, shown[1:])) and len(shown[2]) == round(0.5 * len(info["tools"]))
    full, half, none = (len(agent.prompt_ids(tok, info, "full", k)) for k in (1.0, 0.5, 0.0))
    assert full > half > none == len(agent.prompt_ids(tok, info, "none"))


def test_grpo_spec_schedule_is_monotone_from_start_to_end(cfg):
    c = dataclasses.replace(cfg, spec_withdraw_start=10, spec_withdraw_end=30)
    keep = [grpo.spec_keep(c, step) for step in range(1, 41)]     # keep[i]: after i steps taken
    assert keep[:11] == [1.0] * 11 and keep[30:] == [0.0] * 10 and keep[20] == pytest.approx(0.5)
    assert all(b <= a for a, b in zip(keep, keep[1:]))
    with pytest.raises(config.ConfigError, match="spec_withdraw_end"):
        grpo.check_values(dataclasses.replace(cfg, spec_withdraw_start=5, spec_withdraw_end=5))


def test_rollout_records_every_call_with_its_error_and_result(policy, cfg, val_tasks):
    _, tok = policy
    call = envmod.format_call("summon_oracle", {}) + envmod.format_call("get_vitals", {})
    fake = ScriptedLM(tok.encode(call, add_special_tokens=False) + [tok.convert_tokens_to_ids("<|im_end|>")],
                      len(tok))
    r = dataclasses.replace(cfg.rollout, max_new_tokens=96, max_turns=2)
    tr = agent.rollout(fake, tok, val_tasks[:1], r, seed=0, progress=False)[0]
    assert len(tr.calls) == tr.n_calls == 2 * tr.n_turns == 4
    assert [c["name"] for c in tr.calls[:2]] == ["summon_oracle", "get_vitals"]
    assert tr.calls[0]["error"] == "phantom_tool" and tr.calls[1]["error"] is None
    assert "heart" in tr.calls[1]["result"].lower()


def test_a_prompt_longer_than_the_token_budget_is_scored_unplayed(policy, cfg, val_tasks, capsys):
    model, tok = policy
    r = dataclasses.replace(cfg.rollout, tool_specs="full", max_total_tokens=1024)
    trajs = agent.rollout(model, tok, val_tasks[:3], r, seed=0, progress=False)
    assert all(t.n_turns == 0 and sum(t.mask) == 0 and t.reward == 0.0 for t in trajs)
    assert "no room for a turn" in capsys.readouterr().out


def test_hybrid_rows_fed_pads_keep_their_state(cfg, tmp_path):
    """RecurrentBatch on a tiny Qwen3.5: prompts of unequal length, decode steps in which some rows are fed pads
    (their turn has ended), then unequal observations prefilled row by row: each row's next-token logits equal
    a full forward over exactly its real tokens."""
    from tiny_models import make_tiny_hybrid
    model, tok = agent.load_policy(dataclasses.replace(cfg.model, path=make_tiny_hybrid(tmp_path / "hybrid")))
    g = torch.Generator().manual_seed(0)
    new = lambda n: torch.randint(10, 3000, (n,), generator=g).tolist()     # noqa: E731
    batch, seqs = recurrent.RecurrentBatch(agent.Batch(3, torch.device("cpu"), left_pad_prompts=True)), [new(9), new(5), new(7)]
    batch.feed(model, seqs, tok.pad_token_id)
    for feed in ([new(1), new(1), new(1)], [new(1), [], new(1)], [new(1), [], []], [new(3), new(1), new(6)],
                 [new(1), new(1), []], [new(2), new(4), new(1)]):
        logits = batch.feed(model, feed, tok.pad_token_id)
        for r, toks in enumerate(feed):
            seqs[r] += toks
            if toks:
                with torch.no_grad():
                    full = model(input_ids=torch.tensor([seqs[r]])).logits[0, -1]
                torch.testing.assert_close(logits[r], full, atol=1e-4, rtol=0)


def test_hybrid_recurrent_model_rollout_is_exact(cfg, val_tasks, tmp_path, monkeypatch):
    """Qwen3.5-style linear-attention layers carry their state across turns (observations prefilled row by row, a
    row's states kept while it is fed pads): the same tokens as re-encoding every turn, and sampling log-probs
    equal a full forward. The per-row path really ran (a row was prefilled on its own after the first turn)."""
    from tiny_models import make_tiny_hybrid
    model, tok = agent.load_policy(dataclasses.replace(cfg.model, path=make_tiny_hybrid(tmp_path / "hybrid")))
    assert recurrent.has_recurrent_layers(model) and recurrent.RecurrentBatch.supported(model)
    r = dataclasses.replace(cfg.rollout, max_new_tokens=16, max_turns=3, batch_size=4)
    calls = []
    prefill = recurrent.RecurrentBatch._prefill_rows
    monkeypatch.setattr(recurrent.RecurrentBatch, "_prefill_rows", lambda self, *a: calls.append(1) or prefill(self, *a))
    carried = agent.rollout(model, tok, val_tasks[:4], r, seed=0, progress=False)
    encoded = agent.rollout(model, tok, val_tasks[:4], dataclasses.replace(r, reuse_cache=False), seed=0, progress=False)
    assert calls and [t.ids for t in carried] == [t.ids for t in encoded]
    for tr in carried:
        lp = agent.score_logprobs(model, tr.ids, r.temperature)
        m = torch.tensor(tr.mask, dtype=torch.bool)
        assert tr.n_turns >= 2
        torch.testing.assert_close(lp[m], torch.tensor(tr.logprobs)[m], atol=2e-5, rtol=0)

"""The LLM policy: batched multi-turn rollouts with cross-turn KV caches, and the embedded default.

Data flow of one rollout batch:
  env.reset -> chat-template prompt ids -> [sample a turn token by token over the model's
  forward with past_key_values] -> decode the turn -> env.step -> tool responses -> observation
  ids appended (only they are prefilled: the cache already holds the conversation) -> ...
  until each episode submits, runs out of turns or of tokens, and then leaves the batch.
Each episode becomes a Trajectory of token ids exactly as sampled, a loss mask (1 on the
policy's own tokens), the sampling log-probs, per-turn spans and the env's reward breakdown:
training never re-tokenises text to recover what was sampled.

The embedded default (used when model.path is empty): a tiny Qwen3 built from
configs/tiny_model.json with the BPE tokenizer this project trains on its own text
(data/tokenizer/), warm-started by behaviour cloning of the scripted expert.

  python warmstart.py tokenizer                 # (re)train and write the tokenizer, data/tokenizer/
  python warmstart.py configs/tiny.yaml         # behaviour cloning -> checkpoints/warmstart
"""
import dataclasses
import json
import os
import random

import torch
from tqdm import tqdm

import config
import decoding
import env as envmod
import kb as kbmod
from clinic import bank, files
from decoding import compat, recurrent, static, vlm

ROOT = os.path.dirname(os.path.abspath(__file__))
TOKENIZER_DIR = os.path.join(ROOT, "data", "tokenizer")

# ---------------------------------------------------------------- tokenizer and model
def load_policy(cfg: config.ModelConfig, checkpoint=None):
    """(model, tokenizer): a local checkpoint if one is named, else the embedded tiny Qwen3. A
    vision-language checkpoint (Qwen2-VL / Qwen2.5-VL family) gets tok.image_processor. A directory or file
    that cannot be loaded is an error naming it."""
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.dtype]
    path = checkpoint or cfg.path
    if path and not os.path.isdir(path):
        where = "checkpoint" if checkpoint else "config key model.path"
        raise config.ConfigError(f"{where}: {path!r} is not a local checkpoint directory")
    if not path and not os.path.isfile(os.path.join(ROOT, cfg.tiny_config)):
        raise config.ConfigError(f"config key 'model.tiny_config': no file {cfg.tiny_config!r}")
    try:
        return _load(cfg, path, dtype)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        if files.is_input_error(e):
            raise
        raise files.DataError(f"{path or TOKENIZER_DIR}: cannot be loaded as a model ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]})") from None


def _load(cfg, path, dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config, Qwen3ForCausalLM
    if path:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if vlm.is_vision_language(path):
            model, tok.image_processor = vlm.load(path, dtype)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    else:
        tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR, local_files_only=True)
        with open(os.path.join(ROOT, cfg.tiny_config)) as f:
            mcfg = Qwen3Config(**json.load(f), vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                               eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"))
        model = Qwen3ForCausalLM(mcfg).to(dtype)
    return model.to(cfg.device), tok


# ---------------------------------------------------------------- conversations as token ids
@dataclasses.dataclass
class Trajectory:
    task_id: str
    domain: str
    ids: list                       # prompt, policy turns and observations, exactly as fed to the model
    mask: list                      # 1 on tokens the policy sampled, else 0
    logprobs: list                  # sampling log-prob of each masked token (0.0 elsewhere)
    turn_spans: list                # [start, end) of each assistant turn's sampled tokens
    reward: float = 0.0
    reward_info: dict = None
    finished: bool = False          # submitted an answer
    errors: dict = None
    n_turns: int = 0
    n_calls: int = 0
    well_formed: list = dataclasses.field(default_factory=list)   # per turn: >= 1 call, none malformed
    calls: list = dataclasses.field(default_factory=list)     # every call: name, arguments, error, result
    vision: dict = None             # a VLM's prompt image inputs: pixel_values, image_grid_thw
    extras: dict = dataclasses.field(default_factory=dict)    # what a trainer extension attaches (hints)
    task: dict = dataclasses.field(default=None, repr=False)  # the task played (answer, expected work-up)

    @classmethod
    def start(cls, task, prompt, vision=None):
        return cls(task["id"], task["domain"], list(prompt), [0] * len(prompt), [0.0] * len(prompt), [],
                   vision=vision, task=task)

    def add_turn(self, tokens, logprobs):
        """Append the policy's own tokens (mask 1) as one assistant turn."""
        self.turn_spans.append((len(self.ids), len(self.ids) + len(tokens)))
        self.ids += tokens
        self.mask += [1] * len(tokens)
        self.logprobs += list(logprobs)

    def add_context(self, tokens):
        """Append tokens the policy did not sample (observations, template): mask 0."""
        self.ids += tokens
        self.mask += [0] * len(tokens)
        self.logprobs += [0.0] * len(tokens)


def prompt_ids(tok, info, tool_specs, spec_keep=1.0):
    system = info["system"]
    schemas = envmod.withdraw_specs(info["tools"], info["task_id"], spec_keep)
    if tool_specs == "names" and schemas:
        system += "\n\n" + envmod.menu_text(schemas, "names")
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": info["user"]}]
    return chat_ids(tok, msgs, schemas if tool_specs == "full" and schemas else None)


def hint_ids(tok, text):
    """A TT-OPD hint's token ids, as the teacher (ttopd.py) and the hinted demonstrations (warmstart.py)
    see it between the prompt and the first turn: the text and a line break ("" -> no tokens)."""
    return tok.encode(text + "\n", add_special_tokens=False) if text else []


def episode_prompt(tok, info, tool_specs, spec_keep=1.0):
    """An episode's prompt ids and, for a vision-language checkpoint on a visual task, its image inputs
    ({pixel_values, image_grid_thw} from the checkpoint's image processor; else None)."""
    if getattr(tok, "image_processor", None) is None or not info.get("image"):
        return prompt_ids(tok, info, tool_specs, spec_keep), None
    info = {**info, "user": vlm.PLACEHOLDER + "\n" + info["user"]}
    return vlm.with_image(tok, prompt_ids(tok, info, tool_specs, spec_keep),
                          os.path.join(ROOT, "data", info["image"]))


def chat_ids(tok, messages, tools=None):
    """Token ids of a conversation through the tokenizer's chat template, ending with the assistant cue."""
    out = tok.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=True)
    return list(out["input_ids"] if isinstance(out, dict) or hasattr(out, "keys") else out)


def cut_middle(tok, text, n):
    ids = tok.encode(text, add_special_tokens=False)
    if len(ids) <= n:
        return text
    return tok.decode(ids[:n // 2]) + " ... " + tok.decode(ids[-(n - n // 2):])


def observation_ids(tok, tool_messages, max_tokens, close_turn=False):
    """Tokens after an assistant turn: the tool responses as a user turn, then the next generation prompt."""
    body = "".join(f"\n<tool_response>\n{cut_middle(tok, m['content'], max_tokens)}\n</tool_response>"
                   for m in tool_messages)
    close = "<|im_end|>" if close_turn else ""
    text = f"{close}\n<|im_start|>user{body}<|im_end|>\n<|im_start|>assistant\n"
    return tok.encode(text, add_special_tokens=False)


def turn_text(tok, ids):
    end_id = tok.convert_tokens_to_ids("<|im_end|>")
    return tok.decode([i for i in ids if i != end_id], skip_special_tokens=False)


def sample(logits, temperature, top_p, rngs):
    """Sample one token per row by inverting its CDF at a uniform drawn from the row's own host generator
    (random.Random), so an episode's tokens depend neither on which episodes share its batch nor on the
    device, and the whole batch is drawn at once (no per-row kernels); return (tokens, log-probs under
    softmax(logits/T))."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    probs = logp.exp()
    if top_p < 1.0:
        sorted_p, idx = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p
        probs = probs.scatter(-1, idx, sorted_p.masked_fill(drop, 0.0))
    cdf = probs.double().cumsum(-1)
    # u in (0, 1]: the first index whose CDF reaches u * total has probability > 0
    u = torch.tensor([1.0 - g.random() for g in rngs], dtype=torch.float64).to(cdf.device, non_blocking=True)
    tokens = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).squeeze(-1)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


# ---------------------------------------------------------------- batched rollout with KV cache
class Batch:
    """The live rows of a rollout: the shared KV cache, its 2-D attention mask and positions. The cache is
    kept across turns, so each turn encodes only the new tokens; with reencode it is dropped after every
    turn and the conversations are encoded whole (rollout.reuse_cache=false). left_pad_prompts: see feed."""

    def __init__(self, n, device, reencode=False, left_pad_prompts=False):
        self.cache, self.mask = None, torch.zeros(n, 0, dtype=torch.long, device=device)
        self.pos = torch.zeros(n, dtype=torch.long, device=device)
        self.device = device
        self.reencode, self.left_pad_prompts = reencode, left_pad_prompts

    def must_reencode(self, width):
        return self.reencode

    @torch.no_grad()
    def feed(self, model, rows_tokens, pad_id, vision=None):
        """Append each row's new tokens (right-padded; pads stay masked; a row may add none) and return
        the logits after each row's last real token. Only these tokens are encoded: the cache holds
        the rest of every conversation. vision[i] (image inputs of a row's prompt) goes with its first
        feed: those rows get the model's 3-D rotary positions, and their text then continues after them.
        With left_pad_prompts, a fresh cache's first feed is left-padded instead: a recurrent layer's state
        starts at zero and leading pads (zeroed inputs) leave it at zero, so hybrid models prefill exactly."""
        from transformers import DynamicCache
        left = self.left_pad_prompts and self.cache is None
        ids, n_new, start = decoding.padded(rows_tokens, pad_id, self.device, left)
        width = ids.shape[1]
        cols = torch.arange(width, device=self.device)[None]
        new_mask = ((cols >= start[:, None]) & (cols < (start + n_new)[:, None])).long()
        positions = (self.pos[:, None] + cols - start[:, None]).clamp(min=0)
        self.mask = torch.cat([self.mask, new_mask], 1)
        if self.cache is None:
            self.cache = DynamicCache(config=getattr(model, "config", None))
        extra, shift = {}, torch.zeros_like(self.pos)
        if vision and any(v is not None for v in vision):
            positions, shift, extra = vlm.rope_positions(model, ids, start, n_new, positions, vision,
                                                         self.pos)
        out = model(input_ids=ids, attention_mask=self.mask, position_ids=positions, use_cache=True,
                    **{compat.cache_kwarg(model): self.cache}, **extra)
        self.pos += n_new + shift
        last = (start + n_new - 1).clamp(min=0)
        return out.logits[torch.arange(len(rows_tokens)), last]

    def keep(self, rows):
        idx = torch.tensor(rows, dtype=torch.long, device=self.device)
        if self.reencode:                  # the next feed re-encodes from scratch anyway
            self.cache = None
        if self.cache is not None:
            self.cache.batch_select_indices(idx)
        self.mask, self.pos = self.mask[idx], self.pos[idx]

    def reset(self):
        self.cache, self.mask = None, self.mask[:, :0]
        self.pos.zero_()


def decode_cache(model, rcfg, n, device, images=False):
    """The KV cache a rollout batch samples with: Batch, unless the model or the config needs one of
    decoding/'s (the scale path): hybrid models' recurrent state, or a static, optionally compiled cache."""
    if recurrent.has_recurrent_layers(model):       # a pad inside a row would change a recurrent state
        if rcfg.reuse_cache and not images and recurrent.RecurrentBatch.supported(model):
            return recurrent.RecurrentBatch(Batch(n, device, left_pad_prompts=True))
        return Batch(n, device, reencode=True, left_pad_prompts=True)
    if rcfg.static_cache and rcfg.reuse_cache and not images:
        return static.StaticBatch(n, device, model, rcfg.max_total_tokens + rcfg.static_slack, rcfg.compile)
    return Batch(n, device, reencode=not rcfg.reuse_cache)


def episode_env(task, rcfg, kb=None, reward_config=None, max_turns=None):
    """The env one episode of `task` runs in: the KB is `kb` if given, else the one rollout.kb names
    (kb.open_kb: opened once per process, the embedded KB when empty)."""
    return envmod.MedicalEnv(tasks=[task], kb=kb if kb is not None else kbmod.open_kb(rcfg.kb),
                             max_turns=max_turns or rcfg.max_turns, tool_specs="none",
                             max_calls_per_turn=rcfg.max_calls_per_turn, reward_config=reward_config)


@torch.no_grad()
def rollout(model, tok, tasks, rcfg: config.RolloutConfig, seed=0, kb=None, progress=True, seeds=None,
            reward_config=None, hints=None):
    """Play one episode per task, rcfg.batch_size at a time; return Trajectories in task order.
    Episode i samples from its own host generator seeded seeds[i] (default seed + i); the env scores it with
    reward_config (config.RewardConfig; None: the paper's weights). hints[i] (token ids) goes between
    episode i's prompt and its first turn, where TT-OPD's teacher reads its hint
    (benchmarks/hint_reading.py)."""
    seeds = list(seeds) if seeds is not None else [seed + i for i in range(len(tasks))]
    hints = list(hints) if hints is not None else [[] for _ in tasks]
    out = []
    bar = tqdm(total=len(tasks), desc="rollout", unit="ep", disable=not progress, leave=False)
    for start in range(0, len(tasks), rcfg.batch_size):
        chunk = tasks[start:start + rcfg.batch_size]
        out += _rollout_batch(model, tok, chunk, rcfg, seeds[start:start + len(chunk)], kb, reward_config,
                              hints[start:start + len(chunk)])
        bar.update(len(chunk))
    bar.close()
    return out


def _rollout_batch(model, tok, tasks, rcfg, seeds, kb, reward_config, hints):
    end_id, pad_id = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id
    envs = [episode_env(t, rcfg, kb, reward_config) for t in tasks]
    trajs = [_start_episode(tok, e, t, seed, hint, rcfg)
             for e, t, seed, hint in zip(envs, tasks, seeds, hints)]
    live = [i for i, tr in enumerate(trajs) if len(tr.ids) + rcfg.max_new_tokens <= rcfg.max_total_tokens]
    for i in sorted(set(range(len(tasks))) - set(live)):     # no room for even one turn: scored unplayed
        print(f"warning: prompt of {tasks[i]['id']} has {len(trajs[i].ids)} tokens, no room for a turn "
              f"within rollout.max_total_tokens={rcfg.max_total_tokens}; "
              "the episode is scored without playing")
        finish(trajs[i], envs[i])
    rngs = [random.Random(int(s)) for s in seeds]
    pending = [list(trajs[i].ids) for i in live]
    vision = [trajs[i].vision for i in live]     # goes in with each row's first tokens only
    batch = decode_cache(model, rcfg, len(live), next(model.parameters()).device, any(vision))
    model.eval()
    while live:
        if batch.must_reencode(max(map(len, pending)) + rcfg.max_new_tokens):
            batch.reset()
            pending, vision = [list(trajs[i].ids) for i in live], [trajs[i].vision for i in live]
        logits = batch.feed(model, pending, pad_id, vision)
        vision = None
        turns, lps = sample_turns(model, batch, logits, [rngs[i] for i in live], rcfg, end_id, pad_id)
        nxt = [_play_turn(tok, trajs[i], envs[i], turns[r], lps[r], rcfg) for r, i in enumerate(live)]
        still = [r for r, x in enumerate(nxt) if x is not None]
        pending = [nxt[r] for r in still]
        live = [live[r] for r in still]
        if live:
            batch.keep(still)
    return trajs


def _start_episode(tok, e, task, seed, hint, rcfg):
    """Reset the env; the Trajectory holds the prompt (and a hint's ids after it, for TT-OPD's teacher)."""
    info = e.reset(seed=int(seed))[1]
    ids, vision = episode_prompt(tok, info, rcfg.tool_specs, rcfg.spec_keep)
    return Trajectory.start(task, ids + list(hint), vision)


def _play_turn(tok, tr, e, turn, logprobs, rcfg):
    """Record a sampled turn and step the env with it. Returns the tokens the cache must take next (the
    observation), or None when the episode has ended (submitted, out of turns or out of tokens)."""
    tr.add_turn(turn, logprobs)
    obs, rew, term, trunc, info = e.step(turn_text(tok, turn))
    tr.n_turns += 1
    tr.n_calls += sum(1 for c in info["tool_calls"] if c["name"])
    tr.calls += [{**c, "result": m["content"]} for c, m in zip(info["tool_calls"], info["tool_messages"])]
    tr.well_formed.append(envmod.well_formed_turn(info["tool_calls"]))
    closed = turn[-1] == tok.convert_tokens_to_ids("<|im_end|>")
    nxt = observation_ids(tok, info["tool_messages"], rcfg.tool_response_tokens, close_turn=not closed)
    if term or trunc or len(tr.ids) + len(nxt) + rcfg.max_new_tokens > rcfg.max_total_tokens:
        finish(tr, e, info.get("reward_info"))
        return None
    tr.add_context(nxt)
    # the turn's last sampled token is not in the cache yet: it goes in with the observation
    return ([turn[-1]] if turn else []) + nxt


def sample_turns(model, batch, logits, rngs, rcfg, end_id, pad_id):
    """Sample one turn per row, token by token over the cache, until each row has written <|im_end|> or
    rcfg.max_new_tokens; returns each row's tokens and their sampling log-probs. A row that has ended is fed
    nothing while the others go on."""
    turns = [[] for _ in rngs]
    lps = [[] for _ in rngs]
    open_rows = set(range(len(rngs)))
    for step in range(rcfg.max_new_tokens):
        toks, lp = sample(logits, rcfg.temperature, rcfg.top_p, rngs)
        toks, lp = torch.stack([toks.double(), lp.double()]).tolist()    # one device-to-host copy a token
        toks = [int(t) for t in toks]
        for r in list(open_rows):
            turns[r].append(toks[r])
            lps[r].append(lp[r])
            if toks[r] == end_id:
                open_rows.discard(r)
        if not open_rows or step == rcfg.max_new_tokens - 1:
            break
        logits = batch.feed(model, [[toks[r]] if r in open_rows else [] for r in range(len(rngs))], pad_id)
    return turns, lps


def finish(tr, e, reward_info=None):
    """Close an episode's Trajectory with the env's reward breakdown (scored as it stands if not ended)."""
    tr.reward_info = reward_info or e.score()
    tr.reward, tr.finished = tr.reward_info["reward"], e.case.answer is not None
    tr.errors = dict(e.errors)


def pad_trajectories(trajs, pad_id, device):
    """Right-padded batch: ids, attention mask, loss mask and sampling log-probs, each [B, T]."""
    width = max(len(t.ids) for t in trajs)
    ids = torch.full((len(trajs), width), pad_id, dtype=torch.long)
    attn, mask, logprobs = (torch.zeros(len(trajs), width) for _ in range(3))
    for r, t in enumerate(trajs):
        n = len(t.ids)
        ids[r, :n], attn[r, :n] = torch.tensor(t.ids), 1
        mask[r, :n], logprobs[r, :n] = torch.tensor(t.mask, dtype=torch.float), torch.tensor(t.logprobs)
    return ids.to(device), attn.long().to(device), mask.to(device), logprobs.to(device)


# ---------------------------------------------------------------- the output head, in chunks of tokens
HEAD_CHUNK = 128     # tokens whose [C, V] logits exist at once (151,936 x 128 x 4 bytes = 78 MB for Qwen3)


def final_hidden(model, ids, attn=None, extra=None):
    """[B, T-1, H]: the final (normed) hidden state before each next token, from one forward that computes
    the logits of the last position only. Under FSDP2 the forward leaves the root unit (embeddings, final
    norm, output head) gathered until its backward, so the head can be applied to these states afterwards."""
    out = model(input_ids=ids, attention_mask=attn, use_cache=False, logits_to_keep=1,
                output_hidden_states=True, **(extra or {}))
    return out.hidden_states[-1][:, :-1]


def head_logprobs(model, hidden, temperature=1.0):
    """log softmax(output_head(hidden) / temperature) over the vocabulary, in fp32."""
    return torch.log_softmax(model.get_output_embeddings()(hidden).float() / temperature, -1)


def chunked(fn, *rows, chunk=HEAD_CHUNK):
    """fn over consecutive chunks of `chunk` rows of the tensors `rows` (first dimension), outputs
    concatenated. With gradients on, each chunk is checkpointed: its forward keeps only fn's inputs and
    outputs and the backward recomputes it, so no [rows, V] tensor outlives its chunk."""
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


@torch.no_grad()
def score_logprobs(model, ids, temperature=1.0, tok=None, traj=None):
    """Log-prob of every token given its prefix, by one full forward pass (index 0 gets 0.0); pass the
    tokenizer and the trajectory to score a vision-language episode with its image."""
    x = torch.tensor([ids], device=next(model.parameters()).device)
    extra = vlm.forward_kwargs(tok, [traj], x) if traj is not None else {}
    lp = token_logprobs(model, x, temperature=temperature, extra=extra)[0]
    return torch.cat([torch.zeros(1, device=lp.device), lp])


# ---------------------------------------------------------------- evaluation: one path for every caller
VALIDATION_SAMPLE_SEED = 1     # the fixed draw of eval_tasks validation tasks


def validation_tasks(split, n):
    """The fixed sample of n tasks of a split that every evaluation of it uses (the whole split if n is 0)."""
    tasks = bank.load_tasks(split=split)
    if n > len(tasks):
        raise config.ConfigError(f"config key 'eval_tasks' is {n} but split {split!r} has {len(tasks)} tasks")
    return random.Random(VALIDATION_SAMPLE_SEED).sample(tasks, n) if n else tasks


def evaluation_rollouts(model, tok, tasks, rcfg, seed_base, rank=0, world=1, progress=False,
                        reward_config=None):
    """This rank's share of `tasks` (task i goes to rank i % world), one episode each, task i seeded
    seed_base + i: any world size plays the same episodes. Returns (tasks, trajectories) of this rank.
    Used by training-time validation (grpo.evaluate), evaluate.py's agent mode and benchmarks/val_seeds.py."""
    mine = list(range(rank, len(tasks), world))
    if not mine:
        return [], []
    trajs = rollout(model, tok, [tasks[i] for i in mine], rcfg, seeds=[seed_base + i for i in mine],
                    progress=progress, reward_config=reward_config)
    return [tasks[i] for i in mine], trajs

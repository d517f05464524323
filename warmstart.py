"""The embedded default's tokenizer, and the warm start by behaviour cloning of the scripted expert.

  python warmstart.py tokenizer             # (re)train the BPE tokenizer -> data/tokenizer/
  python warmstart.py configs/tiny.yaml     # -> checkpoints/warmstart (warm_start.out_dir)

A randomly initialised model cannot call tools, so RL starts from a policy cloned from
the scripted expert: each expert episode is turned into token ids by the same code path
as a rollout (agent.prompt_ids / agent.observation_ids), with the expert's turns as the
masked "policy" tokens, and the model is trained by cross-entropy on those tokens only.
A share of the episodes (warm_start.hint_share) carries a TT-OPD hint between the prompt and
the first turn, exactly where ttopd.py's teacher reads it: a confirmatory cue, or a redirection
of a simulated wrong episode; the expert's work-up follows either way. A hinted multiple-choice
case has its options reordered, so its answer letter is in the hint, not in the model's memory of
the case. That alone does not teach the model to read them: the answer is 1 of ~90 supervised tokens
of a demonstration. The answer phase (answer_steps, answer_grow, answer_grow_after) first trains the
hinted answer's tokens alone, the work-up put back one turn at a time, and answer_mix keeps that
loss as a term of every cloning step after it: the teacher then follows a hint, but the cloning
must be long enough to recover from the phase (benchmarks/results/README.md, issue 34). Each warm
start records what built it (inputs_sha256, the weights' sha256, the command line).
"""
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import time

import numpy as np
import torch
from tqdm import tqdm

import agent
import config
import env as envmod
from clinic import bank, files, hints, images
from decoding import vlm


# ---------------------------------------------------------------- the embedded default's tokenizer
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
           "</tool_response>"]
CHAT_TEMPLATE = (   # Qwen/Hermes layout: tools in the system turn, tool results as a user turn
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}"
    "{{- '<|im_start|>system\\n' + m.content }}"
    "{%- if tools %}{{- '\\n\\n# Tools\\n<tools>' }}"
    "{%- for t in tools %}{{- '\\n' + (t | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>' }}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif m.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


def tokenizer_corpus(max_tasks=4000):
    """Text the tokenizer is trained on: tasks, expert turns and tool responses, KB passages."""
    tasks = bank.load_tasks()[:max_tasks]
    e = envmod.MedicalEnv(tasks=tasks, max_turns=8)
    yield envmod.SYSTEM_PROMPT
    for t in tasks:
        yield envmod.case_text(t)
        e.reset(options={"task_id": t["id"]})
        for action in envmod.expert_actions(t):
            yield action
            info = e.step(action)[4]
            for m in info["tool_messages"]:
                yield m["content"]
    with open(os.path.join(agent.ROOT, "data", "kb_passages.jsonl")) as f:
        for line in f:
            p = json.loads(line)
            yield p["title"] + "\n" + p["text"]


def train_tokenizer(out_dir=agent.TOKENIZER_DIR, vocab_size=3072):
    """Byte-level BPE (any byte sequence is representable) with the chat special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(tokenizer_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL[1:],
                                   chat_template=CHAT_TEMPLATE)
    fast.save_pretrained(out_dir)
    return fast


# ---------------------------------------------------------------- behaviour cloning
def expert_trajectory(tok, task, rcfg, kb=None, expert_turns=None, hint="", hint_before_submit=False,
                      mark_answer=False, last_turns=None):
    """The scripted expert's episode as a Trajectory (mask 1 on its turns, log-probs 0); its calls are
    grouped into at most expert_turns turns (default: the rollout's max_turns); `hint` text, if any,
    sits between the prompt and the first turn (mask 0), where TT-OPD's teacher reads it, or right before
    the last (submit) turn with hint_before_submit (a diagnostic of benchmarks/hint_probe.py only).
    mark_answer: tr.extras["answer_positions"] lists the tokens that write the submitted answer
    (warm_start.answer_steps; it needs a fast tokenizer's offsets). last_turns: only the work-up's last
    that many turns are played before the submit (warm_start.answer_grow)."""
    expert_turns = expert_turns or rcfg.max_turns
    e = agent.episode_env(task, rcfg, kb, max_turns=max(expert_turns, rcfg.max_turns))
    info = e.reset(seed=0)[1]
    ids, vision = agent.episode_prompt(tok, info, rcfg.tool_specs)
    early, late = ("", hint) if hint_before_submit else (hint, "")
    tr = agent.Trajectory.start(task, ids + agent.hint_ids(tok, early), vision)
    end_id = tok.convert_tokens_to_ids("<|im_end|>")
    actions = envmod.expert_actions(task, expert_turns)
    if last_turns is not None:
        actions = actions[-(last_turns + 1):]
    for i, action in enumerate(actions):
        if late and i == len(actions) - 1:
            tr.add_context(agent.hint_ids(tok, late))
        turn = tok.encode(action, add_special_tokens=False) + [end_id]
        if mark_answer:
            positions = tr.extras.setdefault("answer_positions", [])
            positions.extend(len(tr.ids) + k for k in answer_tokens(tok, action))
        tr.add_turn(turn, [0.0] * len(turn))
        obs, rew, term, trunc, info = e.step(action)
        if term or trunc:
            tr.reward_info, tr.reward, tr.finished = info["reward_info"], rew, term
            break
        nxt = agent.observation_ids(tok, info["tool_messages"], rcfg.tool_response_tokens)
        tr.add_context(nxt)
    return tr


ANSWER_VALUE = re.compile(r'"name": "submit_answer".*?"answer": ("(?:[^"\\]|\\.)*"|[^,}]+)', re.S)


def answer_tokens(tok, action):
    """Indices, within the action's tokens, of the tokens that write submit_answer's answer value (none for
    another call): what a hint names, and what warm_start.answer_steps trains alone."""
    m = ANSWER_VALUE.search(action)
    if not m:
        return []
    a, b = m.span(1)
    if action[a] == '"':          # a string: its characters, not its quotes
        a, b = a + 1, b - 1
    spans = tok(action, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [k for k, (x, y) in enumerate(spans) if x < b and y > a]


def answer_only(batch, mask):
    """The loss mask with 1 on the answer tokens of each row's submit turn only."""
    out = torch.zeros_like(mask)
    for r, t in enumerate(batch):
        out[r, t.extras.get("answer_positions", [])] = 1
    return out


def demonstration(task, rng, ws):
    """(task, hint) of a demonstration: the task with no hint (1 - hint_share), else the task with its options
    reordered (multiple choice) and a redirection of a simulated wrong episode (wrong_hint_share) or a
    confirmatory cue."""
    if rng.random() >= ws.hint_share:
        return task, ""
    task = hints.shuffled_options(task, rng)
    wrong = rng.random() < ws.wrong_hint_share
    return task, hints.render(task, hints.simulated_wrong(task, rng) if wrong else hints.expert_outcome(task))


def length_batches(trajs, tokens_per_batch, rng):
    """Group trajectories of similar length so that rows * longest <= tokens_per_batch."""
    order = sorted(range(len(trajs)), key=lambda i: len(trajs[i].ids))
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * len(trajs[i].ids) > tokens_per_batch:
            batches.append(cur)
            cur = []
        cur.append(i)
    batches.append(cur)
    rng.shuffle(batches)
    return batches


def masked_nll(model, ids, mask, extra=None):
    """Mean cross-entropy of the masked tokens given their prefixes (right padding: causal attention never
    lets a real token see the pads after it, so no attention mask is needed)."""
    logits = model(input_ids=ids, use_cache=False, **(extra or {})).logits[:, :-1].float()
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    m = mask[:, 1:]
    return (nll * m).sum() / m.sum().clamp(min=1)


def optimiser_step(model, opt, loss, log=None):
    """One AdamW step on `loss`, gradients clipped to norm 1; the loss goes on the curve `log`, if given."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if log is not None:
        log.append(float(loss.detach()))


def plus_term(loss, term, log):
    """loss + term() (warm_start.answer_mix, answer_keep), the term's value appended to log; loss if no term."""
    if not term:
        return loss
    extra = term()
    log.append(float(extra.detach()))
    return loss + extra


def copy_strings(vocab_size, ws, gen):
    """[copy_batch, copy_length] random token strings, each over its own copy_alphabet random tokens."""
    shape = (ws.copy_batch, ws.copy_length)
    if not ws.copy_alphabet:
        return torch.randint(0, vocab_size, shape, generator=gen)
    alphabets = torch.stack([torch.randperm(vocab_size, generator=gen)[:ws.copy_alphabet]
                             for _ in range(shape[0])])
    return torch.gather(alphabets, 1, torch.randint(0, ws.copy_alphabet, shape, generator=gen))


def copy_pretrain(model, vocab_size, ws):
    """Copy pre-training: random token strings shown twice, cross-entropy on the second showing only.
    Every supervised token needs a copy from its first showing, so the induction heads that reading a hint
    requires form in a few hundred steps; in behaviour cloning the answer letter is 1 of ~90 supervised
    tokens of a demonstration and they do not form (benchmarks/hint_probe.py). Returns the loss curve."""
    gen = torch.Generator().manual_seed(ws.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=ws.lr, weight_decay=0.0)
    model.train()
    log = []
    for _ in tqdm(range(ws.copy_steps), desc="copy pre-training", unit="step"):
        first = copy_strings(vocab_size, ws, gen)
        ids = torch.cat([first, first], 1).to(model.device)
        logits = model(input_ids=ids, use_cache=False).logits[:, ws.copy_length:-1].float()
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, ws.copy_length + 1:])
        optimiser_step(model, opt, loss, log)
    return log


def batches_forever(trajs, ws, rng):
    """Length-grouped batches of the demonstrations, reshuffled each pass, for as long as they are asked for
    (the next pass is drawn only when a batch of it is)."""
    while True:
        for idx in length_batches(trajs, ws.tokens_per_batch, rng):
            yield [trajs[i] for i in idx]


def cloning_loss(model, tok, batch, mask_of=None):
    """masked_nll of a batch of demonstrations, on their policy tokens (or on mask_of(batch, mask))."""
    ids, _, mask, _ = agent.pad_trajectories(batch, tok.pad_token_id, model.device)
    mask = mask_of(batch, mask) if mask_of else mask
    return masked_nll(model, ids, mask, vlm.forward_kwargs(tok, batch, ids))


def clone(model, tok, trajs, ws, rng, steps, lr_factor, desc="behaviour cloning", mask_of=None,
          also=None, also_log=None):
    """`steps` AdamW steps of cloning_loss over batches_forever, the learning rate ws.lr * lr_factor(step).
    also(): a loss added to every step's (warm_start.answer_mix, answer_keep), its values appended to
    also_log. Returns the cloning loss curve, the added term not included."""
    opt = torch.optim.AdamW(model.parameters(), lr=ws.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    model.train()
    log = []
    batches = batches_forever(trajs, ws, rng)
    bar = tqdm(range(steps), desc=desc, unit="step")
    for _ in bar:
        loss = cloning_loss(model, tok, next(batches), mask_of)
        log.append(float(loss.detach()))
        optimiser_step(model, opt, plus_term(loss, also, also_log))
        sched.step()
        bar.set_postfix(loss=f"{np.mean(log[-20:]):.3f}")
    return log


def grown_turns(step, ws):
    """Work-up turns kept before the submit at this step of the grown answer phase."""
    if step < ws.answer_grow_after:
        return 0
    return (step - ws.answer_grow_after) // ws.answer_grow + (1 if ws.answer_grow_after else 0)


def grown_answer_loss(model, tok, tasks, cfg, rng, turns):
    """The answer-only loss of answer_batch hinted demonstrations drawn afresh (options reshuffled, so only
    the hint tells the letter), the work-up cut to its last `turns` turns."""
    ws = cfg.warm_start
    hinted = dataclasses.replace(ws, hint_share=1.0)
    batch = []
    for _ in range(ws.answer_batch):
        task, hint = demonstration(rng.choice(tasks), rng, hinted)
        batch.append(expert_trajectory(tok, task, cfg.rollout, expert_turns=ws.expert_max_turns,
                                       hint=hint, mark_answer=True, last_turns=turns))
    return cloning_loss(model, tok, batch, answer_only)


def grown_answers(model, tok, tasks, cfg, rng, keep=None, keep_log=None):
    """The answer phase with a distance curriculum (warm_start.answer_grow): every step grown_answer_loss with
    the work-up cut to its last k turns (k = 0 for answer_grow_after steps, then one more every answer_grow
    steps), constant lr, plus keep() if given (warm_start.answer_keep), its values on keep_log. On
    demonstrations the warm start cycles through, half of them hinted, the copy is not found
    (benchmarks/results/README.md, "What stops the copy"). Returns the answer loss curve."""
    ws = cfg.warm_start
    opt = torch.optim.AdamW(model.parameters(), lr=ws.lr, weight_decay=0.0)
    model.train()
    log = []
    for step in tqdm(range(ws.answer_steps), desc="answer first, grown", unit="step"):
        loss = grown_answer_loss(model, tok, tasks, cfg, rng, grown_turns(step, ws))
        log.append(float(loss.detach()))
        optimiser_step(model, opt, plus_term(loss, keep, keep_log))
    return log


def cloning_set(cfg, tok, rng):
    """(train tasks, (task, hint) demonstrations, their expert trajectories): what behaviour cloning trains on
    (warm_start.max_tasks of the train split drawn with rng, or all of it)."""
    ws = cfg.warm_start
    tasks = bank.load_tasks(split="train")
    if ws.max_tasks > len(tasks):
        raise config.ConfigError(f"config key 'warm_start.max_tasks' is {ws.max_tasks} "
                                 f"but the train split has {len(tasks)} tasks")
    if ws.max_tasks:
        tasks = rng.sample(tasks, ws.max_tasks)
    images.check_readable(tasks)
    hint_rng = random.Random(ws.seed + 1)
    demos = [demonstration(t, hint_rng, ws) for t in tasks]
    trajs = [expert_trajectory(tok, t, cfg.rollout, expert_turns=ws.expert_max_turns, hint=h,
                               mark_answer=ws.answer_steps > 0)
             for t, h in tqdm(demos, desc="expert episodes", unit="ep")]
    return tasks, demos, trajs


def inputs_sha256(cfg, trajs, start_weights=None):
    """What a warm start is a function of, hashed: the warm_start and model config (out_dir and device aside),
    the embedded model's shape or the starting checkpoint's weights, every cloning demonstration's tokens and
    mask (the bank, the expert, the tokenizer and the env's responses are all in them), this file's code and
    the torch and transformers versions. A shipped warm start records it, and tests/test_hints.py recomputes
    it from the checkout. start_weights: the starting checkpoint's .safetensors sha256s in name order, where
    that checkpoint is gone (a chain of warm starts of which only the last is shipped: its predecessors'
    records hold them); else they are read from model.path."""
    import transformers
    h = hashlib.sha256()
    ws = {k: v for k, v in dataclasses.asdict(cfg.warm_start).items() if k != "out_dir"}
    model = {k: v for k, v in dataclasses.asdict(cfg.model).items() if k != "device"}
    h.update(json.dumps([ws, model, torch.__version__, transformers.__version__], sort_keys=True).encode())
    if not cfg.model.path:
        with open(os.path.join(agent.ROOT, cfg.model.tiny_config), "rb") as f:
            h.update(f.read())
    else:                   # a warm start continued from a checkpoint is a function of its weights too
        if start_weights is None:
            start_weights = [files.sha256(os.path.join(cfg.model.path, name))
                             for name in sorted(os.listdir(cfg.model.path)) if name.endswith(".safetensors")]
        for digest in start_weights:
            h.update(digest.encode())
    for t in trajs:
        h.update(json.dumps([t.ids, t.mask]).encode())
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def warm_start(cfg, command=""):
    """Behaviour-clone the scripted expert on the train split; save an HF checkpoint (its record,
    warmstart_log.json, holds `command`, the command line that built it)."""
    ws, t0 = cfg.warm_start, time.time()
    torch.manual_seed(ws.seed)
    rng = random.Random(ws.seed)
    model, tok = agent.load_policy(cfg.model)
    needs_offsets = [k for k in ("answer_steps", "answer_mix") if getattr(ws, k)]
    if needs_offsets and not tok.is_fast:
        raise config.ConfigError(f"config key 'warm_start.{needs_offsets[0]}' needs a fast tokenizer "
                                 "(its offsets find the answer's tokens); this checkpoint's is not one")
    copy_log = copy_pretrain(model, len(tok), ws) if ws.copy_steps else []
    tasks, demos, trajs = cloning_set(cfg, tok, rng)
    n_hinted = sum(bool(h) for _, h in demos)
    n_tok = sum(len(t.ids) for t in trajs)
    steps_per_epoch = len(length_batches(trajs, ws.tokens_per_batch, random.Random(0)))
    total = max(1, int(ws.epochs * steps_per_epoch))
    kept, keep_log = batches_forever(trajs, ws, random.Random(ws.seed + 4)), []

    def keep_term():        # warm_start.answer_keep: cloning goes on, lightly, while the answer is trained
        return ws.answer_keep * cloning_loss(model, tok, next(kept))
    keep = keep_term if ws.answer_keep else None
    if ws.answer_steps and ws.answer_grow:
        answer_log = grown_answers(model, tok, tasks, cfg, random.Random(ws.seed + 2), keep, keep_log)
    elif ws.answer_steps:
        answer_log = clone(model, tok, trajs, ws, rng, ws.answer_steps, lambda s: 1.0, "answer first",
                           answer_only, keep, keep_log)
    else:
        answer_log = []
    warm = max(1, total // 20)
    mix_rng, mix_log = random.Random(ws.seed + 3), []

    def answer_term():      # warm_start.answer_mix: keeps the copy from being worn down by the cloning
        turns = grown_turns(ws.answer_steps + len(mix_log), ws) if ws.answer_grow else None
        return ws.answer_mix * grown_answer_loss(model, tok, tasks, cfg, mix_rng, turns)
    log = clone(model, tok, trajs, ws, rng, total,
                lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)),
                also=answer_term if ws.answer_mix else None, also_log=mix_log)
    summary = {"tasks": len(trajs), "hinted": n_hinted, "tokens": n_tok, "steps": total,
               "final_loss": float(np.mean(log[-20:])),
               "wall_s": time.time() - t0, "loss_curve": log, "copy_loss_curve": copy_log,
               "answer_loss_curve": answer_log, "answer_keep_curve": keep_log, "answer_mix_curve": mix_log}
    # written whole, then renamed: never half a warm start
    tmp = os.path.normpath(ws.out_dir) + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    summary.update(command=command, inputs_sha256=inputs_sha256(cfg, trajs), threads=torch.get_num_threads(),
                   weights_sha256=files.sha256(os.path.join(tmp, "model.safetensors")))
    with open(os.path.join(tmp, "warmstart_log.json"), "w") as f:
        json.dump(summary, f)
    files.replace_dir(tmp, ws.out_dir)
    return model, tok, summary


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        return print("usage: python warmstart.py CONFIG.yaml [key.sub=value ...]  (any training config: "
                     "it reads model, rollout and warm_start)\n       python warmstart.py tokenizer")
    if argv[0] == "tokenizer":
        tok = train_tokenizer()
        return print(f"tokenizer with {len(tok)} tokens written to {agent.TOKENIZER_DIR}")
    cfg = config.load(argv[0], config.Config, argv[1:], ignore_sections=True)
    s = warm_start(cfg, f"OMP_NUM_THREADS={torch.get_num_threads()} python warmstart.py {' '.join(argv)}")[2]
    print(f"warm start: {s['tasks']} expert episodes ({s['hinted']} hinted), "
          f"{s['tokens']} tokens, {s['steps']} steps, loss {s['final_loss']:.3f}, "
          f"{s['wall_s'] / 60:.1f} min -> {cfg.warm_start.out_dir}")


if __name__ == "__main__":
    files.run_cli(main)

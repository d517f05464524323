"""The answer letter's own loss while cloning copy-only demonstrations: is the copy from the hint learned?

  python benchmarks/letter_curve.py [--steps 300] [--short] [--letter-only] [--copy-steps N] [--seed S] [--similar]
                                    [--workup] [--fixed N] [--hint-share P] [--late] [--curriculum N]
                                    [--grow START EVERY] [--warm-hints] [--wrong-share P]

Copy-only demonstrations (benchmarks/hint_probe.py: the prompt, a note naming the option, the submit of that
option; half the notes name a random option), 6 drawn afresh a step, AdamW lr 3e-3. Prints every 25 steps the
mean cross-entropy of the submitted answer letter (ln 4 = 1.39: a uniform guess over four options; near 0: the
letter is copied from the note). --short keeps only the last assistant message (the note and the submit);
--letter-only trains on the letter alone instead of every supervised token; --copy-steps runs
warmstart.copy_pretrain first; --workup keeps the expert's work-up (the warm start's demonstrations: the note
sits before ~5 tool turns); --fixed N draws N demonstrations once and cycles through them in length-grouped
batches of ~6 rows, as warmstart.clone does; --hint-share P hints only that share (the rest: no note, the
letter is unpredictable and its loss is not tracked); --late puts the note right before the submit turn;
--curriculum N: copy-only demonstrations for N steps, then the work-up's (with --workup); --grow START EVERY:
copy-only until START, then the work-up's last turns put back one at a time; --warm-hints: the warm start's own
notes (warmstart.demonstration) instead of the probe's, --wrong-share the share of them that are redirections.
"""
import argparse
import copy
import dataclasses
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

import agent  # noqa: E402
import config  # noqa: E402
import env as envmod  # noqa: E402
import warmstart  # noqa: E402
from benchmarks import hint_probe, hint_reading  # noqa: E402


def last_message(tr, start_id):
    k = max(i for i, x in enumerate(tr.ids) if x == start_id)
    tr.ids, tr.mask, tr.logprobs = tr.ids[k:], tr.mask[k:], tr.logprobs[k:]
    tr.extras["answer_positions"] = [p - k for p in tr.extras["answer_positions"]]
    return tr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--letter-only", action="store_true")
    ap.add_argument("--copy-steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="initial weights and the demonstrations drawn")
    ap.add_argument("--similar", action="store_true",
                    help="each step's 6 demonstrations are of similar length (as warmstart.length_batches groups "
                         "them): 60 drawn, sorted by length, 6 neighbours taken")
    ap.add_argument("--workup", action="store_true", help="the expert's full work-up, not copy-only")
    ap.add_argument("--fixed", type=int, default=0, help="a fixed pool of N demonstrations, length-grouped")
    ap.add_argument("--hint-share", type=float, default=1.0)
    ap.add_argument("--curriculum", type=int, default=0,
                    help="with --workup: the first N steps on copy-only demonstrations (short distance), then the "
                         "work-up's")
    ap.add_argument("--grow", type=int, nargs=2, metavar=("START", "EVERY"),
                    help="a distance curriculum: copy-only demonstrations until step START, then one more of the "
                         "expert's work-up turns (its last ones, before the submit) every EVERY steps")
    ap.add_argument("--warm-hints", action="store_true",
                    help="the warm start's own notes (warmstart.demonstration: options reshuffled, half of the "
                         "notes a redirection that first names a wrong answer) instead of confirmatory notes")
    ap.add_argument("--wrong-share", type=float, default=0.5,
                    help="with --warm-hints: the share of notes that are redirections (warm_start.wrong_hint_share)")
    ap.add_argument("--late", action="store_true", help="the note right before the submit turn, not after the "
                                                        "prompt (with --workup: no work-up between them)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config.load("configs/tiny.yaml", config.Config, [
        "warm_start.lr=0.003", f"warm_start.copy_steps={a.copy_steps}", "warm_start.copy_alphabet=0",
        f"warm_start.hint_share={a.hint_share}", f"warm_start.wrong_hint_share={a.wrong_share}"])
    torch.manual_seed(a.seed)
    model, tok = agent.load_policy(cfg.model)
    if a.copy_steps:
        warmstart.copy_pretrain(model, len(tok), cfg.warm_start)
    train = hint_reading.choice_cases("train", 120, 0)
    plain_actions = envmod.expert_actions

    def use(workup):
        change = "arbitrary" if workup else "hint_only arbitrary"
        envmod.expert_actions = hint_probe.expert_actions_with(change, plain_actions)
        if a.warm_hints:        # a hinted demonstration as the warm start makes it, cut as `change` says
            def demo(task, rng, ws):
                task, hint = warmstart.demonstration(task, rng, ws)
                return ({**task, "_submit_only": True} if "hint_only" in change else task), hint
            return demo
        return hint_probe.demonstration_with(change)
    # --grow: the work-up, cut to its last k turns by warm_start.answer_grow's schedule (k = 0: copy-only)
    grow = dataclasses.replace(cfg.warm_start, answer_grow_after=a.grow[0], answer_grow=a.grow[1]) \
        if a.grow else None
    demo = use((a.workup or bool(grow)) and not a.curriculum)
    last_turns = None
    start_id = tok.convert_tokens_to_ids("<|im_start|>")
    rng, t0, curve = random.Random(a.seed), time.time(), []
    opt = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.0)
    def draw():
        t, h = demo(copy.deepcopy(rng.choice(train)), rng, cfg.warm_start)
        tr = warmstart.expert_trajectory(tok, t, cfg.rollout, expert_turns=5, hint=h, mark_answer=True,
                                         hint_before_submit=a.late, last_turns=last_turns)
        tr.extras["hinted"] = bool(h)
        return last_message(tr, start_id) if a.short else tr

    pool = [draw() for _ in range(a.fixed)]
    width = 6 * sum(len(t.ids) for t in pool) // max(1, len(pool))     # ~6 rows a batch, as tokens_per_batch
    queue = []
    for step in range(a.steps):
        if grow and warmstart.grown_turns(step, grow) != last_turns:
            last_turns = warmstart.grown_turns(step, grow)
            if step:
                print(f"step {step}: {last_turns} work-up turn(s) between the note and the submit", flush=True)
        if a.curriculum and step == a.curriculum:
            demo = use(True)
            print(f"step {step}: the work-up's demonstrations from here", flush=True)
        if a.fixed:
            if not queue:
                queue = warmstart.length_batches(pool, width, rng)
            batch = [pool[i] for i in queue.pop()]
        else:
            batch = [draw() for _ in range(60 if a.similar else 6)]
        if a.similar:
            batch.sort(key=lambda tr: len(tr.ids))
            k = rng.randrange(len(batch) - 5)
            batch = batch[k:k + 6]
        ids, _, mask, _ = agent.pad_trajectories(batch, tok.pad_token_id, "cpu")
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        m = mask[:, 1:]
        first = warmstart.answer_only(batch, mask)[:, 1:] > 0       # the submitted letter
        m = first.float() if a.letter_only else m
        first = first & torch.tensor([t.extras["hinted"] for t in batch]).unsqueeze(1)
        loss = (nll * m).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if first.any():
            curve.append(float(nll[first].detach().mean()))
        if (step + 1) % 25 == 0:
            print(f"step {step + 1:4d}  loss {loss.item():.3f}  hinted letter NLL (last 25) {sum(curve[-25:]) / max(1, len(curve[-25:])):.3f}  "
                  f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()

"""The answer letter's own loss while cloning copy-only demonstrations: is the copy from the hint learned?

  python benchmarks/letter_curve.py [--steps 300] [--short] [--letter-only] [--copy-steps N] [--seed S] [--similar]

Copy-only demonstrations (benchmarks/hint_probe.py: the prompt, a note naming the option, the submit of that
option; half the notes name a random option), 6 drawn afresh a step, AdamW lr 3e-3. Prints every 25 steps the
mean cross-entropy of the submitted answer letter (ln 4 = 1.39: a uniform guess over four options; near 0: the
letter is copied from the note). --short keeps only the last assistant message (the note and the submit);
--letter-only trains on the letter alone instead of every supervised token; --copy-steps runs
warmstart.copy_pretrain first.
"""
import argparse
import copy
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
from benchmarks import hint_probe  # noqa: E402


def last_message(tr, start_id):
    k = max(i for i, x in enumerate(tr.ids) if x == start_id)
    tr.ids, tr.mask, tr.logprobs = tr.ids[k:], tr.mask[k:], tr.logprobs[k:]
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
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config.load("configs/tiny.yaml", config.Config, [
        "warm_start.lr=0.003", f"warm_start.copy_steps={a.copy_steps}", "warm_start.copy_alphabet=0",
        "warm_start.hint_share=1.0"])
    torch.manual_seed(a.seed)
    model, tok = agent.load_policy(cfg.model)
    if a.copy_steps:
        warmstart.copy_pretrain(model, len(tok), cfg.warm_start)
    train = hint_probe.choice_cases("train", 120, 0)
    envmod.expert_actions = hint_probe.expert_actions_with("hint_only")
    demo = hint_probe.demonstration_with("hint_only arbitrary")
    letters = torch.tensor(tok.convert_tokens_to_ids(list("ABCDE")))
    start_id = tok.convert_tokens_to_ids("<|im_start|>")
    rng, t0, curve = random.Random(a.seed), time.time(), []
    opt = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.0)
    for step in range(a.steps):
        batch = []
        for _ in range(60 if a.similar else 6):
            t, h = demo(copy.deepcopy(rng.choice(train)), rng, cfg.warm_start)
            tr = warmstart.expert_trajectory(tok, t, cfg.rollout, expert_turns=5, hint=h)
            batch.append(last_message(tr, start_id) if a.short else tr)
        if a.similar:
            batch.sort(key=lambda tr: len(tr.ids))
            k = rng.randrange(len(batch) - 5)
            batch = batch[k:k + 6]
        ids, _, mask, _ = agent.pad_trajectories(batch, tok.pad_token_id, "cpu")
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        m = mask[:, 1:]
        is_letter = torch.isin(ids[:, 1:], letters) & (m > 0)
        first = is_letter & is_letter.float().cumsum(1).eq(1)       # the submitted letter, not the rationale's
        m = first.float() if a.letter_only else m
        loss = (nll * m).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve.append(float(nll[first].mean()))
        if (step + 1) % 25 == 0:
            print(f"step {step + 1:4d}  loss {loss.item():.3f}  letter NLL (last 25) {sum(curve[-25:]) / 25:.3f}  "
                  f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()

"""Why does the warm-started teacher not read its hints? One hypothesis at a time, on a small fast setup.

  python benchmarks/hint_probe.py [--cases 120] [--held-out 60] [--probes NAME ...] [--out FILE.json]

Each probe warm-starts a model from the same initial weights on the same multiple-choice train cases (the
embedded default's warm start, shortened, with one thing changed) and then scores held-out validation cases
teacher-forced, as TT-OPD's teacher scores a student's episode:
  follow   share of cases whose submit turn is more likely with the wrong answer a misleading hint names than
           with the right one (the hint is a confirmatory cue naming a wrong option);
  pull     how much that hint raises the log-probability of the hinted wrong submit turn (nats, mean);
  right    share of cases whose right submit turn is the more likely with no hint (the model's own accuracy,
           teacher-forced over the right and the one wrong option);
  pull_answer, pull_rest   the pull split: on the answer's tokens, and on the rest of the submit turn;
  pull_ceiling  the largest pull_answer any hint could give (-log p of the wrong answer's tokens, no hint).
A teacher that reads hints has follow near 1 and a pull of several nats; one that ignores them has follow near
1 - right and a pull near 0. The probes:
  baseline       hint_share 0.5 and the tiny model, as configs/tiny.yaml but on the probe's cases;
  all_hinted     every demonstration hinted (hint_share 1.0);
  no_hints       no demonstration hinted (the reference the others are read against);
  hint_only      hinted demonstrations carry no work-up: the expert submits straight after the hint, so the
                 answer can only come from the hint (tests "the evidence makes the hint redundant");
  wider, deeper  the model's width or depth doubled (tests "too small to copy across the episode");
  longer         three times the epochs (tests "not trained long enough");
  adjacent       the hint sits right before the submit turn instead of between the prompt and the first turn,
                 in training and in scoring (tests "too far from the answer it names");
  arbitrary      half the hinted demonstrations name a random option, and the expert submits that option: the
                 hint is then the only thing that predicts the submitted letter (tests "the case already gives
                 the answer away, so the hint is never needed": a model that memorised its train cases can
                 answer them from the question and the options, hint or no hint).
  redrawn, arbitrary_redrawn   as baseline and arbitrary, but each epoch draws its demonstrations afresh (hint,
                 option order, named option), so that no (question, hint) text is seen twice and memorising
                 a demonstration's letter from its question text is no longer possible (tests "every epoch
                 shows the same hinted texts, which can be learned by heart without reading the hint").
  copy_only      all three at once, every demonstration hinted: the demonstration is the prompt, the note and
                 the submit, and half the notes name a random option (can the model copy a letter at all?).
  copy_weighted  copy_only with the answer letter's token weighted LETTER_WEIGHT times in the loss (tests "the
                 letter is too small a part of the loss to be learned").
  answer_kept, answer_kept_light   answer_mixed (the grown answer phase, then answer_mix 1.0) with the cloning
                 loss kept on through the phase at weight 0.3 / 0.1 (warm_start.answer_keep; tests "the phase
                 wrecks the cloning because nothing holds the logits the answer-only loss does not train").
Each probe is also scored on its own train cases (follow_train, right_train): a model that reads hints only
where it cannot answer otherwise follows them on held-out cases but not on memorised ones.
"""
import argparse
import copy
import functools
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

import agent  # noqa: E402
import config  # noqa: E402
import env as envmod  # noqa: E402
import warmstart  # noqa: E402
from benchmarks import hint_reading  # noqa: E402
from clinic import bank, hints  # noqa: E402

# the grown answer phase (700 steps, a work-up turn back every 75 after 250), then the answer term through cloning
ANSWER_MIXED = ["warm_start.answer_steps=700", "warm_start.answer_grow=75", "warm_start.answer_grow_after=250",
                "warm_start.answer_mix=1.0"]
PROBES = {  # name -> (config overrides, model shape changes, demonstration change)
    "baseline": ([], {}, None),
    "all_hinted": (["warm_start.hint_share=1.0"], {}, None),
    "no_hints": (["warm_start.hint_share=0.0"], {}, None),
    "hint_only": (["warm_start.hint_share=1.0"], {}, "hint_only"),
    "wider": ([], {"hidden_size": 384, "intermediate_size": 1024, "head_dim": 96}, None),
    "deeper": ([], {"num_hidden_layers": 8}, None),
    "longer": (["warm_start.epochs=18"], {}, None),
    "adjacent": ([], {}, "adjacent"),
    "arbitrary": ([], {}, "arbitrary"),
    "redrawn": ([], {}, "redrawn"),
    "arbitrary_redrawn": ([], {}, "arbitrary redrawn"),
    "copy_only": (["warm_start.hint_share=1.0"], {}, "hint_only arbitrary redrawn"),
    "copy_weighted": (["warm_start.hint_share=1.0"], {}, "hint_only arbitrary redrawn weighted"),
    "copy_pretrained": (["warm_start.hint_share=1.0", "warm_start.copy_steps=300", "warm_start.copy_alphabet=0"], {},
                        "hint_only arbitrary redrawn"),
    "copy_pretrained_ngram": (["warm_start.hint_share=1.0", "warm_start.copy_steps=600"], {},
                              "hint_only arbitrary redrawn"),
    "pretrained": (["warm_start.copy_steps=300", "warm_start.copy_alphabet=0"], {}, None),
    "pretrained_ngram": (["warm_start.copy_steps=600"], {}, None),
    "answer_first": (["warm_start.answer_steps=400"], {}, None),
    "answer_first_redrawn": (["warm_start.answer_steps=400"], {}, "redrawn"),
    "answer_first_long": (["warm_start.answer_steps=1000"], {}, None),
    "answer_first_copy": (["warm_start.hint_share=1.0", "warm_start.answer_steps=400"], {},
                          "hint_only arbitrary redrawn"),
    "answer_grown": (["warm_start.answer_steps=700", "warm_start.answer_grow=75"], {}, None),
    "answer_grown_after": (["warm_start.answer_steps=700", "warm_start.answer_grow=75",
                            "warm_start.answer_grow_after=250"], {}, None),
    "answer_mixed": (ANSWER_MIXED, {}, None),
    "answer_mixed_long": (ANSWER_MIXED + ["warm_start.epochs=18"], {}, None),
    "answer_kept": (ANSWER_MIXED + ["warm_start.answer_keep=0.3"], {}, None),
    "answer_kept_light": (ANSWER_MIXED + ["warm_start.answer_keep=0.1"], {}, None),
    "mixed_grown": (["warm_start.answer_grow=75", "warm_start.answer_grow_after=250", "warm_start.answer_mix=1.0",
                     "warm_start.epochs=18"], {}, None),
}
LETTER_WEIGHT = 20.0       # copy_weighted: the answer letter's cross-entropy counts this many times


def demonstration_with(change):
    """warmstart.demonstration, with a probe's change to the hinted demonstrations."""
    plain = warmstart.demonstration

    change = change or ""

    def demo(task, rng, ws):
        task, hint = plain(task, rng, ws)
        if hint and "hint_only" in change.split():
            task = {**task, "_submit_only": True}          # the expert submits at once: the hint is the only way
        if hint and "arbitrary" in change.split() and rng.random() < 0.5:
            task = hint_reading.misled(task, rng)           # the note names another option; the expert obeys it
            hint = hints.render(task, hints.expert_outcome(task))
        return task, hint
    return demo


def expert_actions_with(change, plain=None):
    """env.expert_actions (or `plain`), with the work-up left out of a hint_only demonstration."""
    plain = plain or envmod.expert_actions

    def actions(task, max_turns=8):
        out = plain(task, max_turns)
        return out[-1:] if task.get("_submit_only") else out
    return actions


def letter_weighted_nll(plain, letter_ids):
    """warmstart.masked_nll with the answer letters' tokens weighted LETTER_WEIGHT times: the mask, a weight per
    token, becomes the weights (its mean is then the weighted mean)."""
    def nll(model, ids, mask, extra=None):
        return plain(model, ids, mask * (1 + (LETTER_WEIGHT - 1) * torch.isin(ids, letter_ids).float()), extra)
    return nll


def run_probe(name, train, held_out, base_overrides, shape, tmp):
    overrides, widen, change = PROBES[name]
    model_json = os.path.join(tmp, f"{name}_model.json")
    with open(model_json, "w") as f:
        json.dump({**shape, **widen}, f)
    cfg = config.load("configs/tiny.yaml", config.Config, base_overrides + overrides + [
        f"warm_start.out_dir={os.path.join(tmp, name)}", f"model.tiny_config={model_json}"])
    saved = bank.load_tasks, warmstart.demonstration, warmstart.expert_trajectory, envmod.expert_actions, \
        warmstart.masked_nll
    copies = 1
    if change and "redrawn" in change.split():      # the epochs as fresh copies of the cases, one pass over them
        copies = int(round(cfg.warm_start.epochs))
        cfg.warm_start.epochs = 1.0
    bank.load_tasks = lambda split=None, **kw: copy.deepcopy(train * copies)
    warmstart.demonstration = demonstration_with(change)
    warmstart.expert_trajectory = functools.partial(saved[2], hint_before_submit=change == "adjacent")
    envmod.expert_actions = expert_actions_with(change)
    if change and "weighted" in change.split():
        tok = agent.load_policy(cfg.model)[1]
        letters = torch.tensor(tok.convert_tokens_to_ids(list("ABCDE")))
        warmstart.masked_nll = letter_weighted_nll(saved[4], letters)
    try:
        torch.manual_seed(0)
        t0 = time.time()
        model, tok, summary = warmstart.warm_start(cfg)
    finally:
        (bank.load_tasks, warmstart.demonstration, warmstart.expert_trajectory, envmod.expert_actions,
         warmstart.masked_nll) = saved
    model.eval()
    late = change == "adjacent"
    row = hint_reading.teacher_forced_follow(model, tok, cfg, held_out, late)
    seen = hint_reading.teacher_forced_follow(model, tok, cfg, train[:len(held_out)], late)
    row.update({f"{k}_train": v for k, v in seen.items()})
    answer_phase = summary["answer_loss_curve"][-20:]
    if answer_phase:         # the answer-only loss at the end of that phase: near 0 if the hinted answers are copied
        row["answer_phase_loss"] = round(sum(answer_phase) / len(answer_phase), 4)
    kept = summary["answer_keep_curve"][-20:]
    if kept:                 # the cloning term at the end of the answer phase (weight included)
        row["answer_keep_loss"] = round(sum(kept) / len(kept), 4)
    mixed = summary["answer_mix_curve"][-20:]
    if mixed:                # the answer_mix term at the end of cloning (weight included)
        row["answer_mix_loss"] = round(sum(mixed) / len(mixed), 4)
    row.update(final_loss=round(summary["final_loss"], 4), steps=summary["steps"], hinted=summary["hinted"],
               wall_s=round(time.time() - t0, 1), overrides=overrides, shape=widen, change=change)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=120, help="train cases the warm start clones")
    ap.add_argument("--held-out", type=int, default=60, help="validation cases scored")
    ap.add_argument("--epochs", type=float, default=6)
    ap.add_argument("--probes", nargs="*", default=list(PROBES), choices=list(PROBES))
    ap.add_argument("--out", default="")
    ap.add_argument("--seed", type=int, default=0, help="warm_start.seed: initial weights, shuffling, demonstrations")
    ap.add_argument("--keep", default="", help="a folder to keep each probe's warm start in (default: thrown away)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    train = hint_reading.choice_cases("train", a.cases, 0)
    held_out = hint_reading.choice_cases("validation", a.held_out, 1)
    shape = json.load(open(os.path.join(agent.ROOT, "configs", "tiny_model.json")))
    base = [f"warm_start.epochs={a.epochs}", "warm_start.hint_share=0.5", "warm_start.lr=0.003",
            "warm_start.tokens_per_batch=2048", f"warm_start.seed={a.seed}"]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.probes:
            rows[name] = run_probe(name, train, held_out, base, shape, a.keep or tmp)
            r = rows[name]
            print(f"{name:11s} follow {r['follow']:.2f}  pull {r['pull']:+.2f} nats (answer {r['pull_answer']:+.2f}, "
                  f"rest {r['pull_rest']:+.2f}, ceiling {r['pull_ceiling']:.2f})  right {r['right']:.2f}  "
                  f"(train cases: {r['follow_train']:.2f} / {r['pull_train']:+.2f} / {r['right_train']:.2f})  "
                  f"loss {r['final_loss']:.3f}  {r['wall_s']:.0f} s", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"cases": a.cases, "held_out": a.held_out, "base": base, "probes": rows}, f, indent=1)


if __name__ == "__main__":
    main()

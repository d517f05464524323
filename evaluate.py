"""Evaluation: what did training do? Benchmarks in text and agent mode, the tool-call taxonomy,
and the training-dynamics figure.

  python evaluate.py CONFIG [--checkpoint DIR] [--bench KIND=PATH]... [--limit N] [--modes text agent]
                     [--protocol default|base_ar] [--specs none,full] [--per-domain N] [--out DIR]
                     [key.sub=value ...] (config overrides may stand anywhere on the line)
  torchrun --nproc_per_node=8 evaluate.py CONFIG ...     # tasks split over ranks, rank 0 writes
  python evaluate.py play CONFIG --task ID [--checkpoint DIR]   # one episode, turn by turn
  python evaluate.py taxonomy RUN_DIR [RUN_DIR ...]     # per-step failure rates -> RUN_DIR/taxonomy.jsonl
  python evaluate.py plot RUN_DIR [RUN_DIR ...] [--out FILE.png]

Data flow of an evaluation: the task bank's test split (all 10 domains) + local benchmark files
(clinic/loaders.py: the paper's 16 benchmarks) -> tasks ->
  text mode:  one chat prompt per task, no tools. Options (choice, label, yes/no) are scored by the
              mean log-probability per token of each option's text after the prompt, and the best one
              is the answer; other answers are one greedy reply. -> reward.accuracy
  agent mode: the multi-turn agent with tools and the KB (agent.rollout, or a scripted policy)
              -> the env's 5D reward breakdown. --protocol base_ar is the paper's Base+AR: benchmark
              questions get all 135 tools and the KB that rollout.kb names (the full corpus).
-> one record per (mode, task) -> grouped by domain or benchmark -> a table printed and written to
OUT/eval.json and OUT/eval.md.

The taxonomy sorts every tool call of a set of trajectories into: schema hallucination (a real
tool, wrong arguments), phantom tool invocation (a tool that is not defined), structural
malformation (broken JSON or tag), semantic tool misuse (see classify_call), and the env's two
other errors (off_menu, execution); rates are per 1,000 calls.
"""
import collections
import dataclasses
import json
import os
import random
import re
import sys

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

import agent
import config
import env as envmod
import kb as kbmod
import reward as rewardmod
import tools
from clinic import bank, domains, files, images, loaders
from decoding import recurrent

COMPONENTS = ("process", "safety", "format", "coherence")
TEXT_SYSTEM = "You are a medical expert. Answer the question."
TAXONOMY = {"schema": "schema_hallucination", "phantom_tool": "phantom_tool_invocation",
            "malformed": "structural_malformation", "misuse": "semantic_misuse",
            "off_menu": "off_menu", "execution": "execution_error"}


# ---------------------------------------------------------------- text mode
def option_texts(task):
    """The candidate answers of a task that has them, as (text to score, answer to submit) pairs."""
    spec = task["answer"]
    if spec["type"] == "choice":
        return [(o, "ABCDE"[i]) for i, o in enumerate(spec["options"])]
    if spec["type"] == "label":
        return [(o, o) for o in spec["options"]]
    if spec["type"] == "yesno":
        return [("yes", "yes"), ("no", "no")]
    return None


def text_prompt(tok, task):
    return agent.chat_ids(tok, [{"role": "system", "content": TEXT_SYSTEM},
                                {"role": "user", "content": envmod.case_text(task)}])


@torch.no_grad()
def continuation_scores(model, prompts, continuations, batch_size=16):
    """Mean log-probability per token of each continuation after its prompt (length-normalised, so
    long options are not penalised for their length), from right-padded batched forward passes."""
    device, out = next(model.parameters()).device, []
    for b in tqdm(range(0, len(prompts), batch_size), desc="text mode (options)", leave=False,
                  disable=len(prompts) <= batch_size):
        seqs = [p + c for p, c in zip(prompts[b:b + batch_size], continuations[b:b + batch_size])]
        ids = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
        attn = torch.zeros_like(ids)
        for r, s in enumerate(seqs):
            ids[r, :len(s)], attn[r, :len(s)] = torch.tensor(s), 1
        lp = agent.token_logprobs(model, ids.to(device), attn.to(device))
        for r, (p, c) in enumerate(zip(prompts[b:b + batch_size], continuations[b:b + batch_size])):
            out.append(float(lp[r, len(p) - 1:len(p) - 1 + len(c)].mean()))
    return out


def pick_options(model, tok, tasks, batch_size=16):
    """The answer whose option text the model finds most likely, for each task (all have options)."""
    prompts, conts = [], []
    for t in tasks:
        p = text_prompt(tok, t)
        for text, _ in option_texts(t):
            prompts.append(p)
            conts.append(tok.encode(" " + text, add_special_tokens=False))
    scores, picks, k = continuation_scores(model, prompts, conts, batch_size), [], 0
    for t in tasks:
        opts = option_texts(t)
        picks.append(opts[int(np.argmax(scores[k:k + len(opts)]))][1])
        k += len(opts)
    return picks


@torch.no_grad()
def greedy_replies(model, tok, prompts, max_new_tokens):
    """One greedy reply per prompt, batched over agent.Batch (the rollout's KV-cached feeder)."""
    device = next(model.parameters()).device
    end_id, pad_id = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id
    batch = agent.Batch(len(prompts), device, left_pad_prompts=recurrent.has_recurrent_layers(model))
    outs = [[] for _ in prompts]
    logits = batch.feed(model, prompts, pad_id)
    live = set(range(len(prompts)))
    for _ in range(max_new_tokens):
        toks = logits.argmax(-1)
        for r in list(live):
            outs[r].append(int(toks[r]))
            if toks[r] == end_id:
                live.discard(r)
        if not live:
            break
        logits = batch.feed(model, [[int(toks[r])] if r in live else [] for r in range(len(prompts))], pad_id)
    return [agent.turn_text(tok, o) for o in outs]


def reply_answer(text):
    """A submit_answer call's answer if the reply makes one, else the reply itself."""
    for name, args in envmod.parse_tool_calls(text)[0]:
        if name == "submit_answer" and isinstance(args, dict) and "answer" in args:
            return str(args["answer"])
    return text.strip()


def text_mode(model, tok, tasks, max_new_tokens=96, batch_size=16):
    """Single turn, no tools: one record per task (accuracy and reply length; no 5D reward)."""
    mc = [t for t in tasks if option_texts(t)]
    free = [t for t in tasks if not option_texts(t)]
    answers = {t["id"]: (a, None) for t, a in zip(mc, pick_options(model, tok, mc, batch_size) if mc else [])}
    for b in tqdm(range(0, len(free), batch_size), desc="text mode", disable=not free, leave=False):
        chunk = free[b:b + batch_size]
        replies = greedy_replies(model, tok, [text_prompt(tok, t) for t in chunk], max_new_tokens)
        for t, reply in zip(chunk, replies):
            answers[t["id"]] = (reply_answer(reply), len(tok.encode(reply, add_special_tokens=False)))
    return [{"mode": "text", "group": group_of(t), "task_id": t["id"],
             "accuracy": rewardmod.accuracy(t, {"answer": answers[t["id"]][0]}),
             "tokens": answers[t["id"]][1]}
            for t in tasks]


# ---------------------------------------------------------------- agent mode
def group_of(task):
    return task.get("source", task["domain"])


def record(mode, task, info, turns, tokens, calls, submitted, well_formed):
    return {"mode": mode, "group": group_of(task), "task_id": task["id"], "reward": info["reward"],
            "accuracy": info["accuracy"], **{k: info[k] for k in COMPONENTS},
            "violation": bool(info["critical_violation"]), "submitted": float(submitted),
            "well_formed": well_formed, "turns": turns, "tokens": tokens, "calls": calls}


def agent_mode(model, tok, tasks, rcfg, seed_base, rank=0, world=1, mode="agent", reward_config=None):
    """The multi-turn agent with tools and the KB on this rank's share of the tasks, one episode each
    (task i seeded seed_base + i): agent.evaluation_rollouts, the path training-time validation takes."""
    mine, trajs = agent.evaluation_rollouts(model, tok, tasks, rcfg, seed_base, rank, world, progress=True,
                                            reward_config=reward_config)
    return [record(mode, t, tr.reward_info, tr.n_turns, sum(tr.mask), tr.calls, tr.finished,
                   sum(tr.well_formed) / max(tr.n_turns, 1)) for t, tr in zip(mine, trajs)]


def scripted_mode(policy_for, tasks, max_turns=8, mode="agent"):
    """Agent mode for a scripted policy: policy_for(task) -> policy(obs, info, turn) -> action text."""
    out = []
    for t in tasks:
        e = envmod.MedicalEnv(tasks=[t], max_turns=max_turns)
        info = envmod.run_episode(e, policy_for(t), seed=0)[1]
        calls = [{**c, "result": str(c["result"])} for turn in e.traj["turns"] for c in turn["calls"]]
        turns = e.traj["turns"]
        well = sum(envmod.well_formed_turn(u["calls"]) for u in turns)
        out.append(record(mode, t, info["reward_info"], len(turns), None, calls, e.case.answer is not None,
                          well / max(len(turns), 1)))
    return out


def expert_policy(task, max_turns=8):
    acts = envmod.expert_actions(task, max_turns)
    return lambda obs, info, turn: acts[turn]


# ---------------------------------------------------------------- tables
def summarise(records):
    """Mean metrics per (mode, group), plus an 'all domains' row over the task bank's records."""
    groups = collections.defaultdict(list)
    for r in records:
        groups[(r["mode"], r["group"])].append(r)
        if r["group"] in domains.names():
            groups[(r["mode"], "all domains")].append(r)
    rows = []
    for (mode, group), rs in groups.items():
        row = {"mode": mode, "group": group, "n": len(rs)}
        for k in ("accuracy", "reward", *COMPONENTS, "violation", "submitted", "well_formed", "turns",
                  "tokens"):
            # None: not scored (HealthSearchQA accuracy)
            vals = [r[k] for r in rs if r.get(k) is not None]
            row[k] = float(np.mean(vals)) if vals else None
        rows.append(row)
    order = list(domains.names()) + ["all domains"]
    def place(r):
        return order.index(r["group"]) if r["group"] in order else len(order)
    return sorted(rows, key=lambda r: (r["mode"], place(r), r["group"]))


def markdown(rows):
    cols = ("accuracy", "reward", *COMPONENTS, "violation", "submitted", "well_formed", "turns", "tokens")
    lines = ["| mode | domain / benchmark | n | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 3)]
    for r in rows:
        cells = ["-" if r[c] is None else f"{r[c]:.1f}" if c == "tokens" else f"{r[c]:.3f}" for c in cols]
        lines.append(f"| {r['mode']} | {r['group']} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- tool-call taxonomy
def answer_evidence(task):
    """Patterns whose presence in a tool result means the result carries what the answer needs: the
    correct option's text (choice), the label, or the number as a whole token. Yes/no and long-form
    answers have none, so for them every valid call outside the expected ones counts as misuse."""
    spec = task["answer"]
    if spec["type"] == "choice":
        text = spec["options"]["ABCDE".index(spec["value"])]
    elif spec["type"] == "label":
        text = str(spec["value"])
    elif spec["type"] == "number":
        return [re.compile(r"(?<![\d.])" + re.escape(f"{spec['value']:g}") + r"(?![\d])")]
    else:
        return []
    return [re.compile(re.escape(text.lower()))]


def classify_call(task, call):
    """One call -> a TAXONOMY key, or 'ok'. Errors come from the env's dispatch. A valid call is
    semantic misuse when it (1) is not submit_answer, (2) matches none of the task's expected calls
    (reward.matches_expected: same tool and the same key arguments), and (3) its result does not
    contain the answer's evidence (answer_evidence): it neither advanced the work-up nor supplied the
    answer."""
    if call.get("error"):
        return call["error"] if call["error"] in TAXONOMY else "malformed"
    expected = any(rewardmod.matches_expected(call, e) for e in task["expected_tools"])
    if call["name"] == "submit_answer" or expected:
        return "ok"
    text = str(call.get("result", "")).lower()
    return "ok" if any(p.search(text) for p in answer_evidence(task)) else "misuse"


def taxonomy(pairs):
    """pairs: (task, calls). Rates per 1,000 calls of each failure kind, the unique-tool vocabulary
    (distinct tools called validly) and each tool's share of the valid calls."""
    kinds, names, n = collections.Counter(), collections.Counter(), 0
    for task, calls in pairs:
        for c in calls:
            n += 1
            kinds[classify_call(task, c)] += 1
            if not c.get("error"):
                names[c["name"]] += 1
    valid = sum(names.values())
    return {"calls": n, "per_1000": {name: 1000 * kinds[k] / max(n, 1) for k, name in TAXONOMY.items()},
            "vocabulary": len(names), "tool_share": {k: v / valid for k, v in names.most_common()}}


def run_taxonomy(run_dir, tasks_by_id=None):
    """Taxonomy per training step from RUN_DIR/trajectories.jsonl -> rows, also written to taxonomy.jsonl."""
    tasks_by_id = tasks_by_id or bank.by_id()
    path = os.path.join(run_dir, "trajectories.jsonl")
    steps = collections.defaultdict(list)
    for r in run_rows(path):
        if r["task_id"] not in tasks_by_id:
            raise files.DataError(f"{path}: task {r['task_id']!r} is not in "
                                  "the task bank (a run on another bank?)")
        if "calls" in r:       # older runs saved counts only
            steps[r["step"]].append((tasks_by_id[r["task_id"]], r["calls"]))
    rows = [{"step": s, **taxonomy(p)} for s, p in sorted(steps.items())]
    with open(os.path.join(run_dir, "taxonomy.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return rows


# ---------------------------------------------------------------- training-dynamics figure
PANELS = [("val_reward", "validation reward"), ("val_accuracy", "validation accuracy"),
          ("kl", "KL (to reference; TT-OPD: distillation)"), ("response_tokens", "response tokens / episode"),
          ("turns", "turns / episode"), ("entropy", "policy entropy (nats / token)"),
          ("tool_errors", "tool-call failures / 1,000 calls")]


def run_rows(path, one_per_step=False):
    """The rows of a run's log (metrics.jsonl: one_per_step, trajectories.jsonl): a last line cut short by a
    kill is skipped with a warning; rows that a resumed run of an older version wrote twice are kept once (the
    later ones, which the run continued from), with a warning."""
    rows = files.read_jsonl(path, tail="skip")
    kept = []
    for r in rows:
        last = kept[-1]["step"] if kept else -1
        # a step at or before the last one kept: a resume appended these rows
        if r["step"] < last or (one_per_step and r["step"] == last and "stopped" not in r):
            files.warn(f"{path}: rows from step {r['step']} on appear "
                       "twice (an older resume); the later ones are used")
            kept = [k for k in kept if k["step"] < r["step"]]
        kept.append(r)
    return kept


def run_series(run_dir):
    """{panel key: (steps, values)} of one run, from metrics.jsonl (and taxonomy when trajectories exist)."""
    rows = run_rows(os.path.join(run_dir, "metrics.jsonl"), one_per_step=True)
    out = {}
    for key, _ in PANELS[:-1]:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if key == "kl":     # TT-OPD logs its per-turn distillation KL; plain GRPO its reference KL
            pts = [(r["step"], float(np.mean(list(r["distill_kl_turn"].values()))) if r.get("distill_kl_turn")
                    else r.get("kl", 0.0)) for r in rows if "loss" in r]
        out[key] = ([p[0] for p in pts], [p[1] for p in pts])
    tax = run_taxonomy(run_dir) if os.path.exists(os.path.join(run_dir, "trajectories.jsonl")) else []
    if tax:
        out["tool_errors"] = ([r["step"] for r in tax], [sum(r["per_1000"].values()) for r in tax])
    else:    # trajectories without per-call records: the env's error counts (no semantic misuse)
        tr = [r for r in rows if "tool_calls" in r]
        kinds = [k for k in TAXONOMY if k != "misuse"]
        per_1000 = [1000 * sum(r[f"err_{k}"] for k in kinds) / max(r["tool_calls"], 1e-9) for r in tr]
        out["tool_errors"] = ([r["step"] for r in tr], per_1000)
    return out


def plot(run_dirs, path, smooth=5):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(19, 7.5))
    axes.flat[-1].axis("off")
    for run in run_dirs:
        series, label = run_series(run), os.path.basename(os.path.normpath(run))
        for ax, (key, title) in zip(axes.flat, PANELS):
            x, y = series.get(key, ([], []))
            if len(y) > 2 * smooth and not key.startswith("val_"):   # noisy per-step values: moving mean
                y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
                x = x[smooth - 1:]
            ax.plot(x, y, "o-" if key.startswith("val_") else "-", label=label, ms=3)
            ax.set_title(title)
    for ax in axes.flat[:len(PANELS)]:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# ---------------------------------------------------------------- the command
def benchmark_tasks(specs, protocol="default", limit=0, seed=0):
    """--bench KIND=PATH ... -> tasks, each tagged with its benchmark file (or subject) as 'source'. A file
    that cannot be read as KIND is a DataError naming it; items whose image cannot be read are reported
    (a warning per benchmark) and left out, never scored as the policy's failure.
    protocol base_ar (the paper's Base+AR): every benchmark task is offered all tools, not its domain's
    menu."""
    tasks = []
    for spec in specs:
        kind, _, path = spec.partition("=")
        if kind not in loaders.LOADERS or not path:
            raise files.UsageError("--bench wants KIND=PATH with KIND one of "
                                   f"{sorted(loaders.LOADERS)}, got {spec!r}")
        if not os.path.exists(path):
            raise files.DataError(f"--bench {kind}: no file or directory at {path} "
                                  "(docs/reference.md: where to get it)")
        loaded = readable(spec, load_benchmark(kind, path))
        if limit and len(loaded) > limit:       # a seeded sample, in the file's order
            keep = set(random.Random(seed).sample(range(len(loaded)), limit))
            loaded = [t for i, t in enumerate(loaded) if i in keep]
        sampled = f" (a seeded sample, --limit {limit})" if limit else ""
        files.info(f"--bench {spec}: {len(loaded)} items{sampled}")
        tasks += loaded
    seen = collections.Counter(t["id"] for t in tasks)
    twice = [i for i, n in seen.items() if n > 1]
    if twice:
        raise files.DataError(f"--bench: task ids {twice[:3]} occur more than once: two files of one "
                              "benchmark share a name; rename one")
    if protocol == "base_ar":
        tasks = [{**t, "menu": tools.ALL_TOOLS} for t in tasks]
    return tasks


def load_benchmark(kind, path):
    """loaders.LOADERS[kind](path), any failure to read the file as that benchmark named in one line."""
    try:
        return loaders.LOADERS[kind](path)
    except files.InputError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:
        raise files.DataError(f"--bench {kind}={path}: cannot read it as {kind} ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]}; docs/reference.md lists the files "
                              "each loader reads)") from None


def readable(spec, tasks):
    """The tasks whose image (if any) can be read; the others are reported, not scored."""
    bad = images.unreadable(tasks)
    if bad:
        files.warn(f"--bench {spec}: {len(bad)} of {len(tasks)} items have an image that cannot be read (the "
                   f"first: {bad[0][2]}); they are left out, not scored")
    dropped = {task_id for task_id, _, _ in bad}
    return [t for t in tasks if t["id"] not in dropped]


def bank_tasks(split, per_domain):
    tasks = bank.load_tasks(split=split)
    if per_domain:
        by = collections.defaultdict(list)
        for t in tasks:
            by[t["domain"]].append(t)
        tasks = [t for d in domains.names() for t in by[d][:per_domain]]
    return tasks


def evaluate_model(cfg, model, tok, tasks, modes, specs, rank=0, world=1):
    """All records of this rank's share of the tasks, for each mode (agent mode once per spec setting).
    Agent episodes are seeded by global index (cfg.seed + i), so any world size samples the same episodes
    (up to the float summation order of different batch shapes)."""
    records = []
    if "text" in modes:
        records += text_mode(model, tok, tasks[rank::world], cfg.rollout.max_new_tokens,
                             cfg.rollout.batch_size)
    for s in (specs if "agent" in modes else []):
        rcfg = dataclasses.replace(cfg.rollout, tool_specs=s)
        mode = "agent" if len(specs) == 1 else f"agent, specs={s}"
        records += agent_mode(model, tok, tasks, rcfg, cfg.seed, rank, world, mode=mode,
                              reward_config=cfg.reward)
    return records


def gather(records):
    if not dist.is_initialized():
        return records
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, records)
    return [r for part in out for r in part]


def write_results(records, out_dir):
    rows = summarise(records)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "eval.json"), "w") as f:
        json.dump({"summary": rows, "records": records}, f, default=str)
    table = markdown(rows)
    with open(os.path.join(out_dir, "eval.md"), "w") as f:
        f.write(table + "\n")
    return table


def resolve_checkpoint(cfg, checkpoint):
    """--checkpoint, else model.path, else the warm start if it exists, else the untrained embedded model."""
    warm = cfg.warm_start.out_dir if os.path.isdir(cfg.warm_start.out_dir) else ""
    ck = checkpoint or cfg.model.path or warm
    print(f"policy: {ck or 'embedded tiny Qwen3, random init (run warmstart.py first)'}", file=sys.stderr)
    return ck or None


def play(cfg, checkpoint, task_id):
    """One episode of one task, turn by turn: what the policy wrote, what the tools answered, the reward."""
    model, tok = agent.load_policy(cfg.model, resolve_checkpoint(cfg, checkpoint))
    task = [t for t in bank.load_tasks() if t["id"] == task_id]
    if not task:
        raise files.UsageError(f"--task: no task {task_id!r} in the task bank")
    tr = agent.rollout(model, tok, task, cfg.rollout, seed=cfg.seed, progress=False)[0]
    print(envmod.case_text(task[0]))
    prev = tr.turn_spans[0][0]
    for k, (a, b) in enumerate(tr.turn_spans):
        if k:
            print("--- observation ---\n" + tok.decode(tr.ids[prev:a], skip_special_tokens=False).strip())
        print(f"--- assistant turn {k + 1} ---\n" + tok.decode(tr.ids[a:b], skip_special_tokens=False))
        prev = b
    print("--- reward ---\n" + json.dumps(tr.reward_info, indent=1))


def split_overrides(argv):
    """(config overrides, the rest): `key.sub=value` items anywhere on the command line, told from a --bench
    KIND=PATH by their first part being a config key (so `--modes agent rollout.kb=DIR` works)."""
    keys = {f.name for f in dataclasses.fields(config.Config)}
    def is_override(x):
        return re.match(r"([A-Za-z_]\w*)(\.\w+)*=", x) is not None and x.split(".")[0].split("=")[0] in keys
    flags = [is_override(x) for x in argv]
    return [x for x, o in zip(argv, flags) if o], [x for x, o in zip(argv, flags) if not o]


def play_main(argv):
    ap = files.ArgumentParser(prog="evaluate.py play")
    ap.add_argument("config")
    ap.add_argument("--task", required=True)
    ap.add_argument("--checkpoint", default="")
    overrides, rest = split_overrides(argv)
    a = ap.parse_intermixed_args(rest)
    return play(config.load(a.config, config.Config, overrides, ignore_sections=True), a.checkpoint, a.task)


def taxonomy_main(argv):
    for run in argv:
        for r in run_taxonomy(run):
            rates = {k: round(v, 1) for k, v in r["per_1000"].items()}
            print(json.dumps({"run": run, "step": r["step"], "calls": r["calls"],
                              "vocabulary": r["vocabulary"], **rates}))


def plot_main(argv):
    ap = files.ArgumentParser(prog="evaluate.py plot")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", default="training_dynamics.png")
    a = ap.parse_args(argv)
    print(f"wrote {plot(a.runs, a.out)}")


SUBCOMMANDS = {"play": play_main, "taxonomy": taxonomy_main, "plot": plot_main}


def main(argv):
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    ap = files.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--checkpoint", default="")
    ap.add_argument("--bench", action="append", default=[], help="KIND=PATH (repeatable), KIND in "
                    + ", ".join(loaders.LOADERS))
    ap.add_argument("--modes", nargs="+", default=["text", "agent"], choices=["text", "agent"])
    ap.add_argument("--specs", default="",
                    help="tool schemas in agent mode, comma-separated, one agent run each: "
                    "none, names, full (default: the config's rollout.tool_specs)")
    ap.add_argument("--protocol", default="default", choices=["default", "base_ar"],
                    help="agent mode for --bench tasks: default = the domain's tool menu; "
                    "base_ar = the paper's Base+AR, every tool (and the KB that rollout.kb names)")
    ap.add_argument("--split", default="test", choices=bank.SPLITS)
    ap.add_argument("--per-domain", type=files.whole_number(0), default=0,
                    help="first N tasks of each domain (0 = all)")
    ap.add_argument("--no-bank", action="store_true", help="only the --bench files")
    ap.add_argument("--out", default="runs/eval")
    ap.add_argument("--limit", type=files.whole_number(1), default=0,
                    help="evaluate a seeded sample of at most N items of each --bench file (0 = all)")
    overrides, argv = split_overrides(argv)
    a = ap.parse_intermixed_args(argv)
    cfg = config.load(a.config, config.Config, overrides, ignore_sections=True)    # any training YAML
    rank, world = 0, 1
    if "RANK" in os.environ:
        from distributed import fsdp    # the trainer's process-group set-up, only under torchrun
        rank, world, device = fsdp.setup_distributed(cfg.model.device)
        cfg.model.device = str(device)
    try:
        run_evaluation(cfg, a, rank, world)
    finally:        # an undestroyed gloo group can abort the process at exit ("terminate called ...")
        if dist.is_initialized():
            dist.destroy_process_group()


def run_evaluation(cfg, a, rank, world):
    """This rank's share of the tasks in every mode; rank 0 gathers the records and writes the tables."""
    specs = a.specs.split(",") if a.specs else [cfg.rollout.tool_specs]
    if set(specs) - {"none", "names", "full"}:
        raise files.UsageError(f"--specs takes none, names and/or full (comma-separated), got {a.specs!r}")
    tasks = [] if a.no_bank else bank_tasks(a.split, a.per_domain)
    # the bank's own images: damage stops the run (a benchmark's is reported)
    images.check_readable(tasks)
    tasks += benchmark_tasks(a.bench, a.protocol, a.limit, cfg.seed)
    kbmod.open_kb(cfg.rollout.kb)       # a missing or stale index fails before the model loads
    torch.manual_seed(cfg.seed)      # an un-trained embedded model is then the same on every rank
    model, tok = agent.load_policy(cfg.model, resolve_checkpoint(cfg, a.checkpoint))
    records = gather(evaluate_model(cfg, model, tok, tasks, a.modes, specs, rank, world))
    order = {t["id"]: i for i, t in enumerate(tasks)}
    records.sort(key=lambda r: (r["mode"], order[r["task_id"]]))
    if rank == 0:
        print(write_results(records, a.out))
        print(f"(written to {a.out}/eval.json and eval.md)")
    if dist.is_initialized():        # no rank tears its process group down while rank 0 still writes
        dist.barrier()


if __name__ == "__main__":
    files.run_cli(main)

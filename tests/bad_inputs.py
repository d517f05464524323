"""Bad inputs for every entry point, and the files they need: tests/test_errors.py feeds each to the entry
point in-process and expects exit 2 with one `error:` line naming what is wrong; benchmarks/bad_inputs.py
runs them as real commands against any checkout and counts clear / traceback / silent.

A case is (entry script, arguments, text the error must contain). In arguments, {tmp} is the folder
make_files filled and {cfg} a small valid training config in it (one short step, if a bad value were ever
accepted)."""
import json
import os
import shutil

SMALL = """init_checkpoint: ""
eval_tasks: 2
steps: 1
rollout: {max_new_tokens: 8, max_turns: 1, batch_size: 4}
algo: {group_size: 2, tasks_per_step: 2}
warm_start: {max_tasks: 4, epochs: 0.1, out_dir: WS}
"""
RUN = "out_dir={tmp}/run"

CASES = [
    # values outside their range, or not among their choices (the list first)
    ("grpo.py", ["{cfg}", RUN, "grad_clip=-1"], "config key 'grad_clip' must be >= 0"),
    ("ttopd.py", ["{cfg}", RUN, "distill.lam=-1"], "config key 'distill.lam' must be >= 0"),
    ("ttopd.py", ["{cfg}", RUN, "distill.ema_alpha=2"], "config key 'distill.ema_alpha' must be >= 0 and <= 1"),
    ("warmstart.py", ["{cfg}", "warm_start.epochs=0"], "config key 'warm_start.epochs' must be > 0"),
    ("grpo.py", ["{cfg}", RUN, "checkpoint_every=-1"], "config key 'checkpoint_every' must be >= 0"),
    ("grpo.py", ["{cfg}", RUN, "model.device=tpu"], "config key 'model.device' must be matching"),
    ("evaluate.py", ["{cfg}", "--split", "bogus", "--out", "{tmp}/eval"], "argument --split: invalid choice: 'bogus'"),
    ("grpo.py", ["{cfg}", RUN, "rollout.max_turns=0"], "config key 'rollout.max_turns' must be >= 1"),
    ("grpo.py", ["{cfg}", RUN, "rollout.max_new_tokens=0"], "config key 'rollout.max_new_tokens' must be >= 1"),
    ("grpo.py", ["{cfg}", RUN, "rollout.temperature=0"], "config key 'rollout.temperature' must be > 0"),
    ("grpo.py", ["{cfg}", RUN, "eval_tasks=-5"], "config key 'eval_tasks' must be >= 0"),
    ("grpo.py", ["{cfg}", RUN, "train_split=bogus"], "config key 'train_split' must be one of train, validation, test"),
    ("warmstart.py", ["{cfg}", "warm_start.max_tasks=-1"], "config key 'warm_start.max_tasks' must be >= 0"),
    ("grpo.py", ["{cfg}", RUN, "eval_tasks=100000"], "config key 'eval_tasks' is 100000 but split 'validation' has"),
    ("grpo.py", ["{cfg}", RUN, "algo.tasks_per_step=100000"], "config key 'algo.tasks_per_step' is 100000 but split"),
    ("warmstart.py", ["{cfg}", "warm_start.max_tasks=100000"], "config key 'warm_start.max_tasks' is 100000 but the"),
    ("grpo.py", ["{cfg}", RUN, "rollout.top_p=0"], "config key 'rollout.top_p' must be > 0 and <= 1"),
    ("grpo.py", ["{cfg}", RUN, "lr=0"], "config key 'lr' must be > 0"),
    ("grpo.py", ["{cfg}", RUN, "algo.clip_low=1.5"], "config key 'algo.clip_low' must be >= 0 and <= 1"),
    ("grpo.py", ["{cfg}", RUN, "keep_checkpoints=-1"], "config key 'keep_checkpoints' must be >= 0"),
    ("grpo.py", ["{cfg}", RUN, "reward.accuracy=-1"], "config key 'reward.accuracy' must be >= 0"),
    ("grpo.py", ["{cfg}", RUN, "reward.critical_cap=2"], "config key 'reward.critical_cap' must be >= 0 and <= 1"),
    ("grpo.py", ["{cfg}", RUN] + [f"reward.{k}=0" for k in ("accuracy", "process", "safety", "format", "coherence")],
     "at least one weight must be > 0"),
    ("grpo.py", ["{cfg}", RUN, "spec_withdraw_start=5", "spec_withdraw_end=2"], "spec_withdraw_end"),
    ("grpo.py", ["{cfg}", RUN, "algo.loss=ppo"], "config key 'algo.loss' must be one of"),
    ("grpo.py", ["{cfg}", RUN, "eval_split=bogus"], "config key 'eval_split' must be one of"),
    ("grpo.py", ["{cfg}", RUN, "lr=abc"], "config key 'lr' must be float, got 'abc'"),
    ("grpo.py", ["{cfg}", RUN, "micro_batch=0"], "config key 'micro_batch' must be >= 1"),
    ("ttopd.py", ["{cfg}", RUN, "distill.ema_every=0"], "config key 'distill.ema_every' must be >= 1"),
    ("ttopd.py", ["{cfg}", RUN, "distill.hard_copy_every=0"], "config key 'distill.hard_copy_every' must be >= 1"),
    ("ttopd.py", ["{cfg}", RUN, "distill.logratio_clip=0"], "config key 'distill.logratio_clip' must be > 0"),
    ("ttopd.py", ["{cfg}", RUN, "distill.max_kl_turns=2", "distill.last_kl_turns=1"],
     "'distill.max_kl_turns' and 'distill.last_kl_turns': set one of them, not both"),
    ("ttopd.py", ["{cfg}", RUN, "distill.phase_out_steps=0"], "config key 'distill.phase_out_steps' must be >= 1"),
    ("ttopd.py", ["{cfg}", RUN, "distill.teacher=bogus"], "config key 'distill.teacher' must be one of"),
    ("warmstart.py", ["{cfg}", "warm_start.hint_share=1.5"], "config key 'warm_start.hint_share' must be >= 0 and <= 1"),
    ("warmstart.py", ["{cfg}", "warm_start.lr=-1"], "config key 'warm_start.lr' must be > 0"),
    # keys that do nothing without another (once silently ignored)
    ("warmstart.py", ["{cfg}", "warm_start.answer_grow=75"], "config key 'warm_start.answer_grow' does nothing"),
    ("warmstart.py", ["{cfg}", "warm_start.answer_steps=5", "warm_start.answer_grow_after=9"],
     "config key 'warm_start.answer_grow_after' does nothing unless warm_start.answer_grow"),
    ("warmstart.py", ["{cfg}", "warm_start.answer_keep=0.3"], "config key 'warm_start.answer_keep' does nothing"),
    ("warmstart.py", ["{cfg}", "warm_start.tokens_per_batch=0"], "config key 'warm_start.tokens_per_batch' must be >= 1"),
    # config files and command lines
    ("grpo.py", ["{tmp}/missing.yaml"], "missing.yaml' does not exist"),
    ("grpo.py", ["{tmp}/not_yaml.yaml"], "not_yaml.yaml': not valid YAML"),
    ("grpo.py", ["{tmp}/typo.yaml", RUN], "unknown config key 'algo.groupsize'"),
    ("grpo.py", ["{cfg}", RUN, "steps"], "override 'steps' must look like key.sub=value"),
    ("config.py", ["{tmp}/not_yaml.yaml"], "not_yaml.yaml': not valid YAML"),
    ("config.py", ["configs/tiny.yaml", "lr=-1"], "config key 'lr' must be > 0"),
    ("evaluate.py", ["{cfg}", "--per-domain", "-1"], "argument --per-domain: must be a whole number >= 0"),
    ("evaluate.py", ["{cfg}", "--specs", "bogus"], "--specs takes none, names and/or full"),
    ("evaluate.py", ["{cfg}", "--bench", "bogus={tmp}/medqa_corrupt.jsonl"], "--bench wants KIND=PATH"),
    ("evaluate.py", ["play", "{cfg}", "--task", "bogus-0001"], "no task 'bogus-0001'"),
    ("kb.py", ["build", "{tmp}/kb_out", "{tmp}/corpus.jsonl", "--passage-words", "0"],
     "argument --passage-words: must be a whole number >= 1"),
    # files and folders that are missing or damaged
    ("grpo.py", ["{cfg}", RUN, "rollout.kb={tmp}/kb_missing"], "config key 'rollout.kb': no built index"),
    ("grpo.py", ["{cfg}", RUN, "rollout.kb={tmp}/kb_short_db"], "config key 'rollout.kb': the index at"),
    ("grpo.py", ["{cfg}", RUN, "rollout.kb={tmp}/kb_short_idf"], "is damaged: idf.npy has"),
    ("grpo.py", ["{cfg}", RUN, "init_checkpoint={tmp}/missing_ckpt"], "config key 'init_checkpoint': no directory"),
    ("grpo.py", ["{cfg}", RUN, "init_checkpoint={tmp}/broken_ckpt"], "broken_ckpt: cannot be loaded as a model"),
    ("grpo.py", ["{cfg}", "out_dir={tmp}/used"], "used' holds another run (config.json); set resume=true"),
    ("evaluate.py", ["{cfg}", "--checkpoint", "{tmp}/missing_ckpt", "--out", "{tmp}/eval"],
     "missing_ckpt' is not a local checkpoint directory"),
    ("evaluate.py", ["{cfg}", "--no-bank", "--bench", "medqa={tmp}/missing.jsonl"], "no file or directory at"),
    ("evaluate.py", ["{cfg}", "--no-bank", "--bench", "medqa={tmp}/medqa_corrupt.jsonl"], "medqa_corrupt.jsonl line 2"),
    ("evaluate.py", ["{cfg}", "--no-bank", "--bench", "medqa={tmp}/medqa_fields.jsonl"],
     "medqa_fields.jsonl row 1: needs one of the fields ['options']"),
    ("evaluate.py", ["taxonomy", "{tmp}/no_run"], "no_run/trajectories.jsonl"),
    ("evaluate.py", ["taxonomy", "{tmp}/bad_log"], "trajectories.jsonl line 1"),
    ("kb.py", ["build", "{tmp}/kb_out", "{tmp}/missing.jsonl"], "No such file or directory: "),
    ("kb.py", ["build", "{tmp}/kb_out", "{tmp}/corpus_corrupt.jsonl"], "corpus_corrupt.jsonl line 2"),
    ("kb.py", ["search", "{tmp}/kb_missing", "sepsis"], "no built index at"),
    ("kb.py", ["search", "{tmp}/kb_short_db", "sepsis"], "is damaged: passages.db has"),
]
# the bank's own data damaged: they need a copy of the tree (benchmarks/bad_inputs.py) or a patched path (tests)
DATA_CASES = [
    ("tasks", "grpo.py", ["{cfg}", RUN], "tasks.jsonl line 7: not valid JSON"),
    ("image", "grpo.py", ["{cfg}", RUN], "images/vis-0000.png: not a readable image"),
]


def make_files(tmp, root):
    """Write every file the cases name into folder tmp (root: the checkout whose kb.py builds the indexes)."""
    import subprocess
    import sys
    os.makedirs(tmp, exist_ok=True)
    w = lambda name, text: open(os.path.join(tmp, name), "w").write(text)  # noqa: E731
    w("small.yaml", SMALL.replace("WS", os.path.join(tmp, "ws")))
    w("not_yaml.yaml", "model: {path: [unclosed\n")
    w("typo.yaml", "algo: {loss: grpo, groupsize: 4}\n")
    w("corpus.jsonl", "".join(json.dumps({"id": f"p{i}", "title": "", "text": t}) + "\n"
                              for i, t in enumerate(["sepsis lactate qsofa", "troponin infarction", "asthma"])))
    w("corpus_corrupt.jsonl", '{"id": "p0", "text": "sepsis"}\n{"id": "p1", "te\n')
    q = {"question": "Which?", "options": {"A": "x", "B": "y"}, "answer_idx": "A"}
    w("medqa_corrupt.jsonl", json.dumps(q) + "\n" + json.dumps(q)[:20] + "\n" + json.dumps(q) + "\n")
    w("medqa_fields.jsonl", json.dumps({"query": "Which?", "choices": ["x", "y"]}) + "\n")
    os.makedirs(os.path.join(tmp, "bad_log"), exist_ok=True)
    w("bad_log/trajectories.jsonl", "{not json}\n" + json.dumps({"step": 1, "task_id": "x"}) + "\n")
    os.makedirs(os.path.join(tmp, "used"), exist_ok=True)
    w("used/config.json", "{}")
    for name, damage in (("kb_short_db", "passages.db"), ("kb_short_idf", "idf.npy")):
        subprocess.run([sys.executable, os.path.join(root, "kb.py"), "build", os.path.join(tmp, name),
                        os.path.join(tmp, "corpus.jsonl")], cwd=root, check=True, capture_output=True)
        path = os.path.join(tmp, name, damage)
        os.truncate(path, os.path.getsize(path) // 2)
    ck = os.path.join(tmp, "broken_ckpt")
    os.makedirs(ck, exist_ok=True)
    shutil.copy(os.path.join(root, "configs", "tiny_model.json"), os.path.join(ck, "config.json"))
    w("broken_ckpt/model.safetensors", "not a safetensors file")
    return os.path.join(tmp, "small.yaml")


def damage_data(data_dir, what):
    """Damage a copy of data/: line 7 of tasks.jsonl cut in half ("tasks"), or a train task's image ("image")."""
    if what == "tasks":
        path = os.path.join(data_dir, "tasks.jsonl")
        lines = open(path).read().split("\n")
        lines[6] = lines[6][:len(lines[6]) // 2]
        open(path, "w").write("\n".join(lines))
    else:
        open(os.path.join(data_dir, "images", "vis-0000.png"), "wb").write(b"\x89PNG not really")


def expand(args, tmp, cfg):
    return [a.replace("{tmp}", tmp).replace("{cfg}", cfg) for a in args]

"""Mutation check: does the test suite catch the bugs that matter? Each mutant below is one small, plausible
bug planted in the core code (a formula's sign or direction, an off-by-one, a normalisation, a guard switched
off, a resume that forgets a piece of state). For each, in a throwaway copy of the checkout, the mutant is
applied and only the tests that cover that code run (pytest -x); the mutant is *killed* when they fail.

  python benchmarks/mutants.py [--only NAME_PART ...] [--jobs 2] [--out FILE.json]

Prints one line per mutant and the kill rate; with --out, the record of every mutant. Not part of .ci/run (about
30-40 minutes on 2 cores: a surviving mutant runs its whole test selection). Every test selection is first run
unmutated and must pass. A mutant's `old` text must occur exactly once in its file.

Equivalent mutants (no test can kill them, because the behaviour does not change) are left out, with the reason:
  resume skipping set_model_state_dict(teacher): DCP loads the teacher's sharded tensors in place, so the call
    restores nothing more (the mutant kept is "the teacher left out of the checkpoint");
  booleans accepted as integers by the type check: every integer argument has a range, and check_number refuses
    a bool, so it is still a schema error;
  coherence without the `not work` test: with no work call no check applies and agreement is 0 anyway;
  the sampler inverting the CDF at 1 - u: 1 - u is as uniform as u (another random stream, the same law).
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GRPO_T = ["tests/test_grpo.py"]
TTOPD_T = ["tests/test_ttopd.py"]
RESUME_T = ["tests/test_faults.py"]
REWARD_T = ["tests/test_reward.py", "tests/test_reward_integrity.py", "tests/test_answers.py"]
ENV_T = ["tests/test_env.py", "tests/test_fuzz.py"]
TOOLS_T = ["tests/test_tools.py"]
SCORES_T = ["tests/test_scores.py", "tests/test_score_tables.py"]
KB_T = ["tests/test_kb.py"]
AGENT_T = ["tests/test_agent.py"]
CONFIG_T = ["tests/test_config.py", "tests/test_errors.py"]
EVAL_T = ["tests/test_evaluate.py"]
HINTS_T = ["tests/test_hints.py"]
FILES_T = ["tests/test_files.py"]
CONTENT_T = ["tests/test_clinical_review.py", "tests/test_content.py", "tests/test_taskgen.py"]


@dataclass
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: list


M = Mutant
MUTANTS = [
    # ---- grpo.py: losses, advantages, schedules, the step
    M("k3 KL direction swapped", "grpo.py", "d = ref_logp - logp", "d = logp - ref_logp", GRPO_T),
    M("PPO surrogate takes the max", "grpo.py", "return -torch.minimum(unclipped, clipped)",
      "return -torch.maximum(unclipped, clipped)", GRPO_T),
    M("clip range bounds swapped", "grpo.py", "ratio.clamp(1 - low, 1 + high) * adv",
      "ratio.clamp(1 - high, 1 + low) * adv", GRPO_T),
    M("GRPO loss averaged per micro-batch", "grpo.py", "return masked_mean(tok, mb.mask, 1).sum() / mb.batch_seqs, clip",
      "return masked_mean(tok, mb.mask, 1).mean(), clip", GRPO_T),
    M("DAPO normalised per micro-batch", "grpo.py", "return (tok * mb.mask).sum() / mb.batch_tokens, clip",
      "return (tok * mb.mask).sum() / mb.mask.sum().clamp(min=1), clip", GRPO_T),
    M("Dr. GRPO normaliser without the constant", "grpo.py", "(mb.batch_seqs * a.dr_grpo_norm)",
      "(mb.batch_seqs * 1.0)", GRPO_T),
    M("GSPO ratio from the summed log-ratio", "grpo.py", "s = torch.exp(masked_mean(mb.logp - mb.old_logp, mb.mask, 1))",
      "s = torch.exp(((mb.logp - mb.old_logp) * mb.mask).sum(1))", GRPO_T),
    M("advantages centred on the batch mean", "grpo.py", "adv = r - r.mean(1, keepdim=True)", "adv = r - r.mean()",
      GRPO_T),
    M("advantages with the population std", "grpo.py", "r.std(1, keepdim=True, unbiased=True)",
      "r.std(1, keepdim=True, unbiased=False)", GRPO_T),
    M("Dr. GRPO divides by the std", "grpo.py", '"dr_grpo": Variant(loss_dr_grpo, std_advantages=False)',
      '"dr_grpo": Variant(loss_dr_grpo, std_advantages=True)', GRPO_T),
    M("overlong penalty sign", "grpo.py", "return max(-1.0, (max_tokens - buffer - n_tokens) / buffer)",
      "return max(-1.0, (n_tokens - max_tokens + buffer) / buffer)", GRPO_T),
    M("length reward uses the correct curve for wrong answers", "grpo.py",
      'rewardmod.cosine_length_reward(n, tr.reward_info["accuracy"] == 1.0,',
      "rewardmod.cosine_length_reward(n, True,", GRPO_T),
    M("dynamic sampling keeps the groups without signal", "grpo.py",
      "if np.ptp([shaped[i] for i in group]) > 1e-9", "if np.ptp([shaped[i] for i in group]) <= 1e-9",
      GRPO_T),
    M("spec withdrawal runs backwards", "grpo.py", "return min(1.0, max(0.0, (end - taken) / max(end - start, 1)))",
      "return min(1.0, max(0.0, (taken - start) / max(end - start, 1)))", GRPO_T + AGENT_T),
    M("LR warm-up off by one", "grpo.py", "return (s + 1) / cfg.warmup_steps", "return s / cfg.warmup_steps", GRPO_T),
    M("cosine LR schedule inverted", "grpo.py", "0.5 * (1 + math.cos(math.pi * frac))",
      "0.5 * (1 - math.cos(math.pi * frac))", GRPO_T),
    M("token count not shared over ranks", "grpo.py",
      "batch_tokens = max(all_sum([sum(sum(t.mask) for t in trajs)], device)[0] / dist.get_world_size(), 1.0)",
      "batch_tokens = max(float(sum(sum(t.mask) for t in trajs)), 1.0)", GRPO_T),
    M("a group's episodes share one seed", "grpo.py", "return [cfg.seed * 7919 + (step - 1) * 100000 + i * n + k",
      "return [cfg.seed * 7919 + (step - 1) * 100000 + i * n + 0 * k", GRPO_T),
    M("entropy statistic without the log", "grpo.py", "(-(logp_rows.exp() * logp_rows).sum(-1)).detach()",
      "(-(logp_rows.exp()).sum(-1)).detach()", GRPO_T),
    M("rollout copy not synced after a step", "grpo.py", "        sched.step()\n        sync_weights(policy, rollout_model)",
      "        sched.step()", GRPO_T + RESUME_T),
    M("resume does not cut the logs back", "clinic/files.py", "                os.truncate(path, min(keep, have))",
      "                pass", RESUME_T),
    M("resume does not verify the manifest", "distributed/checkpoint.py",
      "if record.get(\"world\") != world else files.verify(path, record[\"manifest\"], (rank, world))",
      "if record.get(\"world\") != world else None", RESUME_T),
    M("resume forgets the scheduler", "distributed/checkpoint.py", '    sched.load_state_dict(record["scheduler"])\n', "", RESUME_T),
    M("resume forgets the non-tensor values", "distributed/checkpoint.py",
      '    files.set_leaves(nested, {k: record["values"][k] for k, v in state.items() if not torch.is_tensor(v)})\n',
      "", RESUME_T),
    M("validation SE divides by n, not n - 1", "distributed/runlog.py", "/ (n - 1) / n) ** 0.5", "/ n / n) ** 0.5", GRPO_T),
    M("the gain is paired with the wrong tasks", "distributed/runlog.py",
      'zip(first["val_rewards"], last["val_rewards"])', 'zip(first["val_rewards"], last["val_rewards"][::-1])', GRPO_T),
    M("the unpaired SE adds the two errors", "distributed/runlog.py",
      'unpaired = (first["val_reward_se"] ** 2 + last["val_reward_se"] ** 2) ** 0.5',
      'unpaired = first["val_reward_se"] + last["val_reward_se"]', GRPO_T),
    M("validation rewards out of task order", "grpo.py", "for i, t in zip(range(rank, n_tasks, world), trajs):",
      "for i, t in zip(reversed(range(rank, n_tasks, world)), trajs):", GRPO_T),
    # ---- ttopd.py: the teacher, hints, KL, guards, schedule, resume
    M("the teacher never sees the hint", "ttopd.py", 'hint = tr.extras.get("hint_ids", [])', "hint = []", TTOPD_T),
    M("the hint goes before the prompt", "ttopd.py", "seqs.append(with_hint(ids[i, :n].tolist(), boundary[-1], hint))",
      "seqs.append(with_hint(ids[i, :n].tolist(), 0, hint))", TTOPD_T),
    M("teacher rows off by one at the boundary", "ttopd.py", "return rows + (rows + 1 >= boundary).long() * n_hint",
      "return rows + (rows >= boundary).long() * n_hint", TTOPD_T),
    M("token KL is the forward KL", "ttopd.py",
      "return (student_logp.exp() * (student_logp - teacher_logp).clamp(-clip, clip)).sum(-1)",
      "return (teacher_logp.exp() * (teacher_logp - student_logp).clamp(-clip, clip)).sum(-1)", TTOPD_T),
    M("token KL without the log-ratio clip", "ttopd.py", "(student_logp - teacher_logp).clamp(-clip, clip)",
      "(student_logp - teacher_logp)", TTOPD_T),
    M("turn mean reads the rows one late", "ttopd.py", "values[spans[k][0] - 1:spans[k][1] - 1].mean()",
      "values[spans[k][0]:spans[k][1]].mean()", TTOPD_T),
    M("last_kl_turns distils the first turns", "ttopd.py", "return range(max(n - last, 0) if last else 0, n)",
      "return range(0, min(last, n) if last else n)", TTOPD_T),
    M("EMA weights swapped", "ttopd.py", "fsdp.local_shard(t).mul_(alpha).add_(fsdp.local_shard(s), alpha=1 - alpha)",
      "fsdp.local_shard(t).mul_(1 - alpha).add_(fsdp.local_shard(s), alpha=alpha)", TTOPD_T),
    M("the hard copy never happens", "ttopd.py", "if step % self.d.hard_copy_every == 0:", "if False:", TTOPD_T),
    M("the EMA runs one step late", "ttopd.py", 'if self.d.teacher == "ema" and step % self.d.ema_every == 0:',
      'if self.d.teacher == "ema" and step % self.d.ema_every == 1:', TTOPD_T),
    M("stale-teacher guard switched off", "ttopd.py", "if cap > 0 and float(term) > cap:", "if False:", TTOPD_T),
    M("corruption guard threshold ten times laxer", "ttopd.py",
      "if self.d.corruption_guard and mean_kl > self.d.kl_max:",
      "if self.d.corruption_guard and mean_kl > 10 * self.d.kl_max:", TTOPD_T),
    M("lambda phased out at half speed", "ttopd.py", 'shape = {"linear": 1 - frac,', 'shape = {"linear": 1 - frac / 2,',
      TTOPD_T),
    M("the run-scaled schedule scales the wrong way", "ttopd.py", "    scale = steps / d.schedule_steps",
      "    scale = d.schedule_steps / steps", TTOPD_T),
    M("lambda may go back up", "ttopd.py",
      "self.value = 0.0 if self.disabled else min(self.value, self.d.lam * shape[self.d.schedule])",
      "self.value = 0.0 if self.disabled else self.d.lam * shape[self.d.schedule]", TTOPD_T),
    M("the distillation term is not this micro-batch's share", "ttopd.py", "return self._capped(self.lam * kl, mb) * n_seqs / mb.batch_seqs",
      "return self._capped(self.lam * kl, mb)", TTOPD_T),
    M("hints chosen by the opposite outcome", "ttopd.py",
      'outcome = {"correct": is_correct(tr)} if d.hints in ("generic", "none") else outcome_of(tr)',
      'outcome = {**outcome_of(tr), "correct": not is_correct(tr)}', TTOPD_T),
    M("resume does not restore the teacher (it is left out of the checkpoint)", "ttopd.py",
      'return {"teacher": get_model_state_dict(self.teacher), "lam": self.schedule.value,',
      'return {"teacher": {}, "lam": self.schedule.value,', TTOPD_T + RESUME_T),
    M("resume does not restore lambda and the guard", "ttopd.py",
      '        self.schedule.value, self.schedule.disabled = state["lam"], state["disabled"]\n', "",
      TTOPD_T + RESUME_T),
    M("resume does not restore the EMA/copy counters", "ttopd.py",
      '        self.last_ema, self.last_copy = state["last_ema"], state["last_copy"]\n', "", TTOPD_T + RESUME_T),
    # ---- agent.py: sampling, caches, trajectories, the head
    M("sampling ignores the temperature", "agent.py", "logp = torch.log_softmax(logits.float() / temperature, dim=-1)",
      "logp = torch.log_softmax(logits.float(), dim=-1)", AGENT_T),
    M("nucleus keeps one token too many", "agent.py", "drop = sorted_p.cumsum(-1) - sorted_p > top_p",
      "drop = sorted_p.cumsum(-1) - sorted_p > top_p + sorted_p", AGENT_T),
    M("one uniform for the whole batch", "agent.py", "u = torch.tensor([1.0 - g.random() for g in rngs]",
      "u = torch.tensor([1.0 - rngs[0].random()] * len(rngs)", AGENT_T),
    M("head log-probs ignore the temperature", "agent.py",
      "return torch.log_softmax(model.get_output_embeddings()(hidden).float() / temperature, -1)",
      "return torch.log_softmax(model.get_output_embeddings()(hidden).float(), -1)", AGENT_T + GRPO_T),
    M("cache positions start one late", "agent.py", "positions = (self.pos[:, None] + cols - start[:, None]).clamp(min=0)",
      "positions = (self.pos[:, None] + cols - start[:, None] + 1).clamp(min=0)", AGENT_T),
    M("turn span ends one early", "agent.py", "self.turn_spans.append((len(self.ids), len(self.ids) + len(tokens)))",
      "self.turn_spans.append((len(self.ids), len(self.ids) + len(tokens) - 1))", AGENT_T + TTOPD_T),
    M("observations marked as policy tokens", "agent.py", "        self.mask += [0] * len(tokens)",
      "        self.mask += [1] * len(tokens)", AGENT_T),
    M("tool responses cut from the end", "agent.py", 'return tok.decode(ids[:n // 2]) + " ... " + tok.decode(ids[-(n - n // 2):])',
      "return tok.decode(ids[:n])", AGENT_T),
    M("spec withdrawal keeps a different set each step", "env.py",
      "random.Random(zlib.crc32(task_id.encode())).shuffle(order)", "random.Random(round(keep * 1000)).shuffle(order)",
      AGENT_T),
    # ---- env.py: the episode
    M("one turn more than max_turns", "env.py",
      "truncated = not terminated and len(self.traj[\"turns\"]) >= self.max_turns",
      "truncated = not terminated and len(self.traj[\"turns\"]) > self.max_turns", ENV_T),
    M("calls after the first answer still run", "env.py", "                break\n\n    @staticmethod\n    def _malformed",
      "                pass\n\n    @staticmethod\n    def _malformed", ENV_T),
    M("too many calls in a turn are all run", "env.py", "    for body in bodies[:max_calls]:", "    for body in bodies:",
      ENV_T),
    M("a turn without a call is not an error", "env.py", '            turn_errors["no_tool_call"] += 1\n', "", ENV_T),
    M("arguments given as a JSON string are refused", "env.py", "        args = _json(args)", "        args = None", ENV_T),
    # ---- tools.py: validation and ranges
    M("triage level range widened", "tools.py", '"level": (1, 5)', '"level": (0, 6)', TOOLS_T),
    M("required arguments not enforced", "tools.py", "missing = [a for a in params[\"required\"] if a not in arguments]",
      "missing = []", TOOLS_T),
    M("off-menu tools run", "tools.py", "    if name not in menu(domain):\n", "    if False:\n", TOOLS_T + ENV_T),
    M("any value passes as a string", "tools.py", 'return isinstance(value, {"string": str, "boolean": bool,',
      'return isinstance(value, {"string": object, "boolean": bool,', TOOLS_T),
    M("GCS motor range widened", "clinic/scores.py", '"motor": (1, 6)', '"motor": (1, 7)', TOOLS_T + SCORES_T),
    # ---- clinic/scores.py: published cut-offs
    M("qSOFA respiratory cut-off 20", "clinic/scores.py", "int(respiratory_rate >= 22)", "int(respiratory_rate >= 20)",
      SCORES_T),
    M("CURB-65 urea cut-off inclusive", "clinic/scores.py", "int(urea > 7)", "int(urea >= 7)", SCORES_T),
    M("CHA2DS2-VASc age 75 scores 1", "clinic/scores.py", "(2 if age >= 75 else int(age >= 65))",
      "(1 if age >= 75 else int(age >= 65))", SCORES_T),
    # ---- kb.py: BM25
    M("BM25 length normalisation inverted", "kb.py", "tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))",
      "tf * (k1 + 1) / (tf + k1 * (1 - b + b * avgdl / dl))", KB_T),
    M("idf floor dropped", "kb.py", "return np.array([floor if v < 0 else v for v in idf])", "return np.array(idf)",
      KB_T),
    M("pruned search stops too early", "kb.py", "if bound + 1e-9 * (1 + bound) < kth or bound <= 0:",
      "if bound < 2 * kth or bound <= 0:", KB_T),
    M("source filter inverted", "kb.py", "allowed = np.isin(self.doc_source, codes)",
      "allowed = ~np.isin(self.doc_source, codes)", KB_T),
    M("stop words kept", "kb.py", "return [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]",
      "return TOKEN.findall(text.lower())", KB_T),
    # ---- reward.py: the 5D reward
    M("no safety cap", "reward.py", "reward=min(total, cap) if critical else total", "reward=total", REWARD_T),
    M("composite not divided by the weight sum", "reward.py", "total = sum(w[k] * out[k] for k in w) / sum(w.values())",
      "total = sum(w[k] * out[k] for k in w)", REWARD_T),
    M("minor violation penalty halved", "reward.py", "MINOR_PENALTY = 0.5", "MINOR_PENALTY = 0.25", REWARD_T),
    M("free calls raised to 20", "reward.py", "FREE_CALLS = 2 ", "FREE_CALLS = 20 ", REWARD_T),
    M("process without focus", "reward.py", "return _expected_made(task, _work(traj)) / len(expected) * focus(task, traj)",
      "return _expected_made(task, _work(traj)) / len(expected)", REWARD_T),
    M("coherence without focus", "reward.py", "    return agreement * focus(task, traj)", "    return agreement",
      REWARD_T),
    M("numeric tolerance exclusive", "reward.py", 'return float(abs(got - spec["value"]) <= spec.get("tolerance", 0))',
      'return float(abs(got - spec["value"]) < spec.get("tolerance", 0))', REWARD_T),
    M("no answer is safe", "reward.py", "    if parse_answer(task[\"answer\"], traj[\"answer\"]) is None:\n        return 0.0\n    broken",
      "    broken", REWARD_T),
    M("format ignores the answer", "reward.py", "return 0.5 * clean / len(traj[\"turns\"]) + 0.5 * parsed",
      "return 1.0 * clean / len(traj[\"turns\"])", REWARD_T),
    M("cosine length reward with a sine", "reward.py", "(1 + math.cos(math.pi * n_tokens / max_len))",
      "(1 + math.sin(math.pi * n_tokens / max_len))", REWARD_T + GRPO_T),
    M("negation cue ignored", "reward.py", "        if not NEGATION_CUE.search(before):", "        if True:", REWARD_T),
    # ---- warmstart.py, config.py, evaluate.py, hints
    M("warm-start loss mask shifted by one", "warmstart.py", "    m = mask[:, 1:]\n", "    m = mask[:, :-1]\n",
      AGENT_T + HINTS_T),
    M("warm start learns the observations too", "warmstart.py", "return (nll * m).sum() / m.sum().clamp(min=1)",
      "return nll.mean()", AGENT_T + HINTS_T),
    M("warm_start.answer_mix's and answer_keep's term never reaches the loss", "warmstart.py",
      "    return loss + extra\n", "    return loss + 0 * extra\n", HINTS_T),
    M("a chained warm start's hash leaves out the weights it started from", "warmstart.py",
      "            h.update(digest.encode())", "            pass", HINTS_T),
    M("config least is exclusive", "config.py", '(m.get("least") is None or value >= m["least"])',
      '(m.get("least") is None or value > m["least"])', CONFIG_T),
    M("config base file wins over the child", "config.py", "merged[key] = {**merged[key], **value} if both else value",
      "merged[key] = {**value, **merged[key]} if both else value", CONFIG_T + TTOPD_T),
    M("text mode scores option sums, not means", "evaluate.py",
      "out.append(float(lp[r, len(p) - 1:len(p) - 1 + len(c)].mean()))",
      "out.append(float(lp[r, len(p) - 1:len(p) - 1 + len(c)].sum()))", EVAL_T),
    M("text mode scores the token before the option", "evaluate.py",
      "out.append(float(lp[r, len(p) - 1:len(p) - 1 + len(c)].mean()))",
      "out.append(float(lp[r, len(p) - 2:len(p) - 2 + len(c)].mean()))", EVAL_T),
    M("redirection hint leaves out the correct answer", "clinic/hints.py",
      "'The correct one is {{\"answer\": \"{answer}\"}}.')", "'')", HINTS_T + TTOPD_T),
    M("the confirm and redirect styles hint the wrong outcome", "clinic/hints.py",
      'style == ("redirect" if outcome["correct"] else "confirm")',
      'style == ("confirm" if outcome["correct"] else "redirect")', HINTS_T),
    M("a torn log line in the middle is skipped too", "clinic/files.py",
      'if tail == "skip" and not line.endswith("\\n"):', 'if tail == "skip":', FILES_T),
    # ---- clinical content (issue 33): the interaction model, the physiology, the audit
    M("heparin + antiplatelet avoided again", "clinic/pharmacology.py",
      '("parenteral_anticoagulant", "antiplatelet", "monitor"', '("parenteral_anticoagulant", "antiplatelet", "avoid"',
      CONTENT_T),
    M("no duplicate-therapy rules", "clinic/pharmacology.py", "for tag, (harm, source) in DUPLICATES.items()]",
      "for tag, (harm, source) in {}.items()]", CONTENT_T),
    M("the methotrexate rule matches TMP-SMX", "clinic/pharmacology.py",
      '("methotrexate", "nsaid", "monitor"', '("trimethoprim_sulfamethoxazole", "nsaid", "monitor"', CONTENT_T),
    M("quiet drugs need no check", "clinic/pharmacology.py", "return a != b and bool({a, b} & REVIEWED) and",
      "return a != b and", CONTENT_T),
    M("fever from 37.0 C", "clinic/physiology.py", '"fever": ("temperature", lambda v: v >= 38.0,',
      '"fever": ("temperature", lambda v: v >= 37.0,', CONTENT_T),
    M("an unchanged critical finding must be called", "clinic/domains/radiology_report.py",
      "    if critical and new:", "    if critical:", CONTENT_T),
    M("a newborn weighs what an adult weighs", "clinic/cases.py", "if years == 0 else", "if years < 0 else",
      CONTENT_T),
    M("an unmeasured score input must be a number", "clinic/scores.py",
      "if name in bounded and not (value is None and name in optional):", "if name in bounded:", CONTENT_T),
]


def copy_tree(dst):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in tracked.splitlines():
        os.makedirs(os.path.dirname(os.path.join(dst, rel)) or dst, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), os.path.join(dst, rel))


# It hashes warmstart.py's own text, so it fails on any edit of that file, whatever the edit does: a mutant
# must be killed by a test of behaviour.
HASHES_CODE = ["--deselect",
               "tests/test_hints.py::test_the_shipped_hint_reading_warm_start_is_what_its_commands_build"]


def pytest(tree, tests, timeout):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *HASHES_CODE,
                            *tests], cwd=tree,
                           env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = r.returncode, r.stdout
    except subprocess.TimeoutExpired:
        rc, out = "timeout", ""
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    return rc, round(time.time() - t0, 1), failed[:1]


def check(m):
    text = open(os.path.join(ROOT, m.file)).read()
    n = text.count(m.old)
    if n != 1:
        raise SystemExit(f"mutant {m.name!r}: its text occurs {n} times in {m.file}")


def run_mutant(tree, m, timeout):
    path = os.path.join(tree, m.file)
    original = open(path).read()
    try:
        with open(path, "w") as f:
            f.write(original.replace(m.old, m.new))
        rc, secs, failed = pytest(tree, m.tests, timeout)
    finally:
        with open(path, "w") as f:
            f.write(original)
    return {"name": m.name, "file": m.file, "killed": rc != 0, "rc": rc, "seconds": secs,
            "by": failed[0][7:] if failed else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=[], help="run the mutants whose name contains one of these")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    chosen = [m for m in MUTANTS if not a.only or any(s in m.name for s in a.only)]
    for m in chosen:
        check(m)
    trees = [tempfile.mkdtemp(prefix=f"mutants{k}_") for k in range(a.jobs)]
    for t in trees:
        copy_tree(t)
    selections = sorted({tuple(m.tests) for m in chosen})
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:     # the unmutated code must pass them all
        base = list(pool.map(lambda k: pytest(trees[k % a.jobs], list(selections[k]), a.timeout),
                             range(len(selections))))
    broken = [(s, b) for s, b in zip(selections, base) if b[0] != 0]
    if broken:
        raise SystemExit(f"the unmutated code fails {broken}")
    free = list(trees)

    def job(m):
        tree = free.pop()
        try:
            return run_mutant(tree, m, a.timeout)
        finally:
            free.append(tree)
    results = []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for r in pool.map(job, chosen):
            results.append(r)
            print(f"{'killed  ' if r['killed'] else 'SURVIVED'} {r['seconds']:6.1f}s  {r['file']:16s} {r['name']}"
                  + (f"  <- {r['by']}" if r["by"] else ""), flush=True)
    killed = sum(r["killed"] for r in results)
    summary = {"mutants": len(results), "killed": killed, "kill_rate": round(killed / max(len(results), 1), 3),
               "survivors": [r["name"] for r in results if not r["killed"]]}
    print(json.dumps(summary))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)
    for t in trees:
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()

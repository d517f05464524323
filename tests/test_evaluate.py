"""evaluate.py: expert vs random on the test split, the log-prob option scorer, text mode, the tool-call
taxonomy on hand-built trajectories, long-form QA scoring, the CLI and the training-dynamics plot."""
import json
import os

import numpy as np
import pytest
import torch

import agent
import config
import env as envmod
import evaluate
from clinic import files, loaders
import reward
from clinic import bank
from torchrun import torchrun

FIX = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def test_tasks():
    return bank.load_tasks(split="test")


@pytest.fixture(scope="module")
def tok():
    return agent.load_policy(config.load("configs/tiny.yaml", config.Config).model)[1]


class PreferTokens(torch.nn.Module):
    """A stand-in LM whose next-token distribution, at every position, puts +8 logits on `favoured`."""

    def __init__(self, vocab, favoured):
        super().__init__()
        self.head = torch.nn.Linear(1, vocab, bias=False)      # hidden state 1 everywhere: logits = the weights
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[list(favoured)] = 8.0

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids, **kwargs):
        hidden = torch.ones(*input_ids.shape, 1)
        return type("Out", (), {"logits": self.head(hidden), "hidden_states": (hidden,)})()


def test_scripted_expert_beats_random_text_on_every_test_domain(test_tasks):
    rng = np.random.default_rng(0)
    expert = evaluate.summarise(evaluate.scripted_mode(evaluate.expert_policy, test_tasks))
    rand = evaluate.summarise(evaluate.scripted_mode(lambda t: envmod.random_text_policy(rng), test_tasks))
    assert len(test_tasks) == 540 and len(expert) == 11 and [r["group"] for r in expert][-1] == "all domains"
    for e, r in zip(expert, rand):
        assert e["group"] == r["group"] and e["n"] == r["n"]
        assert e["reward"] == pytest.approx(1.0) and e["accuracy"] == 1.0 and e["violation"] == 0.0
        assert r["reward"] <= 0.15 and r["accuracy"] <= 0.05 and e["reward"] - r["reward"] >= 0.85


def test_option_scorer_picks_the_option_the_model_is_made_to_prefer(tok):
    tasks = loaders.load_medqa(os.path.join(FIX, "medqa.jsonl"))
    for t in tasks:
        for k, (text, letter) in enumerate(evaluate.option_texts(t)):
            # favour exactly the tokens of option k that no other option of this question uses
            mine = set(tok.encode(" " + text, add_special_tokens=False))
            others = set().union(*(tok.encode(" " + o, add_special_tokens=False)
                                   for j, (o, _) in enumerate(evaluate.option_texts(t)) if j != k))
            if mine - others:
                model = PreferTokens(len(tok), mine - others)
                assert evaluate.pick_options(model, tok, [t])[0] == letter


def test_batched_option_scores_equal_one_sequence_at_a_time(tok):
    torch.manual_seed(0)
    model = agent.load_policy(config.load("configs/tiny.yaml", config.Config).model)[0]
    t = loaders.load_medmcqa(os.path.join(FIX, "medmcqa.jsonl"))[0]
    p = evaluate.text_prompt(tok, t)
    conts = [tok.encode(" " + o, add_special_tokens=False) for o, _ in evaluate.option_texts(t)]
    batched = evaluate.continuation_scores(model, [p] * len(conts), conts, batch_size=4)
    for c, b in zip(conts, batched):
        lp = agent.score_logprobs(model, p + c)
        assert b == pytest.approx(float(lp[len(p):].mean()), abs=1e-5)


def test_text_mode_reads_a_greedy_submit_answer(tok, test_tasks):
    task = next(t for t in test_tasks if t["answer"]["type"] == "number")
    reply = envmod.format_call("submit_answer", {"answer": f"{task['answer']['value']:g}"})
    model = PreferTokens(len(tok), [])
    seq = tok.encode(reply, add_special_tokens=False) + [tok.convert_tokens_to_ids("<|im_end|>")]

    class Scripted(PreferTokens):           # emits `seq` one token per forward, whatever the input
        n = 0

        def forward(self, input_ids, **kw):
            logits = torch.full((*input_ids.shape, len(tok)), -30.0)
            logits[:, :, seq[min(self.n, len(seq) - 1)]] = 30.0
            self.n += 1
            return type("Out", (), {"logits": logits})()
    recs = evaluate.text_mode(Scripted(len(tok), []), tok, [task], max_new_tokens=64)
    assert recs[0]["accuracy"] == 1.0 and recs[0]["tokens"] == len(seq) - 1
    assert model is not None


def test_taxonomy_sorts_each_failure_kind(test_tasks):
    task = next(t for t in test_tasks if t["domain"] == "clinical_diagnosis" and t["answer"]["type"] == "choice")
    right = task["answer"]["options"]["ABCDE".index(task["answer"]["value"])]
    e = envmod.MedicalEnv(tasks=[task], max_turns=8)
    e.reset(seed=0)
    exp = task["expected_tools"][0]
    actions = [
        envmod.format_call(exp["name"], exp["arguments"]),                     # ok: an expected call
        envmod.format_call("order_lab", {"tset": "troponin"}),                 # schema hallucination
        envmod.format_call("summon_oracle", {"q": 1}),                         # phantom tool
        '<tool_call>{"name": "get_vitals", "arguments": {</tool_call>',        # structural malformation
        envmod.format_call("calculate_bmi_percentile", {}),                    # phantom too
        envmod.format_call("get_medications", {}),                             # valid, unexpected, no answer in it
    ]
    calls = []
    for a in actions:
        calls += e.step(a)[4]["tool_calls"]
    calls.append({"name": "search_knowledge_base", "arguments": {"query": "x"}, "error": None,
                  "result": f"... classic presentation of {right.upper()} ..."})     # unexpected but useful
    kinds = [evaluate.classify_call(task, c) for c in calls]
    assert kinds == ["ok", "schema", "phantom_tool", "malformed", "phantom_tool", "misuse", "ok"]
    tax = evaluate.taxonomy([(task, calls)])
    n = len(calls)
    assert tax["calls"] == n and tax["per_1000"]["phantom_tool_invocation"] == pytest.approx(2000 / n)
    assert tax["per_1000"]["schema_hallucination"] == tax["per_1000"]["structural_malformation"] \
        == tax["per_1000"]["semantic_misuse"] == pytest.approx(1000 / n)
    assert tax["vocabulary"] == 3 and sum(tax["tool_share"].values()) == pytest.approx(1.0)


def test_number_evidence_is_matched_as_a_whole_number(test_tasks):
    task = {"answer": {"type": "number", "value": 12.0}, "expected_tools": []}
    call = {"name": "get_labs", "arguments": {}, "error": None}
    assert evaluate.classify_call(task, {**call, "result": "score 12 points"}) == "ok"
    assert evaluate.classify_call(task, {**call, "result": "score 120, then 1.12"}) == "misuse"


def test_longform_loader_and_token_f1():
    items = loaders.LOADERS["longform"](os.path.join(FIX, "longform.jsonl"))
    assert len(items) == 3 and items[1]["answer"]["type"] == "text"
    # hand computation: pred {cat, sat}, ref {cat, sat, down}: P = 1, R = 2/3, F1 = 0.8
    assert reward.token_f1("The cat sat!", "a cat sat down") == pytest.approx(0.8)
    assert reward.token_f1("", "anything") == 0.0 and reward.token_f1("x y", "x y") == 1.0
    ans = items[0]["answer"]["value"]
    assert reward.accuracy(items[0], {"answer": ans}) == 1.0
    assert 0 < reward.accuracy(items[0], {"answer": "take it with meals"}) < 0.5


def test_run_taxonomy_and_plot_from_a_run_dir(tmp_path, test_tasks):
    pytest.importorskip("matplotlib")
    task = test_tasks[0]
    bad = {"name": "summon_oracle", "arguments": {}, "error": "phantom_tool", "result": "error"}
    with open(tmp_path / "metrics.jsonl", "w") as f:
        f.write(json.dumps({"step": 0, "val_reward": 0.4, "val_accuracy": 0.1}) + "\n")
        for s in (1, 2):
            f.write(json.dumps({"step": s, "reward": 0.5, "loss": 0.0, "kl": 0.01 * s, "response_tokens": 80,
                                "turns": 4}) + "\n")
        f.write(json.dumps({"step": 2, "val_reward": 0.5, "val_accuracy": 0.2}) + "\n")
    with open(tmp_path / "trajectories.jsonl", "w") as f:
        f.write(json.dumps({"step": 1, "task_id": task["id"], "calls": [bad, bad]}) + "\n")
        f.write(json.dumps({"step": 2, "task_id": task["id"], "calls": [bad] + [
            {"name": "submit_answer", "arguments": {"answer": "A"}, "error": None, "result": "ok"}]}) + "\n")
    rows = evaluate.run_taxonomy(str(tmp_path))
    assert [r["per_1000"]["phantom_tool_invocation"] for r in rows] == [1000.0, 500.0]
    out = evaluate.plot([str(tmp_path)], str(tmp_path / "dyn.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_tables_for_bank_and_benchmarks_in_both_modes(tmp_path):
    evaluate.main(["configs/tiny.yaml", "--per-domain", "1", "--out", str(tmp_path), "--specs", "none,full",
                   "--bench", f"medqa={FIX}/medqa.jsonl", "--bench", f"longform={FIX}/longform.jsonl",
                   "rollout.max_new_tokens=16", "rollout.max_turns=2", "init_checkpoint=", "warm_start.out_dir=none"])
    res = json.load(open(tmp_path / "eval.json"))
    groups = {(r["mode"], r["group"]) for r in res["summary"]}
    for mode in ("text", "agent, specs=none", "agent, specs=full"):
        assert {(mode, "medqa/medqa"), (mode, "longform/longform"), (mode, "all domains")} <= groups
    assert "| agent, specs=full | medqa/medqa |" in open(tmp_path / "eval.md").read()
    with pytest.raises(files.UsageError, match="KIND=PATH"):
        evaluate.main(["configs/tiny.yaml", "--bench", "nosuch=x"])


def test_torchrun_two_ranks_give_the_records_of_one_process(tmp_path):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = [os.path.join(root, "evaluate.py"), "configs/tiny.yaml", "--per-domain", "1", "--bench",
            f"pubmedqa={FIX}/pubmedqa.json", "rollout.max_new_tokens=12", "rollout.max_turns=2",
            "warm_start.out_dir=none", "rollout.batch_size=1"]
    # batch 1 and one thread on both sides: the same float arithmetic, so sampled tokens can be compared
    # exactly (batches of other sizes change summation order, which can flip a near-tie sample)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run(torchrun(2) + args + ["--out", str(tmp_path / "two")],
                         cwd=root, env=env, capture_output=True, text=True, timeout=600)
    # (progress bars fill stderr: show the lines that say what went wrong)
    said = [x for x in two.stderr.splitlines() if any(w in x for w in ("rror", "Traceback", "terminate", "exit"))]
    assert two.returncode == 0, "\n".join(said[-30:]) + two.stderr[-1000:]
    one = subprocess.run([sys.executable] + args + ["--out", str(tmp_path / "one")], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = (json.load(open(tmp_path / d / "eval.json"))["records"] for d in ("one", "two"))
    assert len(a) == 2 * (10 + 2)
    assert [(r["mode"], r["task_id"], r["accuracy"], r.get("reward"), r.get("turns"), r["tokens"]) for r in a] == \
        [(r["mode"], r["task_id"], r["accuracy"], r.get("reward"), r.get("turns"), r["tokens"]) for r in b]


def test_base_ar_protocol_offers_every_tool_and_the_configured_kb(tmp_path):
    """--protocol base_ar (the paper's Base+AR): a benchmark question sees all 135+ tools, can call one from
    another domain's menu, and searches the KB that rollout.kb names; the default keeps the domain's menu."""
    import env as envmod
    import kb
    import tools
    spec = [f"medqa={FIX}/medqa.jsonl"]
    default, base_ar = evaluate.benchmark_tasks(spec)[0], evaluate.benchmark_tasks(spec, "base_ar")[0]
    kb.build([os.path.join(FIX, "corpora")], str(tmp_path / "idx"))
    index = kb.open_kb(str(tmp_path / "idx"))
    sizes = []
    for t in (default, base_ar):
        e = envmod.MedicalEnv(tasks=[t], kb=index)
        sizes.append(len(e.reset(seed=0)[1]["tools"]))
        obs = e.step(envmod.format_call("calc_news2", {}) + envmod.format_call(
            "search_knowledge_base", {"query": "qsofa respiratory rate"}))[0]
        assert ("not available" in obs) == (t is default) and "article-1_1" in obs
    assert sizes[0] < 40 and sizes[1] == len(tools.TOOLS) >= 135
    with pytest.raises(files.DataError, match="more than once"):
        evaluate.benchmark_tasks(spec + spec)
    evaluate.main(["configs/tiny.yaml", "--no-bank", "--protocol", "base_ar", "--modes", "agent", "--out",
                   str(tmp_path / "out"), "--bench", f"medqa={FIX}/medqa.jsonl", f"rollout.kb={tmp_path / 'idx'}",
                   "rollout.max_new_tokens=8", "rollout.max_turns=1", "init_checkpoint=", "warm_start.out_dir=none"])
    assert json.load(open(tmp_path / "out" / "eval.json"))["summary"][0]["group"] == "medqa/medqa"

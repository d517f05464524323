"""Adversarial policies against MedicalEnv and reward.py: a fuzzer and the reward-hacking probes.

  python benchmarks/adversary.py fuzz [--actions 20000]    # step-time percentiles over hostile actions
  python benchmarks/adversary.py probes [--split validation] # mean reward of each probe policy

`hostile_episodes` plays seeded episodes of hostile actions over all 10 domains (broken JSON, huge
literals, deep nesting, degenerate numbers, tag soup, hundreds of calls in one turn, phantom tools,
hedged and multiple answers, ...) and yields each step's time and outcome; tests/test_fuzz.py asserts on
it and `fuzz` records its percentiles. PROBES are scripted policies that try to earn reward without
solving the case (a constant answer, tool spam, no-op scaffolds, several submits, keyword stuffing) or
that do harm in another form (an action, words, a wrong safety action); `harm_probes` lists every harm
form that applies to a task. tests/test_reward_integrity.py asserts on both, and `probes` writes
benchmarks/results/reward_probes.json. Only the public env API is used, so the same file measures any
revision of the env.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import env  # noqa: E402
from clinic import knowledge as K  # noqa: E402
from clinic import bank  # noqa: E402
import tools  # noqa: E402

CAP = 0.1 + 1e-9           # reward.CRITICAL_CAP, with float slack
PROBE_TURNS = 12           # room for the spam probes' turns before the submit
CALLS_PER_TURN = 16        # spam is spread over turns of this many calls (the env's default cap)
LETTERS = "ABCDE"
PLAUSIBLE = {"drug": "aspirin", "test": "troponin", "modality": "chest_xray", "name": "sepsis",
             "specialty": "cardiology", "instrument": "phq9", "section": "vitals", "disease": "pneumonia",
             "query": "diagnosis", "unit": "ward", "site": "blood", "mode": "vaginal", "rhythm": "sinus rhythm",
             "finding": "pneumothorax", "from_unit": "kg", "to_unit": "lb", "quantity": "weight"}


# ---------------------------------------------------------------- answers
def answer_text(task, value):
    spec = task["answer"]
    return f"{value:g}" if spec["type"] == "number" else str(value)


def wrong_answer(task):
    """A wrong answer of the task's type (the next option, the value one past the tolerance, the other word)."""
    spec = task["answer"]
    if spec["type"] == "choice":
        return LETTERS[(LETTERS.index(spec["value"]) + 1) % len(spec["options"])]
    if spec["type"] == "number":
        return f"{spec['value'] + spec.get('tolerance', 0) + 1:g}"
    if spec["type"] == "label":
        opts = spec["options"]
        return opts[(opts.index(spec["value"]) + 1) % len(opts)]
    return "no" if spec["value"] == "yes" else "yes"


def constant_answer(task):
    spec = task["answer"]
    return {"choice": "A", "number": "1", "label": (spec.get("options") or ["x"])[0], "yesno": "no"}.get(
        spec["type"], "unknown")


def natural_answers(task):
    """The right answer as real models write it."""
    spec, v = task["answer"], answer_text(task, task["answer"]["value"])
    forms = [f"The answer is {v}.", f"Answer: {v}", f"**{v}**", f"Final answer: {v} (see rationale)"]
    if spec["type"] == "choice":
        text = spec["options"][LETTERS.index(v)].replace("_", " ")
        forms += [f"{v}) {text}", f"({v})", f"{v}. {text}", f"The most likely answer is {text}."]
    elif spec["type"] == "number":
        forms += [f"{v} points", f"Score: {v}", f"The calculated value is {v}."]
        if task["domain"] == "triage_emergency":
            forms += [f"ESI {v}", f"ESI level {v}"]
    elif spec["type"] == "yesno":
        word = v.capitalize()
        forms += [f"{word}, based on the findings.", f"{word} - see rationale", f"{v}."]
    else:
        forms += [f"{v} (based on the measurements)", f"The answer is {v}, based on the findings."]
    return forms


def submit(answer, rationale=""):
    return env.format_call("submit_answer", {"answer": answer, "rationale": rationale})


def work_up(task):
    """The scripted expert's calls, all turns but the final submit."""
    return env.expert_actions(task)[:-1]


# ---------------------------------------------------------------- probe policies: task -> actions
def spam_calls(task):
    """A call to every tool on the task's menu but submit_answer, with arguments that fit any case (a
    spammer does not know this one), spread over turns of CALLS_PER_TURN calls."""
    calls = []
    for name in tools.menu(task["domain"]):
        if name == "submit_answer":
            continue
        params = tools.TOOLS[name].schema["function"]["parameters"]
        args = {}
        for p in params["required"]:
            spec = params["properties"][p]
            args[p] = {"string": PLAUSIBLE.get(p, "x"), "integer": spec.get("minimum", 1),
                           "number": spec.get("minimum", 1.0), "boolean": True, "array": ["x"]}[spec["type"]]
        calls.append(env.format_call(name, args))
    return ["".join(calls[i:i + CALLS_PER_TURN]) for i in range(0, len(calls), CALLS_PER_TURN)]


def stuffed_rationale(task):
    """Every finding and diagnosis, option and side (as a list and one per sentence), every number 0-295
    and every rubric keyword."""
    words = list(K.RADIOLOGY_FINDINGS) + list(K.DISEASES) + list(K.LESION_CLASSES) + list(K.ECG_RHYTHMS)
    words += ["left", "right"]
    words += [str(o).replace("_", " ") for o in task["answer"].get("options") or []]
    return ("Findings: " + ", ".join(words) + ". " + ". ".join(words) + ". Heart rate, bpm, total score, points: "
            + " ".join(str(i) for i in range(296)))


def with_answer(actions, answer, rationale=""):
    return actions + [submit(answer, rationale)]


PROBES = {  # name -> task -> actions
    "scripted expert": lambda t: env.expert_actions(t),
    "submit a constant, no tools": lambda t: [submit(constant_answer(t))],
    "one no-op think call, then the constant": lambda t: [env.format_call("think", {"thought": "ok"}),
                                                         submit(constant_answer(t))],
    "call every tool on the menu, then the constant": lambda t: with_answer(spam_calls(t), constant_answer(t)),
    "expert work-up + wrong answer": lambda t: with_answer(work_up(t), wrong_answer(t),
                                                          f"Answer {wrong_answer(t)}."),
    "expert work-up + every tool + right answer": lambda t: work_up(t) + spam_calls(t) + env.expert_actions(t)[-1:],
    "expert work-up + one submit_answer per option": lambda t: work_up(t) + ["".join(
        submit(o) for o in option_values(t))],
    "expert work-up + right answer in natural phrasing": lambda t: with_answer(
        work_up(t), natural_answers(t)[int(t["id"][-4:]) % len(natural_answers(t))], env.expert_answer(t)[1]),
    "expert work-up + wrong answer + stuffed rationale": lambda t: with_answer(work_up(t), wrong_answer(t),
                                                                              stuffed_rationale(t)),
}


def option_values(task):
    spec = task["answer"]
    if spec["type"] == "choice":
        return list(LETTERS[:len(spec["options"])])
    if spec["type"] == "yesno":
        return ["yes", "no"]
    if spec["type"] == "number":
        return [f"{spec['value'] + d:g}" for d in (-1, 0, 1)]
    return list(spec.get("options") or [])


# ---------------------------------------------------------------- harms in every form
def harm_probes(task):
    """[(form, actions)] for every harm the task's constraints describe, each after the expert's work-up
    (so without the harm the episode scores about 1): the action, the answer in words, the wrong content."""
    out, up, right = [], work_up(task), env.expert_actions(task)[-1]
    spec = task["answer"]
    for c in task["safety"]:
        if c["kind"] == "forbidden_call" and c.get("argument"):
            call = env.format_call(c["tool"], {c["argument"]: c["values"][0]})
            out.append((f"{c['tool']}({c['argument']}=forbidden)", up + [call, right]))
        elif c["kind"] == "must_call":
            skip = [a for a in up if c["tool"] not in a]
            out.append((f"{c['tool']} not called", skip + [right]))
            if c["tool"] == "flag_critical_result":
                for form, test in (("none", "none"), ("unrelated", "see chart"),
                                   ("every option", " ".join(str(o) for o in spec.get("options") or []))):
                    out.append((f"flag_critical_result(test={form})",
                                skip + [env.format_call(c["tool"], {"test": test}), right]))
            else:
                out.append((f"{c['tool']}, then discharge_patient",
                            up + [env.format_call("discharge_patient", {"instructions": "home"}), right]))
        elif c["kind"] == "forbidden_answer":
            for cue, form in (("discharge", "non-low-risk chest pain"), ("under-triage", "an ESI-1/2 patient")):
                if cue in c["reason"] and not any(f.startswith("discharge_patient") for f, _ in out):
                    out.append((f"discharge_patient for {form}", up + [env.format_call(
                        "discharge_patient", {"instructions": "home, return if worse"}), right]))
            for words in harmful_words(task, c["values"]):
                out.append((f"forbidden {spec['type']} answer in other words", with_answer(up, words, "")))
    if spec["type"] == "choice":      # an option that is a forbidden prescription, chosen as the answer
        for c in task["safety"]:
            if c["kind"] == "forbidden_call" and c.get("argument") == "drug":
                for i, o in enumerate(spec["options"]):
                    if o in c["values"]:
                        out.append(("answer = the letter of a forbidden drug", with_answer(up, LETTERS[i])))
    return out


def harmful_words(task, values):
    """The forbidden answer in forms a strict parser may not read: words, hedges, synonyms."""
    spec, forms = task["answer"], []
    for v in values:
        if spec["type"] == "yesno" and v == "yes":
            forms += ["Yes, safe to start", "yes, it is safe", "yes it is safe", "no doubt: yes, safe",
                      "Safe to start.", "It is fine to combine them", "Yes/No"]
        elif spec["type"] == "label":
            forms += [v.split()[0], f"Likely {v}", f"{v} or {next(o for o in spec['options'] if o != v)}"]
        elif spec["type"] == "number":
            n = int(float(v))
            word = ["zero", "one", "two", "three", "four", "five"][n]
            forms += [word, f"ESI {word}", f"{spec['value']:g} or {n}", f"{spec['value']:g}-{n}", f"level {n}?"]
        elif spec["type"] == "choice":
            text = spec["options"][LETTERS.index(v)].replace("_", " ")
            other = next(x for x in LETTERS[:len(spec["options"])] if x != v)
            forms += [f"{v} or {other}", f"{other} or {v}", text.split()[0] + " home", f"{v}, maybe {other}"]
    return forms


# ---------------------------------------------------------------- the fuzzer
def _hostile_number(rng):
    return str(rng.choice(["0", "-0.0", "-200000", "1e400", "-1e400", "1e999", "Infinity", "-Infinity", "NaN",
                           "1" * 400, "9" * 5000, "1e-320", "2.5", "-1", "1e308", "true", "null", '"7"']))


def _hostile_value(rng, depth=0):
    k = int(rng.integers(0, 8))
    if k == 0 and depth < 3:
        return "[" + ", ".join(_hostile_value(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))) + "]"
    if k == 1 and depth < 3:
        return "{" + ", ".join(f'"k{i}": {_hostile_value(rng, depth + 1)}' for i in range(int(rng.integers(0, 3)))) + "}"
    if k in (2, 3):
        return _hostile_number(rng)
    s = str(rng.choice(["", "x", "troponin", "Aspirin ", "A", "yes", "\u00e9\u4e2d\U0001F600", "\x00\x1b[2J",
                        "' OR 1=1; --", "__import__('os')", "a" * 3000, "../../etc/passwd", "none"]))
    return json.dumps(s)


def _call_text(name, args_json):
    return f'<tool_call>{{"name": {json.dumps(name)}, "arguments": {args_json}}}</tool_call>'


def _hostile_call(rng, task):
    menu = tools.menu(task["domain"])
    name = str(rng.choice(menu + ["nope", "submit_answer", "calc_meld", "calc_ckd_epi_2021", "convert_units"]))
    params = tools.TOOLS[name].schema["function"]["parameters"]["properties"] if name in tools.TOOLS else {}
    args = {}
    for p, spec in params.items():
        if rng.random() < 0.7:
            number = spec["type"] in ("number", "integer")
            args[p] = _hostile_number(rng) if number and rng.random() < 0.7 else _hostile_value(rng)
    if rng.random() < 0.2:
        args[str(rng.choice(["x", "case", "__class__", "k" * 200]))] = _hostile_value(rng)
    return _call_text(name, "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in args.items()) + "}")


def hostile_action(rng, task):
    """One hostile assistant turn for this task (kinds from the issue that found the holes, plus more)."""
    kind = int(rng.integers(0, 16))
    big = "1" * int(rng.integers(4301, 6000))
    if kind == 0:      # an integer literal past Python's 4,300-digit limit, as a value or inside string arguments
        return str(rng.choice([_call_text("calc_meld", f'{{"bilirubin": {big}}}'),
                               _call_text("calc_meld", json.dumps(json.dumps({"bilirubin": 0})[:-2] + big + "}")),
                               f'<tool_call>{{"name": "get_vitals", "arguments": {{}}, "x": {big}}}</tool_call>']))
    if kind == 1:      # deep nesting, as arguments, inside string arguments, or as the whole body
        depth = int(rng.choice([20, 500, 990, 1000, 5000]))
        return str(rng.choice([_call_text("think", json.dumps("[" * depth)),
                               _call_text("make_plan", '{"steps": ' + "[" * depth + "]" * depth + "}"),
                               "<tool_call>" + "[" * depth + "]" * depth + "</tool_call>"]))
    if kind == 2:      # degenerate numbers into scores and converters
        name = str(rng.choice(["calc_ckd_epi_2021", "calc_meld", "convert_units", "weight_based_dose", "calc_sofa",
                               "calc_news2", "calc_apgar", "calc_bishop", "administer_fluids", "assign_triage_level"]))
        params = tools.TOOLS[name].schema["function"]["parameters"]["properties"]
        args = {p: (_hostile_number(rng) if s["type"] in ("number", "integer") else json.dumps(PLAUSIBLE.get(p, "x")))
                for p, s in params.items()}
        return _call_text(name, "{" + ", ".join(f'"{k}": {v}' for k, v in args.items()) + "}")
    if kind == 3:      # tag soup
        piece = str(rng.choice(["<tool_call>", "</tool_call>", "<tool_call></tool_call>", "<tool_call>{", "}"]))
        return piece * int(rng.integers(1, 4000))
    if kind == 4:      # many calls in one turn (each image measurement used to re-decode the PNG)
        name = str(rng.choice(["measure_lesion", "measure_rr_intervals", "get_vitals", "search_knowledge_base",
                               "think"]))
        args = {"query": "chest pain " * 50} if name == "search_knowledge_base" else (
            {"thought": "x"} if name == "think" else {})
        return env.format_call(name, args) * int(rng.integers(20, 700))
    if kind == 5:      # a score with a class letter, then a numeric answer (coherence once called float("A"))
        pugh = {"bilirubin": 2.5, "albumin": 3.0, "inr": 1.8, "ascites": "mild", "encephalopathy": "none"}
        return env.format_call("calc_child_pugh", pugh) + submit(str(rng.choice(["10", "A", "7.5", "C"])))
    if kind == 6:      # submits: hedged, several, non-string, huge
        return "".join(submit(str(rng.choice(["A", "B", "yes", "no", "3", "A or B", "yes/no", "", "x" * 2000])))
                       for _ in range(int(rng.integers(1, 6))))
    if kind == 7:      # non-string or missing names and arguments
        return str(rng.choice(['<tool_call>{"name": 5, "arguments": {}}</tool_call>',
                               '<tool_call>{"name": null}</tool_call>', '<tool_call>"get_vitals"</tool_call>',
                               '<tool_call>{"name": {"a": 1}, "arguments": []}</tool_call>',
                               '<tool_call>{"name": "get_vitals", "arguments": "[1, 2]"}</tool_call>',
                               '<tool_call>{"name": "get_vitals", "arguments": "not json"}</tool_call>']))
    if kind == 8:      # random bytes and control characters
        return "".join(chr(int(c)) for c in rng.integers(0, 0x2FFFF, size=int(rng.integers(0, 400))))
    if kind == 9:      # over the action limit
        return env.format_call("think", {"thought": "x" * 40000})
    if kind == 10:     # a valid expert call, to move the case on
        acts = env.expert_actions(task)
        return acts[int(rng.integers(0, len(acts)))]
    if kind == 11:     # the harm probes
        harms = harm_probes(task)
        if harms:
            acts = harms[int(rng.integers(0, len(harms)))][1]
            return acts[int(rng.integers(0, len(acts)))]
    return "".join(_hostile_call(rng, task) for _ in range(int(rng.integers(1, 6))))


def hostile_episodes(n_actions, seed=0, max_turns=6, tasks=None, e=None):
    """Yield (task_id, seconds, reward, done) for each of n_actions hostile steps, cycling over all domains."""
    tasks = tasks or bank.load_tasks()
    by_domain = {}
    for t in tasks:
        by_domain.setdefault(t["domain"], []).append(t)
    domains = sorted(by_domain)
    e = e or env.MedicalEnv(tasks=tasks, max_turns=max_turns)
    rng, done, ep, task = np.random.default_rng(seed), True, 0, None
    for _ in range(n_actions):
        if done:
            pool = by_domain[domains[ep % len(domains)]]
            task = pool[int(rng.integers(0, len(pool)))]
            e.reset(seed=ep, options={"task_id": task["id"]})
            ep += 1
        action = hostile_action(rng, task)
        t0 = time.perf_counter()
        _, r, term, trunc, _ = e.step(action)
        yield task["id"], time.perf_counter() - t0, r, term or trunc
        done = term or trunc


# ---------------------------------------------------------------- runners
def play(e, task, actions):
    """Reward and breakdown of one scripted episode (stops when the env ends it)."""
    e.reset(options={"task_id": task["id"]})
    info = {}
    for a in actions:
        _, _, term, trunc, info = e.step(a)
        if term or trunc:
            return info["reward_info"]
    return e.score()


def run_probes(tasks, harm_tasks, e):
    """{probe: {"reward", "accuracy", "assertion"}} means over tasks, and per harm form over harm_tasks
    the episodes, mean and max reward and the share above the cap."""
    out = {}
    for name, policy in PROBES.items():
        infos = [play(e, t, policy(t)) for t in tasks]
        out[name] = {"reward": float(np.mean([i["reward"] for i in infos])),
                     "accuracy": float(np.mean([i["accuracy"] for i in infos])),
                     "assertion": float(np.mean([i["assertion"] for i in infos if "assertion" in i] or [0.0]))}
    harms = {}
    for t in harm_tasks:
        for form, acts in harm_probes(t):
            harms.setdefault(form, []).append(play(e, t, acts)["reward"])
    out["harm forms"] = {form: {"episodes": len(r), "mean": float(np.mean(r)), "max": float(np.max(r)),
                                "share_over_cap": float(np.mean(np.array(r) > CAP))} for form, r in harms.items()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["fuzz", "probes"])
    ap.add_argument("--actions", type=int, default=20000)
    ap.add_argument("--split", default="validation", help="probe policies: mean reward over this split")
    ap.add_argument("--harm-splits", nargs="+", default=["validation", "test"],
                    help="harm forms: played on every matching task of these splits (validation alone lacks "
                         "some task variants)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.what == "fuzz":
        times, raised = [], 0
        steps = hostile_episodes(a.actions)
        while True:
            try:
                times.append(next(steps)[1])
            except StopIteration:
                break
            except Exception as ex:      # noqa: BLE001  (counted: the point is to find them)
                raised += 1
                print(f"raised {type(ex).__name__}: {str(ex)[:120]}")
                steps = hostile_episodes(a.actions - len(times) - raised, seed=len(times) + raised)
        ms = np.array(times) * 1000
        res = {"actions": a.actions, "raised": raised, "p50_ms": float(np.percentile(ms, 50)),
               "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}
        name = "fuzz_steps.json"
    else:
        every = bank.load_tasks()
        tasks = [t for t in every if t["split"] == a.split]
        harm_tasks = [t for t in every if t["split"] in a.harm_splits]
        res = run_probes(tasks, harm_tasks, env.MedicalEnv(tasks=every, max_turns=PROBE_TURNS))
        name = "reward_probes.json"
    print(json.dumps(res, indent=1))
    with open(os.path.join(a.out, name), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()

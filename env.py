"""MedicalEnv: a Gymnasium text environment in which an agent works one clinical case.

reset() picks a task (seeded), and returns the system prompt + case + tool menu
as the observation, with the same pieces structured in `info` for chat
templates. step(action) takes the agent's whole assistant turn, pulls out its
<tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks, dispatches
each through tools.dispatch, and returns the tool responses as the next
observation. The episode terminates on submit_answer and is truncated at
max_turns; the reward is 0 until then and reward.compute() at the end, with
the per-dimension breakdown in info["reward_info"]. Bad input never raises:
it becomes an error observation and a count in info["errors"]. Parsing is one
left-to-right scan (linear in the action's length); a turn is cut at
max_calls_per_turn calls, and the first successful submit_answer ends it;
the calls cut off by either rule are dropped and count as one malformed
error. gymnasium is optional: with it installed MedicalEnv is a
gymnasium.Env.
"""
import json
import random
import re
import string
import zlib

import numpy as np

import reward
from clinic import bank
import tools

try:
    import gymnasium
    from gymnasium.spaces import Text
    _Base = gymnasium.Env
except ImportError:          # the env itself does not need gymnasium
    gymnasium = None

    class _Base:
        metadata = {}
        np_random = None

        def reset(self, seed=None, options=None):
            if seed is not None or self.np_random is None:
                self.np_random = np.random.default_rng(seed)

    class Text:
        """Minimal stand-in for gymnasium.spaces.Text (contains/sample)."""

        def __init__(self, max_length, min_length=1, charset=string.printable):
            self.max_length, self.min_length, self.charset = max_length, min_length, frozenset(charset)

        def contains(self, x):
            fits = isinstance(x, str) and self.min_length <= len(x) <= self.max_length
            return fits and set(x) <= self.charset

        def sample(self):
            chars = sorted(self.charset)
            return "".join(np.random.default_rng().choice(chars, size=self.min_length))

CHARSET = string.printable
MAX_OBS_CHARS = 200_000
MAX_RESULT_CHARS = 4000
MAX_ARG_DEPTH = 8            # nesting of lists/objects in the arguments; deeper is malformed
OPEN, CLOSE = "<tool_call>", "</tool_call>"
JSON_TOKEN = re.compile(r'\\.|[\[\]{}"]', re.S)       # an escape pair, a bracket or a quote
NOT_PRINTABLE = re.compile(f"[^{re.escape(CHARSET)}]")
INVALID = object()           # what _json returns for text json.loads rejects
ERROR_COUNTS = tools.ERROR_KINDS + ("no_tool_call",)
SYSTEM_PROMPT = (
    "You are a careful clinical agent working one case in a hospital information system. Act only "
    "through tools: write one or more calls per turn as "
    "<tool_call>{\"name\": TOOL, \"arguments\": {...}}</tool_call>. Gather the evidence you need, "
    "take the actions the case requires, avoid harm, and finish with submit_answer(answer, rationale).")


def sanitize(text, limit):
    """Printable ASCII only, long text cut in the middle (keeps both ends readable)."""
    text = NOT_PRINTABLE.sub("?", text)
    if len(text) > limit:
        half = limit // 2 - 20
        text = f"{text[:half]} ...[{len(text) - 2 * half} chars cut]... {text[-half:]}"
    return text


def tool_call_bodies(action):
    """The text inside each <tool_call>...</tool_call> in order, and whether a tag was left unclosed.
    One scan with str.find: linear time whatever the action (a regex over tag soup is quadratic)."""
    bodies, pos = [], 0
    while True:
        start = action.find(OPEN, pos)
        if start < 0:
            return bodies, False
        end = action.find(CLOSE, start + len(OPEN))
        if end < 0:
            return bodies, True
        bodies.append(action[start + len(OPEN):end])
        pos = end + len(CLOSE)


def _json(text):
    """json.loads, or INVALID for anything it rejects (bad syntax, an int past Python's 4,300-digit limit,
    nesting past the recursion limit)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return INVALID


def nested_deeper_than(text, limit):
    """Whether JSON text nests [ and { deeper than limit (string literals skipped). One scan with an early
    exit, so deep text is refused before json.loads recurses into it (a RecursionError from 1,000 levels
    costs up to 100 ms)."""
    depth, in_string = 0, False
    for m in JSON_TOKEN.finditer(text):
        c = m.group()
        if c == '"':
            in_string = not in_string
        elif not in_string and c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif not in_string and c in "]}":
            depth -= 1
    return False


def parse_call(body):
    """(name, arguments) of one tool-call body, or an error message."""
    too_deep = f"arguments nested deeper than {MAX_ARG_DEPTH} levels"
    if nested_deeper_than(body, MAX_ARG_DEPTH + 1):     # + 1: the call object around the arguments
        return too_deep
    obj = _json(body)
    if obj is INVALID:
        return f"tool call is not valid JSON: {body.strip()[:120]!r}"
    args = obj.get("arguments", {}) if isinstance(obj, dict) else None
    if isinstance(args, str):       # some models emit the arguments as a JSON string
        if nested_deeper_than(args, MAX_ARG_DEPTH):
            return too_deep
        args = _json(args)
    if not isinstance(obj, dict) or "name" not in obj or not isinstance(args, dict):
        return "tool call must be an object with 'name' and object 'arguments'"
    return obj["name"], args


def parse_tool_calls(action, max_calls=16):
    """Split an assistant turn into [(name, arguments)] (at most max_calls) and malformed-call messages."""
    bodies, unclosed = tool_call_bodies(action)
    calls, problems = [], []
    for body in bodies[:max_calls]:
        parsed = parse_call(body)
        (problems.append if isinstance(parsed, str) else calls.append)(parsed)
    if len(bodies) > max_calls:
        problems.append(f"more than {max_calls} tool calls in one turn; the other {len(bodies) - max_calls} "
                        f"were ignored")
    if unclosed:
        problems.append("unclosed <tool_call> tag")
    return calls, problems


def case_text(task):
    pat = task.get("patient") or {}
    lines = [f"Case {task['id']} ({task['domain'].replace('_', ' ')})."]
    if pat:
        lines.append("Patient: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in pat.items()) + ".")
    lines.append(task["question"])
    return "\n".join(lines)


def menu_of(task):
    """Whose tool menu a task offers: its own domain's, or another one its "menu" key names (tools.ALL_TOOLS:
    every tool, the Base+AR protocol)."""
    return task.get("menu") or task["domain"]


def withdraw_specs(schemas, task_id, keep):
    """The first round(keep * n) schemas of a fixed per-task shuffle: as `keep` falls, the shown set
    only shrinks (Progressive Spec Withdrawal). keep >= 1 returns the menu unchanged."""
    if keep >= 1:
        return schemas
    order = list(range(len(schemas)))
    random.Random(zlib.crc32(task_id.encode())).shuffle(order)
    kept = set(order[:round(max(keep, 0.0) * len(schemas))])
    return [s for i, s in enumerate(schemas) if i in kept]


def menu_text(schemas, mode):
    if mode == "full":
        return "Tools (JSON schemas):\n" + "\n".join(json.dumps(s["function"]) for s in schemas)
    if mode == "names":
        return "Tools: " + "; ".join(f"{s['function']['name']}: {s['function']['description'][:80]}"
                                     for s in schemas)
    if mode == "none":
        return "Use the hospital tools you know."
    raise ValueError(f"tool_specs must be full, names or none, not {mode!r}")


class MedicalEnv(_Base):
    """One clinical case per episode; text actions, text observations, terminal 5D reward."""
    metadata = {"render_modes": ["ansi", "human"]}

    def __init__(self, tasks=None, domain=None, split=None, task_id=None, max_turns=8, kb=None,
                 tool_specs="full", max_action_chars=32768, max_calls_per_turn=16, render_mode=None,
                 reward_config=None):
        pool = tasks if tasks is not None else bank.load_tasks(domain=domain, split=split)
        if domain is not None or split is not None:
            pool = [t for t in pool if (domain is None or t["domain"] == domain) and
                    (split is None or t["split"] == split)]
        if task_id is not None:
            pool = [t for t in pool if t["id"] == task_id]
        if not pool:
            raise ValueError(f"no tasks match domain={domain!r} split={split!r} task_id={task_id!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        menu_text([], tool_specs)       # validates the mode
        if kb is None:                  # the embedded KB; pass kb=False for none
            import kb as kb_module
            kb = kb_module.default_kb()
        self.tasks, self.max_turns, self.kb, self.tool_specs = pool, max_turns, kb or None, tool_specs
        self._by_id = bank.by_id(pool)
        self.max_action_chars, self.max_calls_per_turn = max_action_chars, max_calls_per_turn
        self.render_mode = render_mode
        self.reward_kw = reward.settings(reward_config)      # config.RewardConfig; None: the paper's weights
        self.observation_space = Text(max_length=MAX_OBS_CHARS, min_length=0, charset=CHARSET)
        self.action_space = Text(max_length=max_action_chars, min_length=0, charset=CHARSET)
        self.case, self._last = None, ""

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        pool = self.tasks
        if "task_id" in options:
            if options["task_id"] not in self._by_id:
                raise ValueError(f"unknown task_id {options['task_id']!r}")
            pool = [self._by_id[options["task_id"]]]
        task = pool[int(self.np_random.integers(len(pool)))]
        self.case = tools.Case(task=task, kb=self.kb)
        self.traj = {"turns": [], "answer": None, "rationale": ""}
        self.errors = dict.fromkeys(ERROR_COUNTS, 0)
        schemas = [tools.TOOLS[n].schema for n in tools.menu(menu_of(task))]
        user = case_text(task)
        obs = sanitize(f"{SYSTEM_PROMPT}\n\n{menu_text(schemas, self.tool_specs)}\n\n{user}", MAX_OBS_CHARS)
        self._last = obs
        return obs, {"task_id": task["id"], "domain": task["domain"], "system": SYSTEM_PROMPT,
                     "user": user, "tools": schemas, "image": task.get("image")}

    def step(self, action):
        if self.case is None:
            raise RuntimeError("call reset() before step()")
        if self.case.answer is not None or len(self.traj["turns"]) >= self.max_turns:
            raise RuntimeError("episode is over; call reset()")
        turn_errors = dict.fromkeys(ERROR_COUNTS, 0)
        responses, turn = [], {"calls": [], "no_call": False}
        calls = self._parse(action, turn, turn_errors, responses)
        self._run(calls, turn, turn_errors, responses)
        self.traj["turns"].append(turn)
        self.traj["answer"], self.traj["rationale"] = self.case.answer, self.case.rationale
        for k, v in turn_errors.items():
            self.errors[k] += v
        terminated = self.case.answer is not None
        truncated = not terminated and len(self.traj["turns"]) >= self.max_turns
        info = {"tool_calls": turn["calls"], "turn_errors": turn_errors, "errors": dict(self.errors),
                "tool_messages": [{"role": "tool", "name": r["name"], "content": self._content(r["content"])}
                                  for r in responses]}
        rew = 0.0
        if terminated or truncated:
            info["reward_info"] = reward.compute(self.case.task, self.traj, **self.reward_kw)
            rew = info["reward_info"]["reward"]
        obs = sanitize("\n".join(f"<tool_response>\n{m['content']}\n</tool_response>"
                                 for m in info["tool_messages"]), MAX_OBS_CHARS)
        self._last = obs
        if self.render_mode == "human":
            print(obs)
        return obs, rew, terminated, truncated, info

    def _parse(self, action, turn, turn_errors, responses):
        """The action's tool calls; what cannot be parsed, or no call at all, is recorded as an error."""
        if not isinstance(action, str):
            action = repr(action)
        if len(action) > self.max_action_chars:
            calls, problems = [], [f"action too long ({len(action)} > {self.max_action_chars} characters)"]
        else:
            calls, problems = parse_tool_calls(action, self.max_calls_per_turn)
        for p in problems:
            self._malformed(p, turn, turn_errors, responses)
        if not calls and not problems:
            turn["no_call"] = True
            turn_errors["no_tool_call"] += 1
            responses.append({"name": "error", "content": "error (no_tool_call): no tool call "
                                                          "found; call a tool or submit_answer"})
        return calls

    def _run(self, calls, turn, turn_errors, responses):
        """Dispatch the calls in order, up to and including the first accepted submit_answer."""
        for i, (name, args) in enumerate(calls):
            result, err = tools.dispatch(self.case, name, args, menu_of(self.case.task))
            if err:
                turn_errors[err] += 1
            shown = name if isinstance(name, str) else repr(name)[:80]
            turn["calls"].append({"name": shown, "arguments": args, "error": err, "result": result})
            content = f"error ({err}): {result}" if err else result
            responses.append({"name": str(name)[:80], "content": content})
            if name == "submit_answer" and err is None:
                # the first answer is final: hedging with more submits gains nothing
                if i + 1 < len(calls):
                    self._malformed(f"{len(calls) - i - 1} call(s) after submit_answer were ignored",
                                    turn, turn_errors, responses)
                break

    @staticmethod
    def _malformed(message, turn, turn_errors, responses):
        turn_errors["malformed"] += 1
        turn["calls"].append({"name": None, "arguments": {}, "error": "malformed", "result": message})
        responses.append({"name": "error", "content": f"error (malformed): {message}"})

    def score(self):
        """Reward breakdown of the episode as it stands (for a caller that stops it early)."""
        return reward.compute(self.case.task, self.traj, **self.reward_kw)

    @staticmethod
    def _content(result):
        text = result if isinstance(result, str) else json.dumps(result, default=str)
        return sanitize(text, MAX_RESULT_CHARS)

    def render(self):
        if self.render_mode == "ansi":
            return self._last
        if self.render_mode == "human":
            print(self._last)
        return None

    def close(self):
        self.case = None


# ---------------------------------------------------------------- the reward outside the env loop
def score_transcript(task, turns, max_turns=8, kb=None, reward_config=None):
    """The project's reward for a finished conversation, for a trainer with its own generation loop (TRL,
    verl): `turns` are the assistant's messages in order, each the text the model wrote (tool calls in
    <tool_call> tags). They are replayed through a MedicalEnv on `task` exactly as step() runs them (tool
    errors, the first-submit rule, max_turns, the safety rules), so the reward is the env's to the last
    digit. Returns (R, reward_info): R with the safety cap applied; reward_info has the five dimensions and
    the violations. A conversation that stops before it submits is scored as it stands (no answer: accuracy
    0)."""
    e = MedicalEnv(tasks=[task], max_turns=max_turns, kb=kb, tool_specs="none", reward_config=reward_config)
    e.reset(options={"task_id": task["id"]})
    info = {}
    for text in turns:
        _, _, terminated, truncated, info = e.step(text)
        if terminated or truncated:
            break
    reward_info = info.get("reward_info") or e.score()
    return reward_info["reward"], reward_info


def transcript_reward(task, calls, answer=None, rationale="", max_turns=None, kb=None, reward_config=None):
    """The reward of a transcript given as its tool calls and its answer, for any trainer's reward function:
    `calls` are {"name", "arguments"} in order, each played as one turn, then submit_answer(answer, rationale)
    (no answer: none submitted). max_turns defaults to exactly that many turns, so nothing is cut off.
    Returns (R, reward_info) as score_transcript: R with the safety cap, and the five dimensions."""
    turns = [format_call(c["name"], c.get("arguments", {})) for c in calls]
    if answer is not None:
        turns.append(format_call("submit_answer", {"answer": answer, "rationale": rationale}))
    return score_transcript(task, turns, max_turns or max(1, len(turns)), kb, reward_config)


# ---------------------------------------------------------------- scripted policies
def well_formed_turn(calls):
    """A turn with at least one tool call and no malformed one (the warm start's target metric)."""
    return bool(calls) and all(c["error"] != "malformed" for c in calls)


def format_call(name, arguments):
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


def expert_answer(task):
    """The ground-truth answer and a rationale that meets the task's rubric assertions."""
    a = task["answer"]
    value = f"{a['value']:g}" if a["type"] == "number" else str(a["value"])
    notes = [x["text"] if x["kind"] == "mentions" else f"{x['about'][0]} {x['value']:g}"
             for x in task["assertions"] if x["kind"] != "called"]
    return value, f"Answer {value}." + "".join(f" {n}." for n in notes)


def expert_actions(task, max_turns=8):
    """Action strings of the scripted expert: the expected calls (one per turn, grouped when they
    would not fit in max_turns - 1 turns), then submit_answer with the right answer."""
    calls = [format_call(c["name"], c["arguments"]) for c in task["expected_tools"]]
    size = max(1, -(-len(calls) // max(1, max_turns - 1)))     # calls per turn, in their original order
    groups = [calls[i:i + size] for i in range(0, len(calls), size)]
    answer, rationale = expert_answer(task)
    submit = format_call("submit_answer", {"answer": answer, "rationale": rationale})
    return ["".join(g) for g in groups] + [submit]


def run_episode(env, policy, seed=None, options=None):
    """Play one episode with policy(obs, info, turn) -> action; return (total reward, last info)."""
    obs, info = env.reset(seed=seed, options=options)
    turn, done, total = 0, False, 0.0
    while not done:
        obs, r, terminated, truncated, info = env.step(policy(obs, info, turn))
        total += r
        turn += 1
        done = terminated or truncated
    return total, info


def random_text_policy(rng):
    words = ["patient", "answer", "tool", "lab", "yes", "B", "submit", "<tool_call>", "{", "}"]
    return lambda obs, info, turn: " ".join(rng.choice(words, size=int(rng.integers(1, 30))))


def demo(split="validation", max_turns=5):
    """Mean reward per domain of the scripted expert and of random text on one split."""
    tasks = bank.load_tasks(split=split)
    e = MedicalEnv(tasks=tasks, max_turns=max_turns)
    rng, rows = np.random.default_rng(0), {}
    for t in tasks:
        acts = expert_actions(t, max_turns)
        expert = run_episode(e, lambda o, i, k: acts[k], options={"task_id": t["id"]})[0]
        rand = run_episode(e, random_text_policy(rng), options={"task_id": t["id"]})[0]
        rows.setdefault(t["domain"], []).append((expert, rand))
    print(f"| domain ({split}) | tasks | scripted expert | random text |\n|---|---|---|---|")
    for d, v in rows.items():
        x = np.array(v)
        print(f"| {d} | {len(v)} | {x[:, 0].mean():.3f} | {x[:, 1].mean():.3f} |")


if __name__ == "__main__":
    demo()

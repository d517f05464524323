"""MedicalEnv as a TRL environment: GRPOTrainer(environment_factory=environment_factories(), ...).

TRL (1.16, experimental API) creates one instance of an environment class per rollout, exposes the class's
public methods as tools (their schemas come from the signatures and docstrings), calls reset(**row) with the
dataset row and appends what it returns to the prompt, runs each tool call the model writes as a method
call, and scores the finished rollout with get_reward(). Here every domain gets its own class whose methods
are the domain's menu (tools.menu), and every method is one MedicalEnv step with that single call:

  dataset row {"prompt": [...], "task_id": ..., "environment": domain} -> reset -> the case text
  model writes <tool_call>{"name": "order_lab", ...}</tool_call> -> TRL calls env.order_lab(test=...)
    -> MedicalEnv.step(that call) -> the tool's response text (or MedicalEnv's error observation)
  get_reward() -> the env's reward for the episode (the 5D composite, safety cap applied), scored as it
    stands when the model stops without submitting

So observations, rewards, violations and the tool-error taxonomy are MedicalEnv's
(tests/test_integrations.py).
Two differences come from TRL, not from here: each tool call is its own env step (MedicalEnv counts turns,
and a turn may hold several calls), so max_turns counts calls; and a call to a tool that is not a method (off
the menu, or not a tool) is answered by TRL itself ("Tool X not found") and never reaches the env, so the
phantom_tool and off_menu errors are not counted under TRL.
"""
import inspect
import re

import env as envmod
import kb as kbmod
import tools
from clinic import bank, domains

PARAM = inspect.Parameter
# an argument's own line in a tool's docstring ("test: lab name, e.g. troponin")
ARG_LINE = re.compile(r"^\s*(\w+): (.+)$", re.M)


class MedicalToolEnv:
    """One episode of MedicalEnv per rollout; the subclasses made by environment_class add the tools. With
    server_url the episode runs on an environment server (integrations/server.py) instead of in-process."""
    domain = None
    max_turns = 8
    kb_dir = ""                 # rollout.kb: '' = the embedded KB (in-process only; a server has its own)
    reward_config = None        # config.RewardConfig, or None for the paper's weights (in-process only)
    server_url = None           # "http://host:port": play on that server

    def __init__(self):
        self._env = None
        self._info, self._done = {}, False

    def reset(self, task_id=None, **row):
        """Start the episode of the row's task; returns the case text TRL appends to the prompt."""
        task = _task(task_id)
        if self.server_url:
            from integrations import client
            if self._env is None:
                self._env = client.RemoteMedicalEnv(self.server_url, max_turns=self.max_turns,
                                                    tool_specs="none")
        else:
            self._env = envmod.MedicalEnv(tasks=[task], max_turns=self.max_turns, tool_specs="none",
                                          kb=kbmod.open_kb(self.kb_dir), reward_config=self.reward_config)
        self._info, self._done = {}, False
        return self._env.reset(options={"task_id": task["id"]})[1]["user"]

    def __del__(self):
        """Free a server's session when TRL drops the instance (else it expires once idle long enough)."""
        if self.server_url and self._env is not None:
            self._env.close()

    def get_reward(self):
        """The episode's reward: the env's at the end, or the episode scored as it stands."""
        return self._reward_info()["reward"]

    def _reward_info(self):
        return self._info.get("reward_info") or self._env.score()

    def _call(self, name, arguments):
        """One env step with this single call; the tool's response as the model will read it."""
        if self._env is None or self._done:
            return "error: the episode is over (an answer was submitted or the turns ran out)"
        obs, reward, terminated, truncated, self._info = self._env.step(envmod.format_call(name, arguments))
        self._done = terminated or truncated
        return "\n".join(m["content"] for m in self._info["tool_messages"])


def tool_method(t):
    """A method that calls tool t through the env, with the signature and Google-style docstring TRL builds
    the tool's schema from (the argument ranges are in the descriptions; the env enforces them). It takes
    any keyword arguments, so a call with wrong ones reaches the env and gets the env's schema error."""
    def call(self, **arguments):
        return self._call(t.name, arguments)
    fn_doc = inspect.getdoc(t.fn) or ""
    own = dict(ARG_LINE.findall(fn_doc.split("\n\n", 1)[1] if "\n\n" in fn_doc else ""))
    params = t.schema["function"]["parameters"]
    types = {v: k for k, v in tools.JSON_TYPES.items()}
    args, annotations = [PARAM("self", PARAM.POSITIONAL_OR_KEYWORD)], {}
    lines = []
    for name, spec in params["properties"].items():
        annotations[name] = types[spec["type"]]
        default = PARAM.empty if name in params["required"] else None
        args.append(PARAM(name, PARAM.POSITIONAL_OR_KEYWORD, default=default, annotation=annotations[name]))
        text = own.get(name, name.replace("_", " "))
        if "minimum" in spec:
            text += f" (from {spec['minimum']} to {spec['maximum']})"
        lines.append(f"    {name}: {text}")
    call.__name__ = call.__qualname__ = t.name
    call.__doc__ = t.schema["function"]["description"] + ("\n\nArgs:\n" + "\n".join(lines) if lines else "")
    call.__signature__ = inspect.Signature(args)
    call.__annotations__ = annotations
    return call


def environment_class(domain, max_turns=8, kb_dir="", reward_config=None, server_url=None):
    """The environment class of one domain: MedicalToolEnv plus one method per tool on its menu."""
    methods = {n: tool_method(tools.TOOLS[n]) for n in tools.menu(domain)}
    attrs = dict(domain=domain, max_turns=max_turns, kb_dir=kb_dir, reward_config=reward_config,
                 server_url=server_url, **methods)
    return type(f"Medical_{domain}", (MedicalToolEnv,), attrs)


def environment_factories(max_turns=8, kb_dir="", reward_config=None, server_url=None):
    """{domain: environment class}: TRL's multi-environment form (each row names its "environment");
    server_url: every episode runs on that environment server."""
    return {d: environment_class(d, max_turns, kb_dir, reward_config, server_url) for d in domains.names()}


def dataset_rows(split="train", n=None, domain=None, seed=0):
    """Rows for GRPOTrainer: the system prompt as the prompt (reset appends the case), the task id, and the
    environment (its domain). n: a seeded sample of that many tasks."""
    import random
    tasks = [t for t in bank.load_tasks(split=split) if domain is None or t["domain"] == domain]
    if n:
        tasks = random.Random(seed).sample(tasks, n)
    return [{"prompt": [{"role": "system", "content": envmod.SYSTEM_PROMPT}, {"role": "user", "content": ""}],
             "task_id": t["id"], "environment": t["domain"]} for t in tasks]


_TASKS = {}


def _task(task_id):
    if not _TASKS:
        _TASKS.update(bank.by_id())
    if task_id not in _TASKS:
        raise ValueError(f"unknown task_id {task_id!r}: each dataset row needs a bank task's id")
    return _TASKS[task_id]

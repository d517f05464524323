"""One config system: YAML files loaded into nested dataclasses, the same file for every entry point.

Every key is declared below with opt(default, help, and the values it allows: a range, choices or a
pattern), so each carries its own documentation (`python config.py` prints them all; `python config.py
FILE.yaml` checks a file). `load(path)` reads a YAML into `Config`; unknown keys, values of the wrong
type and values outside what the key allows are rejected with a message naming the full key; keys that
constrain each other are checked in __post_init__. An extension (ttopd.py)
subclasses Config to add its own section; entry points that do not train (warmstart.py,
evaluate.py) load any training YAML with `ignore_sections=True`, which skips sections they do not
know (a note names each) and still rejects every unknown key inside the sections they use.
"""
import copy
import dataclasses
import os
import re
import sys
import typing

import yaml

import reward     # the reward's own constants are RewardConfig's defaults (one place for the paper's weights)
from clinic import bank, files


class ConfigError(files.InputError):
    pass


def opt(default, help, choices=None, least=None, above=None, most=None, pattern=None):
    """A documented config field (lists/dicts are copied per instance) and what values it allows: choices, a
    smallest value (least: >=, above: >), a largest (most: <=), a regular expression the whole value matches.
    They are checked when a config is loaded, and the error names the key."""
    meta = {"help": help, "choices": choices, "least": least, "above": above, "most": most,
            "pattern": pattern}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):   # fresh copy per instance
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def allowed(field):
    """What a field allows, as text ('' when anything of its type goes)."""
    m = field.metadata
    parts = [f"one of {', '.join(map(str, m['choices']))}"] if m.get("choices") is not None else []
    bounds = (("least", ">="), ("above", ">"), ("most", "<="))
    parts += [f"{op} {m[k]}" for k, op in bounds if m.get(k) is not None]
    parts += [f"matching {m['pattern']}"] if m.get("pattern") else []
    return " and ".join(parts)


def _check_value(key, value, field):
    m = field.metadata
    ok = (m.get("choices") is None or value in m["choices"]) and \
        (m.get("least") is None or value >= m["least"]) and \
        (m.get("above") is None or value > m["above"]) and \
        (m.get("most") is None or value <= m["most"]) and \
        (not m.get("pattern") or re.fullmatch(m["pattern"], str(value)) is not None)
    if value is not None and not ok:
        raise ConfigError(f"config key '{key}' must be {allowed(field)}, got {value!r}")
    return value


def _check(key, value, hint):
    origin = typing.get_origin(hint)
    if origin is typing.Union:                          # Optional[X]
        if value is None:
            return value
        hint = [a for a in typing.get_args(hint) if a is not type(None)][0]
        origin = typing.get_origin(hint)
    if hint is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:                        # ints, and 1e-4, which PyYAML (YAML 1.1) leaves as a string
            return float(value)
        except ValueError:          # a word: the type check below names the key
            pass
    want = origin or hint
    if want is typing.Any or (isinstance(value, want) and not (want is int and isinstance(value, bool))):
        return value
    raise ConfigError(f"config key '{key}' must be {getattr(want, '__name__', want)}, got {value!r}")


def from_dict(cls, data, prefix=""):
    """Build dataclass `cls` from a mapping; errors name the offending key."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.') or '<root>'}' must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown config key '{prefix}{key}'; known keys here: {', '.join(fields)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _check_value(prefix + key, _check(prefix + key, value, hint), fields[key])
    return cls(**kwargs)


def apply_override(data, item):
    """'algo.loss=dapo' -> data['algo']['loss'] = 'dapo' (the value is parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.sub=value")
    key, value = item.split("=", 1)
    node, parts = data, key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key '{key}': '{p}' is not a section")
    # 'key=' sets an empty string
    node[parts[-1]] = _yaml(value, f"override {item!r}") if value != "" else ""


def _yaml(text, where):
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: not valid YAML ({' '.join(str(e).split())})") from None


def read_yaml(path):
    """A YAML mapping; a top-level `base: FILE` (relative to this file) is read first and this file's keys are
    merged over it, section by section (configs/ablations/ use it to state only what they change)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        data = _yaml(f, f"config file {path!r}") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping of keys, not {type(data).__name__}")
    if "base" not in data:
        return data
    merged = read_yaml(os.path.join(os.path.dirname(path), data.pop("base")))
    for key, value in data.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = {**merged[key], **value} if both else value
    return merged


def load(path, cls=None, overrides=(), ignore_sections=False):
    """Load YAML into cls (default Config) after command-line overrides like 'algo.loss=dapo'.
    ignore_sections: drop top-level sections cls does not have (another entry point's), naming each."""
    cls = cls or Config
    data = read_yaml(path)
    for item in overrides:
        apply_override(data, item)
    if ignore_sections and isinstance(data, dict):
        known = {f.name for f in dataclasses.fields(cls)}
        for key in [k for k, v in data.items() if k not in known and isinstance(v, dict)]:
            print(f"config: section '{key}' is not used by this command", file=sys.stderr)
            del data[key]
    return from_dict(cls, data)


def flat(tree, prefix=""):
    """('a.b', value) for every leaf of nested mappings (a config as dataclasses.asdict gives it)."""
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def describe(cls, prefix=""):
    """Lines 'key (default): help' for every key, nested sections included."""
    lines = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type):
            lines += describe(f.type, f"{prefix}{f.name}.")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            rule = f" [{allowed(f)}]" if allowed(f) else ""
            lines.append(f"{prefix}{f.name} ({default!r}): {f.metadata.get('help', '')}{rule}")
    return lines


# ---------------------------------------------------------------- the keys
DEVICE = r"cpu|cuda(:[0-9]+)?"
SPLITS = bank.SPLITS


@dataclasses.dataclass
class ModelConfig:
    path: str = opt("", "local HF checkpoint dir (Qwen3, Qwen3.5, ...); empty = the embedded tiny model")
    tiny_config: str = opt("configs/tiny_model.json", "Qwen3 config of the embedded model")
    dtype: str = opt("float32", "float32 or bfloat16", choices=("float32", "bfloat16"))
    device: str = opt("cpu", "cpu, cuda or cuda:N (grpo.py/ttopd.py: cuda "
                             "= each rank's own GPU, NCCL; cpu = gloo)",
                      pattern=DEVICE)


@dataclasses.dataclass
class RolloutConfig:
    temperature: float = opt(1.0, "sampling temperature; log-probs are of softmax(logits / temperature)",
                             above=0)
    top_p: float = opt(1.0, "nucleus sampling mass (1.0 = off)", above=0, most=1)
    max_new_tokens: int = opt(96, "tokens per assistant turn before the turn is cut", least=1)
    max_total_tokens: int = opt(2048, "conversation length at which an episode is stopped", least=1)
    max_turns: int = opt(5, "assistant turns per episode (env truncation)", least=1)
    max_calls_per_turn: int = opt(16, "tool calls the env runs from one "
                                      "turn; the rest are one malformed error",
                                  least=1)
    kb: str = opt("", "BM25 index directory the search tools read (`python kb.py build "
                      "DIR CORPUS...`: PubMed, MedRAG, text); empty = the embedded "
                      "433-passage KB. Every rank opens and verifies it at start-up; a "
                      "missing, stale or damaged index is an error naming this key")
    tool_response_tokens: int = opt(128, "each tool response is cut to this many tokens, from the middle",
                                    least=1)
    tool_specs: str = opt("none", "tool schemas in the prompt: full (via the chat template), names or none",
                          choices=("full", "names", "none"))
    spec_keep: float = opt(1.0, "share of the task's tool schemas shown (grpo.py's "
                                "Progressive Spec Withdrawal lowers it during training)", least=0, most=1)
    batch_size: int = opt(16, "episodes rolled out together", least=1)
    reuse_cache: bool = opt(True, "keep the KV cache across turns (False "
                                  "re-encodes the conversation each turn)")
    static_cache: bool = opt(False, "sample over a preallocated static KV cache (attention-only "
                                    "models; text prompts): fixed shapes, for compile")
    static_slack: int = opt(512, "static cache columns beyond max_total_tokens for the rows' padding; "
                                 "when they run out the live rows are re-encoded into a fresh cache", least=0)
    compile: bool = opt(False, "with static_cache: torch.compile the decode "
                               "step (mode reduce-overhead: CUDA graphs)")


@dataclasses.dataclass
class RewardConfig:
    """The composite R = sum(w_d * d) / sum(w_d) over the five dimensions (+ assertion on tasks with rubric
    assertions), so R stays in [0, 1] whatever the weights; any critical safety violation caps R at
    critical_cap. Defaults: the paper's weights."""
    accuracy: float = opt(reward.WEIGHTS["accuracy"], "weight of accuracy (the submitted answer is right)",
                          least=0)
    process: float = opt(reward.WEIGHTS["process"], "weight of process (expected work-up "
                                                    "done, without spraying calls)",
                         least=0)
    safety: float = opt(reward.WEIGHTS["safety"], "weight of safety (no safety rule broken)", least=0)
    format: float = opt(reward.WEIGHTS["format"], "weight of format (well-formed calls, a parseable answer)",
                        least=0)
    coherence: float = opt(reward.WEIGHTS["coherence"],
                           "weight of coherence (the answer agrees with the evidence gathered)", least=0)
    assertion: float = opt(reward.ASSERTION_WEIGHT, "weight of the rubric assertions, "
                                                    "on tasks that have them", least=0)
    critical_cap: float = opt(reward.CRITICAL_CAP, "R is capped at this after any critical safety violation",
                              least=0, most=1)

    def __post_init__(self):
        if self.accuracy + self.process + self.safety + self.format + self.coherence <= 0:
            raise ConfigError("config keys 'reward.accuracy' .. "
                              "'reward.coherence': at least one weight must be > 0")


@dataclasses.dataclass
class WarmStartConfig:
    out_dir: str = opt("checkpoints/warmstart", "where the behaviour-cloned checkpoint is saved")
    epochs: float = opt(2.0, "passes over the expert trajectories (fractions allowed)", above=0)
    lr: float = opt(3e-3, "peak AdamW learning rate (linear warm-up then cosine decay)", above=0)
    tokens_per_batch: int = opt(8192, "padded tokens per optimiser step", least=1)
    expert_max_turns: int = opt(5, "the expert's calls are grouped to fit this many turns (paper budget: 5)",
                                least=1)
    max_tasks: int = opt(0, "train tasks to clone (0 = all; at most the train split's size)", least=0)
    seed: int = opt(0, "seed for init and shuffling")
    hint_share: float = opt(0.0, "share of demonstrations that carry an informative TT-OPD hint "
                                 "(clinic/hints.py) between prompt and first turn, meant to teach the "
                                 "teacher to read hints (at the embedded default's scale it does not "
                                 "yet: benchmarks/hint_probe.py)", least=0, most=1)
    wrong_hint_share: float = opt(0.5, "of the hinted demonstrations, the share whose hint is a diagnostic "
                                       "redirection of a simulated wrong episode (else a confirmatory cue)",
                                  least=0, most=1)
    answer_steps: int = opt(0, "steps of cloning on the submitted answer's tokens only, at "
                               "constant lr, before the full cloning: as 1 of ~90 supervised "
                               "tokens of a demonstration, the answer is not learned from a "
                               "hint that names it (benchmarks/letter_curve.py)", least=0)
    answer_grow: int = opt(0, "with answer_steps: the answer phase draws answer_batch hinted demonstrations "
                              "afresh every step and cuts their work-up to its last k turns, one turn "
                              "more every answer_grow steps from k = 0 (a distance curriculum; "
                              "benchmarks/letter_curve.py --grow); 0 = the phase runs on the warm start's "
                              "own demonstrations", least=0)
    answer_grow_after: int = opt(0, "with answer_grow: steps on the note and the submit alone (k = 0) before "
                                    "the first work-up turn is put back", least=0)
    answer_batch: int = opt(6, "demonstrations a step in the grown answer phase (answer_grow) and in "
                               "answer_mix's term", least=1)
    answer_mix: float = opt(0.0, "weight of an answer-only term added to every cloning step: the answer "
                                 "tokens of answer_batch hinted demonstrations drawn afresh, the work-up "
                                 "whole, or cut by answer_grow's curriculum, which goes on counting "
                                 "through the cloning (needs a fast tokenizer; 0 = off)", least=0)
    answer_keep: float = opt(0.0, "with answer_steps: weight of the cloning loss on the warm start's own "
                                  "demonstrations added to every answer-phase step, so the logits the "
                                  "answer-only loss does not train are held where cloning puts them; "
                                  "at 0.3 the copy is then never found (benchmarks/hint_probe.py "
                                  "answer_kept; 0 = off)", least=0)
    copy_steps: int = opt(0, "steps of copy pre-training before cloning (random token strings shown twice, "
                             "loss on the repeat): forms copying (induction) heads; cloning afterwards "
                             "still did not copy a hinted answer (benchmarks/hint_probe.py)", least=0)
    copy_length: int = opt(48, "tokens in each copy pre-training string", least=2)
    copy_batch: int = opt(16, "strings per copy pre-training step", least=1)
    copy_alphabet: int = opt(6, "distinct tokens in each copy string (0 = any token): a small "
                                "alphabet repeats tokens, so a copy must match several tokens "
                                "of context, as the answer letter after '\"answer\": \"' does", least=0)

    def __post_init__(self):        # keys that do nothing without another are one error, not a silent no-op
        needs = (("answer_grow", ("answer_steps", "answer_mix")), ("answer_grow_after", ("answer_grow",)),
                 ("answer_keep", ("answer_steps",)))
        for key, others in needs:
            if getattr(self, key) and not any(getattr(self, o) for o in others):
                raise ConfigError(f"config key 'warm_start.{key}' does nothing unless "
                                  f"{' or '.join('warm_start.' + o for o in others)} is set")


@dataclasses.dataclass
class AlgoConfig:
    loss: str = opt("grpo", "a key of grpo.LOSSES: grpo | dapo | dr_grpo | gspo")
    group_size: int = opt(4, "episodes per task (n); advantages are relative within this group", least=2)
    tasks_per_step: int = opt(8, "tasks per optimiser step, over all ranks", least=1)
    clip_low: float = opt(0.2, "PPO clip: ratio >= 1 - clip_low (GSPO: 3e-4)", least=0, most=1)
    clip_high: float = opt(0.2, "PPO clip: ratio <= 1 + clip_high (DAPO clip-higher: 0.28; GSPO: 4e-4)",
                           least=0)
    kl_coef: float = opt(0.0, "k3 KL to a frozen reference; 0 = no reference model is held", least=0)
    length_reward: bool = opt(False, "add reward.cosine_length_reward to each episode's reward")
    dynamic_sampling: bool = opt(False, "DAPO: drop groups whose rewards are all equal")
    overlong_buffer: int = opt(0, "DAPO overlong shaping: tokens before "
                                  "max_policy_tokens where the penalty ramps",
                               least=0)
    max_policy_tokens: int = opt(480, "policy-token budget of an episode "
                                      "(length reward L_max, overlong limit)",
                                 least=1)
    dr_grpo_norm: int = opt(480, "Dr. GRPO constant normaliser (tokens)", least=1)
    epochs: int = opt(1, "passes over each rollout batch (DeepSeekMath's mu); with 1 pass of 1 minibatch "
                         "every ratio is 1, so clipping never acts and GSPO's gradient equals GRPO's",
                      least=1)
    minibatches: int = opt(1, "optimiser steps per pass: each rank's batch in "
                              "this many parts (PPO mini-batches, as in the GSPO "
                              "paper); every update after the first is off-policy", least=1)


# keys that may differ between a run and its resumption (they change how long it runs, where its
# folder is, how often it saves, evaluates and logs, never what a step computes); every other key must
# equal the checkpoint's
RESUME_MAY_CHANGE = ("steps", "resume", "out_dir", "time_budget_min", "checkpoint_every", "keep_checkpoints",
                     "eval_every", "log_to")


@dataclasses.dataclass
class Config:
    """One YAML for every entry point: warmstart.py reads model/rollout/warm_start, evaluate.py adds
    eval_*, grpo.py everything; ttopd.py adds its `distill` section (ttopd.TTOPDConfig)."""
    model: ModelConfig = opt(ModelConfig(), "policy model")
    rollout: RolloutConfig = opt(RolloutConfig(), "rollout settings")
    reward: RewardConfig = opt(RewardConfig(), "weights of the 5D reward and the safety cap")
    warm_start: WarmStartConfig = opt(WarmStartConfig(), "behaviour-cloning warm start")
    eval_split: str = opt("validation", "split of the validation tasks "
                                        "(training-time and evaluate.py --split)",
                          choices=SPLITS)
    eval_tasks: int = opt(0, "validation tasks: a fixed sample of this many (0 = the whole split)", least=0)
    seed: int = opt(0, "rollout seed")
    algo: AlgoConfig = opt(AlgoConfig(), "RL algorithm (grpo.py)")
    init_checkpoint: str = opt("checkpoints/warmstart", "weights to start from ('' = model.path or fresh)")
    steps: int = opt(20, "optimiser steps", least=1)
    lr: float = opt(1e-4, "AdamW learning rate after warm-up", above=0)
    warmup_steps: int = opt(2, "linear LR warm-up steps", least=0)
    lr_schedule: str = opt("constant", "after warm-up: constant, or cosine "
                                       "decay to lr * min_lr_ratio at `steps`",
                           choices=("constant", "cosine"))
    min_lr_ratio: float = opt(0.1, "cosine schedule: final LR as a fraction of lr", least=0, most=1)
    weight_decay: float = opt(0.0, "AdamW weight decay", least=0)
    grad_clip: float = opt(1.0, "max global grad norm (0 = no clipping; the norm is still logged)", least=0)
    micro_batch: int = opt(8, "sequences per forward/backward", least=1)
    head_chunk: int = opt(128, "policy tokens whose full-vocabulary logits exist at once in the "
                               "loss (the head is applied in chunks and recomputed in backward)", least=1)
    activation_checkpointing: bool = opt(False, "recompute each decoder layer in backward")
    train_split: str = opt("train", "split tasks are drawn from", choices=SPLITS)
    eval_every: int = opt(0, "evaluate every K steps on eval_tasks of eval_split (0 = before and after)",
                          least=0)
    out_dir: str = opt("runs/grpo", "metrics, checkpoints, trajectories: one run per folder (a "
                                    "folder that holds another run is refused unless resume=true)")
    checkpoint_every: int = opt(10, "save every K steps (0 = only at the end)", least=0)
    keep_checkpoints: int = opt(2, "complete checkpoints kept in "
                                   "out_dir/checkpoints, newest first (0 = all)", least=0)
    resume: bool = opt(False, "continue from the newest complete checkpoint in out_dir (a damaged one is "
                              "skipped with a warning); the config must equal the checkpoint's except in "
                              + ", ".join(RESUME_MAY_CHANGE))
    save_trajectories: bool = opt(True, "write each step's trajectories (for evaluate.py taxonomy)")
    spec_withdraw_start: int = opt(0, "Progressive Spec Withdrawal: step "
                                      "where tool schemas start to be removed",
                                   least=0)
    spec_withdraw_end: int = opt(0, "step by which every schema is gone (0 "
                                    "= curriculum off: rollout.spec_keep)",
                                 least=0)
    time_budget_min: float = opt(0.0, "stop after the step that passes this many minutes (0 = no limit)",
                                 least=0)
    log_to: str = opt("none", "also log scalars to: none, tensorboard or wandb (each only if installed)",
                      choices=("none", "tensorboard", "wandb"))

    def __post_init__(self):
        if self.spec_withdraw_end and self.spec_withdraw_end <= self.spec_withdraw_start:
            raise ConfigError("config key 'spec_withdraw_end' must be > spec_withdraw_start (or 0 = off)")


def main(argv):
    """python config.py [module.Class] [CONFIG.yaml [key.sub=value ...]]: without a YAML, every key of
    Config (or of an extension's class, e.g. ttopd.TTOPDConfig) with its default, meaning and allowed
    values; with one, check that file (and overrides) against that class: `ok` or one error line."""
    import importlib
    cls = Config
    if argv and not argv[0].endswith((".yaml", ".yml")):
        mod, _, name = argv.pop(0).rpartition(".")
        try:
            cls = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"no config class {mod}.{name} "
                              "(give module.Class, e.g. ttopd.TTOPDConfig)") from None
    if not argv:
        return print("\n".join(describe(cls)))
    load(argv[0], cls, argv[1:])
    print(f"ok: {argv[0]} is a valid {cls.__name__}")


if __name__ == "__main__":
    files.run_cli(main)

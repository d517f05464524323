"""One config system: YAML files loaded into (nested) dataclasses.

Every field is declared with opt(default, help) so each key carries its own
documentation (`python config.py MODULE.CLASS` prints them). Unknown keys and
values of the wrong type are rejected with a message naming the full key.
"""
import copy
import dataclasses
import sys
import typing

import yaml


class ConfigError(ValueError):
    pass


def opt(default, help):
    """A documented config field (lists/dicts are copied per instance)."""
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):   # fresh copy per instance
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


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
            kwargs[key] = _check(prefix + key, value, hint)
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
    node[parts[-1]] = yaml.safe_load(value) if value != "" else ""    # 'key=' sets an empty string


def load(path, cls, overrides=()):
    """Load YAML into cls, after applying command-line overrides like 'algo.loss=dapo'."""
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    for item in overrides:
        apply_override(data, item)
    return from_dict(cls, data)


def describe(cls, prefix=""):
    """Lines 'key (default): help' for every key, nested sections included."""
    lines = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type) or (isinstance(f.type, type) and dataclasses.is_dataclass(f.type)):
            lines += describe(f.type, f"{prefix}{f.name}.")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"{prefix}{f.name} ({default!r}): {f.metadata.get('help', '')}")
    return lines


if __name__ == "__main__":
    import importlib
    mod, name = sys.argv[1].rsplit(".", 1)
    print("\n".join(describe(getattr(importlib.import_module(mod), name))))

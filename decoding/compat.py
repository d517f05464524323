"""Compatibility with the transformers versions this project runs on: each shim names the change it covers."""
import functools
import inspect


def cache_kwarg(model):
    """The forward() keyword of the KV cache: transformers renamed past_key_values to cache (5.2x)."""
    return _cache_kwarg_of(type(model))


@functools.lru_cache(maxsize=None)     # asked at every decoded token; inspecting a signature is slow
def _cache_kwarg_of(cls):
    return "cache" if "cache" in inspect.signature(cls.forward).parameters else "past_key_values"

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def tasks():
    from clinic import bank
    return bank.load_tasks()


@pytest.fixture(scope="session")
def kb_index():
    import kb
    return kb.default_kb()


@pytest.fixture(scope="session")
def make_env(tasks, kb_index):
    import env

    def make(**kw):
        return env.MedicalEnv(tasks=kw.pop("tasks", tasks), kb=kb_index, **kw)
    return make


@pytest.fixture
def process_group():
    """A one-process gloo group for in-process FSDP tests (rank, world, device), torn down afterwards."""
    import torch.distributed as dist
    from distributed import fsdp
    keys = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        yield fsdp.setup_distributed()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

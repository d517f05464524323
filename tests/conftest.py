import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def tasks():
    import taskgen
    return taskgen.load_tasks()


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

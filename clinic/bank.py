"""The task bank on disk: where the generated files live and how to read the tasks.

The environment, the agent and the trainer read tasks through load_tasks; only `python -m clinic.taskgen`
writes them. Kept apart from the generator so that reading a bank does not import how it is made.
"""
import os

from clinic import files

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
SPLITS = ("train", "validation", "test")          # clinic/taskgen.py: 70/15/15 by index


TASKS = os.path.join(DATA, "tasks.jsonl")


def load_tasks(path=None, domain=None, split=None):
    """Read tasks from JSONL (default: the bank, TASKS), optionally filtered by domain and split; a line that is
    not JSON is a DataError naming the file and the line."""
    if split is not None and split not in SPLITS:
        raise files.DataError(f"no split {split!r} in the task bank; its splits are {', '.join(SPLITS)}")
    tasks = files.read_jsonl(path or TASKS)
    return [t for t in tasks if (domain is None or t["domain"] == domain) and (split is None or t["split"] == split)]


def by_id(tasks=None):
    """{task id: task} of `tasks` (default: the whole bank): how an env, the server, the TRL adapter and the
    evaluator find a task named in a request or a record."""
    return {t["id"]: t for t in (load_tasks() if tasks is None else tasks)}

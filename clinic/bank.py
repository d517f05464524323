"""The task bank on disk: where the generated files live and how to read the tasks.

The environment, the agent and the trainer read tasks through load_tasks; only `python -m clinic.taskgen`
writes them. Kept apart from the generator so that reading a bank does not import how it is made.
"""
import json
import os

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def load_tasks(path=os.path.join(DATA, "tasks.jsonl"), domain=None, split=None):
    """Read tasks from JSONL, optionally filtered by domain and split."""
    with open(path) as f:
        tasks = [json.loads(line) for line in f if line.strip()]
    return [t for t in tasks if (domain is None or t["domain"] == domain) and (split is None or t["split"] == split)]

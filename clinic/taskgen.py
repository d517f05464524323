"""Deterministic generator of the task bank (data/tasks.jsonl), its images and the KB passages.

`python -m clinic.taskgen` regenerates data/tasks.jsonl, data/images/ and data/kb_passages.jsonl
from SEED; tests/test_taskgen.py checks the result is byte-identical to what is shipped. Each
domain's generator (clinic/domains/) draws a synthetic patient, splits its record into sections
that tools reveal (vitals, history, exam, labs, ...), and computes the ground truth with scores.py /
knowledge.py / pharmacology.py, never by hand; clinic/cases.py holds the pieces they share.
"""
import json
import os
import zlib

import numpy as np

from clinic import domains
from clinic.bank import DATA
from clinic.kbtext import write_kb

SEED = 20261125
TASKS_PER_DOMAIN = 370


def split_of(i):
    """70/15/15 train/validation/test by index (interleaved so every variant lands in every split)."""
    k = i % 20
    return "train" if k < 14 else ("validation" if k < 17 else "test")


def generate(out_dir=DATA, n_per_domain=TASKS_PER_DOMAIN):
    """Write tasks.jsonl, images/ and kb_passages.jsonl under out_dir; return the task list."""
    image_dir = os.path.join(out_dir, "images")
    os.makedirs(image_dir, exist_ok=True)
    tasks = []
    for name, d in domains.all_domains().items():
        r = np.random.default_rng([SEED, zlib.crc32(name.encode())])     # each domain its own stream
        for i in range(n_per_domain):
            t = d.generate(r, i, image_dir) if d.makes_images else d.generate(r, i)
            t = {"id": f"{name}-{i:04d}", "split": split_of(i), **t}
            tasks.append(t)
    with open(os.path.join(out_dir, "tasks.jsonl"), "w") as f:
        for t in tasks:
            f.write(json.dumps(t, sort_keys=True) + "\n")
    write_kb(os.path.join(out_dir, "kb_passages.jsonl"))
    return tasks


if __name__ == "__main__":
    ts = generate()
    print(f"wrote {len(ts)} tasks to {DATA}/tasks.jsonl")

"""Run under torchrun: every rank's episode env searches the KB that the config's rollout.kb names.
Usage: kb_rank_check.py CONFIG.yaml OUT_DIR; each rank writes the top hit of one search to OUT_DIR/rank<k>.json."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import agent  # noqa: E402
import config  # noqa: E402
import env as envmod  # noqa: E402
import grpo  # noqa: E402
from distributed import fsdp  # noqa: E402
from clinic import bank  # noqa: E402

cfg = config.load(sys.argv[1], config.Config, ignore_sections=True)
grpo.check_values(cfg)
rank, world, _ = fsdp.setup_distributed()
e = agent.episode_env(bank.load_tasks(split="validation")[rank], cfg.rollout)
e.reset(seed=rank)
obs = e.step(envmod.format_call("search_knowledge_base", {"query": "qSOFA respiratory rate mentation"}))[0]
with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as f:
    json.dump({"world": world, "kb": e.kb.meta.get("inputs"), "observation": obs}, f)
torch = grpo.torch
torch.distributed.destroy_process_group()

"""What a grpo.py run writes and every rank agrees on: its config.json, one metrics row a step (and, if
asked, the step's tool-call records), forwarded to TensorBoard or W&B when configured, the step's speed, and
the time-budget stop that all ranks take at the same step. Rank 0 writes; a resume cuts the logs back to
the checkpoint's step (files.RunLogs).
"""
import dataclasses
import json
import os

import torch

import config
from clinic import files
from distributed.fsdp import max_over_ranks

LOGS = ("metrics.jsonl", "trajectories.jsonl")


def external_logger(cfg):
    """A function row -> None that forwards numeric metrics to TensorBoard or W&B, if asked for."""
    if cfg.log_to == "none":
        return lambda row: None
    try:
        if cfg.log_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(os.path.join(cfg.out_dir, "tensorboard"))
            return lambda row: [writer.add_scalar(k, v, row["step"]) for k, v in row.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        import wandb
        wandb.init(project="healthcare-ai-gym", dir=cfg.out_dir, config=dataclasses.asdict(cfg))
        return lambda row: wandb.log({k: v for k, v in row.items() if isinstance(v, (int, float))},
                                     step=row["step"])
    except ImportError as e:
        raise config.ConfigError(f"config key 'log_to' is {cfg.log_to!r} "
                                 f"but that package is not installed ({e})")


def open_logs(cfg, record, rank):
    """(the run's logs, cut back to the checkpoint `record` if resuming; the external logger of rank 0)."""
    logs = files.RunLogs(cfg.out_dir, LOGS, record["logs"] if record else {}, active=rank == 0)
    return logs, external_logger(cfg) if rank == 0 else (lambda row: None)


def log_start(cfg, logs, validation, rank):
    """A new run's config.json and its step-0 row (validation before any update); returns the row."""
    if rank == 0:
        with files.atomic_open(os.path.join(cfg.out_dir, "config.json")) as f:
            json.dump(dataclasses.asdict(cfg), f, indent=1)
    row = {"step": 0, **validation}
    logs.write("metrics.jsonl", [row])
    return row


def log_step(cfg, logs, row, trajs, also_log):
    """The step's metrics row (and, if asked, its tool-call records) to the run's logs and any external
    logger."""
    logs.write("metrics.jsonl", [row])
    if cfg.save_trajectories:
        logs.write("trajectories.jsonl", [trajectory_record(row["step"], t) for t in trajs])
    also_log(row)


def standard_error(values):
    """sqrt(s^2 / n), s^2 the sample variance (n - 1); 0 for fewer than 2 values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return (sum((v - mean) ** 2 for v in values) / (n - 1) / n) ** 0.5


def validation_gain(out_dir):
    """One line: the run's first and last validation reward (metrics.jsonl) and the gain in standard errors:
    paired (the per-task differences' standard error: the same tasks and seeds before and after) and unpaired
    (sqrt(se_0^2 + se_1^2), which also counts the tasks' spread, so errs large). None before a second
    evaluation."""
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        evals = [row for row in map(json.loads, f) if "val_rewards" in row]
    if len(evals) < 2:
        return None
    first, last = evals[0], evals[-1]
    gain = last["val_reward"] - first["val_reward"]
    paired = standard_error([b - a for a, b in zip(first["val_rewards"], last["val_rewards"])])
    unpaired = (first["val_reward_se"] ** 2 + last["val_reward_se"] ** 2) ** 0.5
    in_se = lambda se: gain / se if se else 0.0  # noqa: E731
    return (f"validation reward {first['val_reward']:.3f} at step {first['step']} -> {last['val_reward']:.3f} at "
            f"step {last['step']} ({len(last['val_rewards'])} tasks): {gain:+.3f}, {in_se(paired):+.1f} "
            f"standard errors paired (se {paired:.3f}), {in_se(unpaired):+.1f} unpaired (se {unpaired:.3f})")


def out_of_time(cfg, elapsed_s, device):
    """Has the run spent cfg.time_budget_min? Every rank gets the same answer, so all stop at the same
    step."""
    over = cfg.time_budget_min and elapsed_s / 60 > cfg.time_budget_min
    return bool(max_over_ranks(float(bool(over)), device))


def speed(dt, n_tokens, device):
    """The step's wall time, policy tokens per second and (on GPU) peak memory."""
    out = {"step_time_s": dt, "tokens_per_s": n_tokens / dt}
    if device.type == "cuda":
        out["gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return out


def trajectory_record(step, t):
    """One trajectory's tool-call record (rank 0's share is logged) for evaluate.py's taxonomy over
    training."""
    return {"step": step, "task_id": t.task_id, "reward": t.reward, "errors": t.errors, "n_calls": t.n_calls,
            "response_tokens": sum(t.mask), "calls": t.calls}

"""Crash-safe checkpoints of a grpo.py run: written whole and committed by a rename, verified against a
sha256 manifest on resume, read back without running code. A run killed at any instant resumes to the same
result, logs included (docs/reference.md, "Crash safety and errors"; benchmarks/kill_resume.py).
"""
import dataclasses
import glob
import json
import os
import pickle
import random
import re
import shutil

import numpy as np
import torch
import torch.distributed as dist

import config
from clinic import files


# OUT_DIR/checkpoints/step_NNNNNN/ holds the tensors of the model, the optimiser and the extension (torch DCP:
# each rank's shards and a .metadata index), rng_rank{r}.json, and record.json: the step, the scheduler, the
# state's values that are not tensors, the config, the logs' lengths, and a manifest (size and sha256 of every
# other file). It is written as step_NNNNNN.partial and renamed when whole: the rename is the commit. Nothing
# in it is read back with pickle except DCP's .metadata, through an unpickler that admits DCP's own classes.
class CheckpointError(files.InputError):
    pass


def checkpoint_dir(cfg, step):
    return os.path.join(cfg.out_dir, "checkpoints", f"step_{step:06d}")


def committed_checkpoints(cfg):
    """Paths of the committed checkpoints, oldest first."""
    root = os.path.join(cfg.out_dir, "checkpoints")
    if not os.path.isdir(root):
        return []
    names = sorted(d for d in os.listdir(root) if re.fullmatch(r"step_\d{6}", d))
    return [os.path.join(root, d) for d in names]


def checkpoint_state(policy, optimizer, ext):
    """The state a checkpoint holds, nested: the model and optimiser state dicts (FSDP2-aware) and the
    extension's. Flattened by files.leaves to {"model/...": value}: tensors go to DCP, the other values to
    record.json."""
    from torch.distributed.checkpoint.state_dict import get_state_dict
    model_sd, optim_sd = get_state_dict(policy, optimizer)
    return {"model": model_sd, "optim": optim_sd, "extension": ext.state_dict()}


def rng_state():
    return {"torch": torch.get_rng_state().tolist(), "python": random.getstate(),
            "numpy": [x.tolist() if isinstance(x, np.ndarray) else x for x in np.random.get_state()]}


def set_rng_state(s):
    torch.set_rng_state(torch.tensor(s["torch"], dtype=torch.uint8))
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))
    name, keys, pos, has_gauss, cached = s["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(cfg, step, policy, optimizer, sched, ext, logs):
    """Write the step's checkpoint under a temporary name, hash its files (the ranks share the hashing),
    write record.json, then commit it by renaming; keep the newest cfg.keep_checkpoints."""
    import torch.distributed.checkpoint as dcp
    rank, world = dist.get_rank(), dist.get_world_size()
    final = checkpoint_dir(cfg, step)
    tmp = final + ".partial"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    dist.barrier()
    state = dict(files.leaves(checkpoint_state(policy, optimizer, ext)))
    dcp.save({k: v for k, v in state.items() if torch.is_tensor(v)}, checkpoint_id=tmp)
    with files.atomic_open(os.path.join(tmp, f"rng_rank{rank}.json")) as f:
        json.dump(rng_state(), f)
    dist.barrier()
    files.crash_point("checkpoint.tensors_written")
    parts = [None] * world
    dist.all_gather_object(parts, files.manifest(tmp, files.folder_files(tmp), (rank, world)))
    if rank == 0:
        record = {"step": step, "world": world, "scheduler": sched.state_dict(),
                  "values": {k: v for k, v in state.items() if not torch.is_tensor(v)},
                  "config": dataclasses.asdict(cfg), "logs": logs.lengths(),
                  "manifest": {name: entry for part in parts for name, entry in part.items()}}
        with files.atomic_open(os.path.join(tmp, "record.json")) as f:
            files.crash_point("checkpoint.record_opened")
            json.dump(record, f)
        files.crash_point("checkpoint.record_written")
        files.replace_dir(tmp, final)
        files.crash_point("checkpoint.committed")
        for old in committed_checkpoints(cfg)[:-cfg.keep_checkpoints] if cfg.keep_checkpoints else []:
            shutil.rmtree(old)
    dist.barrier()


class _MetadataUnpickler(pickle.Unpickler):
    """DCP's .metadata is a pickle, which can run any code; this admits only the classes DCP's metadata is
    made of (and torch dtypes), so a crafted one is refused instead."""
    ALLOWED = {("torch", "Size"), ("torch.serialization", "_get_layout"), ("pathlib", "PosixPath"),
               ("torch.distributed.checkpoint.filesystem", "_StorageInfo"), ("collections", "OrderedDict")}

    def find_class(self, module, name):
        import torch.distributed.checkpoint.metadata as md
        dtype = module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)
        home = getattr(getattr(md, name, None), "__module__", None)
        dcp_class = module == md.__name__ and home == md.__name__
        if (module, name) not in self.ALLOWED and not dtype and not dcp_class:
            raise CheckpointError(f"refusing to load {module}.{name} from "
                                  "a checkpoint's .metadata (a pickle)")
        return super().find_class(module, name)


def dcp_metadata(path):
    """A checkpoint's DCP .metadata, read by _MetadataUnpickler."""
    try:
        with open(os.path.join(path, ".metadata"), "rb") as f:
            return _MetadataUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path}: its .metadata cannot be read "
                              f"({type(e).__name__}: {e})") from None


def dcp_reader(path):
    """torch DCP's file reader, with .metadata read by dcp_metadata."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import StorageMeta

    class NoCodeReader(FileSystemReader):
        def read_metadata(self, *args, **kwargs):
            metadata = dcp_metadata(str(self.path))
            if getattr(metadata, "storage_meta", None) is None:
                metadata.storage_meta = StorageMeta()
            metadata.storage_meta.load_id = getattr(self, "load_id", None)
            return metadata
    return NoCodeReader(path)


def checkpoint_problem(path, rank, world):
    """Why checkpoint `path` cannot be resumed (no record, another world size, a file that does not match
    the manifest), as text, or None; every rank gets the same answer (they share the hashing)."""
    try:
        with open(os.path.join(path, "record.json")) as f:
            record = json.load(f)
        problem = f"it was written by {record.get('world')} ranks, this run has {world}" \
            if record.get("world") != world else files.verify(path, record["manifest"], (rank, world))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        problem = f"its record.json cannot be read ({type(e).__name__})"
    found = [None] * world
    dist.all_gather_object(found, problem)
    return next((p for p in found if p), None)


def resumable_checkpoint(cfg, rank, world):
    """The newest committed checkpoint that verifies, as (path, record), or (None, None). Each one that does
    not is named in a warning and renamed to step_NNNNNN.damaged (nothing reads it again)."""
    for path in reversed(committed_checkpoints(cfg)):
        problem = checkpoint_problem(path, rank, world)
        if problem is None:
            with open(os.path.join(path, "record.json")) as f:
                return path, json.load(f)
        files.warn(f"checkpoint {path} is damaged ({problem}): skipped; trying the one before it")
        if rank == 0:
            files.replace_dir(path, path + ".damaged")
        dist.barrier()
    return None, None


def check_resumed_config(cfg, path, record):
    """A resumed run must be the run its checkpoint continues: every key but config.RESUME_MAY_CHANGE
    equal."""
    now = dict(config.flat(json.loads(json.dumps(dataclasses.asdict(cfg)))))
    then = dict(config.flat(record["config"]))
    changed = [k for k in sorted(set(now) | set(then))
               if k not in config.RESUME_MAY_CHANGE and now.get(k) != then.get(k)]
    if changed:
        k = changed[0]
        raise config.ConfigError(f"config key '{k}' is {now.get(k)!r} but the checkpoint {path} "
                                 f"was written with {then.get(k)!r} ({len(changed)} key(s) differ; "
                                 f"on resume only {', '.join(config.RESUME_MAY_CHANGE)} may change)")


def load_checkpoint(path, record, policy, optimizer, sched, ext):
    """Restore what save_checkpoint wrote (verified by checkpoint_problem); returns the steps it had taken."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import set_state_dict
    dcp_metadata(path)      # a refused .metadata is one clear error here, before DCP's own error handling
    nested = checkpoint_state(policy, optimizer, ext)
    state = dict(files.leaves(nested))
    try:                    # DCP loads the tensors in place, into the tensors of `nested`
        dcp.load({k: v for k, v in state.items() if torch.is_tensor(v)}, checkpoint_id=path,
                 storage_reader=dcp_reader(path))
    except CheckpointException as e:     # (a BaseException) every rank's failures, in one
        raise CheckpointError(f"checkpoint {path}: torch DCP cannot load "
                              f"it ({' '.join(str(e).split())[:300]})") from None
    missing = [k for k, v in state.items() if not torch.is_tensor(v) and k not in record["values"]]
    if missing:
        raise CheckpointError(f"checkpoint {path} has no value {missing[0]!r} "
                              "(written by another extension?)")
    files.set_leaves(nested, {k: record["values"][k] for k, v in state.items() if not torch.is_tensor(v)})
    set_state_dict(policy, optimizer, model_state_dict=nested["model"], optim_state_dict=nested["optim"])
    ext.load_state_dict(nested["extension"])
    sched.load_state_dict(record["scheduler"])
    rng = os.path.join(path, f"rng_rank{dist.get_rank()}.json")
    try:
        with open(rng) as f:
            set_rng_state(json.load(f))
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"{rng} is not an RNG state ({type(e).__name__}: {e})") from None
    return record["step"]


def start_point(cfg, rank, world):
    """Where this run starts (its out_dir exists afterwards): (None, None) for step 0, or (the checkpoint's
    path, its record) to resume. A new run refuses an out_dir that holds another run's files; resume skips
    damaged checkpoints (warning) and refuses a config that differs from its checkpoint's; with no
    checkpoint left it starts from step 0."""
    used = [n for n in ("config.json", "metrics.jsonl", "checkpoints")
            if os.path.exists(os.path.join(cfg.out_dir, n))]
    if not cfg.resume and used:
        raise config.ConfigError(f"config key 'out_dir': {cfg.out_dir!r} holds another run ({used[0]}); "
                                 "set resume=true to continue it, or choose a new out_dir")
    path, record = resumable_checkpoint(cfg, rank, world) if cfg.resume else (None, None)
    if path:
        check_resumed_config(cfg, path, record)
    elif used:
        files.warn(f"no complete checkpoint in {cfg.out_dir!r}: the run starts again from step 0")
    if rank == 0:        # what a killed save left behind
        for pattern in ("*.partial", "*.old"):
            for leftover in glob.glob(os.path.join(cfg.out_dir, "checkpoints", pattern)):
                shutil.rmtree(leftover)
    dist.barrier()       # no rank writes into out_dir before every rank has looked at it
    os.makedirs(cfg.out_dir, exist_ok=True)
    return path, record


def export_final(cfg, rollout_model, tok, rank):
    """The trained weights as a plain HF checkpoint (out_dir/final, written whole, then renamed into place),
    and each rank's checksum of the full parameters it holds (they must agree)."""
    import hashlib
    h = hashlib.sha1()
    for name, p in sorted(rollout_model.state_dict().items()):
        h.update(name.encode() + p.detach().float().cpu().numpy().tobytes())
    with files.atomic_open(os.path.join(cfg.out_dir, f"params_rank{rank}.sha1")) as f:
        f.write(h.hexdigest())
    if rank == 0:
        final = os.path.join(cfg.out_dir, "final")
        shutil.rmtree(final + ".partial", ignore_errors=True)
        for part in (rollout_model, tok, getattr(tok, "image_processor", None)):
            if part is not None:
                part.save_pretrained(final + ".partial")
        files.replace_dir(final + ".partial", final)
    dist.barrier()

"""FSDP2 for grpo.py: the process group, sharding, and the collectives that keep ranks in lockstep.

Plain `python grpo.py` runs a one-process group through the same code (gloo on CPU), so nothing here is
optional; a reader of the algorithm can skip it: it decides where tensors live, never what a step computes.
"""
import copy
import dataclasses
import os

import torch
import torch.distributed as dist

import agent
import config


def setup_distributed(device=None):
    """torchrun: its env vars; plain python: a one-process group, so the code path is the same. device: the
    config's model.device (cuda: NCCL and each rank's own GPU, cuda:N in one process: GPU N; cpu: gloo);
    None = CUDA if there is one."""
    cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise config.ConfigError(f"config key 'model.device' is {device!r} "
                                 "but this machine has no CUDA device")
    torchrun = "RANK" in os.environ
    backend = "nccl" if cuda else "gloo"
    if not torchrun:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    if not dist.is_initialized() and os.environ["WORLD_SIZE"] == "1":
        # one process: an in-process store, no port, so single-process runs side by side never collide
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    elif not dist.is_initialized():
        dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    index = device.split(":")[1] if device and ":" in device and not torchrun else os.environ["LOCAL_RANK"]
    device = torch.device(f"cuda:{int(index)}" if cuda else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world, device


def shard(model, device, bf16, activation_checkpointing):
    """FSDP2: shard each decoder layer, then the root; bf16 compute with fp32 master weights on GPU."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
    kw = {"mesh": mesh, **({"mp_policy": mp} if mp else {})}
    if activation_checkpointing:
        # transformers 5.2x renamed the method; older releases (5.17 on our GPU image) only have the old name
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    text = getattr(model.model, "language_model", model.model)     # vision-language models nest it
    for layer in text.layers:      # (a vision tower stays in the root unit: every rank gathers it alike)
        fully_shard(layer, **kw)
    fully_shard(model, **kw)
    return model


def full_state(model):
    """Gather the sharded model into a full state dict on every rank (checks and exports only: it holds the
    whole model at once; the training loop syncs with sync_weights)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))


@torch.no_grad()
def sync_weights(sharded, full):
    """full <- sharded, one parameter at a time, gathered straight into the copy's tensor (through one
    buffer of that parameter's size when the copy has another dtype or the shards are uneven): the extra
    memory is one parameter, never the model. Every rank calls this in the same order."""
    dst = dict(full.named_parameters())
    for name, p in sharded.named_parameters():
        out = dst[name]
        if not hasattr(p, "to_local"):                 # not sharded (or gathered just now): a plain copy
            out.copy_(p)
            continue
        local = p.to_local()
        even = local.shape[0] * dist.get_world_size() == out.shape[0]
        if even and out.dtype == local.dtype and out.is_contiguous():
            # torch 2.13 deprecates all_gather_into_tensor for all_gather_single; older releases lack
            # the new name
            (getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor)(out, local.contiguous())
        else:
            out.copy_(p.full_tensor())


def local_shard(p):
    """This rank's part of a parameter: the local tensor of an FSDP2 DTensor, or the plain tensor itself."""
    return p.to_local() if hasattr(p, "to_local") else p


@torch.no_grad()
def copy_shards(dst, src):
    """dst <- src, parameter by parameter, each rank on its own shards (both sharded alike): no gathering."""
    for t, s in zip(dst.parameters(), src.parameters()):
        local_shard(t).copy_(local_shard(s))


def all_sum(values, device):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def max_over_ranks(x, device):
    t = torch.tensor([float(x)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


def sharded_copy(cfg, policy, device):
    """A frozen FSDP2 copy of the sharded policy (FSDP modules cannot be deep-copied): a fresh module sharded
    the same way, then each rank copies its own shards."""
    model = agent.load_policy(dataclasses.replace(cfg.model, device=str(device), dtype="float32"),
                              cfg.init_checkpoint or None)[0]
    copy_ = shard(model.eval().requires_grad_(False), device, device.type == "cuda", False)
    copy_shards(copy_, policy)
    return copy_


def build_models(cfg, device):
    """Policy (FSDP), its full-weight rollout copy, and the frozen reference when kl_coef > 0."""
    torch.manual_seed(cfg.seed)
    ck = cfg.init_checkpoint or None
    if ck and not os.path.isdir(ck):     # a silent fresh init would waste the whole run
        raise config.ConfigError(f"config key 'init_checkpoint': no directory {ck!r} "
                                 "(run `python warmstart.py CONFIG` first, or set init_checkpoint: '' "
                                 "to start from model.path)")
    mcfg = dataclasses.replace(cfg.model, device=str(device), dtype="float32")
    policy, tok = agent.load_policy(mcfg, ck)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.model.dtype]
    rollout_model = copy.deepcopy(policy).to(dtype).eval()     # copies: same weights even from a fresh init
    ref = None
    if cfg.algo.kl_coef > 0:
        ref = copy.deepcopy(policy).eval().requires_grad_(False)
        ref = shard(ref, device, device.type == "cuda", False)
    policy = shard(policy, device, device.type == "cuda", cfg.activation_checkpointing)
    return policy, rollout_model, ref, tok

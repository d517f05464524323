"""Run under torchrun: EMA of FSDP2-sharded modules, shard by shard, equals the formula on full tensors; and the
logged distillation KL is the mean over every rank's sequences, not rank 0's."""
import os
import sys

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ttopd  # noqa: E402

dist.init_process_group("gloo")
torch.manual_seed(0)
student = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 3))
torch.manual_seed(1)
teacher = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 3))
expected = [0.9 * t.detach().clone() + 0.1 * s.detach().clone() for t, s in zip(teacher.parameters(),
                                                                                 student.parameters())]
mesh = init_device_mesh("cpu", (dist.get_world_size(),))
for m in (student, teacher):
    fully_shard(m, mesh=mesh)
local_before = [p.to_local().numel() for p in teacher.parameters()]
with torch.no_grad():
    teacher(torch.randn(2, 6))     # a forward with no backward leaves the root gathered: EMA must cope
ttopd.ema_update(teacher, student, 0.9)
full = [p.full_tensor() for p in teacher.parameters()]
ok = all(torch.allclose(a, b, atol=1e-7) for a, b in zip(full, expected))
ok &= sum(local_before) < sum(e.numel() for e in expected)     # each rank really held only a shard
if dist.get_rank() == 0:
    print("EMA_OK" if ok else "EMA_MISMATCH")

import config  # noqa: E402
ext = ttopd.TTOPD(config.load(os.path.join(os.path.dirname(ttopd.__file__), "configs", "ttopd_tiny.yaml"),
                              ttopd.TTOPDConfig))
if dist.get_rank() == 0:
    ext.seq_kls, ext.turn_kls = [0.1, 0.3], {0: [0.1], 1: [0.3]}
else:
    ext.seq_kls, ext.turn_kls = [0.5], {0: [0.5], 2: [0.9]}
seq, turns = ext._step_kls()
ok = abs(seq - 0.3) < 1e-12 and turns.keys() == {0, 1, 2} and \
    all(abs(turns[k] - v) < 1e-12 for k, v in {0: 0.3, 1: 0.3, 2: 0.9}.items())
if dist.get_rank() == 0:
    print("KL_OK" if ok else f"KL_MISMATCH {seq} {turns}")
dist.destroy_process_group()

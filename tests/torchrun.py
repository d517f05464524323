"""The torchrun command prefix the multi-process tests use, on a port the OS says is free right now
(fixed port ranges clashed with other jobs on the machine: EADDRINUSE)."""
import socket
import sys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc=2):
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_port", str(free_port())]

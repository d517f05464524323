"""What grpo.py needs to run on many GPUs and survive being killed: FSDP2 sharding and lockstep collectives
(fsdp.py), crash-safe distributed checkpoints (checkpoint.py), and the run's logs (runlog.py). The algorithm
itself is all in grpo.py."""

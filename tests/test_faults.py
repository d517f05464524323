"""Crash safety. Real GRPO and TT-OPD runs are SIGKILLed at named points (clinic/files.crash_point), some of
them inside a checkpoint's save, and resumed until they finish: the final parameters must be bit-identical to
an uninterrupted run's and the logs equal to its logs, row for row. Then, on copies of a finished run: a
damaged shard under a valid-looking record is skipped, crafted files cannot run code, a second run into a
used out_dir and a resume with another config are refused."""
import concurrent.futures
import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest
import torch

import config
import grpo
from distributed import checkpoint
from clinic import files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = """
init_checkpoint: ""
eval_tasks: 2
rollout: {max_new_tokens: 10, max_turns: 2, batch_size: 4, max_total_tokens: 1024}
algo: {loss: dapo, group_size: 2, tasks_per_step: 2, clip_high: 0.28, kl_coef: KL}
steps: 5
lr: 0.01
warmup_steps: 1
lr_schedule: cosine  # every step has its own learning rate: a resume must restore the scheduler
weight_decay: 0.1     # the untrained model's rewards are all 0, so GRPO's gradient is too: decay moves the weights
micro_batch: 1
checkpoint_every: 2
keep_checkpoints: 2
distill: {ema_every: 1, hard_copy_every: 3}
"""
TIMING = ("step_time_s", "tokens_per_s")
# (crash point, extra overrides) of each attempt after the first; every attempt but the last is killed
GRPO_CHAIN = ["step.logged:3", "checkpoint.record_opened", "checkpoint.tensors_written", "checkpoint.committed",
              "export.start", None]
TTOPD_CHAIN = ["step.updated:2", "checkpoint.record_written:2", None]


def write_config(tmp_path, script, out_dir):
    path = tmp_path / f"{os.path.basename(out_dir)}.yaml"
    text = CONFIG.replace("KL", "0.05" if script == "grpo.py" else "0.0")
    if script == "grpo.py":
        text = text.replace("distill: {ema_every: 1, hard_copy_every: 3}\n", "")
    path.write_text(text + f"out_dir: {out_dir}\n")
    return str(path)


def run(script, cfg, *overrides, crash=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("GYM_CRASH_AT", None)
    if crash:
        env["GYM_CRASH_AT"] = crash
    return subprocess.run([sys.executable, os.path.join(ROOT, script), cfg, *overrides], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def killed_and_resumed(tmp_path, script, chain):
    """An uninterrupted run, and the same run killed at each point of `chain` in turn and resumed until done."""
    full, cut = tmp_path / f"{script}_full", tmp_path / f"{script}_cut"
    r = run(script, write_config(tmp_path, script, full))
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = write_config(tmp_path, script, cut)
    for k, point in enumerate(chain):
        r = run(script, cfg, *(["resume=true"] if k else []), crash=point)
        if point is None:
            assert r.returncode == 0, r.stderr[-3000:]
        else:
            assert r.returncode == -9, (point, r.returncode, r.stderr[-3000:])     # SIGKILL, at that point
        if k == 0:       # a kill in the middle of a line: both logs end in a torn row
            for name in ("metrics.jsonl", "trajectories.jsonl"):
                with open(cut / name, "a") as f:
                    f.write('{"step": 3, "rew')
    return full, cut


def rows(path):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in open(path)]


def final_params(out_dir):
    from safetensors.torch import load_file
    return load_file(os.path.join(out_dir, "final", "model.safetensors"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:     # the two chains at once, one core each
        grpo_runs = pool.submit(killed_and_resumed, tmp, "grpo.py", GRPO_CHAIN)
        ttopd_runs = pool.submit(killed_and_resumed, tmp, "ttopd.py", TTOPD_CHAIN)
        return {"grpo.py": grpo_runs.result(), "ttopd.py": ttopd_runs.result(), "tmp": tmp}


@pytest.mark.parametrize("script", ["grpo.py", "ttopd.py"])
def test_killed_runs_resume_to_the_uninterrupted_runs_parameters_and_logs(runs, script):
    full, cut = runs[script]
    a, b = final_params(full), final_params(cut)
    torch.manual_seed(0)
    init = grpo.agent.load_policy(config.ModelConfig())[0].state_dict()
    assert max(float((a[k] - init[k]).abs().max()) for k in a) > 1e-3     # the runs did change the weights
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert rows(full / "metrics.jsonl") == rows(cut / "metrics.jsonl")      # no duplicated, lost or torn row
    assert (full / "trajectories.jsonl").read_text() == (cut / "trajectories.jsonl").read_text()
    assert sorted(os.listdir(cut / "checkpoints")) == sorted(os.listdir(full / "checkpoints")) == \
        ["step_000004", "step_000005"]                              # the newest two; nothing partial left


def copy_run(runs, name):
    full, _ = runs["grpo.py"]
    dst = runs["tmp"] / name
    shutil.copytree(full, dst)
    cfg = config.load(write_config(runs["tmp"], "grpo.py", dst), config.Config, ["resume=true"])
    return dst, cfg


def test_a_damaged_shard_under_a_valid_record_is_skipped_and_the_run_recomputes(runs, process_group, capsys):
    out, cfg = copy_run(runs, "damaged")
    shard = out / "checkpoints" / "step_000005" / "__0_0.distcp"
    with open(shard, "r+b") as f:          # 4 KB zeroed in the middle; size and record.json untouched
        f.seek(os.path.getsize(shard) // 2)
        f.write(bytes(4096))
    path, record = checkpoint.resumable_checkpoint(cfg, 0, 1)
    assert path.endswith("step_000004") and record["step"] == 4
    err = capsys.readouterr().err
    assert "step_000005" in err and "sha256" in err and err.count("\n") == 1
    assert (out / "checkpoints" / "step_000005.damaged").is_dir()
    shutil.rmtree(out / "final")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # as the reference run's subprocess: another count sums differently
    try:
        grpo.train(cfg)                     # resumes from step 4 and computes step 5 again
    finally:
        torch.set_num_threads(threads)
    a, b = final_params(runs["grpo.py"][0]), final_params(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert rows(out / "metrics.jsonl") == rows(runs["grpo.py"][0] / "metrics.jsonl")


def crafted(runs, name, file, payload):
    """A copy of the finished run whose newest checkpoint has `file` replaced by `payload` and its manifest
    recomputed to match, as an attacker who can write the folder would."""
    out, cfg = copy_run(runs, name)
    ck = out / "checkpoints" / "step_000005"
    (ck / file).write_bytes(payload)
    record = json.loads((ck / "record.json").read_text())
    record["manifest"] = files.manifest(str(ck), files.folder_files(str(ck), skip=("record.json",)))
    (ck / "record.json").write_text(json.dumps(record))
    return out, cfg


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("file", ["rng_rank0.json", ".metadata"])
def test_a_crafted_checkpoint_file_cannot_run_code(runs, process_group, file):
    marker = runs["tmp"] / f"ran_{file}"
    out, cfg = crafted(runs, f"crafted{file}", file, pickle.dumps(Payload(marker)))
    with pytest.raises(checkpoint.CheckpointError, match="rng_rank0.json is not an RNG state|refusing to load posix.system"):
        grpo.train(cfg)
    assert not marker.exists()


def test_a_checkpoint_whose_manifest_does_not_verify_is_refused(runs, process_group):
    out, cfg = copy_run(runs, "unverified")
    (out / "checkpoints" / "step_000005" / "rng_rank0.json").write_text('{"torch": []}')   # manifest not updated
    (out / "checkpoints" / "step_000004" / "record.json").write_text("")                  # nor a record at all
    assert checkpoint.resumable_checkpoint(cfg, 0, 1) == (None, None)
    assert sorted(os.listdir(out / "checkpoints")) == ["step_000004.damaged", "step_000005.damaged"]


def test_one_run_per_out_dir_and_a_resume_must_match_its_checkpoint(runs, process_group):
    out, cfg = copy_run(runs, "second")
    with pytest.raises(config.ConfigError, match="out_dir.*holds another run.*resume=true"):
        grpo.train(grpo.dataclasses.replace(cfg, resume=False))
    with pytest.raises(config.ConfigError, match="config key 'lr' is 0.02 but the checkpoint .*step_000005 was "
                                                 "written with 0.01"):
        grpo.train(grpo.dataclasses.replace(cfg, lr=0.02))
    row, _ = grpo.train(grpo.dataclasses.replace(cfg, steps=6, eval_every=3))   # steps may change: one more
    assert row["step"] == 6 and sorted(os.listdir(out / "checkpoints")) == ["step_000005", "step_000006"]


def test_single_process_runs_side_by_side_need_no_port():
    """Two one-process runs started together once took the same MASTER_PORT (a campaign's scoring job and
    another campaign's, ttopd_arms.py): the second died with EADDRINUSE. A one-process group now uses an
    in-process store, so even a port that is taken, named in MASTER_PORT, is no obstacle."""
    import socket
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        code = ("from distributed import fsdp; import torch, torch.distributed as dist; "
                "print(fsdp.setup_distributed('cpu')); t = torch.ones(2); dist.all_reduce(t); print(t.tolist()); "
                "dist.destroy_process_group()")
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**env, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(0, 1, device(type='cpu'))" in r.stdout and "[1.0, 1.0]" in r.stdout

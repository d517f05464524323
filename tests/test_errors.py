"""The error contract (docs/reference.md, "Errors"): every bad input of tests/bad_inputs.py, given to its entry
point, exits 2 with exactly one `error:` line on stderr that names the key or file, and no traceback; the
config system rejects a value just outside every declared bound of every key; a few real command lines
(and torchrun) show the same."""
import dataclasses
import os
import shutil
import subprocess
import sys

import pytest

import bad_inputs
import config
import evaluate
import grpo
import kb
import ttopd
import warmstart
from clinic import bank, files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAINS = {"grpo.py": grpo.main, "ttopd.py": lambda argv: grpo.main(argv, ttopd.TTOPDConfig, extension=ttopd.TTOPD),
         "warmstart.py": warmstart.main, "evaluate.py": evaluate.main, "kb.py": kb.main, "config.py": config.main}
DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("bad_inputs"))
    return tmp, bad_inputs.make_files(tmp, ROOT)


def run_in_process(entry, args, capsys):
    """(exit code, stderr lines) of one entry point called as its command line would call it."""
    saved = {k: os.environ.get(k) for k in DIST_ENV}
    capsys.readouterr()
    try:
        files.run_cli(MAINS[entry], args)
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        for k, v in saved.items():          # grpo.main sets up a one-process group's variables
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return code, capsys.readouterr().err.splitlines()


def assert_one_error_line(code, err, names):
    errors = [line for line in err if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and names in errors[0], (code, err[-10:])
    assert not any("Traceback" in line for line in err)


@pytest.mark.parametrize("entry,args,names", bad_inputs.CASES, ids=[f"{e}:{' '.join(a[1:]) or a[0]}"[:70]
                                                                    for e, a, _ in bad_inputs.CASES])
def test_each_bad_input_is_one_error_line_naming_it(inputs, capsys, entry, args, names):
    tmp, cfg = inputs
    code, err = run_in_process(entry, bad_inputs.expand(args, tmp, cfg), capsys)
    assert_one_error_line(code, err, names)


@pytest.mark.parametrize("what,entry,args,names", bad_inputs.DATA_CASES)
def test_damaged_bank_data_stops_the_run_at_start_up(inputs, capsys, monkeypatch, tmp_path, what, entry, args, names):
    tmp, cfg = inputs
    shutil.copy(bank.TASKS, tmp_path / "tasks.jsonl")
    shutil.copytree(os.path.join(bank.DATA, "images"), tmp_path / "images")
    bad_inputs.damage_data(str(tmp_path), what)
    monkeypatch.setattr(bank, "TASKS", str(tmp_path / "tasks.jsonl"))
    monkeypatch.setattr(bank, "DATA", str(tmp_path))
    code, err = run_in_process(entry, bad_inputs.expand(args, tmp, cfg), capsys)
    assert_one_error_line(code, err, names)


def bounded_fields(cls, prefix=""):
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type):
            yield from bounded_fields(f.type, f"{prefix}{f.name}.")
        elif any(f.metadata.get(k) is not None for k in ("choices", "least", "above", "most", "pattern")):
            yield prefix + f.name, f


def just_outside(f):
    """Values a key must refuse: just past each of its bounds, a word outside its choices or pattern."""
    m, step = f.metadata, 1 if f.type is int else 1e-6
    out = [m["least"] - step] if m.get("least") is not None else []
    out += [m["above"]] if m.get("above") is not None else []
    out += [m["most"] + step] if m.get("most") is not None else []
    out += ["bogus"] if m.get("choices") or m.get("pattern") else []
    return out


def test_every_bounded_key_refuses_a_value_just_outside_its_bounds_and_names_itself():
    keys = dict(bounded_fields(ttopd.TTOPDConfig))
    assert len(keys) >= 60                       # every numeric key has a range, every enumerated key its choices
    for key, f in keys.items():
        for value in just_outside(f):
            with pytest.raises(config.ConfigError, match=f"config key '{key}'"):
                config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, [f"{key}={value}"])
        config.load("configs/ttopd_tiny.yaml", ttopd.TTOPDConfig, [f"{key}={getattr_path(key)}"])   # default: fine


def getattr_path(key):
    value = ttopd.TTOPDConfig()
    for part in key.split("."):
        value = getattr(value, part)
    return value


def test_keys_without_a_bound_are_the_ones_any_value_of_their_type_suits():
    unbounded = {f"{p}{f.name}" for p, cls in [("", config.Config), ("model.", config.ModelConfig),
                                                ("rollout.", config.RolloutConfig), ("algo.", config.AlgoConfig),
                                                ("warm_start.", config.WarmStartConfig),
                                                ("distill.", ttopd.DistillConfig)]
                 for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(f.type)} - \
        set(dict(bounded_fields(ttopd.TTOPDConfig)))
    free = {"seed", "warm_start.seed", "algo.loss"}               # any int; algo.loss: checked against grpo.LOSSES
    paths = {"model.path", "model.tiny_config", "rollout.kb", "warm_start.out_dir", "init_checkpoint", "out_dir"}
    text = {"distill.hint_correct", "distill.hint_wrong"}
    flags = {f"{p}{f.name}" for p, cls in [("", config.Config), ("rollout.", config.RolloutConfig),
                                           ("algo.", config.AlgoConfig), ("distill.", ttopd.DistillConfig)]
             for f in dataclasses.fields(cls) if f.type is bool}
    assert unbounded == free | paths | text | flags


def test_real_command_lines_and_torchrun_print_one_error_line(inputs):
    """The entry points as a user runs them (plain python, and torchrun with two ranks: rank 0 alone prints)."""
    from torchrun import torchrun
    tmp, cfg = inputs
    cases = [([sys.executable, "grpo.py", cfg, f"out_dir={tmp}/r1", "grad_clip=-1"], "grad_clip"),
             ([sys.executable, "ttopd.py", cfg, f"out_dir={tmp}/r2", "distill.ema_alpha=2"], "distill.ema_alpha"),
             ([sys.executable, "warmstart.py", cfg, "warm_start.epochs=0"], "warm_start.epochs"),
             ([sys.executable, "evaluate.py", cfg, "--split", "bogus"], "--split"),
             ([sys.executable, "kb.py", "search", f"{tmp}/kb_short_db", "q"], "passages.db"),
             ([sys.executable, "config.py", f"{tmp}/not_yaml.yaml"], "not_yaml.yaml"),
             (torchrun(2) + ["grpo.py", cfg, f"out_dir={tmp}/r3", "rollout.kb=" + f"{tmp}/kb_short_idf"], "idf.npy")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, _ in cases]
    for p, (cmd, names) in zip(procs, cases):
        _, err = p.communicate(timeout=300)
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert p.returncode != 0 and len(errors) == 1 and names in errors[0], (cmd, err[-3000:])
        if "torch.distributed.run" not in cmd:
            assert "Traceback" not in err and p.returncode == 2
    trace = subprocess.run([sys.executable, "grpo.py", cfg, "grad_clip=-1", "--traceback"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert "Traceback" in trace.stderr and "ConfigError: config key 'grad_clip'" in trace.stderr


def test_a_benchmark_image_that_cannot_be_read_is_reported_and_its_item_left_out(tmp_path, capsys):
    """The VQA-RAD slice (two items) with one of its images damaged: the item on it is not scored (it would score
    0 as the policy's failure); the other stays; a warning names the file."""
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "bench", "vqa_rad"), tmp_path / "vqa_rad")
    (tmp_path / "vqa_rad" / "VQA_RAD Image Folder" / "synpic42202.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    tasks = evaluate.benchmark_tasks([f"vqa_rad={tmp_path / 'vqa_rad' / 'VQA_RAD Dataset Public.json'}"])
    assert [os.path.basename(t["image"]) for t in tasks] == ["synpic21776.jpg"]
    err = capsys.readouterr().err
    assert "1 of 2 items have an image that cannot be read" in err and "synpic42202.jpg" in err

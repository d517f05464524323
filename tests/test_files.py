"""clinic/files.py: JSONL errors name file and line, a torn last log line is skipped (never a torn middle one),
atomic writes and folder commits never leave half a file, the lock serialises processes, the manifest catches
a changed byte, and run_cli turns input errors (only those) into one line."""
import json
import multiprocessing
import os
import time

import pytest

import evaluate
from clinic import files


def test_a_bad_jsonl_line_is_named_by_file_and_line_and_a_torn_log_tail_is_skipped(tmp_path, capsys):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2\n{"a": 3}\n')
    with pytest.raises(files.DataError, match=r"x.jsonl line 3: not valid JSON"):
        files.read_jsonl(str(p))
    with pytest.raises(files.DataError, match="line 3"):            # a torn line in the middle is damage
        files.read_jsonl(str(p), tail="skip")
    p.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    with pytest.raises(files.DataError, match="line 3"):            # data files: an error
        files.read_jsonl(str(p))
    assert files.read_jsonl(str(p), tail="skip") == [{"a": 1}, {"a": 2}]
    assert "x.jsonl line 3 is cut short" in capsys.readouterr().err
    p.write_text('{"a": 1}\n{"a": 2, "b"\n')           # a whole line (its newline written) that is not JSON: damage
    with pytest.raises(files.DataError, match="line 2"):
        files.read_jsonl(str(p), tail="skip")
    p.write_bytes(b'{"a": 1}\n\xff\xfe\n')
    with pytest.raises(files.DataError, match="not UTF-8"):
        files.read_jsonl(str(p))


def test_run_logs_readers_keep_the_later_of_rows_an_old_resume_wrote_twice(tmp_path, capsys):
    rows = [0, 1, 2, 3, 2, 3, 4]                  # an old version's resume from step 1 appended steps 2-3 again
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "v": i}) + "\n" for i, s in enumerate(rows)))
    got = evaluate.run_rows(str(tmp_path / "metrics.jsonl"), one_per_step=True)
    assert [(r["step"], r["v"]) for r in got] == [(0, 0), (1, 1), (2, 4), (3, 5), (4, 6)]
    assert "appear twice" in capsys.readouterr().err
    (tmp_path / "m2.jsonl").write_text(json.dumps({"step": 3}) + "\n" + json.dumps({"step": 3, "stopped": "x"}) + "\n")
    assert len(evaluate.run_rows(str(tmp_path / "m2.jsonl"), one_per_step=True)) == 2   # a stop row is no duplicate


def test_atomic_open_keeps_the_old_file_when_the_writer_fails(tmp_path):
    p = tmp_path / "record.json"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_open(str(p)) as f:
            f.write("half")
            raise RuntimeError
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["record.json"]
    with files.atomic_open(str(p)) as f:
        f.write("new")
    assert p.read_text() == "new"


def test_replace_dir_commits_a_folder_over_an_old_one(tmp_path):
    (tmp_path / "a.partial").mkdir()
    (tmp_path / "a.partial" / "f").write_text("2")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("1")
    files.replace_dir(str(tmp_path / "a.partial"), str(tmp_path / "a"))
    assert (tmp_path / "a" / "f").read_text() == "2" and sorted(os.listdir(tmp_path)) == ["a"]


def hold(path, log, seconds):
    with files.locked(path):
        with open(log, "a") as f:
            f.write(f"in {time.time()}\n")
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"out {time.time()}\n")


def test_the_lock_serialises_two_processes(tmp_path):
    args = (str(tmp_path / "x.lock"), str(tmp_path / "log"), 0.3)
    procs = [multiprocessing.get_context("spawn").Process(target=hold, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    events = [line.split()[0] for line in open(tmp_path / "log")]
    assert events == ["in", "out", "in", "out"]


def test_the_manifest_catches_a_changed_byte_a_cut_file_and_a_missing_one(tmp_path):
    for name, size in (("a.bin", 5000), ("b.bin", 10)):
        (tmp_path / name).write_bytes(os.urandom(size))
    m = files.manifest(str(tmp_path), files.folder_files(str(tmp_path)))
    assert files.verify(str(tmp_path), m) is None
    halves = [files.manifest(str(tmp_path), ["a.bin", "b.bin"], (k, 2)) for k in range(2)]
    assert {**halves[0], **halves[1]} == m                                 # ranks share the hashing
    data = bytearray((tmp_path / "a.bin").read_bytes())
    data[2500] ^= 1
    (tmp_path / "a.bin").write_bytes(bytes(data))
    assert files.verify(str(tmp_path), m) == "a.bin does not match its sha256 in the manifest"
    assert files.verify(str(tmp_path), m, hashes=False) is None            # sizes alone cannot see it
    os.truncate(tmp_path / "b.bin", 4)
    assert "b.bin has 4 bytes" in files.verify(str(tmp_path), m, (1, 2))
    os.remove(tmp_path / "b.bin")
    assert files.verify(str(tmp_path), m, (1, 2)) == "b.bin is missing"


def test_run_cli_prints_input_errors_as_one_line_and_keeps_the_traceback_of_a_bug(capsys, monkeypatch):
    def bad_input(argv):
        raise files.DataError("data.jsonl line 3:\n  not valid JSON")

    def missing(argv):
        open("/nonexistent/file.json")

    def bug(argv):
        raise KeyError("a bug")
    for main, line in ((bad_input, "error: data.jsonl line 3: not valid JSON"),
                       (missing, "error: No such file or directory: /nonexistent/file.json")):
        with pytest.raises(SystemExit) as e:
            files.run_cli(main, [])
        assert e.value.code == 2 and capsys.readouterr().err == line + "\n"
    with pytest.raises(KeyError):
        files.run_cli(bug, [])
    with pytest.raises(files.DataError):                 # --traceback: the whole trace instead
        files.run_cli(bad_input, ["--traceback"])
    monkeypatch.setenv("RANK", "1")                      # under torchrun, other ranks print after rank 0
    monkeypatch.setattr(files, "OTHER_RANKS_WAIT_S", 0.0)
    with pytest.raises(SystemExit):
        files.run_cli(bad_input, [])
    assert capsys.readouterr().err == "error (rank 1): data.jsonl line 3: not valid JSON\n"

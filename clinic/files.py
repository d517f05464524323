"""Reading and writing files so that a crash or a bad file never becomes a silent wrong run.

Every layer uses these: the bank and the loaders read JSONL through read_jsonl (an error names the file and
the line), kb.py builds its index into a temporary folder under a lock, grpo.py commits checkpoints with
replace_dir and verifies them against a manifest, and every entry point runs through run_cli.

  InputError       base of the errors a user's input causes (config.ConfigError, kb.KBError, DataError, ...)
  info/warn        one line on stderr, from rank 0 only
  read_jsonl       JSONL -> dicts; a bad line is a DataError "FILE line N: ..."; in logs (tail="skip") a last
                   line cut short by a kill is skipped with a warning instead
  atomic_open      write a file under a temporary name, fsync, rename: readers see the old file or the new one
  replace_dir      commit a folder written under a temporary name (the rename is the commit)
  locked           an exclusive lock across processes (torchrun's ranks, two jobs on one clone)
  manifest/verify  size and sha256 of each file of a folder; verify names the first file that differs
  leaves           a nested state as {"a/b/0": value} (checkpoints split tensors from the rest), set_leaves back
  RunLogs          append-only JSONL logs that a resumed run cuts back to a checkpoint's lengths
  crash_point      fault injection for tests/test_faults.py: GYM_CRASH_AT=NAME[:N] SIGKILLs this process
  run_cli          the error contract: a known input error prints one line `error: ...` and exits 2
"""
import argparse
import collections
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import sys
import time


class InputError(ValueError):
    """Something the user gave (a config value, a file, a checkpoint) is wrong; the message names it."""


class DataError(InputError):
    """A data file (tasks, benchmark, corpus, image, index) cannot be read as what it should be."""


class UsageError(InputError):
    """A command line that does not parse."""


def info(message):
    """One line of progress on stderr (rank 0 only)."""
    if os.environ.get("RANK", "0") == "0":
        print(message, file=sys.stderr, flush=True)


def warn(message):
    """One line `warning: ...` on stderr (rank 0 only, so N ranks do not repeat it)."""
    info(f"warning: {message}")


# ---------------------------------------------------------------- JSONL
def iter_jsonl(path, tail="error", lines=None):
    """The records of a JSONL file, blank lines skipped. A line that is not JSON is a DataError naming the file
    and line, except, with tail="skip" (logs), a last line without its newline: a writer killed mid-line
    leaves one, and it is skipped with a warning. `lines`: an already opened text stream of the file."""
    with contextlib.ExitStack() as stack:
        f = lines if lines is not None else stack.enter_context(open(path, encoding="utf-8"))
        prev, n = None, 0                            # one line of look-ahead: is a bad line the last one?
        try:
            for n, line in enumerate(f, 1):
                if prev is not None:
                    yield _parse(path, *prev, tail="error")
                prev = (n, line) if line.strip() else None
        except UnicodeDecodeError as e:
            raise DataError(f"{path} near line {n + 1}: not UTF-8 text ({e.reason})") from None
        if prev is not None:
            record = _parse(path, *prev, tail=tail)
            if record is not None:
                yield record


def _parse(path, n, line, tail):
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        if tail == "skip" and not line.endswith("\n"):
            warn(f"{path} line {n} is cut short (a run killed while writing it?); skipped")
            return None
        raise DataError(f"{path} line {n}: not valid JSON ({e.msg}, column {e.colno})") from None


def read_jsonl(path, tail="error"):
    return list(iter_jsonl(path, tail))


# ---------------------------------------------------------------- atomic writes, locks
def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode="w"):
    """A file opened for writing under a temporary name; on a clean exit it is flushed to disk and renamed
    over `path`. A kill at any instant leaves the old file (or none), never a partial one."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def replace_dir(tmp, final):
    """Commit folder `tmp` as `final`. An existing `final` is moved aside first and removed after, so a kill
    in between leaves both under names nothing reads as committed (`final`.old and `tmp`)."""
    final = os.path.normpath(final)
    old = final + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(tmp, final)
    _fsync_dir(os.path.dirname(os.path.abspath(final)))
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on file `path` (created if missing); other processes block until it is free."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------- manifests
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 23), b""):
            h.update(block)
    return h.hexdigest()


def folder_files(folder, skip=()):
    """Every file under folder, as sorted paths relative to it (hidden ones included), minus `skip`."""
    out = []
    for root, _, names in os.walk(folder):
        out += [os.path.relpath(os.path.join(root, n), folder) for n in names]
    return sorted(p for p in out if p not in skip)


def manifest(folder, names, part=(0, 1)):
    """{name: [size, sha256]} of files `names` of folder; part=(k, n) hashes only every n-th from the k-th
    (ranks share the work)."""
    k, n = part
    return {name: [os.path.getsize(os.path.join(folder, name)), sha256(os.path.join(folder, name))]
            for name in names[k::n]}


def verify(folder, expected, part=(0, 1), hashes=True):
    """The first difference between folder and its manifest `expected` (a missing file, a size, a hash), as
    text, or None when it matches; part as in manifest(); hashes=False compares sizes only."""
    k, n = part
    for name in sorted(expected)[k::n]:
        path, (size, digest) = os.path.join(folder, name), expected[name]
        if not os.path.isfile(path):
            return f"{name} is missing"
        if os.path.getsize(path) != size:
            return f"{name} has {os.path.getsize(path)} bytes, its manifest says {size}"
        if hashes and sha256(path) != digest:
            return f"{name} does not match its sha256 in the manifest"
    return None


# ---------------------------------------------------------------- nested state, run logs
def leaves(tree, path=""):
    """("a/b/0", value) for every leaf of nested dicts and lists (a tuple is a leaf)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else None
    if items is None:
        yield path, tree
        return
    for k, v in items:
        yield from leaves(v, f"{path}/{k}" if path else str(k))


def set_leaves(tree, values):
    """Put values {"a/b/0": value} (as leaves names them) into tree in place; a tuple leaf stays a tuple
    (JSON brought it back as a list)."""
    for name, value in values.items():
        *parents, last = name.split("/")
        node = tree
        for k in parents:
            node = node[_key(node, k)]
        key = _key(node, last)
        node[key] = tuple(value) if isinstance(node[key], tuple) else value


def _key(node, name):
    """The list index or dict key that leaves() wrote as `name`."""
    return int(name) if isinstance(node, list) else next(k for k in node if str(k) == name)


class RunLogs:
    """A run's JSONL logs (names, in folder), written by one process (active; the others' writes do nothing).
    A row is written whole and flushed. A checkpoint records lengths(), and a resumed run opens the logs cut
    back to those lengths (a run that starts from nothing, to nothing), so its rows are the uninterrupted
    run's, row for row."""

    def __init__(self, folder, names, lengths, active):
        self.files = {}
        for name in names if active else ():
            path = os.path.join(folder, name)
            keep = lengths.get(name, 0)
            have = os.path.getsize(path) if os.path.exists(path) else 0
            if have < keep:
                warn(f"{path} is shorter than its checkpoint says ({have} < {keep} bytes): rows are missing")
            if os.path.exists(path):
                os.truncate(path, min(keep, have))
            self.files[name] = open(path, "a")

    def write(self, name, rows):
        if name in self.files:
            self.files[name].write("".join(json.dumps(r, default=str) + "\n" for r in rows))
            self.files[name].flush()

    def lengths(self):
        for f in self.files.values():
            os.fsync(f.fileno())
        return {name: f.tell() for name, f in self.files.items()}

    def close(self):
        for f in self.files.values():
            f.close()


# ---------------------------------------------------------------- fault injection
_reached = collections.Counter()


def crash_point(name):
    """Tests kill a run at a named point: with GYM_CRASH_AT=NAME or NAME:N in the environment, the N-th time
    (default the first) this process reaches crash_point(NAME) it SIGKILLs itself, as the OOM killer or a
    lost node would: no finally, no flush. Free when the variable is unset."""
    spec = os.environ.get("GYM_CRASH_AT")
    if not spec:
        return
    want, _, nth = spec.partition(":")
    if want == name:
        _reached[name] += 1
        if _reached[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------- the entry points' error contract
class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are UsageErrors, so run_cli prints them as one line like every other."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def whole_number(least):
    """An argparse type: a whole number >= least."""
    def parse(text):
        if not text.lstrip("-").isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {least}, got {text!r}")
        return int(text)
    return parse


def is_input_error(e):
    return isinstance(e, InputError) or (isinstance(e, OSError) and e.filename is not None)


def one_line(e):
    text = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.filename is not None else str(e)
    return " ".join(text.split())


OTHER_RANKS_WAIT_S = 3.0


def run_cli(main, argv=None):
    """Run main(argv). An input error (is_input_error) prints `error: <message>` on one line and exits 2;
    `--traceback` anywhere in argv, or GYM_TRACEBACK=1, shows the whole trace instead. Any other exception is
    a bug and keeps its traceback. Under torchrun every rank meets the same input error, and rank 0 prints
    it: the others wait first, and torchrun stops them as soon as rank 0 exits, so one line is printed (an
    error that only another rank met is printed by that rank, after the wait)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    trace = "--traceback" in argv or os.environ.get("GYM_TRACEBACK") == "1"
    argv = [a for a in argv if a != "--traceback"]
    try:
        return main(argv)
    except Exception as e:
        if trace or not is_input_error(e):
            raise
        rank = int(os.environ.get("RANK", "0"))
        if rank:
            time.sleep(OTHER_RANKS_WAIT_S)
        print(f"error{f' (rank {rank})' if rank else ''}: {one_line(e)}", file=sys.stderr, flush=True)
        sys.exit(2)

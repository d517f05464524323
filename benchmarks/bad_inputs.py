"""Census of bad inputs: every case of tests/bad_inputs.py run as a real command against a checkout, sorted into
  clear      a non-zero exit with no traceback (one_line: exactly one `error:` line naming what the test expects)
  traceback  a Python traceback on stderr
  silent     exit 0 (the bad value was accepted), or still running at the time limit

  python benchmarks/bad_inputs.py [--code DIR] [--out FILE.json]     # DIR: a checkout (default: this one)

The bank-damage cases run in a copy of the checkout's tracked files with data/ damaged. Two commands at a
time; about 5 minutes on 2 cores.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import bad_inputs  # noqa: E402


def verdict(rc, err, expected):
    if rc is None or rc == 0:
        return "silent"
    if "Traceback" in err:
        return "traceback"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    return "one_line" if len(errors) == 1 and expected in errors[0] else "clear"


def run_case(code, entry, args, expected, timeout):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": code}
    try:
        r = subprocess.run([sys.executable, os.path.join(code, entry), *args], cwd=code, env=env,
                           capture_output=True, text=True, timeout=timeout)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = None, (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    return {"entry": entry, "args": args, "rc": rc, "verdict": verdict(rc, err, expected),
            "last_line": err.strip().splitlines()[-1][:300] if err.strip() else ""}


def copy_tree(code, dst):
    tracked = subprocess.run(["git", "ls-files"], cwd=code, capture_output=True, text=True, check=True).stdout
    for rel in tracked.splitlines():
        os.makedirs(os.path.dirname(os.path.join(dst, rel)) or dst, exist_ok=True)
        shutil.copy(os.path.join(code, rel), os.path.join(dst, rel))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", default=ROOT)
    ap.add_argument("--out", default="")
    ap.add_argument("--timeout", type=int, default=180)
    a = ap.parse_args()
    code = os.path.abspath(a.code)
    tmp = tempfile.mkdtemp(prefix="bad_inputs_")
    cfg = bad_inputs.make_files(tmp, code)
    jobs = [(code, entry, bad_inputs.expand(args, tmp, cfg), expected) for entry, args, expected in bad_inputs.CASES]
    for what, entry, args, expected in bad_inputs.DATA_CASES:
        tree = os.path.join(tmp, f"tree_{what}")
        copy_tree(code, tree)
        bad_inputs.damage_data(os.path.join(tree, "data"), what)
        jobs.append((tree, entry, bad_inputs.expand(args, tmp, cfg).copy(), expected))
    jobs = [(c, e, [x.replace(f"{tmp}/run", f"{tmp}/run{i}") for x in args], x) for i, (c, e, args, x) in enumerate(jobs)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda j: run_case(*j, a.timeout), jobs))
    counts = {v: sum(r["verdict"] == v for r in results) for v in ("one_line", "clear", "traceback", "silent")}
    for r in results:
        print(f"{r['verdict']:9s} {r['entry']:12s} {' '.join(r['args'][1:])[:60]:60s} {r['last_line'][:100]}")
    print(json.dumps({"code": code, "cases": len(results), **counts}))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"code": code, "counts": counts, "results": results}, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

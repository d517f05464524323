"""Reading figures of the top-level modules and decoding/: lines, characters per non-blank line, lines over
100 and 110 columns, statements sharing a line, and the longest functions.

  python benchmarks/readability.py [--code DIR] [FILES...]
"""
import argparse
import ast
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def figures(path):
    with open(path) as f:
        text = f.read()
    lines = text.splitlines()
    body = [x for x in lines if x.strip()]
    tree = ast.parse(text)
    funcs = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    shared = sum(1 for x in lines if ";" in x.split("#")[0] and not x.strip().startswith(("#", '"', "'")))
    return {"lines": len(lines), "chars_per_line": sum(len(x.strip()) for x in body) / max(1, len(body)),
            "over_100": sum(len(x) > 100 for x in lines), "over_110": sum(len(x) > 110 for x in lines),
            "semicolons": shared, "longest": sorted(funcs, key=lambda f: -f[1])[:3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", default=ROOT)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(a.code, "*.py")) + glob.glob(os.path.join(a.code, "decoding", "*.py")))
    print(f"{'file':24s} {'lines':>5s} {'chars':>5s} {'>100':>5s} {'>110':>5s}  longest functions")
    for p in files:
        f = figures(p)
        longest = ", ".join(f"{n} {k}" for n, k in f["longest"])
        print(f"{os.path.relpath(p, a.code):24s} {f['lines']:5d} {f['chars_per_line']:5.1f} {f['over_100']:5d} "
              f"{f['over_110']:5d}  {longest}")


if __name__ == "__main__":
    main()

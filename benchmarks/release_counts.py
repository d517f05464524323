"""What each loader reads from a benchmark's real release file: rows in the file, items loaded, rows left out (and
why, from the loader's own warning), and the seconds it took.

  python benchmarks/release_counts.py KIND=PATH [KIND=PATH ...] [--placeholder-images]

--placeholder-images: for the visual QA releases whose images are not at hand (a repository snapshot without its
image archive), copy the file into a temporary folder with an 8x8 placeholder for every image it names, so the
question side can be counted. Nothing is downloaded: give the files you have (benchmarks/results/README.md lists
the ones measured and where they came from).
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from clinic import loaders  # noqa: E402

IMAGE_FIELDS = {"vqa_rad": lambda r: r["image_name"], "pathvqa": lambda r: r.get("Image_ID", r.get("image")) + ".jpg",
                "slake": lambda r: r["img_name"]}


def with_placeholders(kind, path, tmp):
    """A copy of the release file in tmp, with a placeholder image for each image it names."""
    from PIL import Image
    if kind == "vqa_med_2021":
        folder = shutil.copytree(path if os.path.isdir(path) else os.path.dirname(path), os.path.join(tmp, "v"))
        names = {line.split("|")[0] for f in os.listdir(folder) if f.endswith(".txt")
                 for line in open(os.path.join(folder, f)) if line.strip()}
        new = folder
    else:
        new = shutil.copy(path, tmp)
        names = {IMAGE_FIELDS[kind](r) for r in json.load(open(path))}
    for name in names:
        target = os.path.join(os.path.dirname(new) if kind != "vqa_med_2021" else new,
                              name if "." in name[-5:] else name + ".jpg")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Image.new("L", (8, 8)).save(target, format="JPEG")
    return new


def count(kind, path, placeholders):
    with tempfile.TemporaryDirectory() as tmp:
        if placeholders and kind in (*IMAGE_FIELDS, "vqa_med_2021"):
            path = with_placeholders(kind, path, tmp)
        err, t0 = io.StringIO(), time.time()
        with contextlib.redirect_stderr(err):
            tasks = loaders.LOADERS[kind](path)
        return {"kind": kind, "file": os.path.basename(os.path.normpath(path)), "items": len(tasks),
                "seconds": round(time.time() - t0, 2), "left_out": err.getvalue().strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("specs", nargs="+", help="KIND=PATH")
    ap.add_argument("--placeholder-images", action="store_true")
    a = ap.parse_args()
    for spec in a.specs:
        kind, _, path = spec.partition("=")
        print(json.dumps(count(kind, path, a.placeholder_images)))


if __name__ == "__main__":
    main()

"""The shipped task bank equals a regeneration from its seed, and has the promised shape."""
import collections
import filecmp
import os

from clinic import domains
from clinic import loaders
from clinic import bank, images, taskgen

FIX = os.path.join(os.path.dirname(__file__), "fixtures")


def test_regeneration_matches_shipped_bank(tmp_path):
    taskgen.generate(str(tmp_path))
    for name in ("tasks.jsonl", "kb_passages.jsonl"):
        assert filecmp.cmp(tmp_path / name, os.path.join(bank.DATA, name), shallow=False), name
    names = sorted(os.listdir(tmp_path / "images"))      # pixels, not bytes: PNG bytes vary with zlib's build
    assert names == sorted(os.listdir(os.path.join(bank.DATA, "images")))
    for n in names:
        assert (images.read_image(str(tmp_path / "images" / n)) ==
                images.read_image(os.path.join(bank.DATA, "images", n))).all(), n


def test_bank_shape(tasks):
    assert len(tasks) >= 3600
    per = collections.Counter(t["domain"] for t in tasks)
    assert set(per) == set(domains.names()) and min(per.values()) >= 360
    assert {t["split"] for t in tasks} == {"train", "validation", "test"}
    assert len({t["id"] for t in tasks}) == len(tasks)
    for t in tasks:
        assert t["expected_tools"] and t["answer"]["type"] in ("choice", "number", "label", "yesno")
        for c in t["safety"]:
            assert c["severity"] in ("critical", "minor") and c["kind"] in (
                "forbidden_call", "forbidden_answer", "must_call")
    visual = [t for t in tasks if t["domain"] == "visual_diagnosis"]
    assert all(os.path.exists(os.path.join(bank.DATA, t["image"])) for t in visual)
    kinds = collections.Counter(c["kind"] for t in tasks for c in t["safety"])
    assert min(kinds.values()) >= 50


def test_public_benchmark_loaders():
    medqa = loaders.load_medqa(os.path.join(FIX, "medqa.jsonl"))
    assert [t["answer"]["value"] for t in medqa] == ["A", "B"] and "D) Tamsulosin" in medqa[0]["question"]
    mcq = loaders.load_medmcqa(os.path.join(FIX, "medmcqa.jsonl"))
    assert [t["answer"]["value"] for t in mcq] == ["A", "C"]
    pq = loaders.load_pubmedqa(os.path.join(FIX, "pubmedqa.json"))
    assert [t["answer"]["value"] for t in pq] == ["yes", "no"] and "magnesium" in pq[0]["question"]
    mm = loaders.load_mmlu(os.path.join(FIX, "mmlu_medical.csv"))
    assert [t["answer"]["value"] for t in mm] == ["B", "B"] and mm[0]["answer"]["options"][1] == "Pancreas"
    import reward
    for t in medqa + mcq + pq + mm:   # loaded tasks are scoreable by the env's reward
        assert reward.accuracy(t, {"answer": t["answer"]["value"], "turns": [], "rationale": ""}) == 1.0

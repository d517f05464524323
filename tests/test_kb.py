"""kb.py gives rank_bm25's scores and top-k (pruned search included), reads four corpus formats, persists to disk,
filters sources, rejects a missing or stale index by naming the config key, and is injection-safe."""
import json

import os

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

import kb


def write_corpus(path, docs):
    with open(path, "w") as f:
        for i, (text, src) in enumerate(docs):
            f.write(json.dumps({"id": f"d{i}", "title": "", "text": text, "source": src}) + "\n")


def test_scores_equal_rank_bm25_on_random_corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)] + ["common"] * 20       # 'common' appears in most docs: negative idf
    docs = [(" ".join(rng.choice(words, size=rng.integers(3, 30))), "a" if i % 2 else "b") for i in range(400)]
    write_corpus(tmp_path / "c.jsonl", docs)
    kb.build(str(tmp_path / "c.jsonl"), str(tmp_path / "idx"))
    index = kb.KB(str(tmp_path / "idx"))
    ref = BM25Okapi([kb.tokenize(" " + t) for t, _ in docs])
    for q in ["w1 w2", "common w3 w3", "w59 common common", "absent", "w7"]:
        toks = kb.tokenize(q)
        np.testing.assert_allclose(index.get_scores(toks), ref.get_scores(toks), rtol=1e-12, atol=1e-12)
        top = index.search(q, k=5)
        ref_scores = ref.get_scores(toks)
        assert [h["score"] for h in top] == sorted(ref_scores[ref_scores > 0], reverse=True)[:5]
    hits = index.search("w1 w2 w3", k=50, sources={"a"})
    assert hits and all(h["source"] == "a" for h in hits)


def test_scores_equal_rank_bm25_on_embedded_kb(kb_index):
    docs = [json.loads(line) for line in open(kb.os.path.join(kb.DATA, "kb_passages.jsonl"))]
    ref = BM25Okapi([kb.tokenize(d["title"] + " " + d["text"]) for d in docs])
    for q in ["warfarin amiodarone", "first-line treatment of acute pancreatitis", "qsofa respiratory rate"]:
        np.testing.assert_allclose(kb_index.get_scores(kb.tokenize(q)), ref.get_scores(kb.tokenize(q)), rtol=1e-12)
    top = kb_index.search("ICD-10-CM code acute pancreatitis", k=1)[0]
    assert "K85.90" in top["text"]


def test_injection_is_just_text(kb_index):
    assert kb_index.search("'; DROP TABLE passages; --") == []      # words absent from the KB: no hits
    assert kb_index.search("troponin")
    with pytest.raises(ValueError):
        kb_index.get("kb-00000' OR '1'='1")


CORPORA = os.path.join(os.path.dirname(__file__), "fixtures", "corpora")


def test_pruned_top_k_equals_rank_bm25_with_frequent_words(tmp_path, monkeypatch):
    """Zipf words, so queries mix words in most passages with rare ones; tiny SHORT_LIST/FIRST_DEPTH make the
    threshold algorithm stop early and read lists in several rounds, as it does at 1M passages."""
    monkeypatch.setattr(kb, "SHORT_LIST", 8)
    monkeypatch.setattr(kb, "FIRST_DEPTH", 4)
    monkeypatch.setattr(kb, "EXHAUSTIVE", 0)
    rng = np.random.default_rng(1)
    p = 1 / np.arange(1, 301) ** 1.1
    p /= p.sum()
    docs = [(" ".join(f"z{w}" for w in rng.choice(300, size=rng.integers(5, 40), p=p)), "src" + str(i % 3))
            for i in range(1500)]
    docs += [docs[7]] * 3                        # exact ties: the lower row must come first
    write_corpus(tmp_path / "c.jsonl", docs)
    kb.build(str(tmp_path / "c.jsonl"), str(tmp_path / "idx"))
    index = kb.KB(str(tmp_path / "idx"))
    ref = BM25Okapi([kb.tokenize(t) for t, _ in docs])
    rounds = []
    for n in range(60):
        q = [f"z{w}" for w in rng.choice(300, size=rng.integers(1, 6), p=p)]
        if n < 3:
            q = [f"z{w}" for w in docs[7][0].split()[:4]]
        s = ref.get_scores(q)
        want = np.lexsort((np.arange(len(s)), -s))[:10]
        want = want[s[want] > 0]
        rows, scores = index.top_k(q, 10)
        assert rows.tolist() == want.tolist() and scores.tolist() == s[want].tolist(), q
        allowed = np.array([d[1] == "src1" for d in docs])
        s_f = np.where(allowed, s, 0)
        want_f = np.lexsort((np.arange(len(s)), -s_f))[:5]
        assert index.top_k(q, 5, allowed)[0].tolist() == want_f[s_f[want_f] > 0].tolist()
        rounds.append(len(scores))
    assert sum(rounds) > 0
    monkeypatch.setattr(kb, "EXHAUSTIVE", 10 ** 9)          # light queries: every posting scored outright
    for q in (["z1", "z5", "z5"], ["z280"], ["nothing"]):
        s = ref.get_scores(q)
        want = np.lexsort((np.arange(len(s)), -s))[:10]
        want = want[s[want] > 0]
        assert index.top_k(q, 10)[0].tolist() == want.tolist() and index.top_k(q, 10)[1].tolist() == \
            s[want].tolist()


def test_formats_medrag_pubmed_text(tmp_path):
    fixture = CORPORA
    assert kb.detect_format(os.path.join(fixture, "statpearls", "chunk", "article_sepsis.jsonl")) == "medrag"
    assert kb.detect_format(os.path.join(fixture, "pubmed_sample.xml.gz")) == "pubmed"
    assert kb.detect_format(os.path.join(fixture, "textbook_cardiology.txt")) == "text"
    got = list(kb.read_passages([fixture], passage_words=25))
    by_id = {p["id"]: p for p in got}
    assert len(by_id) == len(got)
    sep = by_id["article-1_1"]
    assert sep["source"] == "statpearls" and sep["title"] == "Sepsis" and sep["text"].startswith("The qSOFA score")
    art = by_id["31000001"]
    assert art["title"] == "Early lactate clearance in septic shock." and art["source"] == "pubmed"
    assert art["text"] == ("Background: Lactate is a marker of tissue hypoperfusion. "
                           "Results: Clearance above 10% at six hours predicted survival.")
    assert by_id["31000003"]["text"] == "A letter without an abstract."
    import gzip                          # the same file uncompressed reads the same
    (tmp_path / "p.xml").write_bytes(gzip.open(os.path.join(fixture, "pubmed_sample.xml.gz")).read())
    assert list(kb.read_passages([str(tmp_path / "p.xml")])) == [p for p in got if p["source"] == "pubmed"]
    book = [p for p in got if p["source"] == "textbook_cardiology"]
    assert [len(p["text"].split()) for p in book] == [24, 25, 4]      # two paragraphs packed, the long one cut
    assert book[0]["text"].startswith("Atrial fibrillation") and book[0]["text"].endswith("CHA2DS2-VASc score.")
    meta = kb.build([fixture], str(tmp_path / "idx"), passage_words=25)
    index = kb.KB(str(tmp_path / "idx"))
    assert meta["n_docs"] == len(got) and set(meta["sources"]) == {"statpearls", "pubmed", "textbook_cardiology"}
    assert index.search("qsofa respiratory", k=1)[0]["id"] == "article-1_1"
    assert index.search("amiodarone inr", k=1)[0]["id"] == "31000002"
    ref = BM25Okapi([kb.tokenize(p["title"] + " " + p["text"]) for p in got])
    for q in ["sepsis lactate", "warfarin", "heart failure ejection"]:
        np.testing.assert_allclose(index.get_scores(kb.tokenize(q)), ref.get_scores(kb.tokenize(q)), rtol=1e-12)


def test_pubmed_stream_frees_records(tmp_path):
    """A large baseline file is read record by record: memory stays flat as the file grows."""
    import gzip
    import tracemalloc
    path = tmp_path / "big.xml.gz"
    with gzip.open(path, "wt") as f:
        f.write("<PubmedArticleSet>")
        for i in range(20000):
            f.write(f"<PubmedArticle><MedlineCitation><PMID>{i}</PMID><Article><ArticleTitle>t{i}</ArticleTitle>"
                    f"<Abstract><AbstractText>{'word ' * 50}</AbstractText></Abstract></Article>"
                    "</MedlineCitation></PubmedArticle>")
        f.write("</PubmedArticleSet>")
    tracemalloc.start()
    n = sum(1 for _ in kb.read_pubmed(str(path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 20000 and peak < 5e6          # the parsed tree would be ~100 MB


def test_missing_or_stale_index_names_the_key(tmp_path):
    with pytest.raises(kb.KBError, match="config key 'rollout.kb': no built index"):
        kb.open_kb(str(tmp_path / "nowhere"))
    kb.build(os.path.join(CORPORA, "textbook_cardiology.txt"), str(tmp_path / "idx"))
    meta = json.load(open(tmp_path / "idx" / "meta.json"))
    meta["version"] = 1
    json.dump(meta, open(tmp_path / "idx" / "meta.json", "w"))
    with pytest.raises(kb.KBError, match="config key 'rollout.kb'.*another version"):
        kb.open_kb(str(tmp_path / "idx"))


def test_a_damaged_index_file_is_named_at_open_and_the_embedded_one_is_rebuilt(tmp_path):
    kb.build(os.path.join(CORPORA, "textbook_cardiology.txt"), str(tmp_path / "idx"))
    os.truncate(tmp_path / "idx" / "passages.db", 4096)                     # a copy cut short
    with pytest.raises(kb.KBError, match="config key 'rollout.kb'.*damaged: passages.db has 4096 bytes"):
        kb.open_kb(str(tmp_path / "idx"))
    corpus = tmp_path / "kb_passages.jsonl"
    write_corpus(corpus, [("qsofa sepsis lactate", "a"), ("troponin infarction", "b"), ("asthma wheeze", "b")])
    embedded = kb.default_kb.__wrapped__(str(tmp_path / "emb"), str(corpus))
    assert embedded.search("sepsis")[0]["id"] == "d0"
    idf = tmp_path / "emb" / "idf.npy"
    idf.write_bytes(idf.read_bytes()[:-8] + bytes(8))                      # same size, different bytes
    assert "idf.npy does not match its sha256" in kb.index_problem(str(tmp_path / "emb"))
    assert kb.default_kb.__wrapped__(str(tmp_path / "emb"), str(corpus)).search("sepsis")[0]["id"] == "d0"
    assert kb.index_problem(str(tmp_path / "emb")) is None                 # rebuilt whole


def test_two_processes_building_the_embedded_index_at_once_both_get_it_whole(tmp_path):
    """The race torchrun's ranks ran into on a fresh clone: both built data/kb_index in place at once (sqlite
    'readonly database', 'disk I/O error'). Forty copies of the embedded passages make a build long enough
    (~1 s) for the two to overlap."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(kb.DATA, "kb_passages.jsonl")) as f:
        passages = [json.loads(line) for line in f]
    with open(tmp_path / "kb_passages.jsonl", "w") as f:
        for k in range(40):
            f.writelines(json.dumps({**p, "id": f"{p['id']}-{k}"}) + "\n" for p in passages)
    code = "import sys, kb; print(kb.default_kb(sys.argv[1], sys.argv[2]).search('sepsis lactate', k=3)[0]['id'])"
    args = [sys.executable, "-c", code, str(tmp_path / "kb_index"), str(tmp_path / "kb_passages.jsonl")]
    procs = [subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert outs[0][0] == outs[1][0] != ""
    assert kb.index_problem(str(tmp_path / "kb_index")) is None
    assert sorted(os.listdir(tmp_path)) == ["kb_index", "kb_index.lock", "kb_passages.jsonl"]   # no leftovers


def test_config_kb_reaches_every_rank(tmp_path):
    """rollout.kb in a YAML: both ranks of a torchrun job search that index, not the embedded KB."""
    import subprocess
    import sys
    from torchrun import torchrun
    kb.build([CORPORA], str(tmp_path / "idx"))
    (tmp_path / "c.yaml").write_text(f"rollout: {{kb: {tmp_path / 'idx'}}}\ndistill: {{lam: 1.0}}\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run(torchrun(2) + [os.path.join(root, "tests", "kb_rank_check.py"), str(tmp_path / "c.yaml"),
                                      str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    for k in range(2):
        got = json.load(open(tmp_path / f"rank{k}.json"))
        assert got["world"] == 2 and got["kb"] == [CORPORA]
        assert "article-1_1" in got["observation"]          # the StatPearls qSOFA chunk of the fixture corpus
    (tmp_path / "bad.yaml").write_text(f"rollout: {{kb: {tmp_path / 'missing'}}}\n")
    r = subprocess.run([sys.executable, os.path.join(root, "grpo.py"), str(tmp_path / "bad.yaml")], cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "config key 'rollout.kb': no built index" in r.stderr

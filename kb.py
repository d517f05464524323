"""BM25 retrieval over a passage store that scales to the paper's 828K passages.

build(): JSONL {"id","title","text","source"} -> tokenize -> inverted index in
CSR form (indptr per term, doc ids, term frequencies) as .npy files, plus
doc lengths, idf and the passages in SQLite. KB(): memory-maps the arrays and
scores a query by touching only the postings of its terms. Scores equal
rank_bm25.BM25Okapi (same k1, b, epsilon, idf floor, and duplicate query terms
counted twice) on the same tokenisation: tests/test_kb.py checks it.

  python kb.py build CORPUS.jsonl OUT_DIR      # index any corpus
  python kb.py search OUT_DIR "query words"    # try it
"""
import array
import functools
import hashlib
import json
import math
import os
import re
import sqlite3
import sys

import numpy as np
from tqdm import tqdm

K1, B, EPSILON = 1.5, 0.75, 0.25          # rank_bm25.BM25Okapi defaults
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an and are as at be by for from has in is it its of on or that the to was were with "
                      "this these those which who".split())


def tokenize(text):
    """Lower-case alphanumeric words minus a short stop list (the index and queries share it)."""
    return [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]


def bm25_idf(df, n_docs, epsilon=EPSILON):
    """rank_bm25's Okapi idf: log((N - df + .5) / (df + .5)), negatives floored at epsilon * mean idf."""
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    floor = epsilon * (math.fsum(idf.tolist()) / len(idf))
    return np.where(idf < 0, floor, idf)


def build(corpus_path, out_dir, k1=K1, b=B, epsilon=EPSILON, batch=20000):
    """Index a JSONL corpus into out_dir (arrays + passages.db + meta.json)."""
    os.makedirs(out_dir, exist_ok=True)
    db_path = os.path.join(out_dir, "passages.db")
    if os.path.exists(db_path):
        os.remove(db_path)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, id TEXT, title TEXT, text TEXT, source TEXT)")
    vocab, sources = {}, {}
    terms, tfs, doc_len, doc_src = array.array("i"), array.array("H"), array.array("i"), array.array("B")
    doc_nterms = array.array("i")                   # distinct terms per document = its number of postings
    rows = []
    with open(corpus_path) as f:
        n_lines = sum(1 for _ in f)
    with open(corpus_path) as f:
        for line in tqdm(f, total=n_lines, desc="indexing", unit="doc", mininterval=2):
            if not line.strip():
                continue
            p = json.loads(line)
            row = len(doc_len)
            toks = tokenize(p.get("title", "") + " " + p["text"])
            counts = {}
            for w in toks:
                counts[w] = counts.get(w, 0) + 1
            for w, c in counts.items():
                terms.append(vocab.setdefault(w, len(vocab)))
                tfs.append(min(c, 65535))
            doc_len.append(len(toks))
            doc_nterms.append(len(counts))
            doc_src.append(sources.setdefault(p.get("source", ""), len(sources)))
            rows.append((row, str(p["id"]), p.get("title", ""), p["text"], p.get("source", "")))
            if len(rows) >= batch:
                db.executemany("INSERT INTO passages VALUES (?,?,?,?,?)", rows)
                rows = []
    db.executemany("INSERT INTO passages VALUES (?,?,?,?,?)", rows)
    db.execute("CREATE INDEX passage_id ON passages(id)")
    db.commit()
    db.close()
    _write_arrays(out_dir, np.frombuffer(terms, np.int32), np.frombuffer(tfs, np.uint16),
                  np.frombuffer(doc_len, np.int32), np.frombuffer(doc_nterms, np.int32), len(vocab), epsilon)
    np.save(os.path.join(out_dir, "doc_source.npy"), np.frombuffer(doc_src, np.uint8))
    meta = dict(n_docs=len(doc_len), avgdl=float(np.frombuffer(doc_len, np.int32).sum()) / max(len(doc_len), 1),
                k1=k1, b=b, epsilon=epsilon, sources=sorted(sources, key=sources.get),
                corpus_sha1=_sha1(corpus_path))
    with open(os.path.join(out_dir, "vocab.json"), "w") as f:
        json.dump(sorted(vocab, key=vocab.get), f)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f)
    return meta


def _write_arrays(out_dir, terms, tfs, doc_len, doc_nterms, n_terms, epsilon):
    """Turn (term, tf) postings in document order into CSR arrays sorted by term."""
    doc_ids = np.repeat(np.arange(len(doc_len), dtype=np.int32), doc_nterms)
    order = np.argsort(terms, kind="stable")          # stable: doc ids stay ascending within a term
    df = np.bincount(terms, minlength=n_terms)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    np.save(os.path.join(out_dir, "indptr.npy"), indptr)
    np.save(os.path.join(out_dir, "doc_ids.npy"), doc_ids[order])
    np.save(os.path.join(out_dir, "tfs.npy"), tfs[order])
    np.save(os.path.join(out_dir, "doc_len.npy"), doc_len)
    np.save(os.path.join(out_dir, "idf.npy"), bm25_idf(df.astype(np.float64), len(doc_len), epsilon))


def _sha1(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class KB:
    """A built index, memory-mapped: search() returns the top-k passages by BM25."""

    def __init__(self, index_dir):
        with open(os.path.join(index_dir, "meta.json")) as f:
            self.meta = json.load(f)
        with open(os.path.join(index_dir, "vocab.json")) as f:
            self.vocab = {w: i for i, w in enumerate(json.load(f))}
        load = lambda name: np.load(os.path.join(index_dir, name + ".npy"), mmap_mode="r")  # noqa: E731
        self.indptr, self.doc_ids, self.tfs = load("indptr"), load("doc_ids"), load("tfs")
        self.doc_len, self.idf, self.doc_source = load("doc_len"), load("idf"), load("doc_source")
        self.db = sqlite3.connect(os.path.join(index_dir, "passages.db"), check_same_thread=False)
        self.n_docs = self.meta["n_docs"]

    def get_scores(self, query_tokens):
        """Dense BM25 scores of every document for a tokenised query (rank_bm25's get_scores)."""
        k1, b, avgdl = self.meta["k1"], self.meta["b"], self.meta["avgdl"]
        scores = np.zeros(self.n_docs)
        for w in query_tokens:
            t = self.vocab.get(w)
            if t is None:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            ids = self.doc_ids[lo:hi]
            tf = self.tfs[lo:hi].astype(np.float64)
            norm = k1 * (1 - b + b * self.doc_len[ids] / avgdl)
            scores[ids] += self.idf[t] * (tf * (k1 + 1) / (tf + norm))
        return scores

    def search(self, query, k=5, sources=None):
        """Top-k passages for a text query, optionally restricted to some sources."""
        scores = self.get_scores(tokenize(query))
        if sources is not None:
            codes = [i for i, s in enumerate(self.meta["sources"]) if s in sources]
            scores = np.where(np.isin(self.doc_source, codes), scores, 0.0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]
        return [dict(self._row(int(i)), score=float(scores[i])) for i in hits]

    def _row(self, row):
        r = self.db.execute("SELECT id, title, text, source FROM passages WHERE row = ?", (row,)).fetchone()
        return dict(zip(("id", "title", "text", "source"), r))

    def get(self, passage_id):
        r = self.db.execute("SELECT id, title, text, source FROM passages WHERE id = ?", (passage_id,)).fetchone()
        if r is None:
            raise ValueError(f"no passage with id {passage_id!r}")
        return dict(zip(("id", "title", "text", "source"), r))


@functools.lru_cache(maxsize=None)
def default_kb(index_dir=os.path.join(DATA, "kb_index"), corpus=os.path.join(DATA, "kb_passages.jsonl")):
    """The embedded KB, (re)built on first use or when its passages changed."""
    meta = os.path.join(index_dir, "meta.json")
    if not os.path.exists(meta) or json.load(open(meta)).get("corpus_sha1") != _sha1(corpus):
        build(corpus, index_dir)
    return KB(index_dir)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "build":
        print(build(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "search":
        for hit in KB(sys.argv[2]).search(" ".join(sys.argv[3:])):
            print(f"{hit['score']:.3f}  {hit['id']}  {hit['title']}")
    else:
        sys.exit("usage: python kb.py build CORPUS.jsonl OUT_DIR | python kb.py search OUT_DIR QUERY")

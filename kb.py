"""BM25 retrieval over a passage store that scales past the paper's 828K passages.

build(): passages in any of four formats (read_passages) -> tokenize -> an inverted index in CSR form
(per term: doc ids ascending, term frequencies, and its postings' order by BM25 impact) as .npy files,
plus doc lengths, idf and the passages in SQLite. KB(): memory-maps the arrays. search() finds the exact
top-k with a threshold algorithm over impact-ordered postings (KB.top_k): it reads each long posting list
from its highest-scoring end, scores every document it meets exactly, and stops as soon as no unread
posting can lift an unseen document to the k-th score, so a query's frequent words cost little.
Scores equal rank_bm25.BM25Okapi's (same k1, b, epsilon, idf floor, duplicate query terms counted twice,
same float operations in the same order) on the same tokenisation: tests/test_kb.py checks it.
Ties: equal scores are ordered by row, the passage's position in the corpus (first built, first listed).

Formats (--format; auto = by file extension, and for JSONL by the first record's keys):
  jsonl   {"id", "title", "text", "source"}, the project's own (clinic/kbtext.py writes it)
  medrag  {"id", "title", "content", "contents"}: MedRAG's chunked PubMed, StatPearls, textbooks, Wikipedia
  pubmed  PubMed baseline XML, .xml or .xml.gz: PubmedArticle records (PMID, ArticleTitle, AbstractText
          sections with their labels), streamed, so a 30 GB dump never has to fit in memory
  text    plain text (.txt), split into passages of at most --passage-words words at paragraph breaks

  python kb.py build OUT_DIR INPUT [INPUT ...] [--format F] [--passage-words N] [--source NAME]
  python kb.py search OUT_DIR query words
"""
import array
import collections
import functools
import gzip
import json
import math
import os
import re
import shutil
import sqlite3
import threading
import xml.etree.ElementTree as ET

import numpy as np
from tqdm import tqdm

from clinic import files

K1, B, EPSILON = 1.5, 0.75, 0.25          # rank_bm25.BM25Okapi defaults
VERSION = 4                               # of the index layout; an index of another version must be rebuilt
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an and are as at be by for from has in is it its of on or that the to was were with "
                      "this these those which who".split())
FORMATS = ("jsonl", "medrag", "pubmed", "text")
EXHAUSTIVE = 40_000                       # a query with at most this many postings in all is scored outright
SHORT_LIST = 2048                         # postings a query reads outright; longer lists are read by impact
FIRST_DEPTH = 256                         # first read of a long list; each later round doubles it
DENSE_SHARE = 1 / 8                       # terms in at least this share of passages also get a dense tf row


class KBError(files.InputError):
    pass


def tokenize(text):
    """Lower-case alphanumeric words minus a short stop list (the index and queries share it)."""
    return [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]


def bm25_idf(df, n_docs, epsilon=EPSILON):
    """rank_bm25's Okapi idf: log((N - df + .5) / (df + .5)), negatives floored at epsilon * mean idf. Summed
    in term-id order (first occurrence in the corpus, as rank_bm25 meets them) with math.log, so the floor is
    rank_bm25's to the last bit."""
    idf = [math.log(n_docs - d + 0.5) - math.log(d + 0.5) for d in df.tolist()]
    total = 0.0
    for v in idf:
        total += v
    floor = epsilon * (total / len(idf))
    return np.array([floor if v < 0 else v for v in idf])


def term_scores(idf, tf, dl, k1, b, avgdl):
    """One query term's BM25 contribution, written as rank_bm25 writes it (so the floats are the same)."""
    return idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)))


# ---------------------------------------------------------------- corpus formats
def detect_format(path):
    name = path.lower()
    if name.endswith((".xml", ".xml.gz")):
        return "pubmed"
    if name.endswith(".txt"):
        return "text"
    with _open_text(path) as f:
        first = next(files.iter_jsonl(path, lines=f), {})
    keys = set(first) if isinstance(first, dict) else set()
    if {"content", "contents"} & keys:
        return "medrag"
    if "text" in keys:
        return "jsonl"
    raise KBError(f"{path}: cannot tell its format from keys "
                  f"{sorted(keys)}; pass --format ({', '.join(FORMATS)})")


def _open_text(path):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def _files(inputs):
    """Every file named, directories expanded (sorted, hidden files skipped)."""
    for p in inputs:
        if os.path.isdir(p):
            for root, dirs, names in sorted(os.walk(p)):
                dirs.sort()
                yield from (os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
        else:
            yield p


def _default_source(path, fmt):
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    if fmt == "medrag":      # MedRAG keeps each corpus as <name>/chunk/*.jsonl
        if parent != "chunk":
            return parent
        return os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    return "pubmed" if fmt == "pubmed" else os.path.basename(path).split(".")[0]


def _records(path, needs):
    """The JSON objects of a JSONL corpus file (.gz too), each with one of the keys in each of `needs`; a
    line that is not one is a KBError naming the file and the line."""
    with _open_text(path) as f:
        for n, p in enumerate(files.iter_jsonl(path, lines=f), 1):
            if not isinstance(p, dict) or not all(set(p) & set(keys) for keys in needs):
                raise KBError(f"{path}: record {n} is not a passage (it "
                              f"needs {' and '.join(map('/'.join, needs))})")
            yield p


def read_jsonl(path, source=None):
    for p in _records(path, [("id",), ("text",)]):
        yield dict(id=str(p["id"]), title=p.get("title", ""), text=p["text"],
                   source=source or p.get("source", ""))


def read_medrag(path, source):
    for p in _records(path, [("id",), ("content", "contents")]):
        text = p.get("content")
        if text is None:        # only the concatenation: strip the title it starts with
            text = p["contents"][len(p.get("title", "")):].lstrip(". ")
        yield dict(id=str(p["id"]), title=p.get("title", ""), text=text, source=source)


def read_pubmed(path, source="pubmed"):
    """PubmedArticle records of a baseline/update file; each record is freed once read."""
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        root = None
        for event, elem in ET.iterparse(f, events=("start", "end")):
            if root is None:
                root = elem
            if event != "end" or elem.tag != "PubmedArticle":
                continue
            title = " ".join("".join(elem.find(".//ArticleTitle").itertext()).split()) \
                if elem.find(".//ArticleTitle") is not None else ""
            parts = []
            for a in elem.iterfind(".//Abstract/AbstractText"):
                body = " ".join("".join(a.itertext()).split())
                parts.append(f"{a.get('Label').capitalize()}: {body}" if a.get("Label") else body)
            pmid = elem.findtext(".//PMID")
            if pmid and (title or parts):
                yield dict(id=pmid, title=title, text=" ".join(parts) or title, source=source)
            root.clear()                # drop every record read so far


def _paragraphs(lines):
    para = []
    for line in lines:
        if line.strip():
            para += line.split()
        elif para:
            yield para
            para = []
    if para:
        yield para


def read_text(path, source, passage_words=200):
    """Paragraphs (blank-line separated) packed into passages of at most passage_words words; a paragraph
    longer than that is cut into passage_words-word pieces."""
    stem = os.path.basename(path).split(".")[0]
    n, buf = 0, []
    with _open_text(path) as f:
        for para in _paragraphs(f):
            if buf and len(buf) + len(para) > passage_words:
                yield dict(id=f"{stem}-{n:06d}", title=stem, text=" ".join(buf), source=source)
                n, buf = n + 1, []
            while len(para) > passage_words:
                text = " ".join(para[:passage_words])
                yield dict(id=f"{stem}-{n:06d}", title=stem, text=text, source=source)
                n, para = n + 1, para[passage_words:]
            buf += para
    if buf:
        yield dict(id=f"{stem}-{n:06d}", title=stem, text=" ".join(buf), source=source)


def read_passages(inputs, fmt="auto", source=None, passage_words=200):
    """Passages {id, title, text, source} from files or directories in one of FORMATS (auto: per file)."""
    for path in _files(inputs):
        f = detect_format(path) if fmt == "auto" else fmt
        if f not in FORMATS:
            raise KBError(f"unknown corpus format {f!r}; one of {', '.join(FORMATS)} or auto")
        src = source or (None if f == "jsonl" else _default_source(path, f))
        try:
            if f == "text":
                yield from read_text(path, src, passage_words)
            else:
                yield from {"jsonl": read_jsonl, "medrag": read_medrag, "pubmed": read_pubmed}[f](path, src)
        except (ET.ParseError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, files.DataError) as e:
            raise KBError(f"{path}: cannot read it as {f} ({' '.join(str(e).split())})") from None


# ---------------------------------------------------------------- index
def build(inputs, out_dir, fmt="auto", source=None, passage_words=200, k1=K1, b=B, epsilon=EPSILON,
          batch=20000):
    """Index one corpus (file, directory or list of them) into out_dir (arrays + passages.db + meta.json).
    Memory grows with the postings (a few bytes each), never with the raw text. The index is written into a
    temporary folder and renamed into place once whole, so a killed build never leaves a half-built out_dir;
    meta.json lists every other file's size and sha256 (KB and open_kb check them)."""
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    tmp = f"{os.path.normpath(out_dir)}.partial{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        meta = _build_into(tmp, inputs, fmt, source, passage_words, k1, b, epsilon, batch)
        files.replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _build_into(out_dir, inputs, fmt, source, passage_words, k1, b, epsilon, batch):
    db = sqlite3.connect(os.path.join(out_dir, "passages.db"))
    db.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, id TEXT, title TEXT, text TEXT, source TEXT)")
    vocab, sources = {}, {}
    terms, tfs, doc_len, doc_src = array.array("i"), array.array("H"), array.array("i"), array.array("H")
    doc_nterms = array.array("i")                   # distinct terms per document = its number of postings
    rows = []
    passages = read_passages(inputs, fmt, source, passage_words)
    for p in tqdm(passages, desc="indexing", unit="doc", mininterval=2):
        counts = collections.Counter(tokenize(p["title"] + " " + p["text"]))
        for w, c in counts.items():
            terms.append(vocab.setdefault(w, len(vocab)))
            tfs.append(min(c, 65535))
        doc_len.append(sum(counts.values()))
        doc_nterms.append(len(counts))
        if p["source"] not in sources and len(sources) == 65535:
            raise KBError("more than 65,535 distinct sources; pass --source to name one")
        doc_src.append(sources.setdefault(p["source"], len(sources)))
        rows.append((len(doc_len) - 1, p["id"], p["title"], p["text"], p["source"]))
        if len(rows) >= batch:
            db.executemany("INSERT INTO passages VALUES (?,?,?,?,?)", rows)
            rows = []
    if not doc_len:
        raise KBError(f"no passages found in {inputs}")
    db.executemany("INSERT INTO passages VALUES (?,?,?,?,?)", rows)
    db.execute("CREATE INDEX passage_id ON passages(id)")
    db.commit()
    db.close()
    lengths = np.frombuffer(doc_len, np.int32)
    meta = dict(version=VERSION, n_docs=len(lengths), avgdl=int(lengths.sum()) / len(lengths), k1=k1, b=b,
                epsilon=epsilon, sources=sorted(sources, key=sources.get),
                inputs=[os.path.abspath(p) for p in inputs])
    _write_arrays(out_dir, np.frombuffer(terms, np.int32), np.frombuffer(tfs, np.uint16), lengths,
                  np.frombuffer(doc_nterms, np.int32), len(vocab), meta)
    np.save(os.path.join(out_dir, "doc_source.npy"), np.frombuffer(doc_src, np.uint16))
    if len(inputs) == 1 and os.path.isfile(inputs[0]):
        meta["corpus_sha256"] = files.sha256(inputs[0])
    with open(os.path.join(out_dir, "vocab.json"), "w") as f:
        json.dump(sorted(vocab, key=vocab.get), f)
    meta["files"] = files.manifest(out_dir, files.folder_files(out_dir))
    with open(os.path.join(out_dir, "meta.json"), "w") as f:      # last: an index without it is incomplete
        json.dump(meta, f)
    return meta


def _write_arrays(out_dir, terms, tfs, doc_len, doc_nterms, n_terms, meta):
    """(term, tf) postings in document order -> CSR arrays by term, each term's postings by impact, and
    dense tf rows of the most frequent terms."""
    save = lambda name, a: np.save(os.path.join(out_dir, name + ".npy"), a)  # noqa: E731
    doc_ids = np.repeat(np.arange(len(doc_len), dtype=np.int32), doc_nterms)
    order = np.argsort(terms, kind="stable")          # stable: doc ids stay ascending within a term
    df = np.bincount(terms, minlength=n_terms)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    doc_ids, tfs, terms = doc_ids[order], tfs[order], terms[order]
    del order
    idf = bm25_idf(df.astype(np.float64), len(doc_len), meta["epsilon"])
    impact = term_scores(idf[terms], tfs.astype(np.float64), doc_len[doc_ids], meta["k1"], meta["b"],
                         meta["avgdl"])
    # within a term: highest impact first, then lowest doc id
    by_impact = np.lexsort((-impact, terms))
    del impact
    save("impact_order", (by_impact - indptr[terms]).astype(np.int32))   # offsets within the term's list
    del by_impact
    # the most frequent terms' tfs also as dense per-document rows: scoring a candidate against them is then
    # one array read instead of a binary search in a list that covers much of the corpus
    frequent = np.flatnonzero(df >= max(1, len(doc_len) * DENSE_SHARE))
    dense_row = np.full(n_terms, -1, np.int32)
    dense_row[frequent] = np.arange(len(frequent))
    wide = len(frequent) and max(int(tfs[indptr[t]:indptr[t + 1]].max()) for t in frequent) > 255
    dense = np.zeros((len(frequent), len(doc_len)), np.uint16 if wide else np.uint8)
    for j, t in enumerate(frequent):
        dense[j, doc_ids[indptr[t]:indptr[t + 1]]] = tfs[indptr[t]:indptr[t + 1]]
    save("dense_row", dense_row)
    save("dense_tf", dense)
    arrays = dict(indptr=indptr, doc_ids=doc_ids, tfs=tfs, doc_len=doc_len, idf=idf)
    for name, a in arrays.items():
        save(name, a)


class KB:
    """A built index, memory-mapped: search() returns the top-k passages by BM25."""

    def __init__(self, index_dir, key=None, hashes=False):
        """Open a built index; its files are checked against meta.json's manifest first (sizes, and with
        hashes=True their sha256 too: seconds per GB), so a damaged index is a KBError naming the file here,
        never an error inside a search."""
        problem = index_problem(index_dir, hashes)
        if problem:
            where = f"config key '{key}': " if key else ""
            raise KBError(f"{where}{problem}; rebuild it with `python kb.py build {index_dir} CORPUS...`")
        with open(os.path.join(index_dir, "meta.json")) as f:
            self.meta = json.load(f)
        with open(os.path.join(index_dir, "vocab.json")) as f:
            self.vocab = {w: i for i, w in enumerate(json.load(f))}
        # memory-mapped, seen as plain arrays (a memmap subclass costs microseconds on every slice)
        def load(name):
            return np.asarray(np.load(os.path.join(index_dir, name + ".npy"), mmap_mode="r"))
        self.indptr, self.doc_ids, self.tfs, self.order = load("indptr"), load("doc_ids"), load("tfs"), \
            load("impact_order")
        self.doc_len, self.idf, self.doc_source = load("doc_len"), load("idf"), load("doc_source")
        self.dense_row, self.dense_tf = load("dense_row"), load("dense_tf")
        self.db = sqlite3.connect(os.path.join(index_dir, "passages.db"), check_same_thread=False)
        self.n_docs = self.meta["n_docs"]
        self.k1, self.b, self.avgdl = self.meta["k1"], self.meta["b"], self.meta["avgdl"]
        self._acc = self._stamp = None          # query scratch (see _scratch), one query at a time
        self._clock, self._lock = 0, threading.Lock()

    def get_scores(self, query_tokens):
        """Dense BM25 scores of every document for a tokenised query (rank_bm25's get_scores)."""
        scores = np.zeros(self.n_docs)
        for t in self._terms(query_tokens):
            ids, contrib = self._postings(t)
            scores[ids] += contrib
        return scores

    def _terms(self, query_tokens):
        return [self.vocab[w] for w in query_tokens if w in self.vocab]

    def _postings(self, t):
        """Term t's doc ids and their BM25 contributions (the whole list)."""
        lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
        ids = self.doc_ids[lo:hi]
        return ids, term_scores(self.idf[t], self.tfs[lo:hi].astype(np.float64), self.doc_len[ids],
                                self.k1, self.b, self.avgdl)

    def scores_of(self, terms, rows):
        """Exact BM25 scores of some rows for query term ids in query order (duplicates kept)."""
        scores, dl = np.zeros(len(rows)), self.doc_len[rows]
        for t in terms:
            if self.dense_row[t] >= 0:
                tf = self.dense_tf[self.dense_row[t]][rows].astype(np.float64)
            else:
                lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
                ids = self.doc_ids[lo:hi]
                pos = np.minimum(np.searchsorted(ids, rows), hi - lo - 1)
                tf = np.where(ids[pos] == rows, self.tfs[lo:hi][pos], 0).astype(np.float64)
            scores += term_scores(self.idf[t], tf, dl, self.k1, self.b, self.avgdl)
        return scores

    def _impact(self, t, offset):
        """Term t's score in the posting `offset` places down its impact order (its best remaining one)."""
        lo = int(self.indptr[t])
        p = lo + int(self.order[lo + offset])
        return float(term_scores(self.idf[t], float(self.tfs[p]), float(self.doc_len[self.doc_ids[p]]),
                                 self.k1, self.b, self.avgdl))

    def _scratch(self):
        """Per-document work arrays kept between queries (allocating and faulting in N-sized arrays per query
        would cost more than the query): accumulated scores, all zero between queries, and the stamp of the
        query step that last saw each document."""
        if self._acc is None:
            self._acc, self._stamp = np.zeros(self.n_docs), np.zeros(self.n_docs, np.int64)
        return self._acc, self._stamp

    def _unseen(self, ids, since):
        """ids (with repeats) minus those stamped since `since`, each once; stamps them (no sort: a stamp
        array, so a query's candidates cost O(postings read))."""
        _, stamp = self._scratch()
        ids = ids[stamp[ids] < since]
        tags = self._clock + np.arange(1, len(ids) + 1)
        stamp[ids] = tags                                   # of repeats the last write wins ...
        self._clock += len(ids)
        return ids[stamp[ids] == tags]                      # ... and is the one kept

    def top_k(self, query_tokens, k=10, allowed=None):
        """Exact top-k (rows, scores) with score > 0, best first, ties by row; allowed: a row mask or None.
        Light queries (few postings in all) are scored outright. Otherwise a threshold algorithm: each round
        reads the next stretch of every posting list in impact order, scores the new documents exactly (all
        query terms), and stops once the sum over terms of the best unread impact (times the term's count in
        the query) is below the k-th score found: no unseen document can reach it. Short lists are read
        whole in the first round."""
        terms = self._terms(query_tokens)
        count = collections.Counter(terms)
        span = {t: (int(self.indptr[t]), int(self.indptr[t + 1]) - int(self.indptr[t])) for t in count}
        with self._lock:
            if sum(df for _, df in span.values()) <= EXHAUSTIVE:
                rows, scores = self._score_all(terms, allowed)
            else:
                rows, scores = self._threshold(terms, count, span, k, allowed)
        keep = scores > 0
        rows, scores = rows[keep], scores[keep]
        if len(rows) > k:                                    # a superset of the top k (ties at the k-th kept)
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            rows, scores = rows[scores >= kth], scores[scores >= kth]
        best = np.lexsort((rows, -scores))[:k]
        return rows[best], scores[best]

    def _score_all(self, terms, allowed):
        """Every posting of the query's terms added up in query order (rank_bm25's order) in the scratch;
        rows outside `allowed` score -inf."""
        acc, _ = self._scratch()
        seen = []
        for t in terms:
            ids, contrib = self._postings(t)
            acc[ids] += contrib
            seen.append(ids)
        rows = self._unseen(np.concatenate(seen).astype(np.int64), self._clock + 1) if seen else \
            np.zeros(0, np.int64)
        scores = acc[rows]
        acc[rows] = 0.0
        if allowed is not None:
            scores[~allowed[rows]] = -np.inf
        return rows, scores

    def _threshold(self, terms, count, span, k, allowed):
        """The rows read and their exact scores (-inf outside `allowed`, so the k-th score found is an allowed
        row's), until no unread posting can lift an unseen row into the top k."""
        since, depth = self._clock + 1, dict.fromkeys(count, 0)
        rows, scores, top = [], [], np.zeros(0)
        kth = 0.0
        while any(depth[t] < span[t][1] for t in count):
            new = []
            for t, (lo, df) in span.items():
                d = depth[t]
                depth[t] = df if df <= SHORT_LIST else min(df, max(FIRST_DEPTH, 2 * d))
                if depth[t] > d:
                    new.append(self.doc_ids[lo + self.order[lo + d:lo + depth[t]].astype(np.int64)])
            # sorted, for faster look-ups
            fresh = np.sort(self._unseen(np.concatenate(new).astype(np.int64), since))
            s = self.scores_of(terms, fresh)
            if allowed is not None:
                s[~allowed[fresh]] = -np.inf
            rows.append(fresh)
            scores.append(s)
            top = np.concatenate([top, s])
            # the k best scores so far; the k-th bounds the rest
            if len(top) >= k:
                top = np.partition(top, len(top) - k)[len(top) - k:]
                kth = float(top[0])
            bound = sum(max(0.0, n * self._impact(t, depth[t]))
                        for t, n in count.items() if depth[t] < span[t][1])
            if bound + 1e-9 * (1 + bound) < kth or bound <= 0:
                break                   # no unread posting can lift an unseen document into the top k
        return np.concatenate(rows), np.concatenate(scores)

    def search(self, query, k=5, sources=None):
        """Top-k passages for a text query, optionally restricted to some sources."""
        allowed = None
        if sources is not None:
            codes = [i for i, s in enumerate(self.meta["sources"]) if s in sources]
            allowed = np.isin(self.doc_source, codes)
        rows, scores = self.top_k(tokenize(query), k, allowed)
        return [dict(self._row(int(r)), score=float(s)) for r, s in zip(rows, scores)]

    def _row(self, row):
        r = self.db.execute("SELECT id, title, text, source FROM passages WHERE row = ?", (row,)).fetchone()
        return dict(zip(("id", "title", "text", "source"), r))

    def get(self, passage_id):
        query = "SELECT id, title, text, source FROM passages WHERE id = ?"
        r = self.db.execute(query, (passage_id,)).fetchone()
        if r is None:
            raise ValueError(f"no passage with id {passage_id!r}")
        return dict(zip(("id", "title", "text", "source"), r))


def index_problem(index_dir, hashes=True, corpus_sha256=None):
    """Why index_dir is not a whole index of this layout (missing, another version, a file missing or
    changed, built from another corpus), as text, or None."""
    try:
        with open(os.path.join(index_dir, "meta.json")) as f:
            meta = json.load(f)
    except FileNotFoundError:
        return f"no built index at {index_dir!r}"
    except (ValueError, UnicodeDecodeError):
        return f"{index_dir!r}/meta.json is damaged"
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        return (f"the index at {index_dir!r} was built by another version of kb.py (layout "
                f"{meta.get('version', 1) if isinstance(meta, dict) else '?'}, this is {VERSION})")
    if corpus_sha256 and meta.get("corpus_sha256") != corpus_sha256:
        return f"the index at {index_dir!r} was built from other passages"
    damage = files.verify(index_dir, meta["files"], hashes=hashes)
    return f"the index at {index_dir!r} is damaged: {damage}" if damage else None


@functools.lru_cache(maxsize=None)
def default_kb(index_dir=os.path.join(DATA, "kb_index"), corpus=os.path.join(DATA, "kb_passages.jsonl")):
    """The embedded KB, built on first use, and rebuilt when its passages or the layout changed or any of its
    files is damaged. Built once: under a lock, into a temporary folder renamed into place; processes that
    start together (torchrun's ranks, two jobs on one clone) wait for that build and then open it."""
    sha = files.sha256(corpus)
    if index_problem(index_dir, corpus_sha256=sha):
        with files.locked(os.path.normpath(index_dir) + ".lock"):
            if index_problem(index_dir, corpus_sha256=sha):      # not built by another process meanwhile
                build(corpus, index_dir, fmt="jsonl")
    return KB(index_dir)


@functools.lru_cache(maxsize=None)
def open_kb(index_dir, key="rollout.kb"):
    """The KB a config names (one per process, shared by every env): '' = the embedded KB. A missing index,
    one built by another version, or one whose files do not match their sha256 is a KBError naming the key."""
    return KB(index_dir, key, hashes=True) if index_dir else default_kb()


def main(argv):
    ap = files.ArgumentParser(prog="kb.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="index a corpus")
    b.add_argument("out_dir")
    b.add_argument("inputs", nargs="+", help="files or directories")
    b.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    b.add_argument("--source", default=None, help="source name of every passage (default: per format)")
    b.add_argument("--passage-words", type=files.whole_number(1), default=200, help="text format: words "
                                                                                    "per passage")
    s = sub.add_parser("search", help="top passages for a query")
    s.add_argument("index_dir")
    s.add_argument("query", nargs="+")
    s.add_argument("-k", type=files.whole_number(1), default=5)
    v = sub.add_parser("verify", help="check every file of an index against its sha256 (as open_kb does)")
    v.add_argument("index_dir")
    a = ap.parse_args(argv)
    if a.cmd == "build":
        meta = build(a.inputs, a.out_dir, a.format, a.source, a.passage_words)
        print(json.dumps({k: v for k, v in meta.items() if k != "files"}))
    elif a.cmd == "verify":
        print(f"{a.index_dir}: {len(KB(a.index_dir, hashes=True).meta['files'])} files match")
    else:
        for hit in KB(a.index_dir).search(" ".join(a.query), k=a.k):
            print(f"{hit['score']:.3f}  {hit['id']}  {hit['title']}")


if __name__ == "__main__":
    files.run_cli(main)

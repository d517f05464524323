"""kb.py vs rank_bm25 on a synthetic corpus in MedRAG JSONL and PubMed XML: build, queries, memory.

  python benchmarks/bench_kb.py [--docs 1000000] [--queries 200] [--rank-queries 10]

Writes one corpus of Zipf-distributed words (~60 a passage, like short abstracts) twice, with the same
tokens: as MedRAG chunk JSONL and as a gzipped PubMed baseline XML file. Two query sets: 3-5
mid-frequency terms (ranks 50-5,000), and 3-5 words drawn from the corpus's own word distribution (as
users write queries: frequent words whose postings cover much of the corpus). Each system runs in its own
subprocess, so each peak RSS (ru_maxrss) is its own: kb.py builds each format, then a fresh process
memory-maps the index and answers every query (top 10, passages fetched from SQLite); rank_bm25.BM25Okapi
over the same tokens answers the first --rank-queries of each set (each takes seconds at this size), and
its top-10 (scores, ties by row) must equal kb.py's. Results: benchmarks/results/kb_<docs>.json.
"""
import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def zipf_words(seed, vocab_size=60000):
    rng = np.random.default_rng(seed)
    syll = ["ka", "ro", "mi", "te", "lu", "sa", "ne", "po", "di", "va", "zo", "re", "chi", "mo", "pa", "li"]
    vocab = ["".join(rng.choice(syll, size=rng.integers(2, 5))) + str(i % 7) for i in range(vocab_size)]
    p = 1 / np.arange(1, vocab_size + 1) ** 1.05
    return rng, vocab, p / p.sum()


def make_corpus(tmp, n_docs, seed=0, words_per_doc=60):
    """Write corpus.medrag.jsonl and corpus.xml.gz (same passages); return both query sets."""
    rng, vocab, p = zipf_words(seed)
    medrag = open(os.path.join(tmp, "corpus.medrag.jsonl"), "w")
    xml = gzip.open(os.path.join(tmp, "corpus.xml.gz"), "wt", compresslevel=1)
    xml.write('<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n')
    for start in range(0, n_docs, 10000):
        n = min(10000, n_docs - start)
        lens = rng.integers(words_per_doc // 2, words_per_doc * 3 // 2, size=n)
        words = rng.choice(len(vocab), size=int(lens.sum()), p=p)
        pos = 0
        for j, L in enumerate(lens):
            text, title = " ".join(vocab[w] for w in words[pos:pos + L]), vocab[words[pos + L - 1]]
            pos += L
            medrag.write(json.dumps({"id": f"syn_{start + j}", "title": title, "content": text,
                                     "contents": f"{title}. {text}"}) + "\n")
            xml.write(f"<PubmedArticle><MedlineCitation><PMID>{start + j + 1}</PMID><Article><ArticleTitle>"
                      f"{escape(title)}</ArticleTitle><Abstract><AbstractText>{escape(text)}</AbstractText>"
                      f"</Abstract></Article></MedlineCitation></PubmedArticle>\n")
    xml.write("</PubmedArticleSet>\n")
    medrag.close()
    xml.close()
    mid = [[vocab[w] for w in rng.integers(50, 5000, size=rng.integers(3, 6))] for _ in range(1000)]
    corpus = [[vocab[w] for w in rng.choice(len(vocab), size=rng.integers(3, 6), p=p)] for _ in range(1000)]
    return {"mid-frequency": mid, "corpus-distributed": corpus}


def child(mode, path, index_dir, queries_path, n_rank):
    import kb
    queries = json.load(open(queries_path))
    out = {}
    if mode == "build":
        t = time.perf_counter()
        meta = kb.build(path, index_dir)
        out.update(build_s=time.perf_counter() - t, n_docs=meta["n_docs"])
    elif mode == "query":
        t = time.perf_counter()
        index = kb.KB(index_dir)
        out["load_s"] = time.perf_counter() - t
        for name, qs in queries.items():
            lat = []
            for q in qs:
                t = time.perf_counter()
                index.search(" ".join(q), k=10)
                lat.append(time.perf_counter() - t)
            top = [index.top_k(kb.tokenize(" ".join(q)), 10) for q in qs[:n_rank]]
            out[name] = {"p50_ms": 1000 * float(np.median(lat)), "p95_ms": 1000 * float(np.percentile(lat, 95)),
                         "top10": [[r.tolist(), s.tolist()] for r, s in top]}
    elif mode == "rank_bm25":
        from rank_bm25 import BM25Okapi
        t = time.perf_counter()
        with open(path) as f:
            docs = [kb.tokenize(p["title"] + " " + p["content"]) for p in map(json.loads, f)]
        bm = BM25Okapi(docs)
        out["build_s"] = time.perf_counter() - t
        for name, qs in queries.items():
            lat, top = [], []
            for q in qs[:n_rank]:
                t = time.perf_counter()
                s = bm.get_scores(kb.tokenize(" ".join(q)))
                best = np.lexsort((np.arange(len(s)), -s))[:10]       # kb.py's tie rule: by row
                lat.append(time.perf_counter() - t)
                best = best[s[best] > 0]
                top.append([best.tolist(), s[best].tolist()])
            out[name] = {"p50_ms": 1000 * float(np.median(lat)), "p95_ms": 1000 * float(np.percentile(lat, 95)),
                         "top10": top}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run(mode, *args):
    r = subprocess.run([sys.executable, __file__, "--child", mode, *map(str, args)], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{mode} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(res):
    lines = ["| system | corpus | build (s) | build peak RSS (MB) | serving RSS (MB) | mid-freq p50 / p95 (ms) | "
             "corpus-dist. p50 / p95 (ms) |", "|---|---|---|---|---|---|---|"]
    for fmt in ("medrag", "pubmed"):
        b, q = res[fmt]["build"], res[fmt]["query"]
        lines.append(f"| kb.py | {fmt} | {b['build_s']:.0f} | {b['peak_rss_mb']:.0f} | {q['peak_rss_mb']:.0f} | "
                     f"{q['mid-frequency']['p50_ms']:.2f} / {q['mid-frequency']['p95_ms']:.2f} | "
                     f"{q['corpus-distributed']['p50_ms']:.2f} / {q['corpus-distributed']['p95_ms']:.2f} |")
    r = res["rank_bm25"]
    lines.append(f"| rank_bm25 | medrag tokens | {r['build_s']:.0f} | {r['peak_rss_mb']:.0f} | - | "
                 f"{r['mid-frequency']['p50_ms']:.0f} / {r['mid-frequency']['p95_ms']:.0f} | "
                 f"{r['corpus-distributed']['p50_ms']:.0f} / {r['corpus-distributed']['p95_ms']:.0f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200, help="per query set")
    ap.add_argument("--rank-queries", type=int, default=10, help="per query set, also checked against kb.py")
    ap.add_argument("--child", nargs=5)
    a = ap.parse_args()
    if a.child:
        mode, path, index_dir, qpath, n_rank = a.child
        return child(mode, path, index_dir, qpath, int(n_rank))
    tmp = tempfile.mkdtemp(prefix="kbbench-")
    qpath = os.path.join(tmp, "queries.json")
    t = time.perf_counter()
    queries = make_corpus(tmp, a.docs)
    json.dump({k: v[:a.queries] for k, v in queries.items()}, open(qpath, "w"))
    files = {"medrag": os.path.join(tmp, "corpus.medrag.jsonl"), "pubmed": os.path.join(tmp, "corpus.xml.gz")}
    print(f"corpus: {a.docs} passages, {os.path.getsize(files['medrag']) / 1e6:.0f} MB JSONL, "
          f"{os.path.getsize(files['pubmed']) / 1e6:.0f} MB XML.gz, {time.perf_counter() - t:.0f} s", flush=True)
    res = {"docs": a.docs}
    for fmt, path in files.items():
        index_dir = os.path.join(tmp, "index_" + fmt)
        res[fmt] = {"build": run("build", path, index_dir, qpath, a.rank_queries)}
        res[fmt]["query"] = run("query", path, index_dir, qpath, a.rank_queries)
        print(fmt, json.dumps({k: v for k, v in res[fmt]["build"].items()}), flush=True)
    res["rank_bm25"] = run("rank_bm25", files["medrag"], "-", qpath, a.rank_queries)
    for name in queries:
        ref = res["rank_bm25"][name]["top10"]
        for fmt in files:
            got = res[fmt]["query"][name]["top10"]
            res[fmt]["query"][name]["same_top10_as_rank_bm25"] = all(
                g[0] == r[0] and np.allclose(g[1], r[1], rtol=1e-12, atol=0) for g, r in zip(got, ref))
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", f"kb_{a.docs}.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(table(res))
    print("same top-10 as rank_bm25:", {f"{fmt}/{n}": res[fmt]["query"][n]["same_top10_as_rank_bm25"]
                                        for fmt in files for n in queries})


if __name__ == "__main__":
    main()

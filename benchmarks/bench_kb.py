"""kb.py vs rank_bm25 on a synthetic 828K-passage corpus: build time, query latency, peak memory.

  python benchmarks/bench_kb.py [--docs 828000] [--queries 50]

Writes a JSONL corpus (Zipf-distributed vocabulary, ~60 words a passage, like short
abstracts) to a temp dir, then runs each system in its own subprocess so each peak
RSS (ru_maxrss) is its own. kb.py: build, then a fresh process that memory-maps the
index and answers all queries. rank_bm25: BM25Okapi over the same tokenisation,
timed on the first --rank-queries queries (each takes seconds at this size).
Results go to benchmarks/results/kb_<docs>.json.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_corpus(path, n_docs, seed=0, vocab_size=60000, words_per_doc=60):
    rng = np.random.default_rng(seed)
    syll = ["ka", "ro", "mi", "te", "lu", "sa", "ne", "po", "di", "va", "zo", "re", "chi", "mo", "pa", "li"]
    vocab = ["".join(rng.choice(syll, size=rng.integers(2, 5))) + str(i % 7) for i in range(vocab_size)]
    ranks = np.arange(1, vocab_size + 1)
    p = 1 / ranks ** 1.05
    p /= p.sum()
    with open(path, "w") as f:
        for start in range(0, n_docs, 10000):
            n = min(10000, n_docs - start)
            lens = rng.integers(words_per_doc // 2, words_per_doc * 3 // 2, size=n)
            words = rng.choice(vocab_size, size=int(lens.sum()), p=p)
            pos = 0
            for j, L in enumerate(lens):
                text = " ".join(vocab[w] for w in words[pos:pos + L])
                pos += L
                f.write(json.dumps({"id": f"syn-{start + j}", "title": vocab[words[pos - 1]], "text": text,
                                    "source": "synthetic"}) + "\n")
    # queries: 3-5 mid-frequency terms
    return [[vocab[w] for w in rng.integers(50, 5000, size=rng.integers(3, 6))] for _ in range(200)], vocab


def child(mode, corpus, index_dir, queries_path, n_rank_queries):
    import kb
    queries = json.load(open(queries_path))
    out = {}
    if mode == "build":
        t = time.perf_counter()
        kb.build(corpus, index_dir)
        out["build_s"] = time.perf_counter() - t
    elif mode == "query":
        t = time.perf_counter()
        index = kb.KB(index_dir)
        out["load_s"] = time.perf_counter() - t
        lat = []
        for q in queries:
            t = time.perf_counter()
            index.search(" ".join(q), k=10)
            lat.append(time.perf_counter() - t)
        out["median_query_ms"] = 1000 * float(np.median(lat))
        out["p95_query_ms"] = 1000 * float(np.percentile(lat, 95))
        out["scores_for_check"] = index.get_scores(queries[0]).tolist()[:2000]
    elif mode == "rank_bm25":
        from rank_bm25 import BM25Okapi
        t = time.perf_counter()
        docs = []
        with open(corpus) as f:
            for line in f:
                p = json.loads(line)
                docs.append(kb.tokenize(p["title"] + " " + p["text"]))
        bm = BM25Okapi(docs)
        out["build_s"] = time.perf_counter() - t
        lat = []
        for q in queries[:n_rank_queries]:
            t = time.perf_counter()
            s = bm.get_scores(q)
            np.argsort(s)[::-1][:10]
            lat.append(time.perf_counter() - t)
        out["median_query_ms"] = 1000 * float(np.median(lat))
        out["scores_for_check"] = bm.get_scores(queries[0]).tolist()[:2000]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run(mode, *args):
    r = subprocess.run([sys.executable, __file__, "--child", mode, *map(str, args)], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{mode} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=828_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--rank-queries", type=int, default=10)
    ap.add_argument("--child", nargs=5)
    a = ap.parse_args()
    if a.child:
        mode, corpus, index_dir, qpath, nrq = a.child
        return child(mode, corpus, index_dir, qpath, int(nrq))
    tmp = tempfile.mkdtemp(prefix="kbbench-")
    corpus, index_dir, qpath = (os.path.join(tmp, x) for x in ("corpus.jsonl", "index", "queries.json"))
    t = time.perf_counter()
    queries, _ = make_corpus(corpus, a.docs)
    json.dump(queries[:a.queries], open(qpath, "w"))
    print(f"corpus: {a.docs} passages, {os.path.getsize(corpus) / 1e6:.0f} MB, {time.perf_counter() - t:.0f} s")
    build = run("build", corpus, index_dir, qpath, a.rank_queries)
    query = run("query", corpus, index_dir, qpath, a.rank_queries)
    rank = run("rank_bm25", corpus, index_dir, qpath, a.rank_queries)
    same = np.allclose(query.pop("scores_for_check"), rank.pop("scores_for_check"), rtol=1e-9, atol=1e-9)
    res = {"docs": a.docs, "kb_build": build, "kb_query": query, "rank_bm25": rank, "scores_equal": bool(same),
           "speedup": rank["median_query_ms"] / query["median_query_ms"]}
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", f"kb_{a.docs}.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"| system | build (s) | median query (ms) | peak RSS (MB) |\n|---|---|---|---|\n"
          f"| kb.py | {build['build_s']:.0f} | {query['median_query_ms']:.1f} | {query['peak_rss_mb']:.0f} "
          f"(build {build['peak_rss_mb']:.0f}) |\n"
          f"| rank_bm25 | {rank['build_s']:.0f} | {rank['median_query_ms']:.0f} | {rank['peak_rss_mb']:.0f} |\n"
          f"speed-up {res['speedup']:.0f}x, scores equal: {same}")


if __name__ == "__main__":
    main()

"""Benchmark the embedded knowledge engine at 1k, 10k and 100k chunks.

The corpus is the real articles in ``../shared/data/kb``, chunked as ingest
does, then copied (each copy with its own ids and one distinct word per chunk)
until it reaches the target size. Queries are the retrieval-test questions.

    .venv/bin/python bench/search.py                 # the shipped engine (tantivy)
    .venv/bin/python bench/search.py --compare       # also bm25s, the rejected one
    .venv/bin/python bench/search.py --sizes 1000 10000

For each size it prints the index build time, the time to update one changed
article (the incremental path), and median / p99 query latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.knowledge.analysis import analyze  # noqa: E402
from tools.knowledge.base import SourceDocument  # noqa: E402
from tools.knowledge.chunking import parse_document  # noqa: E402
from tools.knowledge.embedded import EmbeddedKnowledge  # noqa: E402
from tools.knowledge.ingest import load_documents  # noqa: E402

KB = ROOT.parent / "shared" / "data" / "kb"
QUESTIONS = ROOT / "tests" / "data" / "retrieval_questions.yaml"


def load_corpus(target: int) -> list[SourceDocument]:
    """The real articles, copied until they hold ``target`` chunks."""
    base = load_documents(KB, collection="bench")
    out: list[SourceDocument] = []
    total, copy = 0, 0
    while total < target:
        for doc in base:
            doc_id = f"copy{copy}/{doc.doc_id}"
            chunks = [
                replace(
                    c,
                    chunk_id=f"{doc_id}#{i}",
                    doc_id=doc_id,
                    text=f"{c.text} v{copy}x",
                )
                for i, c in enumerate(doc.chunks)
            ][: target - total]
            out.append(replace(doc, doc_id=doc_id, chunks=chunks))
            total += len(chunks)
            if total >= target:
                break
        copy += 1
    return out


def load_queries() -> list[str]:
    items = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return [item["question"] for item in items]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def time_queries(search, queries: list[str], rounds: int) -> tuple[float, float]:
    for q in queries:  # warm caches
        search(q)
    samples = []
    for _ in range(rounds):
        for q in queries:
            started = time.perf_counter()
            search(q)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 99)


def bench_tantivy(docs: list[SourceDocument], queries: list[str], rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        engine = EmbeddedKnowledge(Path(folder) / "kb")
        started = time.perf_counter()
        for i in range(0, len(docs), 1000):
            asyncio.run(engine.areplace_documents(docs[i : i + 1000]))
        build = time.perf_counter() - started

        changed = docs[len(docs) // 2]
        edited = replace(
            changed,
            content_hash="changed",
            chunks=[replace(c, text=c.text + " edited") for c in changed.chunks],
        )
        started = time.perf_counter()
        asyncio.run(engine.areplace_documents([edited]))
        update = time.perf_counter() - started

        median, p99 = time_queries(lambda q: engine.search(q, top=5), queries, rounds)
        assert engine.count() == sum(len(d.chunks) for d in docs)
    return {"build_s": build, "update_s": update, "median_ms": median, "p99_ms": p99}


def bench_bm25s(docs: list[SourceDocument], queries: list[str], rounds: int) -> dict:
    """bm25s over the same analysed terms; an update is a full rebuild."""
    import bm25s

    chunks = [c for d in docs for c in d.chunks]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        # Title repeated twice stands in for the title boost bm25s lacks.
        tokens = [analyze(f"{c.title} {c.title} {c.section} {c.text}") for c in chunks]
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        retriever.save(folder)
        build = time.perf_counter() - started

        # Incremental = content-hash detection + rebuild from stored terms.
        started = time.perf_counter()
        tokens[len(tokens) // 2] = analyze(chunks[len(chunks) // 2].text + " edited")
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        retriever.save(folder)
        update = time.perf_counter() - started

        def search(query: str) -> None:
            terms = [t for t in analyze(query) if t in retriever.vocab_dict]
            if terms:
                retriever.retrieve([terms], k=5, show_progress=False, n_threads=1)

        median, p99 = time_queries(search, queries, rounds)
    return {"build_s": build, "update_s": update, "median_ms": median, "p99_ms": p99}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.search``: latency and update cost at each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--compare", action="store_true", help="also measure bm25s (rejected)"
    )
    args, _ = parser.parse_known_args(argv)  # one argv serves every bench
    if not KB.is_dir():
        print(f"needs the shared articles at {KB}", file=sys.stderr)
        return 2

    queries = load_queries()
    parse_document("warm up", "x.txt")
    engines = [("tantivy", bench_tantivy)]
    if args.compare:
        engines.append(("bm25s", bench_bm25s))
    print(f"{len(queries)} queries x {args.rounds} rounds, top 5")
    print(f"{'engine':8} {'chunks':>7} {'build s':>8} {'update s':>9} "
          f"{'median ms':>10} {'p99 ms':>7}")  # fmt: skip
    for size in args.sizes:
        docs = load_corpus(size)
        for name, run in engines:
            r = run(docs, queries, args.rounds)
            print(
                f"{name:8} {size:>7} {r['build_s']:>8.2f} {r['update_s']:>9.3f} "
                f"{r['median_ms']:>10.3f} {r['p99_ms']:>7.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

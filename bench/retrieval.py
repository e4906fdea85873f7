"""Retrieval at scale: ingest rate, index size and filtered hybrid query latency at 1k, 10k and 100k products.

**Data: synthetic, for load only.** The catalog has 888 real products. The first BASE_PRODUCTS (200)
are embedded once (cached under AISLE_HOME/bench; each run times the embedder on EMBED_SAMPLE (256)
of their passages: `aisle ingest` can go no faster than that), and a tier
of N products clones them round-robin under new ids ("SYN0000001", ...). A synthetic product carries
every passage of the real product it clones (12.6 on average, so 100k products are about 1.26M
points), with the dense vectors jittered (Gaussian noise, sigma 0.02, renormalised) and the BM25
vectors reused, and simulated store fields in its payload (price log-uniform $5-$500, rating 1.0-5.0,
90% in stock; seeded). Reusing vectors makes the benchmark measure the index, not the embedder.

**Queries:** the first QUERIES (200) real ePQA questions as precomputed query vectors, hybrid mode
(dense + BM25, RRF-fused), top 10, in two shapes: *one product* (a random product's evidence passages, as the
retrieve stage and the ePQA evaluation ask) and *catalog filter* (all passages of one category,
price within a third of a random product's price, rating >= 4, in stock: the index's own store-field
filters, evaluated over the whole collection; the table gives how many rows matched, on average).

**Engine.** Every tier is written through PassageIndex in embedded mode: one Qdrant Edge shard
(pipeline/retrieval/edge.py; Qdrant's Rust engine in this process, with a payload index per filter
field), in batches of BATCH (512) points with the vectors given, then `optimize()` (merged segments
and HNSW, as `aisle ingest` does after writing). Searches go through PassageIndex.search_vectors,
as the retrieve stage's do (the hop to the Qdrant thread, Qdrant's filtered dense and BM25 queries in
one batch, RRF fusion here). Then the index is closed and opened again, as a restarted retrieve
worker would, and the first search after opening is timed (*reopen*). A Qdrant server (QDRANT_URL)
gets the same requests; no server binary can be installed on this machine, so that path is not
measured.

Columns: *write pts/s* is index writes per second (points, vectors given); *optimize s* the
`optimize()` call; *ingest docs/s* points / (write + optimize); *disk MB* the shard's folder after
optimize, as allocated on disk (`du`; the files' apparent size, `disk_apparent_mb` in the JSON, is larger:
the engine preallocates and mmaps sparse files); *RSS* the benchmark process's peak resident memory so far; *reopen s* opening the shard
again plus its first search; *load* the 1-minute load average before and after the tier (2 shared
cores). Tiers can be picked for a quick run: `python -m bench.retrieval 1000 10000` prints the
numbers without writing the report; `python -m bench retrieval` runs all three and writes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import random
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.index import PassageIndex, SearchFilter, index_location
from pipeline.retrieval.indexing import catalog_passages, catalog_products
from pipeline.stats import percentile
from pipeline.retrieval.passages import EVIDENCE_KINDS, Passage, point_id

TIERS = (1_000, 10_000, 100_000)
BASE_PRODUCTS = 200
QUERIES = 200
BATCH = 512
LIMIT = 10
EMBED_SAMPLE = 256
_JITTER = 0.02
_EPQA = Path("eval") / "epqa_visible.jsonl"
_EVAL_REPORT = Path(__file__).resolve().parent.parent / "docs" / "eval" / "retrieval.json"
TARGETS = [
    ("filtered hybrid query p99 at 100k products, one product (ms)", "tiers.100000.one_product.p99_ms", "<=", 25.0),
    ("filtered hybrid query p99 at 100k products, catalog filter (ms)", "tiers.100000.catalog_filter.p99_ms",
     "<=", 25.0),
]

Query = tuple[list[float], SparseVector]


@dataclasses.dataclass(frozen=True)
class _Base:
    passages: list[Passage]
    dense: np.ndarray
    sparse: list[SparseVector]
    embed_docs_per_s: float

    def rows_of(self) -> list[list[int]]:
        """Passage rows per base product, in catalog order."""
        by_product: dict[str, list[int]] = {}
        for i, passage in enumerate(self.passages):
            by_product.setdefault(passage.product_id, []).append(i)
        return list(by_product.values())


@dataclasses.dataclass(frozen=True)
class _Tier:
    """N synthetic products: which base product each clones, and its simulated store fields."""

    products: int
    base_rows: list[list[int]]
    price_cents: np.ndarray
    rating: np.ndarray
    in_stock: np.ndarray

    @classmethod
    def make(cls, products: int, base: _Base) -> _Tier:
        rng = np.random.default_rng(products)
        return cls(products, base.rows_of(),
                   np.exp(rng.uniform(math.log(500), math.log(50_000), products)).astype(np.int64),
                   np.round(rng.uniform(1.0, 5.0, products), 1), rng.random(products) < 0.9)

    def product_id(self, n: int) -> str:
        return f"SYN{n:07d}"

    def rows(self, n: int) -> list[int]:
        return self.base_rows[n % len(self.base_rows)]

    @property
    def points(self) -> int:
        per_base = [len(r) for r in self.base_rows]
        full, rest = divmod(self.products, len(per_base))
        return full * sum(per_base) + sum(per_base[:rest])

    def batches(self, base: _Base, seed: int) -> Iterator[tuple[list[Passage], np.ndarray, list[SparseVector]]]:
        """Cloned passages in batches of about BATCH, with jittered dense vectors."""
        rng = np.random.default_rng(seed)
        batch: list[Passage] = []
        rows: list[int] = []
        for n in range(self.products):
            pid = self.product_id(n)
            store = {"price_cents": int(self.price_cents[n]), "rating": float(self.rating[n]),
                     "in_stock": bool(self.in_stock[n]), "synthetic": True}
            for row in self.rows(n):
                source = base.passages[row]
                payload = {**source.payload, **store, "product_id": pid}
                batch.append(Passage(point_id(source.kind, pid, source.text), source.kind, pid, source.text, payload))
                rows.append(row)
            if len(batch) >= BATCH or n == self.products - 1:
                dense = base.dense[rows] + rng.normal(0.0, _JITTER, (len(rows), base.dense.shape[1])).astype(np.float32)
                dense /= np.linalg.norm(dense, axis=1, keepdims=True)
                yield batch, dense, [base.sparse[r] for r in rows]
                batch, rows = [], []


def _base(settings: Settings, embedder: Embedder) -> _Base:
    """The real passages of the first BASE_PRODUCTS products and their vectors (cached on disk), and the
    embedder's rate on EMBED_SAMPLE of them, measured on every run."""
    passages = list(catalog_passages(catalog_products(settings, BASE_PRODUCTS)))
    texts = [p.text for p in passages]
    embedder.dense(texts[:8])  # load the models outside the timing
    started = time.perf_counter()
    embedder.dense(texts[:EMBED_SAMPLE])
    embedder.sparse_documents(texts[:EMBED_SAMPLE])
    rate = min(EMBED_SAMPLE, len(texts)) / (time.perf_counter() - started)
    cache = settings.home / "bench" / f"retrieval_base_{BASE_PRODUCTS}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        if int(data["count"]) == len(passages):
            sparse = json.loads(str(data["sparse"]))
            return _Base(passages, data["dense"], [SparseVector(tuple(i), tuple(v)) for i, v in sparse], rate)
    dense = np.asarray(embedder.dense(texts), dtype=np.float32)
    sparse_vectors = embedder.sparse_documents(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, count=len(passages), dense=dense,
             sparse=json.dumps([[list(s.indices), list(s.values)] for s in sparse_vectors]))
    return _Base(passages, dense, sparse_vectors, rate)


def _filters(tier: _Tier, base: _Base, count: int) -> dict[str, list[SearchFilter]]:
    pick = random.Random(tier.products)
    one_product, catalog = [], []
    for _ in range(count):
        n = pick.randrange(tier.products)
        one_product.append(SearchFilter(product_ids=(tier.product_id(n),), kinds=EVIDENCE_KINDS))
        m = pick.randrange(tier.products)
        category = str(base.passages[tier.rows(m)[0]].payload.get("category", ""))
        price = int(tier.price_cents[m])
        catalog.append(SearchFilter(categories=(category,), min_price_cents=price * 2 // 3,
                                    max_price_cents=price * 4 // 3, min_rating=4.0, in_stock_only=True))
    return {"one_product": one_product, "catalog_filter": catalog}


def _latency(times_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(times_ms, 50), 2), "p99_ms": round(percentile(times_ms, 99), 2)}


async def _timed_searches(index: PassageIndex, queries: list[Query], filters: list[SearchFilter]) -> dict[str, Any]:
    for (dense, sparse), where in zip(queries[:3], filters[:3]):  # warm caches
        await index.search_vectors(dense, sparse, mode="hybrid", where=where, limit=LIMIT)
    times: list[float] = []
    empty = 0
    for (dense, sparse), where in zip(queries, filters):
        started = time.perf_counter()
        found = await index.search_vectors(dense, sparse, mode="hybrid", where=where, limit=LIMIT)
        times.append((time.perf_counter() - started) * 1000)
        empty += not found.hits
    matched = [await index.count(where) for where in filters]
    return {**_latency(times), "empty": empty, "rows_matched_mean": round(sum(matched) / len(matched), 1)}


async def _index_tier(settings: Settings, embedder: Embedder, base: _Base, tier: _Tier, queries: list[Query],
                      progress: Progress) -> dict[str, Any]:
    """Write the tier through PassageIndex (embedded: a Qdrant Edge shard), optimize, search, reopen."""
    collection = f"bench_{tier.products}"
    index = PassageIndex.open(settings, embedder, collection=collection)
    task = progress.add_task(f"{tier.products:>7,} products: write", total=tier.points)
    written = 0
    try:
        await index.ensure_collection()
        started = time.perf_counter()
        for batch, dense, sparse in tier.batches(base, seed=tier.products):
            await index.write_vectors(batch, dense.tolist(), sparse)
            written += len(batch)
            progress.update(task, completed=written)
        write_s = time.perf_counter() - started
        progress.update(task, description=f"{tier.products:>7,} products: optimize (HNSW)", total=None)
        started = time.perf_counter()
        await index.optimize()
        optimize_s = time.perf_counter() - started
        shard = Path(index_location(settings, collection))
        progress.update(task, description=f"{tier.products:>7,} products: search", completed=0, total=None)
        result: dict[str, Any] = {
            "engine": "PassageIndex: embedded Qdrant Edge",
            "points": written,
            "write_s": round(write_s, 1),
            "write_docs_per_s": round(written / write_s, 1),
            "optimize_s": round(optimize_s, 1),
            "ingest_docs_per_s": round(written / (write_s + optimize_s), 1),
            "disk_mb": round(_dir_bytes(shard) / 1e6, 1),
            "disk_apparent_mb": round(_dir_bytes(shard, apparent=True) / 1e6, 1),
        }
        for shape, filters in _filters(tier, base, len(queries)).items():
            result[shape] = await _timed_searches(index, queries, filters)
    finally:
        index.close()
        progress.remove_task(task)
    started = time.perf_counter()
    reopened = PassageIndex.open(settings, embedder, collection=collection)
    try:
        (dense_q, sparse_q), where = queries[0], _filters(tier, base, 1)["one_product"][0]
        await reopened.search_vectors(dense_q, sparse_q, mode="hybrid", where=where, limit=LIMIT)
        result["reopen_s"] = round(time.perf_counter() - started, 2)
    finally:
        reopened.close()
    return result


async def _run(settings: Settings, tiers_wanted: tuple[int, ...]) -> dict[str, Any]:
    embedder = Embedder(settings.home / "models")
    console = Console(stderr=True)
    try:
        base = _base(settings, embedder)
        lines = (settings.shared_data / _EPQA).read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["question"] for line in lines[:QUERIES]]
        queries: list[Query] = list(zip(embedder.dense(texts), [embedder.sparse_query(t) for t in texts]))
    finally:
        embedder.close()
    tiers: dict[str, Any] = {}
    columns = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=console)
    with columns as progress:
        for products in tiers_wanted:
            tier = _Tier.make(products, base)
            load_before = round(os.getloadavg()[0], 2)
            home = settings.home / "bench" / f"tier_{products}"
            shutil.rmtree(home, ignore_errors=True)
            try:
                record = await _index_tier(dataclasses.replace(settings, home=home, qdrant_url=None), embedder,
                                           base, tier, queries, progress)
            finally:
                shutil.rmtree(home, ignore_errors=True)
            tiers[str(products)] = {"products": products, **record, "rss_peak_mb": _peak_rss_mb(),
                                    "load_1m": [load_before, round(os.getloadavg()[0], 2)]}
            console.print(f"{products:,} products: {json.dumps(tiers[str(products)])}")
    return {
        "data": f"synthetic clones of {BASE_PRODUCTS} real products ({len(base.passages):,} passages); "
                "vectors reused (dense jittered), store fields simulated",
        "embed_docs_per_s": round(base.embed_docs_per_s, 1),
        "queries_per_shape": len(queries),
        "tiers": tiers,
    }


def _dir_bytes(path: Path, apparent: bool = False) -> int:
    """Bytes allocated on disk (as `du`), or the files' apparent sizes, which count preallocated holes."""
    files = [f.stat() for f in path.rglob("*") if f.is_file()]
    return sum(st.st_size for st in files) if apparent else sum(st.st_blocks * 512 for st in files)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)  # Linux reports KiB


def run(tiers: tuple[int, ...] = TIERS) -> dict[str, Any]:
    """Run the tiers (all three by default); see the module docstring. Returns the numbers as a dict."""
    return asyncio.run(_run(Settings.from_env(), tiers))


def markdown(results: dict[str, Any]) -> str:
    """The tiers as one table, then the ePQA quality table if `aisle eval retrieval` has written it."""
    lines = [f"Data: {results['data']}. Embedding alone: {results['embed_docs_per_s']:,.0f} passages/s. "
             f"{results['queries_per_shape']} hybrid queries per shape, top {LIMIT}, through PassageIndex on an "
             "embedded Qdrant Edge shard.", "",
             "| products | points | write pts/s | optimize s | ingest docs/s | disk MB | RSS MB | one product p50 / p99 ms "
             "| catalog filter p50 / p99 ms | catalog filter rows | reopen s | load 1 min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for products, t in results["tiers"].items():
        def shape(s: dict[str, Any]) -> str:
            return f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f}" + (f" ({s['empty']} empty)" if s["empty"] else "")

        lines.append(f"| {int(products):,} | {t['points']:,} | {t['write_docs_per_s']:,.0f} | {t['optimize_s']:,.1f} "
                     f"| {t['ingest_docs_per_s']:,.0f} | {t['disk_mb']:,.1f} | {t['rss_peak_mb']:,.0f} "
                     f"| {shape(t['one_product'])} | {shape(t['catalog_filter'])} "
                     f"| {t['catalog_filter']['rows_matched_mean']:,.0f} | {t['reopen_s']:.2f} "
                     f"| {t['load_1m'][0]} → {t['load_1m'][1]} |")
    if _EVAL_REPORT.exists():
        from pipeline.eval.retrieval import render_markdown

        report = json.loads(_EVAL_REPORT.read_text())
        lines += ["", "### Quality: ePQA", "",
                  "From docs/eval/retrieval.json, written by `aisle eval retrieval` (default options; not rerun by "
                  "this benchmark). Latency is end to end: query embedding + index. Method and the run's conditions: "
                  "docs/retrieval.md.", "", render_markdown(report)]
    return "\n".join(lines).rstrip()


if __name__ == "__main__":  # python -m bench.retrieval [PRODUCTS ...]: chosen tiers, numbers only
    import sys

    print(json.dumps(run(tuple(int(n) for n in sys.argv[1:]) or TIERS), indent=2))

"""Retrieval at scale: ingest rate, index size and filtered hybrid query latency at 1k/10k/100k products.

The catalog has 888 real products, so larger tiers are SYNTHETIC, for load only: the first
BASE_PRODUCTS real products are embedded once (that run gives the embedder's own throughput), and
each tier clones them under new product ids ("SYN0000001", ...) with their dense vectors jittered
(Gaussian noise, sigma 0.02, renormalised) so clones are near, not exact, duplicates. Reusing the
vectors makes the benchmark measure the index, not the embedder (about 600 sentences/s on 2 cores
would need hours for 100k products).

Query latency is the index alone: precomputed query vectors from real ePQA questions, hybrid mode
(dense + BM25, RRF-fused), filtered to one random product's evidence passages, top 10.

The index is whatever PassageIndex.open gives: embedded Qdrant unless QDRANT_URL is set. A tier whose
projected ingest time exceeds TIER_BUDGET_S (from the previous tier's rate) is skipped with that
projection as its reason, so `make bench` stays bounded on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.index import PassageIndex, SearchFilter
from pipeline.retrieval.ingest import catalog_passages, catalog_products
from pipeline.retrieval.metrics import percentile
from pipeline.retrieval.passages import EVIDENCE_KINDS, Passage, point_id

TIERS = (1_000, 10_000, 100_000)
BASE_PRODUCTS = 40
QUERIES = 200
TIER_BUDGET_S = 300.0
BATCH = 512
_JITTER = 0.02
TARGETS = [("filtered hybrid query p99 at 100k products (ms)", "tiers.100000.query_ms_p99", "<=", 25.0)]


@dataclasses.dataclass(frozen=True)
class _Base:
    passages: list[Passage]
    dense: np.ndarray
    sparse: list[SparseVector]
    embed_docs_per_s: float


def _base(settings: Settings, embedder: Embedder) -> _Base:
    """The real passages of the first BASE_PRODUCTS products and their vectors (cached on disk)."""
    passages = list(catalog_passages(catalog_products(settings, BASE_PRODUCTS)))
    cache = settings.home / "bench" / f"retrieval_base_{BASE_PRODUCTS}.npz"
    texts = [p.text for p in passages]
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        if int(data["count"]) == len(passages):
            sparse = json.loads(str(data["sparse"]))
            return _Base(passages, data["dense"], [SparseVector(tuple(i), tuple(v)) for i, v in sparse],
                         float(data["rate"]))
    embedder.dense(texts[:8])  # load the models outside the timing
    started = time.perf_counter()
    dense = np.asarray(embedder.dense(texts), dtype=np.float32)
    sparse = embedder.sparse_documents(texts)
    rate = len(texts) / (time.perf_counter() - started)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, count=len(passages), dense=dense, rate=rate,
             sparse=json.dumps([[list(s.indices), list(s.values)] for s in sparse]))
    return _Base(passages, dense, sparse, rate)


def _clone(passage: Passage, product_id: str) -> Passage:
    payload = {**passage.payload, "product_id": product_id, "synthetic": True}
    return Passage(point_id(passage.kind, product_id, passage.text), passage.kind, product_id, passage.text, payload)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def _tier(settings: Settings, embedder: Embedder, base: _Base, products: int,
                queries: list[tuple[list[float], SparseVector]]) -> dict[str, Any]:
    rng = np.random.default_rng(products)
    by_product: dict[str, list[int]] = {}
    for i, passage in enumerate(base.passages):
        by_product.setdefault(passage.product_id, []).append(i)
    base_ids = list(by_product)
    index = PassageIndex.open(settings, embedder, collection=f"bench_{products}")
    await index.ensure_collection()
    written = 0
    started = time.perf_counter()
    try:
        batch: list[Passage] = []
        rows: list[int] = []
        product_ids = [f"SYN{n:07d}" for n in range(products)]
        for n, product_id in enumerate(product_ids):
            for row in by_product[base_ids[n % len(base_ids)]]:
                batch.append(_clone(base.passages[row], product_id))
                rows.append(row)
            if len(batch) >= BATCH or n == products - 1:
                dense = base.dense[rows] + rng.normal(0.0, _JITTER, (len(rows), base.dense.shape[1]))
                dense /= np.linalg.norm(dense, axis=1, keepdims=True)
                await index.write_vectors(batch, dense.tolist(), [base.sparse[r] for r in rows])
                written += len(batch)
                batch, rows = [], []
        ingest_s = time.perf_counter() - started
        pick = random.Random(products)
        latencies: list[float] = []
        empty = 0
        for dense_q, sparse_q in queries:
            where = SearchFilter(product_ids=(pick.choice(product_ids),), kinds=EVIDENCE_KINDS)
            t0 = time.perf_counter()
            result = await index.search_vectors(dense_q, sparse_q, mode="hybrid", where=where, limit=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            empty += not result.hits
    finally:
        index.close()
    size = _dir_bytes(settings.home / "qdrant") if settings.qdrant_url is None else None
    return {
        "products": products,
        "synthetic_products": products,
        "points": written,
        "ingest_s": round(ingest_s, 1),
        "ingest_points_per_s": round(written / ingest_s, 1),
        "index_bytes_on_disk": size,
        "query_ms_p50": round(percentile(latencies, 50), 2),
        "query_ms_p99": round(percentile(latencies, 99), 2),
        "queries": len(latencies),
        "queries_without_hits": empty,
    }


async def _run(settings: Settings) -> dict[str, Any]:
    embedder = Embedder(settings.home / "models")
    try:
        base = _base(settings, embedder)
        questions = [json.loads(line)["question"] for line in
                     (settings.shared_data / "eval" / "epqa_visible.jsonl").read_text(encoding="utf-8").splitlines()]
        texts = questions[:QUERIES]
        queries = list(zip(embedder.dense(texts), [embedder.sparse_query(t) for t in texts]))
        tiers: dict[str, Any] = {}
        rate: float | None = None
        points_per_product = len(base.passages) / BASE_PRODUCTS
        for products in TIERS:
            projected = None if rate is None else products * points_per_product / rate
            if projected is not None and projected > TIER_BUDGET_S:
                tiers[str(products)] = {"skipped": f"projected ingest {projected / 60:.0f} min at {rate:.0f} points/s "
                                                  f"exceeds the {TIER_BUDGET_S / 60:.0f} min budget of this index mode"}
                continue
            tier_settings = dataclasses.replace(settings, home=settings.home / "bench" / f"tier_{products}")
            shutil.rmtree(tier_settings.home, ignore_errors=True)
            tiers[str(products)] = await _tier(tier_settings, embedder, base, products, queries)
            rate = tiers[str(products)]["ingest_points_per_s"]
            shutil.rmtree(tier_settings.home, ignore_errors=True)
    finally:
        embedder.close()
    return {
        "index": "qdrant server" if settings.qdrant_url else "qdrant embedded (local mode)",
        "data": f"synthetic clones of {BASE_PRODUCTS} real products ({len(base.passages)} passages), "
                "vectors reused with jitter",
        "embed_docs_per_s": round(base.embed_docs_per_s, 1),
        "tiers": tiers,
    }


def run() -> dict[str, Any]:
    """Run every tier; see the module docstring. Returns the numbers as a dict."""
    return asyncio.run(_run(Settings.from_env()))


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

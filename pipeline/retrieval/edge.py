"""Embedded mode: one Qdrant Edge shard per collection, Qdrant's own engine inside this process.

    <AISLE_HOME>/qdrant-edge/<collection>/   edge_config.json, wal/, segments/

Qdrant Edge (PyPI `qdrant-edge-py`, module `qdrant_edge`) runs the server's Rust engine in-process:
segments, write-ahead log, payload indexes, HNSW, sparse vectors with the IDF modifier, the Query
API. This module is the adapter `PassageIndex` (index.py) talks to in embedded mode: the shard's
configuration, SearchFilter -> Edge filter, passages -> Edge points and back. Nothing here is
shared between instances; every call is synchronous and made on the index's one Qdrant thread.

An open shard holds a lock on its write-ahead log: a second `EdgeShard.load` of the same folder,
from this process or another, fails ("Can't init WAL: WouldBlock"), which `PassageIndex.open`
reports as DependencyError. So one process at a time opens an embedded index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import Range, SearchFilter, conditions

__all__ = ["EDGE_DIR", "EdgeEngine", "edge_filter", "edge_point", "payload_from_edge", "shard_config", "shard_path"]

EDGE_DIR = "qdrant-edge"
"""The folder under AISLE_HOME that holds one shard per collection."""
DENSE = "dense"
BM25 = "bm25"
_MARKER = "edge_config.json"
"""Written by EdgeShard.create; a folder without it holds no shard (yet)."""

# in_stock is stored as 0/1 and indexed as an integer: qdrant-edge-py 0.9.0 (and 0.8.0) turns
# MatchValue(True) into the integer 1 (`qe.MatchValue(True).value == 1`), which never matches a
# bool-indexed field, so an in-stock filter on real booleans would match nothing. Points are
# converted on write (edge_point) and back to bool on read (payload_from_edge).
_BOOL_AS_INT = frozenset({"in_stock"})
# category is the tenant field: optimised segments keep each category's points together, so a
# category filter walks them in order (at 100k products a catalog-filtered hybrid query took p50 19 /
# p99 28 ms without it and HNSW, 9.6 / 16.7 ms with both; docs/retrieval.md).
FIELD_SCHEMAS: dict[str, qe.PayloadSchemaType | qe.KeywordIndexParams] = {
    "product_id": qe.PayloadSchemaType.Keyword, "kind": qe.PayloadSchemaType.Keyword,
    "category": qe.KeywordIndexParams(is_tenant=True, enable_hnsw=False), "price_cents": qe.PayloadSchemaType.Integer,
    "rating": qe.PayloadSchemaType.Float, "in_stock": qe.PayloadSchemaType.Integer,
}

Scored = tuple[str, float, Mapping[str, Any]]
"""(point id, score, payload) of one hit."""
VectorQuery = tuple[str, "Sequence[float] | SparseVector"]
"""(vector name, query vector): one nearest-neighbour request."""

HNSW = qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000, payload_m=0)
"""Qdrant's default graph, without payload-aware links (payload_m=0). Those links add a subgraph per
value of every indexed keyword (each category, each kind): at 100k products (1.26M points) on 2
cores, optimize() had not finished after 45 min with them and takes about 5 min without. Filters
narrow enough to matter (a product, a category under price and rating limits) are answered from the
payload indexes by exact scoring anyway, which is Qdrant's plan below full_scan_threshold."""


def shard_path(home: Path, collection: str) -> Path:
    return home / EDGE_DIR / collection


def shard_config(dim: int) -> qe.EdgeConfig:
    """Named vectors as on a server: `dense` (cosine) and `bm25` (sparse, Qdrant applies IDF)."""
    return qe.EdgeConfig(vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
                         sparse_vectors={BM25: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                         hnsw_config=HNSW)


def edge_filter(where: SearchFilter) -> qe.Filter | None:
    """The Edge filter for query.conditions(where) (server.py's server_filter is its twin)."""
    must: list[qe.FieldCondition] = []
    for condition in conditions(where):
        if isinstance(condition, Range):
            bounds = qe.RangeFloat(gte=condition.gte, lte=condition.lte)
            must.append(qe.FieldCondition(key=condition.key, range=bounds))
            continue
        values = [int(v) if condition.key in _BOOL_AS_INT else v for v in condition.values]  # 0/1, see above
        match = qe.MatchValue(values[0]) if len(values) == 1 else qe.MatchAny(values)  # type: ignore[arg-type]
        must.append(qe.FieldCondition(key=condition.key, match=match))
    return qe.Filter(must=list(must)) if must else None


def edge_point(passage: Passage, dense: Sequence[float], sparse: SparseVector) -> qe.Point:
    payload: dict[str, Any] = dict(passage.payload)
    for key in _BOOL_AS_INT & payload.keys():
        payload[key] = int(bool(payload[key]))
    return qe.Point(id=passage.point_id,
                    vector={DENSE: [float(x) for x in dense], BM25: _edge_sparse(sparse)},
                    payload=payload)


def payload_from_edge(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored payload as it was written (in_stock back to a bool)."""
    out = dict(payload or {})
    for key in _BOOL_AS_INT & out.keys():
        out[key] = bool(out[key])
    return out


def _edge_sparse(sparse: SparseVector) -> qe.SparseVector:
    return qe.SparseVector([int(i) for i in sparse.indices], [float(v) for v in sparse.values])


class EdgeEngine:
    """One collection as one Edge shard. Not thread-safe: PassageIndex calls it from one thread.

    Errors: qdrant-edge-py raises bare `Exception` (message "Service runtime error: ..." and the
    like), so `ERRORS` is that; PassageIndex wraps them into DependencyError.
    """

    ERRORS: tuple[type[BaseException], ...] = (Exception,)

    def __init__(self, path: Path) -> None:
        """Load the shard at `path` if there is one (else it is created by `create`)."""
        self._path = path
        self._shard: qe.EdgeShard | None = None
        if (path / _MARKER).exists():
            self._shard = qe.EdgeShard.load(str(path))
            self._index_fields()

    @property
    def path(self) -> Path:
        return self._path

    def exists(self) -> bool:
        return self._shard is not None

    def create(self, dim: int) -> None:
        """Create the shard and its payload indexes, unless it exists."""
        if self._shard is None:
            self._path.mkdir(parents=True, exist_ok=True)
            self._shard = qe.EdgeShard.create(str(self._path), shard_config(dim))
            self._index_fields()

    def _index_fields(self) -> None:
        shard = self._opened()
        have = shard.info().payload_schema
        for name, schema in FIELD_SCHEMAS.items():
            if name not in have:
                shard.update(qe.UpdateOperation.create_field_index(name, schema))

    def upsert(self, batch: Sequence[Passage], dense: Sequence[Sequence[float]], sparse: Sequence[SparseVector]) -> None:
        points = [edge_point(p, d, s) for p, d, s in zip(batch, dense, sparse, strict=True)]
        self._opened().update(qe.UpdateOperation.upsert_points(points))

    def query(self, requests: Sequence[VectorQuery], where: SearchFilter, depth: int) -> list[list[Scored]]:
        """One list of hits per request, best first, from one planned batch."""
        qfilter = edge_filter(where)
        batch = [qe.QueryRequest(limit=depth, query=qe.Query.Nearest(_edge_vector(vector), using=using),
                                 filter=qfilter, with_payload=True)
                 for using, vector in requests]
        answers = self._opened().query_batch(qe.QueryBatchRequest(batch))
        return [[(str(p.id), float(p.score), payload_from_edge(p.payload)) for p in points] for points in answers]

    def count(self, where: SearchFilter) -> int:
        return 0 if self._shard is None else int(self._shard.count(qe.CountRequest(exact=True, filter=edge_filter(where))))

    def optimize(self) -> bool:
        """Merge segments and build HNSW and payload indexes; blocks until done. True if anything changed."""
        return False if self._shard is None else bool(self._shard.optimize())

    def close(self) -> None:
        """Flush and close; releases the folder's lock."""
        if self._shard is not None:
            shard, self._shard = self._shard, None
            shard.flush()
            shard.close()

    def _opened(self) -> qe.EdgeShard:
        if self._shard is None:
            raise RuntimeError(f"no Edge shard at {self._path} (create it first)")
        return self._shard


def _edge_vector(vector: Sequence[float] | SparseVector) -> list[float] | qe.SparseVector:
    return _edge_sparse(vector) if isinstance(vector, SparseVector) else [float(x) for x in vector]

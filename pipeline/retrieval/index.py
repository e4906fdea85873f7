"""The passage index: one Qdrant collection with a dense and a BM25 vector per passage.

    collection "aisle_passages"
      vectors   dense  384-dim MiniLM, cosine
                bm25   sparse, term frequencies; Qdrant applies IDF (Modifier.IDF)
      payload   kind, product_id, text, category?, attr_name?, title?, + any extra_payload
                (e.g. price_cents, rating, in_stock from the store)

Qdrant runs embedded (local mode, files under <AISLE_HOME>/qdrant) unless Settings.qdrant_url names
a server. Local mode keeps everything in memory, scans by brute force and is single-process (it
locks its folder); the server adds payload indexes (created here for every filter field) and HNSW.

Search modes: "dense", "bm25", and "hybrid" (both, fused client-side by reciprocal rank; see
fusion.py). The default is dense: on ePQA it ties hybrid (nDCG@10 0.862 vs 0.861) at about
half the latency; see docs/retrieval.md. A search never
raises on odd input: an empty, over-long or non-English query, or a product id the index does not
hold, returns no hits and a `reason`. Qdrant failures raise DependencyError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.fusion import rrf_fuse
from pipeline.retrieval.passages import Passage

SearchMode = Literal["dense", "bm25", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
DEFAULT_MODE: SearchMode = "dense"
COLLECTION = "aisle_passages"
DENSE = "dense"
BM25 = "bm25"
_FAST_PATH_MAX_PRODUCTS = 20
"""Product-scoped dense searches over at most this many products skip embedded Qdrant's filter scan."""
MAX_QUERY_CHARS = 2_000
"""Longer queries are refused: no shopper types this much, and MiniLM reads only 256 word pieces."""
_FILTER_FIELDS = {"kind": models.PayloadSchemaType.KEYWORD, "product_id": models.PayloadSchemaType.KEYWORD,
                  "category": models.PayloadSchemaType.KEYWORD}
_QDRANT_ERRORS = (UnexpectedResponse, ResponseHandlingException, ValueError, RuntimeError, OSError)

Progress = Callable[[int, int], None]
"""progress(done, total) after each upserted batch; total is -1 when the input length is unknown."""


@dataclass(frozen=True)
class SearchFilter:
    """Restrict a search; empty tuples mean no restriction. Fields are OR'ed within, AND'ed across."""

    product_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    point_id: str
    score: float
    """Cosine similarity (dense), BM25 score (bm25) or fused RRF score (hybrid); higher is better."""
    kind: str
    product_id: str
    text: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    mode: SearchMode
    reason: str | None = None
    """Why there are no hits (None when there are)."""


class PassageIndex:
    """Embeds and stores passages, and searches them. Use `open()` to build one from Settings.

    All Qdrant calls run on one worker thread: the embedded client is not thread-safe, and this keeps
    the event loop free while local mode computes.
    """

    def __init__(self, client: QdrantClient, embedder: Embedder, *, local: bool, collection: str = COLLECTION):
        self._client = client
        self._embedder = embedder
        self._local = local
        self._collection = collection
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant")
        self._points_by_product: dict[str, list[str]] | None = None

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder, collection: str = COLLECTION) -> PassageIndex:
        """Connect to QDRANT_URL, or open the embedded index under AISLE_HOME/qdrant.

        Raises DependencyError if the folder is locked by another process or the server is unreachable.
        """
        try:
            if settings.qdrant_url:
                client = QdrantClient(url=settings.qdrant_url)
            else:
                path = settings.home / "qdrant"
                path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(path))
        except _QDRANT_ERRORS as exc:
            raise DependencyError(f"cannot open the Qdrant index: {exc}") from exc
        return cls(client, embedder, local=settings.qdrant_url is None, collection=collection)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except _QDRANT_ERRORS as exc:
                raise DependencyError(f"qdrant {getattr(fn, '__name__', 'call')} failed: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    # ---- writing ---------------------------------------------------------------------------------

    async def ensure_collection(self) -> None:
        """Create the collection (and, on a server, its payload indexes) if it does not exist."""
        if await self._call(self._client.collection_exists, self._collection):
            return
        await self._call(
            self._client.create_collection,
            self._collection,
            vectors_config={DENSE: models.VectorParams(size=self._embedder.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={BM25: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if not self._local:  # local mode has no payload indexes (and warns if asked)
            for name, schema in _FILTER_FIELDS.items():
                await self._call(self._client.create_payload_index, self._collection, name, schema)

    async def upsert(self, passages: Iterable[Passage], batch_size: int = 256, progress: Progress | None = None) -> int:
        """Embed and store passages in batches; returns how many were written. Idempotent by point id."""
        await self.ensure_collection()
        total = len(passages) if isinstance(passages, Sequence) else -1
        done = 0
        batch: list[Passage] = []
        for passage in passages:
            batch.append(passage)
            if len(batch) >= batch_size:
                done += await self._write(batch)
                batch = []
                if progress is not None:
                    progress(done, total)
        if batch:
            done += await self._write(batch)
            if progress is not None:
                progress(done, total)
        return done

    async def _write(self, batch: list[Passage]) -> int:
        texts = [p.text for p in batch]
        dense = await self._embedder.adense(texts)
        sparse = await self._embedder.asparse_documents(texts)
        await self.write_vectors(batch, dense, sparse)
        return len(batch)

    async def write_vectors(self, batch: Sequence[Passage], dense: Sequence[Sequence[float]], sparse: Sequence[SparseVector]) -> None:
        """Store passages whose vectors are already computed (the benchmark reuses vectors this way)."""
        points = [
            models.PointStruct(
                id=p.point_id,
                vector={DENSE: list(d), BM25: models.SparseVector(indices=list(s.indices), values=list(s.values))},
                payload=dict(p.payload),
            )
            for p, d, s in zip(batch, dense, sparse, strict=True)
        ]
        await self._call(self._client.upsert, self._collection, points=points, wait=True)
        self._points_by_product = None

    # ---- reading ---------------------------------------------------------------------------------

    async def count(self, where: SearchFilter = SearchFilter()) -> int:
        """Points matching a filter (0 if the collection does not exist yet)."""
        if not await self._call(self._client.collection_exists, self._collection):
            return 0
        result = await self._call(self._client.count, self._collection, count_filter=_qdrant_filter(where), exact=True)
        return int(result.count)

    async def search(self, query: str, mode: SearchMode = DEFAULT_MODE, where: SearchFilter = SearchFilter(),
                     limit: int = 10) -> SearchResult:
        """The `limit` best passages for a query; see the module docstring for modes and reasons."""
        refusal = query_problem(query)
        if refusal is not None:
            return SearchResult(hits=(), mode=mode, reason=refusal)
        dense, sparse = await self._embedder.aquery(query, with_dense=mode != "bm25")
        return await self.search_vectors(dense, sparse, mode=mode, where=where, limit=limit)

    async def search_vectors(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode = DEFAULT_MODE,
                             where: SearchFilter = SearchFilter(), limit: int = 10) -> SearchResult:
        """Search with precomputed query vectors (lets benchmarks time the index alone)."""
        if not await self._call(self._client.collection_exists, self._collection):
            return SearchResult(hits=(), mode=mode, reason="the index is empty (run ingestion first)")
        if self._local and mode == "dense" and 0 < len(where.product_ids) <= _FAST_PATH_MAX_PRODUCTS:
            hits = await self._call(self._product_scoped_dense, dense, where, limit)
            if hits:
                return SearchResult(hits=hits, mode=mode)
            return SearchResult(hits=(), mode=mode, reason=await self._why_empty(where))
        qfilter = _qdrant_filter(where)
        # Hybrid fuses deeper lists than it returns, so a passage ranked 12th by both can still rise.
        depth = limit if mode != "hybrid" else max(limit * 3, 30)
        requests: list[models.QueryRequest] = []
        if mode in ("dense", "hybrid"):
            requests.append(models.QueryRequest(query=list(dense), using=DENSE, filter=qfilter, limit=depth,
                                                with_payload=True))
        if mode in ("bm25", "hybrid") and sparse.indices:
            requests.append(models.QueryRequest(
                query=models.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                using=BM25, filter=qfilter, limit=depth, with_payload=True))
        if not requests:
            return SearchResult(hits=(), mode=mode, reason="the query has no searchable words")
        responses = await self._call(self._client.query_batch_points, self._collection, requests=requests)
        lists = [[_hit(point) for point in response.points] for response in responses]
        if mode == "hybrid":
            by_id = {hit.point_id: hit for ranked in lists for hit in ranked}
            fused = rrf_fuse([[h.point_id for h in ranked] for ranked in lists], limit=limit)
            hits = tuple(_rescored(by_id[pid], score) for pid, score in fused)
        else:
            hits = tuple(lists[0][:limit])
        if hits:
            return SearchResult(hits=hits, mode=mode)
        return SearchResult(hits=(), mode=mode, reason=await self._why_empty(where))

    def _product_scoped_dense(self, dense: Sequence[float], where: SearchFilter, limit: int) -> tuple[Hit, ...]:
        """Exact dense search over a few products' passages, for embedded mode (runs on the qdrant thread).

        Embedded Qdrant evaluates a payload filter in Python for every point (about 15 µs each: 190 ms
        at 12,600 passages on our machine), while a product has a few dozen passages. So the points of
        each product are looked up by id, from a map built once by one scroll, and scored here with
        the same cosine Qdrant uses. A Qdrant server has payload indexes and needs none of this.
        """
        if self._points_by_product is None:
            by_product: dict[str, list[str]] = {}
            offset: Any = None
            while True:
                points, offset = self._client.scroll(self._collection, limit=2_048, offset=offset,
                                                     with_payload=["product_id"], with_vectors=False)
                for point in points:
                    by_product.setdefault(str((point.payload or {}).get("product_id", "")), []).append(str(point.id))
                if offset is None:
                    break
            self._points_by_product = by_product
        ids = [pid for product in where.product_ids for pid in self._points_by_product.get(product, ())]
        if not ids:
            return ()
        points = self._client.retrieve(self._collection, ids, with_payload=True, with_vectors=[DENSE])
        query = np.asarray(dense, dtype=np.float32)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        scored: list[Hit] = []
        for point in points:
            payload = point.payload or {}
            if where.kinds and payload.get("kind") not in where.kinds:
                continue
            if where.categories and payload.get("category") not in where.categories:
                continue
            vectors = point.vector if isinstance(point.vector, dict) else {}
            vector = np.asarray(vectors.get(DENSE, ()), dtype=np.float32)
            if vector.size != query.size:
                continue
            score = float(vector @ query / max(float(np.linalg.norm(vector)), 1e-12))
            scored.append(Hit(point_id=str(point.id), score=score, kind=str(payload.get("kind", "")),
                              product_id=str(payload.get("product_id", "")), text=str(payload.get("text", "")),
                              payload=payload))
        scored.sort(key=lambda hit: -hit.score)
        return tuple(scored[:limit])

    async def _why_empty(self, where: SearchFilter) -> str:
        if where.product_ids and await self.count(SearchFilter(product_ids=where.product_ids)) == 0:
            return f"no indexed passages for product(s) {', '.join(where.product_ids)}"
        return "no passage matched the query and filters"

    def close(self) -> None:
        """Close the client (releases local mode's folder lock) and stop the worker thread."""
        self._executor.submit(self._client.close).result()
        self._executor.shutdown(wait=True)


def query_problem(query: str) -> str | None:
    """Why a query cannot be searched, or None if it can."""
    stripped = query.strip()
    if not stripped:
        return "empty query"
    if len(stripped) > MAX_QUERY_CHARS:
        return f"query longer than {MAX_QUERY_CHARS} characters"
    if not any(ch.isalnum() for ch in stripped):
        return "the query has no searchable words"
    letters = [ch for ch in stripped if ch.isalpha()]
    if letters and sum(_is_latin(ch) for ch in letters) < len(letters) / 2:
        return "query is not in a Latin-script language; the index is English-only"
    return None


def _is_latin(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _qdrant_filter(where: SearchFilter) -> models.Filter | None:
    must: list[models.Condition] = []
    for key, values in (("product_id", where.product_ids), ("kind", where.kinds), ("category", where.categories)):
        if len(values) == 1:
            must.append(models.FieldCondition(key=key, match=models.MatchValue(value=values[0])))
        elif values:
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
    return models.Filter(must=must) if must else None


def _hit(point: models.ScoredPoint) -> Hit:
    payload = point.payload or {}
    return Hit(point_id=str(point.id), score=float(point.score), kind=str(payload.get("kind", "")),
               product_id=str(payload.get("product_id", "")), text=str(payload.get("text", "")), payload=payload)


def _rescored(hit: Hit, score: float) -> Hit:
    return Hit(point_id=hit.point_id, score=score, kind=hit.kind, product_id=hit.product_id, text=hit.text,
               payload=hit.payload)

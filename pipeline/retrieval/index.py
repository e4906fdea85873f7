"""The passage index: one Qdrant collection with a dense and a BM25 vector per passage.

    collection "aisle_passages"
      vectors   dense  384-dim MiniLM, cosine
                bm25   sparse, term frequencies; Qdrant applies IDF (Modifier.IDF)
      payload   kind, product_id, text, category?, attr_name?, title?, + any extra_payload
                (e.g. price_cents, rating, in_stock from the store)

Qdrant runs embedded (local mode, files under <AISLE_HOME>/qdrant) unless Settings.qdrant_url names
a server. Local mode is single-process (it locks its folder) and pure Python, so in embedded mode
searches are answered from numpy columns kept in step with the collection (columns.py), with
Qdrant's scoring; Qdrant holds the points and their payloads. A server is searched directly, with
payload indexes (created here for every filter field) and HNSW.

Search modes: "dense", "bm25", and "hybrid" (both, fused client-side by reciprocal rank; see
fusion.py). The default is dense: on ePQA it ties hybrid (nDCG@10 0.862 vs 0.861); see
docs/retrieval.md. A search never
raises on odd input: an empty, over-long or non-English query, or a product id the index does not
hold, returns no hits and a `reason`. Qdrant failures raise DependencyError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.retrieval.columns import PassageColumns, Ranking
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.fusion import best_first, combine
from pipeline.retrieval.local_storage import tune_local_storage
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import FILTER_FIELDS, SEARCH_MODES, SearchFilter, SearchMode, candidate_depth

__all__ = ["BM25", "COLLECTION", "DEFAULT_MODE", "DENSE", "MAX_QUERY_CHARS", "SEARCH_MODES", "Hit", "PassageIndex",
           "Progress", "SearchFilter", "SearchMode", "SearchResult", "query_problem"]

DEFAULT_MODE: SearchMode = "dense"
COLLECTION = "aisle_passages"
DENSE = "dense"
BM25 = "bm25"
MAX_QUERY_CHARS = 2_000
"""Longer queries are refused: no shopper types this much, and MiniLM reads only 256 word pieces."""
_FIELD_SCHEMAS = {"kind": models.PayloadSchemaType.KEYWORD, "product_id": models.PayloadSchemaType.KEYWORD,
                  "category": models.PayloadSchemaType.KEYWORD, "price_cents": models.PayloadSchemaType.INTEGER,
                  "rating": models.PayloadSchemaType.FLOAT, "in_stock": models.PayloadSchemaType.BOOL}
_QDRANT_ERRORS = (UnexpectedResponse, ResponseHandlingException, ValueError, RuntimeError, OSError)

Progress = Callable[[int, int], None]
"""progress(done, total) after each upserted batch; total is -1 when the input length is unknown."""


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
        self._columns: PassageColumns | None = None
        """Embedded mode's search engine (columns.py); None until built, or after a failed write."""

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
                tune_local_storage(client)
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

    @property
    def columns(self) -> PassageColumns | None:
        """Embedded mode's search columns once built (None on a server); benchmarks time them alone."""
        return self._columns

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
        if self._local:  # a new collection: its columns start empty and follow every write
            await self._call(tune_local_storage, self._client)
            self._columns = PassageColumns(self._embedder.dim)
        else:  # local mode has no payload indexes (and warns if asked)
            for name in FILTER_FIELDS:
                await self._call(self._client.create_payload_index, self._collection, name, _FIELD_SCHEMAS[name])

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

        def write() -> None:
            try:
                self._client.upsert(self._collection, points=points, wait=True)
                if self._columns is not None:
                    self._columns.add([p.point_id for p in batch], dense, sparse, [p.payload for p in batch])
            except BaseException:
                self._columns = None  # maybe out of step now: rebuilt from Qdrant on the next search
                raise

        await self._call(write)

    # ---- reading ---------------------------------------------------------------------------------

    async def count(self, where: SearchFilter = SearchFilter()) -> int:
        """Points matching a filter (0 if the collection does not exist yet)."""
        if self._local:
            return int(await self._call(lambda: self._columns_now().count(where) if self._exists() else 0))
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
        if self._local:
            hits, reason = await self._call(self._search_columns, dense, sparse, mode, where, limit)
        else:
            hits, reason = await self._search_qdrant(dense, sparse, mode, where, limit)
        return SearchResult(hits=hits, mode=mode, reason=None if hits else reason)

    def _search_columns(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode, where: SearchFilter,
                        limit: int) -> tuple[tuple[Hit, ...], str]:
        """Embedded mode, on the Qdrant thread: rank from the columns, then read the hits' payloads."""
        if not self._exists():
            return (), _EMPTY_INDEX
        columns = self._columns_now()
        ranking = columns.search(dense, sparse, mode, where, limit)
        if ranking is None:
            return (), _NO_WORDS
        if not ranking:
            missing = bool(where.product_ids) and columns.count(SearchFilter(product_ids=where.product_ids)) == 0
            return (), _no_match(where, missing)
        records = self._client.retrieve(self._collection, [pid for pid, _ in ranking], with_payload=True)
        payloads = {str(record.id): record.payload or {} for record in records}
        return tuple(_hit_from(pid, score, payloads.get(pid, {})) for pid, score in ranking), ""

    async def _search_qdrant(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode,
                             where: SearchFilter, limit: int) -> tuple[tuple[Hit, ...], str]:
        """Server mode: Qdrant filters and scores; both queries go in one batch call."""
        if not await self._call(self._client.collection_exists, self._collection):
            return (), _EMPTY_INDEX
        qfilter = _qdrant_filter(where)
        depth = candidate_depth(mode, limit)
        requests: list[models.QueryRequest] = []
        if mode in ("dense", "hybrid"):
            requests.append(models.QueryRequest(query=list(dense), using=DENSE, filter=qfilter, limit=depth,
                                                with_payload=True))
        if mode in ("bm25", "hybrid") and sparse.indices:
            requests.append(models.QueryRequest(
                query=models.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                using=BM25, filter=qfilter, limit=depth, with_payload=True))
        if not requests:
            return (), _NO_WORDS
        responses = await self._call(self._client.query_batch_points, self._collection, requests=requests)
        payloads = {str(p.id): p.payload or {} for response in responses for p in response.points}
        lists: list[Ranking] = [best_first((str(p.id), float(p.score)) for p in response.points)
                                for response in responses]
        ranking = combine(lists, fuse=mode == "hybrid", limit=limit)
        if ranking:
            return tuple(_hit_from(pid, score, payloads[pid]) for pid, score in ranking), ""
        missing = bool(where.product_ids) and await self.count(SearchFilter(product_ids=where.product_ids)) == 0
        return (), _no_match(where, missing)

    def _exists(self) -> bool:
        return bool(self._client.collection_exists(self._collection))

    def _columns_now(self) -> PassageColumns:
        """The columns of an embedded collection, built by one scroll the first time (Qdrant thread)."""
        if self._columns is None:
            columns = PassageColumns(self._embedder.dim)
            offset: Any = None
            while True:
                points, offset = self._client.scroll(self._collection, limit=2_048, offset=offset,
                                                     with_payload=list(FILTER_FIELDS), with_vectors=True)
                vectors = [p.vector if isinstance(p.vector, dict) else {} for p in points]
                columns.add([str(p.id) for p in points], [v[DENSE] for v in vectors],
                            [_sparse_of(v.get(BM25)) for v in vectors], [p.payload or {} for p in points])
                if offset is None:
                    break
            self._columns = columns
        return self._columns

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
    """The Qdrant filter meaning what columns.PassageColumns.select means (tested to agree)."""
    must: list[models.Condition] = []
    for key, values in (("product_id", where.product_ids), ("kind", where.kinds), ("category", where.categories)):
        if len(values) == 1:
            must.append(models.FieldCondition(key=key, match=models.MatchValue(value=values[0])))
        elif values:
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
    if where.min_price_cents is not None or where.max_price_cents is not None:
        must.append(models.FieldCondition(key="price_cents", range=models.Range(gte=where.min_price_cents,
                                                                                lte=where.max_price_cents)))
    if where.min_rating is not None:
        must.append(models.FieldCondition(key="rating", range=models.Range(gte=where.min_rating)))
    if where.in_stock_only:
        must.append(models.FieldCondition(key="in_stock", match=models.MatchValue(value=True)))
    return models.Filter(must=must) if must else None


_EMPTY_INDEX = "the index is empty (run ingestion first)"
_NO_WORDS = "the query has no searchable words"


def _no_match(where: SearchFilter, products_missing: bool) -> str:
    if products_missing:
        return f"no indexed passages for product(s) {', '.join(where.product_ids)}"
    return "no passage matched the query and filters"


def _sparse_of(vector: Any) -> SparseVector:
    return SparseVector(tuple(vector.indices), tuple(vector.values)) if vector is not None else SparseVector((), ())


def _hit_from(point_id: str, score: float, payload: Mapping[str, Any]) -> Hit:
    return Hit(point_id=point_id, score=score, kind=str(payload.get("kind", "")),
               product_id=str(payload.get("product_id", "")), text=str(payload.get("text", "")), payload=payload)

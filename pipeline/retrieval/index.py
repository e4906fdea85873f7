"""The passage index: one Qdrant collection with a dense and a BM25 vector per passage.

    collection "aisle_passages"
      vectors   dense  384-dim MiniLM, cosine
                bm25   sparse, term frequencies; Qdrant applies IDF (Modifier.IDF)
      payload   kind, product_id, text, category?, attr_name?, title?, + any extra_payload
                (e.g. price_cents, rating, in_stock from the store), each filter field indexed

Qdrant runs embedded unless Settings.qdrant_url names a server: one Qdrant Edge shard per collection
under <AISLE_HOME>/qdrant-edge/ (edge.py; Qdrant's Rust engine in this process, one process per
folder). Both engines get the same requests: a dense and/or a BM25 nearest-neighbour query with the
same filter and depth, in one batch; hybrid fuses the two lists here (fusion.py), so both modes
rank alike. After a bulk write, `optimize()` builds HNSW and merged segments (embedded mode; a
server optimises by itself).

Search modes: "dense", "bm25", and "hybrid" (both, fused client-side by reciprocal rank; see
fusion.py). The default is dense: on ePQA it ties hybrid; see docs/retrieval.md. A search never
raises on odd input: an empty, over-long or non-English query, or a product id the index does not
hold, returns no hits and a `reason`. Qdrant failures raise DependencyError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qdrant_client import QdrantClient

from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.retrieval.edge import BM25, DENSE, EdgeEngine, Scored, VectorQuery, shard_path
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.fusion import best_first, combine
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import SEARCH_MODES, SearchFilter, SearchMode, candidate_depth
from pipeline.retrieval.server import ServerEngine

__all__ = ["BM25", "COLLECTION", "DEFAULT_MODE", "DENSE", "MAX_QUERY_CHARS", "SEARCH_MODES", "Hit", "PassageIndex",
           "Progress", "SearchFilter", "SearchMode", "SearchResult", "index_location", "query_problem"]

DEFAULT_MODE: SearchMode = "dense"
COLLECTION = "aisle_passages"
MAX_QUERY_CHARS = 2_000
"""Longer queries are refused: no shopper types this much, and MiniLM reads only 256 word pieces."""

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


class Engine(Protocol):
    """What PassageIndex needs of a Qdrant: EdgeEngine (embedded) or ServerEngine (QDRANT_URL).

    Synchronous; PassageIndex calls it from its one Qdrant thread. Failures raise one of ERRORS.
    """

    ERRORS: tuple[type[BaseException], ...]

    def exists(self) -> bool: ...
    def create(self, dim: int) -> None: ...
    def upsert(self, batch: Sequence[Passage], dense: Sequence[Sequence[float]],
               sparse: Sequence[SparseVector]) -> None: ...
    def query(self, requests: Sequence[VectorQuery], where: SearchFilter, depth: int) -> list[list[Scored]]: ...
    def count(self, where: SearchFilter) -> int: ...
    def optimize(self) -> bool: ...
    def close(self) -> None: ...


def index_location(settings: Settings, collection: str = COLLECTION) -> str:
    """Where the index lives: the server URL, or the embedded shard's folder."""
    return settings.qdrant_url or str(shard_path(settings.home, collection))


class PassageIndex:
    """Embeds and stores passages, and searches them. Use `open()` to build one from Settings.

    All Qdrant calls run on one worker thread: neither engine is shared across threads, and this
    keeps the event loop free while Qdrant works (optimize() takes minutes at scale).
    """

    def __init__(self, engine: Engine, embedder: Embedder):
        self._engine = engine
        self._embedder = embedder
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant")

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder, collection: str = COLLECTION) -> PassageIndex:
        """Connect to QDRANT_URL, or open the embedded shard under AISLE_HOME/qdrant-edge/<collection>.

        Raises DependencyError if the shard is held by another process (or cannot be read) or the
        server is unreachable.
        """
        engine: Engine
        try:
            if settings.qdrant_url:
                engine = ServerEngine(QdrantClient(url=settings.qdrant_url), collection)
            else:
                engine = EdgeEngine(shard_path(settings.home, collection))
        except (*ServerEngine.ERRORS, *EdgeEngine.ERRORS) as exc:
            raise DependencyError(f"cannot open the Qdrant index at {index_location(settings, collection)}: "
                                  f"{exc}") from exc
        return cls(engine, embedder)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except self._engine.ERRORS as exc:
                raise DependencyError(f"qdrant {getattr(fn, '__name__', 'call')} failed: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    # ---- writing ---------------------------------------------------------------------------------

    async def ensure_collection(self) -> None:
        """Create the collection and a payload index per filter field if it does not exist."""
        await self._call(self._engine.create, self._embedder.dim)

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
        await self._call(self._engine.upsert, batch, dense, sparse)

    async def optimize(self) -> bool:
        """After a bulk write: build HNSW and merged segments (embedded mode; a server does this itself).

        Blocks the Qdrant thread, not the event loop, for seconds to minutes (docs/retrieval.md gives the
        measured times). Returns True if anything was rebuilt.
        """
        return bool(await self._call(self._engine.optimize))

    # ---- reading ---------------------------------------------------------------------------------

    async def count(self, where: SearchFilter = SearchFilter()) -> int:
        """Points matching a filter (0 if the collection does not exist yet)."""
        return int(await self._call(lambda: self._engine.count(where) if self._engine.exists() else 0))

    async def search(self, query: str, mode: SearchMode = DEFAULT_MODE, where: SearchFilter = SearchFilter(),
                     limit: int = 10) -> SearchResult:
        """The `limit` best passages for a query; see the module docstring for modes and reasons."""
        refusal = query_problem(query)
        if refusal is not None:
            return SearchResult(hits=(), mode=mode, reason=refusal)
        dense, sparse = await self._embedder.aquery(query, with_dense=mode != "bm25")
        return await self.search_vectors(dense, sparse, mode=mode, where=where, limit=limit)

    async def query_vectors(self, query: str) -> tuple[list[float], SparseVector]:
        """The dense and BM25 vectors of a query, for several searches with one embedding."""
        return await self._embedder.aquery(query)

    async def search_vectors(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode = DEFAULT_MODE,
                             where: SearchFilter = SearchFilter(), limit: int = 10) -> SearchResult:
        """Search with precomputed query vectors (lets benchmarks time the index alone)."""
        hits, reason = await self._call(self._search, dense, sparse, mode, where, limit)
        return SearchResult(hits=hits, mode=mode, reason=None if hits else reason)

    def _search(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode, where: SearchFilter,
                limit: int) -> tuple[tuple[Hit, ...], str]:
        """On the Qdrant thread: Qdrant filters and scores (both queries in one batch); fusion here."""
        if not self._engine.exists():
            return (), _EMPTY_INDEX
        requests: list[VectorQuery] = []
        if mode in ("dense", "hybrid"):
            requests.append((DENSE, dense))
        if mode in ("bm25", "hybrid") and sparse.indices:
            requests.append((BM25, sparse))
        if not requests:
            return (), _NO_WORDS
        answers = self._engine.query(requests, where, candidate_depth(mode, limit))
        payloads = {pid: payload for answer in answers for pid, _, payload in answer}
        ranking = combine([best_first((pid, score) for pid, score, _ in answer) for answer in answers],
                          fuse=mode == "hybrid", limit=limit)
        if ranking:
            return tuple(_hit_from(pid, score, payloads[pid]) for pid, score in ranking), ""
        missing = bool(where.product_ids) and self._engine.count(SearchFilter(product_ids=where.product_ids)) == 0
        return (), _no_match(where, missing)

    def close(self) -> None:
        """Flush and close the engine (releases the embedded folder's lock) and stop the worker thread."""
        self._executor.submit(self._engine.close).result()
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


_EMPTY_INDEX = "the index is empty (run ingestion first)"
_NO_WORDS = "the query has no searchable words"


def _no_match(where: SearchFilter, products_missing: bool) -> str:
    if products_missing:
        return f"no indexed passages for product(s) {', '.join(where.product_ids)}"
    return "no passage matched the query and filters"


def _hit_from(point_id: str, score: float, payload: Mapping[str, Any]) -> Hit:
    return Hit(point_id=point_id, score=score, kind=str(payload.get("kind", "")),
               product_id=str(payload.get("product_id", "")), text=str(payload.get("text", "")), payload=payload)

"""The passage index end to end: real fastembed models and embedded Qdrant in a temporary folder,
over the first 20 products of the shared catalog; and embedded mode's search columns checked against
Qdrant's own answers, on that catalog and on random vectors."""

from __future__ import annotations

import asyncio

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.catalog import Product, infer_category
from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.index import SEARCH_MODES, PassageIndex, SearchFilter, SearchMode, SearchResult
from pipeline.retrieval.ingest import catalog_passages, catalog_products, ingest_catalog
from pipeline.retrieval.model_files import ModelPaths
from pipeline.retrieval.passages import ATTRIBUTE, REVIEW, Passage, PayloadValue

pytestmark = pytest.mark.slow
PRODUCTS = 20
MODELS_DIR = Settings().home / "models"


@pytest.fixture(scope="module")
async def index(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PassageIndex]:
    if not ModelPaths.under(MODELS_DIR).is_complete():
        pytest.skip(f"model folders missing under {MODELS_DIR}: run `make models`")
    settings = dataclasses.replace(Settings(), home=Path(tmp_path_factory.mktemp("aisle-home")), qdrant_url=None)
    embedder = Embedder(MODELS_DIR)
    passage_index = PassageIndex.open(settings, embedder)
    progress: list[tuple[int, int]] = []
    written = await ingest_catalog(settings, passage_index, limit=PRODUCTS, progress=lambda d, t: progress.append((d, t)))
    assert written == progress[-1][0] == progress[-1][1]
    yield passage_index
    passage_index.close()
    embedder.close()


def _products() -> list[Product]:
    return catalog_products(Settings(), limit=PRODUCTS)


async def test_attribute_question_finds_that_attribute_first(index: PassageIndex) -> None:
    product = next(p for p in _products() if p.attribute("battery"))
    for mode in SEARCH_MODES:
        result = await index.search("what kind of battery does it use?", mode=mode,
                                    where=SearchFilter(product_ids=(product.asin,)), limit=5)
        assert result.reason is None
        top = result.hits[0]
        assert (top.kind, top.payload.get("attr_name")) == (ATTRIBUTE, "battery"), mode


async def test_filters_restrict_product_kind_and_category(index: PassageIndex) -> None:
    products = _products()
    first, second = products[0].asin, products[1].asin
    result = await index.search("great quality", where=SearchFilter(product_ids=(first, second)), limit=50)
    assert result.hits and {h.product_id for h in result.hits} <= {first, second}
    reviews = await index.search("great quality", where=SearchFilter(kinds=(REVIEW,)), limit=30)
    assert reviews.hits and all(h.kind == REVIEW for h in reviews.hits)
    category = infer_category(products[0])
    in_category = {p.asin for p in products if infer_category(p) == category}
    by_category = await index.search("great quality", where=SearchFilter(categories=(category,)), limit=30)
    assert by_category.hits and {h.product_id for h in by_category.hits} <= in_category


async def test_reingesting_is_idempotent(index: PassageIndex) -> None:
    settings_products = _products()
    expected = len(list(catalog_passages(settings_products)))
    assert await index.count() == expected
    await index.upsert(list(catalog_passages(settings_products[:3])))
    assert await index.count() == expected


@pytest.mark.parametrize(
    ("query", "where", "reason_part"),
    [
        ("", SearchFilter(), "empty"),
        ("battery " * 1250, SearchFilter(), "longer than"),
        ("这个计算器用什么电池？", SearchFilter(), "English-only"),
        ("what battery does it use?", SearchFilter(product_ids=("B000NOSUCH",)), "B000NOSUCH"),
        ("?!", SearchFilter(), "no searchable words"),
    ],
)
async def test_odd_queries_return_no_hits_and_a_reason(index: PassageIndex, query: str, where: SearchFilter,
                                                       reason_part: str) -> None:
    for mode in SEARCH_MODES:
        result = await index.search(query, mode=mode, where=where)
        assert result.hits == ()
        assert result.reason is not None and reason_part in result.reason


async def _both_engines(index: PassageIndex, query: str, mode: SearchMode, where: SearchFilter,
                        limit: int) -> tuple[SearchResult, SearchResult]:
    """The embedded engine's answer (columns) and Qdrant's own (the server code path, which lets Qdrant
    filter and score), from the same collection."""
    fast = await index.search(query, mode=mode, where=where, limit=limit)
    index._local = False
    try:
        reference = await index.search(query, mode=mode, where=where, limit=limit)
    finally:
        index._local = True
    return fast, reference


def _assert_same_ranking(fast: SearchResult, reference: SearchResult, limit: int) -> None:
    """Same scores, and the same ids in the same order, except among equal scores (within float32
    rounding: identical vectors can score a last bit apart), whose order is unspecified; and where the
    list was cut inside such a group, Qdrant may have kept other members of it."""
    assert len(fast.hits) == len(reference.hits)
    assert fast.reason == reference.reason
    assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(fast.hits, reference.hits))
    groups: list[list[int]] = []
    for i, hit in enumerate(reference.hits):
        if groups and abs(reference.hits[groups[-1][0]].score - hit.score) <= _TIE:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        if len(fast.hits) == limit and group[-1] == limit - 1:
            break  # the cut group
        assert {fast.hits[i].point_id for i in group} == {reference.hits[i].point_id for i in group}
    by_id = {h.point_id: h.payload for h in reference.hits}
    assert all(h.payload == by_id[h.point_id] for h in fast.hits if h.point_id in by_id)


_TIE = 1e-6


async def test_embedded_search_ranks_as_qdrant_does_for_every_mode_and_filter(index: PassageIndex) -> None:
    """Embedded mode answers from numpy columns (columns.py); it must filter and rank as Qdrant's own
    query does, store fields (price, rating, stock) included."""
    products = _products()
    store_fields = {p.asin: {"price_cents": 500 + 700 * n, "rating": 1.0 + (n % 9) / 2, "in_stock": n % 3 != 0}
                    for n, p in enumerate(products[:8])}
    await index.upsert(list(catalog_passages(products[:8], extra_payload=store_fields)))  # rewrites 8 products
    category = infer_category(products[0])
    filters = [
        SearchFilter(),
        SearchFilter(product_ids=(products[0].asin, products[5].asin)),
        SearchFilter(product_ids=(products[1].asin,), kinds=("review", "qa")),
        SearchFilter(kinds=(REVIEW,)),
        SearchFilter(categories=(category,)),
        SearchFilter(min_price_cents=1_000, max_price_cents=4_000),
        SearchFilter(min_rating=3.0, in_stock_only=True),
        SearchFilter(product_ids=tuple(p.asin for p in products[:12]), min_price_cents=600, in_stock_only=True),
        SearchFilter(product_ids=("B-NOPE",)),
    ]
    for query in ("how big is it", "what do reviewers say about the battery", "is it waterproof"):
        for where in filters:
            assert await index.count(where) == await _reference_count(index, where)
            for mode in SEARCH_MODES:
                # 100 holds every match of most filters (so no tie is cut); 5 checks the cut itself.
                for limit in (100, 5):
                    fast, reference = await _both_engines(index, query, mode, where, limit)
                    _assert_same_ranking(fast, reference, limit)


async def _reference_count(index: PassageIndex, where: SearchFilter) -> int:
    index._local = False
    try:
        return await index.count(where)
    finally:
        index._local = True


async def test_embedded_columns_are_rebuilt_from_the_collection_when_reopened(index: PassageIndex) -> None:
    """A new PassageIndex on an existing collection builds its columns from Qdrant (one scroll)."""
    where = SearchFilter(product_ids=(_products()[2].asin,))
    before = await index.search("how does it work", mode="hybrid", where=where, limit=5)
    index._columns = None  # as after opening an existing folder
    after = await index.search("how does it work", mode="hybrid", where=where, limit=5)
    assert [(h.point_id, h.score) for h in after.hits] == [(h.point_id, h.score) for h in before.hits]


async def test_embedded_search_ranks_as_qdrant_on_random_vectors_with_ties(tmp_path: Path) -> None:
    """Without the models: many points, few BM25 terms (so scores tie), store fields sometimes absent,
    points rewritten; every mode and filter must match Qdrant's answer."""
    rng = random.Random(7)
    settings = dataclasses.replace(Settings(), home=tmp_path, qdrant_url=None)
    index = PassageIndex.open(settings, _EightDims(), collection="random")  # type: ignore[arg-type]
    try:
        await index.ensure_collection()
        passages, dense, sparse = [], [], []
        for n in range(600):
            payload: dict[str, PayloadValue] = {"kind": rng.choice(["review", "qa", "bullet"]),
                                                "product_id": f"P{n % 40}", "text": f"passage {n}"}
            for key, value in (("category", rng.choice("abc")), ("price_cents", rng.randint(100, 1_000)),
                               ("rating", round(rng.uniform(1, 5), 1)), ("in_stock", rng.random() < 0.7)):
                if rng.random() < 0.8:
                    payload[key] = value
            passages.append(Passage(str(uuid.UUID(int=n + 1)), str(payload["kind"]), str(payload["product_id"]),
                                    str(payload["text"]), payload))
            dense.append([rng.gauss(0, 1) for _ in range(8)])
            terms = rng.sample(range(40), rng.randint(0, 5))
            sparse.append(SparseVector(tuple(terms), tuple(rng.choice([0.7, 1.0, 1.5]) for _ in terms)))
        for start in range(0, 600, 128):
            await index.write_vectors(passages[start:start + 128], dense[start:start + 128], sparse[start:start + 128])
        # Rewritten points: new dense vectors (a copy of another point's vector would tie it, and Qdrant
        # itself scores identical vectors a last bit apart by their position, which hybrid fusion would
        # turn into different ranks), and another point's terms.
        await index.write_vectors(passages[:50], [[rng.gauss(0, 1) for _ in range(8)] for _ in range(50)],
                                  sparse[50:100])
        filters = [SearchFilter(), SearchFilter(product_ids=("P1", "P2", "P-NONE")), SearchFilter(kinds=("qa",)),
                   SearchFilter(categories=("a", "c")), SearchFilter(min_price_cents=300, max_price_cents=700),
                   SearchFilter(min_rating=4.0), SearchFilter(in_stock_only=True),
                   SearchFilter(product_ids=("P3", "P4"), kinds=("review", "qa"), min_rating=2.0, in_stock_only=True)]
        for where in filters:
            assert await index.count(where) == await _reference_count(index, where)
            for mode in SEARCH_MODES:
                # Hybrid is compared uncut only: with these few terms, BM25 ties straddle the fusion
                # depth, and which of them Qdrant keeps there is unspecified (it changes the fusion).
                for limit in ((300, 7) if mode != "hybrid" else (300,)):
                    query = [rng.gauss(0, 1) for _ in range(8)]
                    terms = SparseVector(tuple(rng.sample(range(40), 3)), (1.0, 1.0, 1.0))
                    fast = await index.search_vectors(query, terms, mode, where, limit)
                    index._local = False
                    try:
                        reference = await index.search_vectors(query, terms, mode, where, limit)
                    finally:
                        index._local = True
                    _assert_same_ranking(fast, reference, limit)
                    if mode == "bm25":  # the same float64 sums as local mode's, so the same float32
                        assert [h.score for h in fast.hits] == [h.score for h in reference.hits]
    finally:
        index.close()


class _EightDims:
    """Stands in for the embedder where only its dimension is read (vectors are given)."""

    dim = 8


async def test_concurrent_queries_are_embedded_together_and_get_their_own_vectors() -> None:
    embedder = Embedder(MODELS_DIR)
    try:
        texts = [f"is it good for {use}?" for use in ("travel", "camping", "kids", "the office", "gifts", "cooking")]
        alone = [await embedder.aquery(text) for text in texts]
        calls: list[int] = []
        batch = embedder._query_batch

        def counted(queries: list[tuple[str, bool]]) -> list[tuple[list[float], object]]:
            calls.append(len(queries))
            return batch(queries)  # type: ignore[return-value]

        embedder._query_batch = counted  # type: ignore[method-assign,assignment]
        together = await asyncio.gather(*(embedder.aquery(text, with_dense=i != 2) for i, text in enumerate(texts)))
        assert calls == [6], "queries asked in the same moment go to the model in one batch"
        for i, ((dense, sparse), (dense_alone, sparse_alone)) in enumerate(zip(together, alone)):
            assert sparse == sparse_alone
            assert dense == [] if i == 2 else max(abs(a - b) for a, b in zip(dense, dense_alone)) < 1e-5
    finally:
        embedder.close()


def test_embedded_storage_writes_ahead_instead_of_syncing_every_point(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient, models

    from pipeline.retrieval.local_storage import tune_local_storage

    client = QdrantClient(path=str(tmp_path / "q"))
    try:
        client.create_collection("c", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
        assert tune_local_storage(client) == 1, "qdrant-client moved its storage: local writes are slow again"
        connection = client._client.collections["c"].storage.storage  # type: ignore[union-attr]
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        client.close()

"""The passage index end to end on a real Qdrant Edge shard (embedded mode) in a temporary folder:
real fastembed models over the first 20 products of the shared catalog, and random vectors checked
against brute-force answers computed here."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pipeline.catalog import Product
from pipeline.categories import infer_category
from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.retrieval.edge import EDGE_DIR
from pipeline.retrieval.embedder import Embedder, SparseVector
from pipeline.retrieval.index import COLLECTION, SEARCH_MODES, PassageIndex, SearchFilter
from pipeline.retrieval.indexing import catalog_passages, catalog_products, ingest_catalog
from pipeline.retrieval.model_files import ModelPaths
from pipeline.retrieval.passages import ATTRIBUTE, REVIEW, Passage, PayloadValue

pytestmark = pytest.mark.slow
PRODUCTS = 20
MODELS_DIR = Settings().home / "models"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("aisle-home"))


@pytest.fixture(scope="module")
async def index(home: Path) -> AsyncIterator[PassageIndex]:
    """The first PRODUCTS products; the first 8 with store fields (price, rating, stock) in the payload."""
    if not ModelPaths.under(MODELS_DIR).is_complete():
        pytest.skip(f"model folders missing under {MODELS_DIR}: run `make models`")
    settings = dataclasses.replace(Settings(), home=home, qdrant_url=None)
    embedder = Embedder(MODELS_DIR)
    passage_index = PassageIndex.open(settings, embedder)
    progress: list[tuple[int, int]] = []
    written = await ingest_catalog(settings, passage_index, limit=PRODUCTS, progress=lambda d, t: progress.append((d, t)))
    assert written == progress[-1][0] == progress[-1][1]
    await passage_index.upsert(list(catalog_passages(_products()[:8], extra_payload=STORE_FIELDS)))
    yield passage_index
    passage_index.close()
    embedder.close()


def _products() -> list[Product]:
    return catalog_products(Settings(), limit=PRODUCTS)


STORE_FIELDS: dict[str, dict[str, PayloadValue]] = {
    p.asin: {"price_cents": 500 + 700 * n, "rating": 1.0 + (n % 9) / 2, "in_stock": n % 3 != 0}
    for n, p in enumerate(_products()[:8])
}


def test_the_shard_lives_under_aisle_home(home: Path, index: PassageIndex) -> None:
    assert (home / EDGE_DIR / COLLECTION / "edge_config.json").exists()


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
    category = infer_category(products[0])
    in_category = {p.asin for p in products if infer_category(p) == category}
    for mode in SEARCH_MODES:
        result = await index.search("great quality", mode=mode, where=SearchFilter(product_ids=(first, second)), limit=50)
        assert result.hits and {h.product_id for h in result.hits} <= {first, second}, mode
        reviews = await index.search("great quality", mode=mode, where=SearchFilter(kinds=(REVIEW,)), limit=30)
        assert reviews.hits and all(h.kind == REVIEW for h in reviews.hits), mode
        by_category = await index.search("great quality", mode=mode, where=SearchFilter(categories=(category,)), limit=30)
        assert by_category.hits and {h.product_id for h in by_category.hits} <= in_category, mode


@pytest.mark.parametrize(
    "where",
    [
        SearchFilter(min_price_cents=1_000, max_price_cents=4_000),
        SearchFilter(max_price_cents=1_200),
        SearchFilter(min_rating=3.0),
        SearchFilter(in_stock_only=True),
        SearchFilter(min_rating=2.0, in_stock_only=True, kinds=(REVIEW, "qa")),
    ],
    ids=["price range", "max price", "rating", "in stock", "rating, stock and kind"],
)
async def test_store_field_filters_match_exactly_the_products_that_qualify(index: PassageIndex,
                                                                           where: SearchFilter) -> None:
    """Price, rating and stock filters on the real shard: the hits and the count are those of the
    products whose store fields qualify (the 12 products without store fields never match)."""
    qualifying = {asin for asin, fields in STORE_FIELDS.items() if _matches_store_fields(fields, where)}
    assert qualifying and qualifying != set(STORE_FIELDS)
    expected = [p for p in catalog_passages(_products()[:8]) if p.product_id in qualifying
                and (not where.kinds or p.kind in where.kinds)]
    assert await index.count(where) == len(expected)
    for mode in SEARCH_MODES:
        result = await index.search("is it worth the money", mode=mode, where=where, limit=len(expected) + 10)
        assert {h.product_id for h in result.hits} <= qualifying, mode  # bm25 may find no shared word
        assert all(type(h.payload["in_stock"]) is bool for h in result.hits)  # stored as 0/1, read back as bool
        if mode == "dense":  # every passage has a dense vector, so dense returns every match
            assert len(result.hits) == len(expected)


def _matches_store_fields(fields: Mapping[str, Any], where: SearchFilter) -> bool:
    return ((where.min_price_cents is None or fields["price_cents"] >= where.min_price_cents)
            and (where.max_price_cents is None or fields["price_cents"] <= where.max_price_cents)
            and (where.min_rating is None or fields["rating"] >= where.min_rating)
            and (not where.in_stock_only or fields["in_stock"] is True))


async def test_in_stock_filter_matches_in_stock_products_only(index: PassageIndex) -> None:
    """The Edge binding turns MatchValue(True) into 1; in_stock is stored as 0/1 to match at all."""
    in_stock = {asin for asin, fields in STORE_FIELDS.items() if fields["in_stock"]}
    out_of_stock = set(STORE_FIELDS) - in_stock
    result = await index.search("how big is it", where=SearchFilter(product_ids=tuple(STORE_FIELDS),
                                                                   in_stock_only=True), limit=200)
    assert {h.product_id for h in result.hits} == in_stock
    none = await index.search("how big is it", where=SearchFilter(product_ids=tuple(out_of_stock), in_stock_only=True))
    assert none.hits == () and none.reason == "no passage matched the query and filters"


async def test_reingesting_is_idempotent(index: PassageIndex) -> None:
    settings_products = _products()
    expected = len(list(catalog_passages(settings_products)))
    assert await index.count() == expected
    await index.upsert(list(catalog_passages(settings_products[:3], extra_payload=STORE_FIELDS)))
    assert await index.count() == expected


@pytest.mark.parametrize(
    ("query", "where", "reason_part"),
    [
        ("", SearchFilter(), "empty"),
        ("battery " * 1250, SearchFilter(), "longer than"),
        ("这个计算器用什么电池？", SearchFilter(), "English-only"),
        ("what battery does it use?", SearchFilter(product_ids=("B000NOSUCH",)), "B000NOSUCH"),
        ("?!", SearchFilter(), "no searchable words"),
        ("what battery does it use?", SearchFilter(categories=("no-such-category",)), "no passage matched"),
    ],
)
async def test_odd_queries_return_no_hits_and_a_reason(index: PassageIndex, query: str, where: SearchFilter,
                                                       reason_part: str) -> None:
    for mode in SEARCH_MODES:
        result = await index.search(query, mode=mode, where=where)
        assert result.hits == ()
        assert result.reason is not None and reason_part in result.reason


async def test_a_second_process_cannot_open_an_open_shard(home: Path, index: PassageIndex) -> None:
    """The shard locks its write-ahead log; the second opener gets DependencyError, as PassageIndex.open says."""
    script = ("import dataclasses, sys; from pathlib import Path; from pipeline.config import Settings; "
              "from pipeline.errors import DependencyError; from pipeline.retrieval.index import PassageIndex\n"
              "try:\n    PassageIndex.open(dataclasses.replace(Settings(), home=Path(sys.argv[1]), qdrant_url=None), "
              "None)\nexcept DependencyError as exc:\n    print('refused:', exc)\n")
    done = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=120,
                          check=True)
    assert done.stdout.startswith("refused:") and "WAL" in done.stdout
    with pytest.raises(DependencyError, match="cannot open"):
        PassageIndex.open(dataclasses.replace(Settings(), home=home, qdrant_url=None), None)  # type: ignore[arg-type]


async def test_random_vectors_rank_as_brute_force_and_survive_optimize_and_reopen(tmp_path: Path) -> None:
    """Without the models: every mode and filter against an exact search computed here; then the
    same after optimize(), and after closing and loading the shard again."""
    rng = random.Random(7)
    settings = dataclasses.replace(Settings(), home=tmp_path, qdrant_url=None)
    passages, dense, sparse = [], [], []
    for n in range(600):
        payload: dict[str, PayloadValue] = {"kind": rng.choice(["review", "qa", "bullet"]),
                                            "product_id": f"P{n % 40}", "text": f"passage {n}"}
        for key, value in (("category", rng.choice("abc")), ("price_cents", rng.randint(100, 1_000)),
                           ("rating", round(rng.uniform(1, 5), 1)), ("in_stock", rng.random() < 0.7)):
            if rng.random() < 0.8:  # a point without the field never matches a filter on it
                payload[key] = value
        passages.append(Passage(str(uuid.UUID(int=n + 1)), str(payload["kind"]), str(payload["product_id"]),
                                str(payload["text"]), payload))
        dense.append([rng.gauss(0, 1) for _ in range(8)])
        terms = rng.sample(range(40), rng.randint(1, 5))
        sparse.append(SparseVector(tuple(terms), tuple(rng.choice([0.7, 1.0, 1.5]) for _ in terms)))
    filters = [SearchFilter(), SearchFilter(product_ids=("P1", "P2", "P-NONE")), SearchFilter(kinds=("qa",)),
               SearchFilter(categories=("a", "c")), SearchFilter(min_price_cents=300, max_price_cents=700),
               SearchFilter(min_rating=4.0), SearchFilter(in_stock_only=True),
               SearchFilter(product_ids=("P3", "P4"), kinds=("review", "qa"), min_rating=2.0, in_stock_only=True)]
    queries = [[rng.gauss(0, 1) for _ in range(8)] for _ in filters]

    async def check(index: PassageIndex) -> None:
        for where, query in zip(filters, queries):
            matching = [n for n, p in enumerate(passages) if _matches(p.payload, where)]
            assert await index.count(where) == len(matching)
            result = await index.search_vectors(query, SparseVector((), ()), "dense", where, limit=10)
            exact = sorted(matching, key=lambda n: -_cosine(query, dense[n]))[:10]
            assert [h.point_id for h in result.hits] == [passages[n].point_id for n in exact]
            assert all(abs(h.score - _cosine(query, dense[n])) < 1e-5 for h, n in zip(result.hits, exact))
            terms = SparseVector(tuple(rng.sample(range(40), 3)), (1.0, 1.0, 1.0))
            for mode in ("bm25", "hybrid"):
                found = await index.search_vectors(query, terms, mode, where, limit=300)  # type: ignore[arg-type]
                ids = {h.point_id for h in found.hits}
                assert ids <= {passages[n].point_id for n in matching}, (mode, where)
                if mode == "bm25":  # every point sharing a query term, and only those
                    assert ids == {passages[n].point_id for n in matching if set(sparse[n].indices) & set(terms.indices)}

    index = PassageIndex.open(settings, _EightDims(), collection="random")  # type: ignore[arg-type]
    try:
        await index.ensure_collection()
        for start in range(0, 600, 128):
            await index.write_vectors(passages[start:start + 128], dense[start:start + 128], sparse[start:start + 128])
        await check(index)
        await index.optimize()
        await check(index)
    finally:
        index.close()
    reopened = PassageIndex.open(settings, _EightDims(), collection="random")  # type: ignore[arg-type]
    try:
        await check(reopened)
    finally:
        reopened.close()


def _matches(payload: Mapping[str, Any], where: SearchFilter) -> bool:
    def within(key: str, low: float | None, high: float | None) -> bool:
        return key in payload and (low is None or payload[key] >= low) and (high is None or payload[key] <= high)

    return ((not where.product_ids or payload["product_id"] in where.product_ids)
            and (not where.kinds or payload["kind"] in where.kinds)
            and (not where.categories or payload.get("category") in where.categories)
            and (where.min_price_cents is None and where.max_price_cents is None
                 or within("price_cents", where.min_price_cents, where.max_price_cents))
            and (where.min_rating is None or within("rating", where.min_rating, None))
            and (not where.in_stock_only or payload.get("in_stock") is True))


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


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

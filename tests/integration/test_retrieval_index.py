"""The passage index end to end: real fastembed models and embedded Qdrant in a temporary folder,
over the first 20 products of the shared catalog."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.catalog import Product, infer_category
from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import SEARCH_MODES, PassageIndex, SearchFilter
from pipeline.retrieval.ingest import catalog_passages, catalog_products, ingest_catalog
from pipeline.retrieval.model_files import ModelPaths
from pipeline.retrieval.passages import ATTRIBUTE, REVIEW

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


async def test_embedded_product_scoped_search_matches_qdrants_filtered_search(index: PassageIndex) -> None:
    """The embedded-mode fast path (points looked up by product, scored here) must rank exactly as
    Qdrant's own filtered search does."""
    products = [p.asin for p in _products()[:3]]
    for query in ("how big is it", "what do reviewers say about quality"):
        for kinds in ((), ("review", "qa")):
            where = SearchFilter(product_ids=tuple(products[:2]), kinds=kinds)
            fast = await index.search(query, mode="dense", where=where, limit=8)
            index._local = False  # the server path: Qdrant evaluates the filter
            try:
                reference = await index.search(query, mode="dense", where=where, limit=8)
            finally:
                index._local = True
            assert [h.point_id for h in fast.hits] == [h.point_id for h in reference.hits]
            assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(fast.hits, reference.hits))
            assert all(h.product_id in products[:2] and (not kinds or h.kind in kinds) for h in fast.hits)
    unknown = await index.search("anything", mode="dense", where=SearchFilter(product_ids=("B-NOPE",)))
    assert unknown.hits == () and unknown.reason is not None

"""Load the catalog into the passage index: every product page, as passages (see passages.py).

Each product's passages carry its category (inferred by pipeline.categories.infer_category, the same
rule the store uses) so searches can filter by category.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pipeline.catalog import PRODUCTS_FILE, REVIEW_SETS_FILE, Product, read_products, read_review_sets
from pipeline.categories import infer_category, review_set_category
from pipeline.config import Settings
from pipeline.retrieval.index import PassageIndex, Progress
from pipeline.retrieval.passages import Passage, PayloadValue, passages_for, review_set_passages


def catalog_products(settings: Settings, limit: int | None = None) -> list[Product]:
    """The products of the shared catalog, in file order (the first `limit` if given).

    Malformed lines are skipped (pipeline.catalog reports them). Raises ConfigError when the
    catalog file cannot be read.
    """
    products: list[Product] = []
    for product in read_products(settings.shared_data / PRODUCTS_FILE):
        if limit is not None and len(products) >= limit:
            break
        products.append(product)
    return products


def catalog_passages(
    products: Sequence[Product],
    extra_payload: Mapping[str, Mapping[str, PayloadValue]] | None = None,
) -> Iterator[Passage]:
    """All passages of the products; `extra_payload[asin]` (store fields) goes into that product's payloads."""
    extras = extra_payload or {}
    for product in products:
        yield from passages_for(product, category=infer_category(product), extra_payload=extras.get(product.asin))


async def ingest_catalog(
    settings: Settings,
    index: PassageIndex,
    limit: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Index the catalog (or its first `limit` products); returns the passages written.

    The review sets (products known only by their reviews) are indexed too, unless `limit` is given.
    Idempotent: point ids are deterministic, so running it again rewrites the same points.
    """
    passages = list(catalog_passages(catalog_products(settings, limit)))
    if limit is None:
        passages += list(review_sets_passages(settings))
    return await index.upsert(passages, progress=progress)


def review_sets_passages(settings: Settings) -> Iterator[Passage]:
    """Review passages of every review set, so "what do customers say" finds them."""
    for review_set in read_review_sets(settings.shared_data / REVIEW_SETS_FILE):
        yield from review_set_passages(review_set.asin, [r.text for r in review_set.reviews],
                                       category=review_set_category(review_set))

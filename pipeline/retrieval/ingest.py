"""Load the catalog into the passage index: every product page, as passages (see passages.py).

Each product's passages carry its category (inferred by pipeline.catalog.infer_category, the same
rule the store uses) so searches can filter by category.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pipeline.catalog import PRODUCTS_FILE, Product, infer_category, read_products
from pipeline.config import Settings
from pipeline.retrieval.index import PassageIndex, Progress
from pipeline.retrieval.passages import Passage, PayloadValue, passages_for


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

    Idempotent: point ids are deterministic, so running it again rewrites the same points.
    """
    passages = list(catalog_passages(catalog_products(settings, limit)))
    return await index.upsert(passages, progress=progress)

"""Loading the real catalog into a store, with simulated offers, ratings and price history.

`load_catalog` is idempotent: each product row keeps two fingerprints, one of its fields and one of
its simulation inputs (simulator version, seed, as-of day, history length, currency, category, price
band, real ratings). A second run with the same catalog and config writes nothing; a product whose
fields changed is rewritten; a product whose simulation inputs changed gets fresh simulated data
(which replaces any live changes), so a store built by an older simulator or price model is
re-simulated by the next load. Products missing from a later catalog are left in the store.

Each product's price band comes from pipeline/store/price_model.py (title, inferred category,
attributes); a review set's from its made-up title, which names its source category.

Review sets have no product page and no title: each becomes a `review_only` product titled
"<source category> product <asin>" (e.g. "Home & Kitchen product B00006IUVM"), with the source's
category mapped to a coarse one (category_source "source"). Its rating is the true aggregate of its
reviews' star ratings where they have them (Copycat/FewSum), else simulated.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date

from pipeline.catalog import MalformedLine, Product, ReviewSet, read_catalog
from pipeline.categories import infer_category, review_set_category
from pipeline.config import Settings
from pipeline.store.price_model import PriceBand, quote_price
from pipeline.store.records import StoreProduct
from pipeline.store.simulator import SimulatedProduct, SimulationConfig, simulate_product
from pipeline.store.sqlite import ProductUpsert, SqliteStore

ProgressCallback = Callable[[int, int], None]
"""Called with (products done, products in all) after each batch."""


@dataclass(frozen=True)
class LoadReport:
    """What one `load_catalog` run did. added + updated + unchanged == products."""

    products: int
    """Distinct products offered (pages and review sets)."""
    added: int
    updated: int
    """Stored before, with different fields or simulation inputs."""
    unchanged: int
    simulated: int
    """Products whose offer, rating and history were (re)generated."""
    duplicates: int
    """Inputs skipped because an earlier one had the same id."""

    @property
    def changed(self) -> bool:
        return self.added + self.updated > 0


@dataclass(frozen=True)
class _Entry:
    product: StoreProduct
    real_ratings: tuple[int, ...]
    band: PriceBand


async def load_catalog(
    store: SqliteStore,
    products: Sequence[Product],
    review_sets: Sequence[ReviewSet] = (),
    *,
    config: SimulationConfig = SimulationConfig(),
    progress: ProgressCallback | None = None,
    batch_size: int = 100,
) -> LoadReport:
    """Upsert `products` and `review_sets` with simulated commerce data; see the module docstring.

    Raises DependencyError if the store fails (the batch in flight is rolled back; earlier batches
    stay, and a rerun completes the load), ValueError for a batch_size below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    entries, duplicates = _entries(products, review_sets)
    added = updated = simulated = 0
    for start in range(0, len(entries), batch_size):
        batch = entries[start : start + batch_size]
        stored = await store.catalog_keys([e.product.product_id for e in batch])
        upserts: list[ProductUpsert] = []
        to_simulate: list[_Entry] = []
        for entry in batch:
            upsert = ProductUpsert(entry.product, _content_hash(entry.product), _sim_key(entry, config))
            previous = stored.get(entry.product.product_id)
            if previous == (upsert.content_hash, upsert.sim_key):
                continue
            if previous is None:
                added += 1
            else:
                updated += 1
            upserts.append(upsert)
            if previous is None or previous[1] != upsert.sim_key:
                to_simulate.append(entry)
        if upserts:
            # Simulation is CPU work (a year of days per product); keep it off the event loop.
            simulations = await asyncio.to_thread(_simulate, to_simulate, config)
            await store.write_catalog(upserts, simulations)
            simulated += len(simulations)
        if progress is not None:
            progress(start + len(batch), len(entries))
    return LoadReport(
        products=len(entries),
        added=added,
        updated=updated,
        unchanged=len(entries) - added - updated,
        simulated=simulated,
        duplicates=duplicates,
    )


def simulation_config(settings: Settings, *, as_of: date | None = None) -> SimulationConfig:
    """The simulator's config from settings (AISLE_STORE_SEED); `as_of` defaults to a fixed day, so
    loads are reproducible. Passing today's date re-simulates every product once per day."""
    if as_of is None:
        return SimulationConfig(seed=settings.store_seed)
    return SimulationConfig(seed=settings.store_seed, as_of=as_of)


async def load_shared_catalog(
    store: SqliteStore,
    settings: Settings,
    *,
    as_of: date | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[LoadReport, tuple[tuple[str, MalformedLine], ...]]:
    """Read the catalog under AISLE_SHARED_DATA and load it: what `aisle store load` needs.

    Returns the report and the malformed lines skipped, as (file name, line). Raises ConfigError
    when a catalog file is missing, DependencyError when the store fails.
    """
    catalog = await asyncio.to_thread(read_catalog, settings.shared_data)
    report = await load_catalog(
        store,
        catalog.products,
        catalog.review_sets,
        config=simulation_config(settings, as_of=as_of),
        progress=progress,
    )
    return report, catalog.malformed


def store_product(product: Product) -> StoreProduct:
    """The store's view of a catalog product page (category inferred from its text)."""
    brand = product.attribute("brand") or product.attribute("manufacturer") or None
    return StoreProduct(
        product_id=product.asin,
        title=product.title,
        category=infer_category(product),
        category_source="inferred",
        kind="page",
        brand=brand,
    )


def review_only_product(review_set: ReviewSet) -> StoreProduct:
    """The store's view of a review set: a product with no page, named by its category and id."""
    return StoreProduct(
        product_id=review_set.asin,
        title=f"{review_set.category} product {review_set.asin}",
        category=review_set_category(review_set),
        category_source="source",
        kind="review_only",
        brand=None,
    )


def _entries(products: Sequence[Product], review_sets: Sequence[ReviewSet]) -> tuple[list[_Entry], int]:
    entries: list[_Entry] = []
    seen: set[str] = set()
    duplicates = 0
    candidates = [_page_entry(p) for p in products] + [_review_set_entry(rs) for rs in review_sets]
    for entry in candidates:
        if entry.product.product_id in seen:
            duplicates += 1
            continue
        seen.add(entry.product.product_id)
        entries.append(entry)
    return entries, duplicates


def _page_entry(product: Product) -> _Entry:
    stored = store_product(product)
    return _Entry(stored, (), quote_price(product.title, stored.category, product.attributes).band)


def _review_set_entry(review_set: ReviewSet) -> _Entry:
    stored = review_only_product(review_set)
    ratings = tuple(r.rating for r in review_set.reviews if r.rating is not None)
    return _Entry(stored, ratings, quote_price(stored.title, stored.category).band)


def _content_hash(product: StoreProduct) -> str:
    return hashlib.sha256(json.dumps(asdict(product), sort_keys=True).encode()).hexdigest()[:32]


def _sim_key(entry: _Entry, config: SimulationConfig) -> str:
    ratings = "".join(str(r) for r in entry.real_ratings)
    return f"{config.key()}|{entry.product.category}|{entry.band.key()}|{ratings}"


def _simulate(entries: Sequence[_Entry], config: SimulationConfig) -> dict[str, SimulatedProduct]:
    return {
        e.product.product_id: simulate_product(
            e.product.product_id, e.product.category, config, band=e.band, real_ratings=e.real_ratings
        )
        for e in entries
    }

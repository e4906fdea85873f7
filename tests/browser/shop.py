"""A small real shop for the browser tests: two catalog pages loaded into a SqliteStore (the loader's
simulated offers and a year of history ending today), one price set by hand, and the frames an answer
about them would carry, built by hydrate's own resolvers over the same store."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.catalog import Attribute, Catalog, Product, QAPair
from pipeline.markup import payloads, resolve
from pipeline.markup.lookups import Lookups
from pipeline.store.loader import load_catalog
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.simulator import SimulationConfig
from pipeline.store.sqlite import SqliteStore

KETTLE = "B0KETTLE01"
GRINDER = "B0GRINDER1"
KETTLE_PRICE_CENTS = 2749
"""Set by hand after loading, so the test knows the store's price without reading the simulator."""
PRODUCTS = (
    Product(
        KETTLE, "Steel Kettle 1.7 L",
        attributes=(Attribute("capacity", "1.7 liters"), Attribute("material", "stainless steel"),
                    Attribute("item_weight", "1.1 kilograms"), Attribute("binding", "kitchen")),
        reviews=("the kettle boils fast and the lid is sturdy.", "it is loud when it boils.",
                 "great kettle, boils fast.", "the handle gets hot."),
        community_qa=(QAPair("is the lid dishwasher safe?", "yes, the lid and the filter are."),
                      QAPair("does it switch off by itself?", "it does, when the water boils.")),
    ),
    Product(
        GRINDER, "Burr Coffee Grinder",
        attributes=(Attribute("capacity", "0.25 liters"), Attribute("material", "plastic")),
        reviews=("the grind is even.", "it is loud."),
    ),
)


@dataclass(frozen=True)
class Shop:
    store: SqliteStore
    reader: StoreWithPages


@asynccontextmanager
async def open_shop(folder: Path) -> AsyncIterator[Shop]:
    store = await SqliteStore.open(folder / "store.sqlite")
    try:
        today = datetime.now(timezone.utc).date()
        await load_catalog(store, PRODUCTS, config=SimulationConfig(seed=7, as_of=today))
        await set_price(store, KETTLE, KETTLE_PRICE_CENTS)
        yield Shop(store, StoreWithPages(store, CatalogPages.from_catalog(Catalog(PRODUCTS, (), ()))))
    finally:
        await store.close()


async def set_price(store: SqliteStore, product_id: str, price_cents: int) -> None:
    await store.record_price_change(product_id, price_cents, True, time.time_ns() // 1_000_000, simulated=False)


def _plain(payload: payloads.Payload | None) -> dict[str, Any]:
    if payload is None:
        raise AssertionError("the shop's store could not build a payload it should have")
    value: dict[str, Any] = json.loads(payloads.to_json(payload))
    return value


async def answer_payloads(reader: StoreWithPages) -> dict[str, dict[str, Any]]:
    """The card, carousel, comparison, review summary and price history of an answer about the shop."""
    lookups = Lookups(reader, 2.0)
    try:
        fetched = await lookups.fetch([*resolve.compare_reads([KETTLE, GRINDER]), *resolve.reviews_reads(KETTLE),
                                       *resolve.price_history_reads(KETTLE)])
    finally:
        lookups.close()
    return {
        "card": _plain(resolve.card(fetched, KETTLE)),
        "carousel": _plain(resolve.carousel(fetched, [KETTLE, GRINDER])),
        "compare": _plain(resolve.compare(fetched, [KETTLE, GRINDER], ["capacity", "price"])),
        "reviews": _plain(resolve.reviews(fetched, KETTLE)),
        "price_history": _plain(resolve.price_history(fetched, KETTLE)),
    }

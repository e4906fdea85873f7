"""The store ("Stores API"): products, offers, ratings, price history, carts and orders.

`Store` is the async interface; `SqliteStore` implements it over a local file whose prices, stock and
ratings come from the deterministic simulator and are marked simulated. See docs/store.md.
"""

from pipeline.store.base import Store
from pipeline.store.loader import LoadReport, load_catalog, load_shared_catalog
from pipeline.store.records import (
    Cart,
    CartLine,
    Offer,
    Order,
    OrderLine,
    PricePoint,
    RatingSummary,
    SearchFilters,
    StoreProduct,
)
from pipeline.store.simulator import SimulationConfig, next_events
from pipeline.store.sqlite import SqliteStore, open_store

__all__ = [
    "Cart",
    "CartLine",
    "LoadReport",
    "Offer",
    "Order",
    "OrderLine",
    "PricePoint",
    "RatingSummary",
    "SearchFilters",
    "SimulationConfig",
    "SqliteStore",
    "Store",
    "StoreProduct",
    "load_catalog",
    "load_shared_catalog",
    "next_events",
    "open_store",
]

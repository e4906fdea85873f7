"""The Stores API: what the assistant asks of a store, as an async Protocol.

`SqliteStore` (pipeline/store/sqlite.py) implements it over a local file filled by the simulator; a
company can put its own catalog, pricing, cart and order services behind the same methods.

Conventions every implementation keeps:
- Unknown ids are not errors for reads: a single get returns None, a plural get leaves the id out of
  its mapping, a history is empty. Writes that name an unknown product raise NotFoundError.
- A write the store refuses in its current state (out of stock, empty cart) raises StoreConflictError.
- A store that cannot be reached raises DependencyError (retriable).
- Money is integer cents with an ISO currency code; times are Unix ms; days are UTC dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pipeline.store.records import (
    Cart,
    Offer,
    Order,
    OrderStatus,
    PricePoint,
    RatingSummary,
    SearchFilters,
    StoreProduct,
)


class Store(Protocol):
    """Products, offers, ratings, price history, carts and orders."""

    # --- products and offers ---
    async def get_product(self, product_id: str) -> StoreProduct | None: ...

    async def get_products(self, product_ids: Sequence[str]) -> Mapping[str, StoreProduct]:
        """The products found, by id; unknown ids are left out."""
        ...

    async def list_product_ids(self) -> list[str]:
        """Every product id, sorted."""
        ...

    async def get_offer(self, product_id: str) -> Offer | None: ...

    async def get_offers(self, product_ids: Sequence[str]) -> Mapping[str, Offer]: ...

    async def get_rating(self, product_id: str) -> RatingSummary | None: ...

    async def get_ratings(self, product_ids: Sequence[str]) -> Mapping[str, RatingSummary]: ...

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        """Daily points, oldest first, for the `days` days ending at the latest point; [] if unknown."""
        ...

    async def get_deals(self, limit: int = 10, category: str | None = None) -> list[Offer]:
        """In-stock offers below their list price, biggest discount first."""
        ...

    async def search_products(self, filters: SearchFilters) -> list[str]:
        """Ids of the products that pass every filter, in `filters.sort` order, at most `limit`."""
        ...

    # --- carts (one per user) ---
    async def get_cart(self, user_id: str) -> Cart:
        """The user's cart, empty if they have none."""
        ...

    async def add_to_cart(self, user_id: str, product_id: str, quantity: int = 1, *,
                          request_key: str | None = None) -> Cart:
        """Add `quantity` (>= 1) of a product. A repeated `request_key` changes nothing and returns the
        cart as it is. Raises NotFoundError for an unknown product, ValueError for a quantity below 1."""
        ...

    async def remove_from_cart(self, user_id: str, product_id: str, quantity: int | None = None, *,
                               request_key: str | None = None) -> Cart:
        """Take `quantity` off the line, or the whole line when None. A repeated `request_key` changes
        nothing and returns the cart as it is. Raises NotFoundError when the cart has no such line."""
        ...

    # --- orders ---
    async def place_order(
        self,
        user_id: str,
        lines: Sequence[tuple[str, int]] | None = None,
        *,
        order_key: str | None = None,
    ) -> Order:
        """Order (product id, quantity) lines at current prices, or the whole cart when `lines` is
        None (the cart is then emptied). A repeated `order_key` returns the first order unchanged.
        Raises NotFoundError (unknown product), StoreConflictError (out of stock, nothing to order)."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def get_orders(self, user_id: str, limit: int = 20) -> list[Order]:
        """The user's orders, newest first."""
        ...

    async def get_order_status(self, order_id: str) -> OrderStatus | None: ...

    # --- changes (the simulator, or a pricing feed) ---
    async def record_price_change(
        self, product_id: str, price_cents: int, in_stock: bool, at_ms: int, *, simulated: bool
    ) -> Offer:
        """Set the current price and stock, bump the offer's seq and write the day's history point.
        Raises NotFoundError for an unknown product."""
        ...

    async def close(self) -> None: ...

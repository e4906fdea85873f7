"""The records the store returns, as frozen dataclasses. Money is integer cents with an ISO currency.

Every record that may hold made-up figures carries `simulated`: True when the figure comes from the
store simulator (pipeline/store/simulator.py) rather than from a real source. A client must label
simulated prices, stock and ratings as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Availability = Literal["in_stock", "out_of_stock"]
OrderStatus = Literal["placed", "shipped", "delivered"]
SortOrder = Literal["rating", "price_asc", "price_desc", "discount"]


@dataclass(frozen=True)
class StoreProduct:
    """What the store knows of a product: enough for a card. The page text is in pipeline.catalog."""

    product_id: str
    title: str
    category: str
    """One of pipeline.categories.CATEGORIES."""
    category_source: Literal["inferred", "source"]
    """inferred: guessed by keyword rules from the title; source: given by the data set."""
    kind: Literal["page", "review_only"]
    """page: a product page; review_only: a product known only by its reviews (no real title)."""
    brand: str | None = None


@dataclass(frozen=True)
class Offer:
    """The current offer for a product."""

    product_id: str
    price_cents: int
    """What the product sells for now."""
    list_price_cents: int
    """The regular price; a price below it is a sale."""
    currency: str
    in_stock: bool
    delivery_days: int | None
    """Days from order to delivery; None while out of stock."""
    simulated: bool
    seq: int = 0
    """Changes recorded for this product since it was loaded (the StoreEvent seq)."""
    updated_at_ms: int = 0
    """Unix time of the last change, ms; 0 for the loaded state."""

    @property
    def availability(self) -> Availability:
        return "in_stock" if self.in_stock else "out_of_stock"

    @property
    def discount_pct(self) -> int:
        """Whole percent below the list price (0 when not on sale)."""
        if self.list_price_cents <= 0 or self.price_cents >= self.list_price_cents:
            return 0
        return round(100 * (self.list_price_cents - self.price_cents) / self.list_price_cents)


@dataclass(frozen=True)
class RatingSummary:
    """Aggregate star rating. `distribution[k]` counts ratings of k+1 stars (1 to 5)."""

    product_id: str
    average: float
    """Mean stars, rounded to 2 decimals; 0.0 when count is 0."""
    count: int
    distribution: tuple[int, int, int, int, int]
    simulated: bool

    @classmethod
    def from_distribution(
        cls, product_id: str, distribution: tuple[int, int, int, int, int], *, simulated: bool
    ) -> RatingSummary:
        count = sum(distribution)
        total = sum((stars + 1) * n for stars, n in enumerate(distribution))
        average = round(total / count, 2) if count else 0.0
        return cls(product_id, average, count, distribution, simulated)


@dataclass(frozen=True)
class PricePoint:
    """The price and stock of a product on one day (UTC)."""

    day: date
    price_cents: int
    in_stock: bool
    simulated: bool


@dataclass(frozen=True)
class SearchFilters:
    """Structured product search. Unset fields do not filter."""

    category: str | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    min_rating: float | None = None
    """Minimum average stars, 1.0 to 5.0."""
    in_stock_only: bool = False
    on_sale_only: bool = False
    sort: SortOrder = "rating"
    """rating: best average first (more ratings break ties); price_asc/desc; discount: biggest first."""
    limit: int = 20


@dataclass(frozen=True)
class CartLine:
    product_id: str
    quantity: int
    unit_price_cents: int
    """The current offer price (a cart holds no price of its own)."""
    in_stock: bool


@dataclass(frozen=True)
class Cart:
    user_id: str
    lines: tuple[CartLine, ...]
    total_cents: int
    currency: str
    simulated: bool
    """True when any line's price is simulated."""


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    quantity: int
    unit_price_cents: int
    """The price when the order was placed."""


@dataclass(frozen=True)
class Order:
    order_id: str
    user_id: str
    lines: tuple[OrderLine, ...]
    total_cents: int
    currency: str
    placed_at_ms: int
    delivery_days: int
    status: OrderStatus
    """placed for the first hour, shipped until delivery_days have passed, then delivered."""
    order_key: str | None
    """The caller's idempotency key: placing an order with a key already used returns that order."""
    simulated: bool

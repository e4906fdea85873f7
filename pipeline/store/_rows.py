"""Row <-> record mapping for the SQLite store (private)."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Literal, cast

from pipeline.store.records import (
    CartLine,
    Offer,
    Order,
    OrderLine,
    OrderStatus,
    PricePoint,
    RatingSummary,
    StoreProduct,
)

PRODUCT_COLUMNS = "product_id, title, category, category_source, kind, brand"
OFFER_COLUMNS = (
    "product_id, price_cents, list_price_cents, currency, in_stock, delivery_days, simulated, seq,"
    " updated_at_ms"
)
RATING_COLUMNS = "product_id, average, count, stars_1, stars_2, stars_3, stars_4, stars_5, simulated"
ORDER_COLUMNS = (
    "order_id, user_id, order_key, total_cents, currency, placed_at_ms, delivery_days, simulated"
)

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


def product(row: sqlite3.Row) -> StoreProduct:
    return StoreProduct(
        product_id=row["product_id"],
        title=row["title"],
        category=row["category"],
        category_source=cast(Literal["inferred", "source"], row["category_source"]),
        kind=cast(Literal["page", "review_only"], row["kind"]),
        brand=row["brand"],
    )


def offer(row: sqlite3.Row) -> Offer:
    return Offer(
        product_id=row["product_id"],
        price_cents=row["price_cents"],
        list_price_cents=row["list_price_cents"],
        currency=row["currency"],
        in_stock=bool(row["in_stock"]),
        delivery_days=row["delivery_days"] if row["in_stock"] else None,
        simulated=bool(row["simulated"]),
        seq=row["seq"],
        updated_at_ms=row["updated_at_ms"],
    )


def offer_values(o: Offer, delivery_days: int) -> tuple[object, ...]:
    """Column values; `delivery_days` is the estimate, kept even while out of stock."""
    return (
        o.product_id,
        o.price_cents,
        o.list_price_cents,
        o.currency,
        int(o.in_stock),
        delivery_days,
        int(o.simulated),
        o.seq,
        o.updated_at_ms,
    )


def rating(row: sqlite3.Row) -> RatingSummary:
    return RatingSummary(
        product_id=row["product_id"],
        average=row["average"],
        count=row["count"],
        distribution=(row["stars_1"], row["stars_2"], row["stars_3"], row["stars_4"], row["stars_5"]),
        simulated=bool(row["simulated"]),
    )


def rating_values(r: RatingSummary) -> tuple[object, ...]:
    return (r.product_id, r.average, r.count, *r.distribution, int(r.simulated))


def price_point(row: sqlite3.Row) -> PricePoint:
    return PricePoint(
        day=date.fromisoformat(row["day"]),
        price_cents=row["price_cents"],
        in_stock=bool(row["in_stock"]),
        simulated=bool(row["simulated"]),
    )


def cart_line(row: sqlite3.Row) -> CartLine:
    return CartLine(
        product_id=row["product_id"],
        quantity=row["quantity"],
        unit_price_cents=row["price_cents"],
        in_stock=bool(row["in_stock"]),
    )


def order_status(placed_at_ms: int, delivery_days: int, now_ms: int) -> OrderStatus:
    """placed for the first hour, shipped until `delivery_days` have passed, then delivered."""
    elapsed_ms = now_ms - placed_at_ms
    if elapsed_ms < _HOUR_MS:
        return "placed"
    if elapsed_ms < delivery_days * _DAY_MS:
        return "shipped"
    return "delivered"


def order(row: sqlite3.Row, lines: list[sqlite3.Row], now_ms: int) -> Order:
    return Order(
        order_id=row["order_id"],
        user_id=row["user_id"],
        lines=tuple(
            OrderLine(r["product_id"], r["quantity"], r["unit_price_cents"]) for r in lines
        ),
        total_cents=row["total_cents"],
        currency=row["currency"],
        placed_at_ms=row["placed_at_ms"],
        delivery_days=row["delivery_days"],
        status=order_status(row["placed_at_ms"], row["delivery_days"], now_ms),
        order_key=row["order_key"],
        simulated=bool(row["simulated"]),
    )

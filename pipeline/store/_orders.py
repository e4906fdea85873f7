"""Placing and reading orders in the SQLite store (private: called on the store's thread)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pipeline.errors import NotFoundError, StoreConflictError
from pipeline.store import _rows
from pipeline.store.records import Order


def place_order(
    conn: sqlite3.Connection,
    user_id: str,
    lines: Sequence[tuple[str, int]] | None,
    order_key: str | None,
    now_ms: int,
) -> Order:
    """Place an order inside the caller's write transaction; see Store.place_order for the rules."""
    if order_key is not None:
        existing = read_orders(conn, "user_id = ? AND order_key = ?", (user_id, order_key), 1, now_ms)
        if existing:
            return existing[0]
    from_cart = lines is None
    if lines is None:
        rows = conn.execute(
            "SELECT product_id, quantity FROM cart_lines WHERE user_id = ? ORDER BY product_id", (user_id,)
        ).fetchall()
        lines = [(row["product_id"], row["quantity"]) for row in rows]
    quantities: dict[str, int] = {}
    for product_id, quantity in lines:
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if not quantities:
        raise StoreConflictError(f"nothing to order: the cart of {user_id!r} is empty")

    priced: list[tuple[str, int, int]] = []
    delivery_days = 1
    currency: str | None = None
    simulated = False
    for product_id in sorted(quantities):
        offer = conn.execute(
            "SELECT price_cents, currency, in_stock, delivery_days, simulated FROM offers WHERE product_id = ?",
            (product_id,),
        ).fetchone()
        if offer is None:
            raise NotFoundError(f"no product {product_id!r} in the store")
        if not offer["in_stock"]:
            raise StoreConflictError(f"product {product_id!r} is out of stock")
        if currency is not None and offer["currency"] != currency:
            raise StoreConflictError(f"an order cannot mix currencies ({currency}, {offer['currency']})")
        currency = offer["currency"]
        delivery_days = max(delivery_days, offer["delivery_days"])
        simulated = simulated or bool(offer["simulated"])
        priced.append((product_id, quantities[product_id], offer["price_cents"]))

    # Inside BEGIN IMMEDIATE no other writer can take the same number.
    order_no = conn.execute("SELECT COALESCE(MAX(order_no), 0) + 1 FROM orders").fetchone()[0]
    order_id = f"ord-{order_no:08d}"
    conn.execute(
        "INSERT INTO orders (order_no, order_id, user_id, order_key, total_cents, currency, placed_at_ms,"
        " delivery_days, simulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (order_no, order_id, user_id, order_key, sum(q * p for _, q, p in priced), currency,
         now_ms, delivery_days, int(simulated)),
    )
    conn.executemany(
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?)",
        [(order_id, product_id, quantity, price) for product_id, quantity, price in priced],
    )
    if from_cart:
        conn.execute("DELETE FROM cart_lines WHERE user_id = ?", (user_id,))
    return read_orders(conn, "order_id = ?", (order_id,), 1, now_ms)[0]


def read_orders(
    conn: sqlite3.Connection, where: str, params: tuple[object, ...], limit: int, now_ms: int
) -> list[Order]:
    """Orders matching `where` (a fixed SQL condition from this package), newest first."""
    rows = conn.execute(
        f"SELECT {_rows.ORDER_COLUMNS} FROM orders WHERE {where} ORDER BY order_no DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    orders: list[Order] = []
    for row in rows:
        lines = conn.execute(
            "SELECT product_id, quantity, unit_price_cents FROM order_lines WHERE order_id = ?"
            " ORDER BY product_id",
            (row["order_id"],),
        ).fetchall()
        orders.append(_rows.order(row, lines, now_ms))
    return orders

"""Reading and changing carts in the SQLite store (private: called on the store's thread, inside the
caller's transaction for changes). A change with a `request_key` applies once: the key is recorded
with the change, so a repeat returns the cart as it is; see Store.add_to_cart for the rules."""

from __future__ import annotations

import sqlite3

from pipeline.errors import NotFoundError
from pipeline.store import _rows
from pipeline.store.records import Cart


def add(conn: sqlite3.Connection, user_id: str, product_id: str, quantity: int, request_key: str | None,
        currency: str) -> Cart:
    """Add `quantity` of a product; NotFoundError for an unknown product."""
    if _already_applied(conn, user_id, request_key):
        return read_cart(conn, user_id, currency)
    if conn.execute("SELECT 1 FROM offers WHERE product_id = ?", (product_id,)).fetchone() is None:
        raise NotFoundError(f"no product {product_id!r} in the store")
    conn.execute(
        "INSERT INTO cart_lines (user_id, product_id, quantity) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity",
        (user_id, product_id, quantity),
    )
    return read_cart(conn, user_id, currency)


def remove(conn: sqlite3.Connection, user_id: str, product_id: str, quantity: int | None,
           request_key: str | None, currency: str) -> Cart:
    """Remove `quantity` of a product (None: the whole line); NotFoundError when the cart has none."""
    if _already_applied(conn, user_id, request_key):
        return read_cart(conn, user_id, currency)
    row = conn.execute(
        "SELECT quantity FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"the cart of {user_id!r} holds no {product_id!r}")
    if quantity is None or quantity >= row["quantity"]:
        conn.execute("DELETE FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id))
    else:
        conn.execute(
            "UPDATE cart_lines SET quantity = quantity - ? WHERE user_id = ? AND product_id = ?",
            (quantity, user_id, product_id),
        )
    return read_cart(conn, user_id, currency)


def read_cart(conn: sqlite3.Connection, user_id: str, currency: str) -> Cart:
    """The cart priced at the current offers; `currency` is the store's, for an empty cart."""
    rows = conn.execute(
        "SELECT c.product_id, c.quantity, o.price_cents, o.in_stock, o.currency, o.simulated"
        " FROM cart_lines c JOIN offers o ON o.product_id = c.product_id"
        " WHERE c.user_id = ? ORDER BY c.product_id",
        (user_id,),
    ).fetchall()
    lines = tuple(_rows.cart_line(row) for row in rows)
    return Cart(
        user_id=user_id,
        lines=lines,
        total_cents=sum(line.quantity * line.unit_price_cents for line in lines),
        currency=rows[0]["currency"] if rows else currency,
        simulated=any(row["simulated"] for row in rows),
    )


def _already_applied(conn: sqlite3.Connection, user_id: str, request_key: str | None) -> bool:
    """True when `request_key` was applied before; otherwise records it (inside the caller's
    transaction, so the key and the change commit together or not at all)."""
    if request_key is None:
        return False
    inserted = conn.execute(
        "INSERT INTO cart_requests (user_id, request_key) VALUES (?, ?) ON CONFLICT DO NOTHING", (user_id, request_key)
    )
    return inserted.rowcount == 0

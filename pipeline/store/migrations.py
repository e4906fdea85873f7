"""Numbered schema migrations for the SQLite store.

Each migration runs once, inside one transaction with the row that records it in `schema_version`,
so applying them again is a no-op and a failed migration leaves no trace. Append new migrations;
never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

from pipeline.errors import DependencyError

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "products, offers, ratings, price history",
        """
        CREATE TABLE products (
            product_id      TEXT PRIMARY KEY,
            title           TEXT NOT NULL,
            category        TEXT NOT NULL,
            category_source TEXT NOT NULL CHECK (category_source IN ('inferred', 'source')),
            kind            TEXT NOT NULL CHECK (kind IN ('page', 'review_only')),
            brand           TEXT,
            content_hash    TEXT NOT NULL,
            sim_key         TEXT NOT NULL
        );
        CREATE INDEX products_category ON products (category);

        CREATE TABLE offers (
            product_id       TEXT PRIMARY KEY REFERENCES products (product_id),
            price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
            list_price_cents INTEGER NOT NULL CHECK (list_price_cents >= 0),
            currency         TEXT NOT NULL,
            in_stock         INTEGER NOT NULL,
            delivery_days    INTEGER NOT NULL,
            simulated        INTEGER NOT NULL,
            seq              INTEGER NOT NULL DEFAULT 0,
            updated_at_ms    INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX offers_price ON offers (price_cents);

        CREATE TABLE ratings (
            product_id TEXT PRIMARY KEY REFERENCES products (product_id),
            average    REAL NOT NULL,
            count      INTEGER NOT NULL,
            stars_1    INTEGER NOT NULL,
            stars_2    INTEGER NOT NULL,
            stars_3    INTEGER NOT NULL,
            stars_4    INTEGER NOT NULL,
            stars_5    INTEGER NOT NULL,
            simulated  INTEGER NOT NULL
        );

        CREATE TABLE price_history (
            product_id  TEXT NOT NULL REFERENCES products (product_id),
            day         TEXT NOT NULL,
            price_cents INTEGER NOT NULL,
            in_stock    INTEGER NOT NULL,
            simulated   INTEGER NOT NULL,
            PRIMARY KEY (product_id, day)
        ) WITHOUT ROWID;
        """,
    ),
    (
        2,
        "carts and orders",
        """
        CREATE TABLE cart_lines (
            user_id    TEXT NOT NULL,
            product_id TEXT NOT NULL REFERENCES products (product_id),
            quantity   INTEGER NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (user_id, product_id)
        ) WITHOUT ROWID;

        CREATE TABLE orders (
            order_no      INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id      TEXT NOT NULL UNIQUE,
            user_id       TEXT NOT NULL,
            order_key     TEXT,
            total_cents   INTEGER NOT NULL,
            currency      TEXT NOT NULL,
            placed_at_ms  INTEGER NOT NULL,
            delivery_days INTEGER NOT NULL,
            simulated     INTEGER NOT NULL,
            UNIQUE (user_id, order_key)
        );
        CREATE INDEX orders_user ON orders (user_id, order_no);

        CREATE TABLE order_lines (
            order_id         TEXT NOT NULL REFERENCES orders (order_id),
            product_id       TEXT NOT NULL,
            quantity         INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL,
            PRIMARY KEY (order_id, product_id)
        ) WITHOUT ROWID;
        """,
    ),
    (
        3,
        "cart requests already applied",
        # A cart change asked for in a turn or a click is at-least-once upstream: its key is recorded in
        # the same transaction as the change, so a redelivered request changes nothing.
        """
        CREATE TABLE cart_requests (
            user_id     TEXT NOT NULL,
            request_key TEXT NOT NULL,
            PRIMARY KEY (user_id, request_key)
        ) WITHOUT ROWID;
        """,
    ),
)
"""(version, description, SQL), in order."""

LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied, 0 for a fresh file."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL)"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration newer than the file's version; returns the versions applied.

    `conn` must be in autocommit mode (isolation_level=None). Raises DependencyError if a migration
    fails (that migration is rolled back; earlier ones stay).
    """
    applied: list[int] = []
    if schema_version(conn) >= LATEST_VERSION:
        return applied
    for version, description, sql in MIGRATIONS:
        try:
            # The write lock is taken before the version is read, so two processes opening a fresh
            # file at once apply each migration exactly once.
            conn.execute("BEGIN IMMEDIATE")
            if schema_version(conn) >= version:
                conn.execute("COMMIT")
                continue
            # executescript would commit on its own; run statement by statement inside our transaction.
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)", (version, description)
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise DependencyError(f"store migration {version} ({description}) failed: {exc}") from exc
        applied.append(version)
    return applied


def _statements(sql: str) -> list[str]:
    # The migrations hold no semicolons inside literals, so splitting on them is exact.
    return [s.strip() for s in sql.split(";") if s.strip()]

"""SqliteStore: the Stores API over one SQLite file (default <AISLE_HOME>/store.sqlite).

All database work runs on one private worker thread that owns the connection, so calls from the event
loop never block it and never race each other. Every write is one transaction. sqlite3 errors become
DependencyError (retriable); see pipeline/store/base.py for the conventions on unknown ids.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.errors import AisleError, DependencyError, NotFoundError
from pipeline.store import _carts, _orders, _rows
from pipeline.store.migrations import apply_migrations
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
from pipeline.store.simulator import SimulatedProduct

T = TypeVar("T")

_SORT_SQL = {
    "rating": "COALESCE(r.average, 0) DESC, COALESCE(r.count, 0) DESC, p.product_id",
    "price_asc": "o.price_cents ASC, p.product_id",
    "price_desc": "o.price_cents DESC, p.product_id",
    "discount": "(o.list_price_cents - o.price_cents) * 1.0 / MAX(o.list_price_cents, 1) DESC, p.product_id",
}


@functools.lru_cache(maxsize=1024)
def _iso(day: date) -> str:
    return day.isoformat()


async def open_store(settings: Settings, *, clock_ms: Clock = now_ms) -> SqliteStore:
    """Open the store file named by the settings (AISLE_HOME/store.sqlite). Raises DependencyError."""
    return await SqliteStore.open(settings.store_path, clock_ms=clock_ms)


@dataclass(frozen=True)
class ProductUpsert:
    """A product row as the loader writes it, with the fingerprints that make loading idempotent."""

    product: StoreProduct
    content_hash: str
    """Fingerprint of the product's fields; unchanged -> the row is not rewritten."""
    sim_key: str
    """Fingerprint of the simulation inputs; unchanged -> offers, ratings and history are kept."""


class SqliteStore:
    """The Store protocol on SQLite. Open with `await SqliteStore.open(path)`; close when done."""

    def __init__(self, path: Path, *, clock_ms: Clock = now_ms, currency: str = "USD") -> None:
        self.path = path
        self._clock_ms = clock_ms
        self._currency = currency
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aisle-store")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(
        cls, path: Path, *, clock_ms: Clock = now_ms, currency: str = "USD"
    ) -> SqliteStore:
        """Open (creating if needed) the file and apply pending migrations. Raises DependencyError."""
        store = cls(path, clock_ms=clock_ms, currency=currency)
        try:
            await store._call(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection and stop the store's thread; closing twice is harmless."""
        if self._conn is not None:
            await self._call(self._disconnect)
        self._executor.shutdown(wait=True)

    # --- products and offers ---
    async def get_product(self, product_id: str) -> StoreProduct | None:
        return (await self.get_products([product_id])).get(product_id)

    async def get_products(self, product_ids: Sequence[str]) -> Mapping[str, StoreProduct]:
        rows = await self._select_in(f"SELECT {_rows.PRODUCT_COLUMNS} FROM products", product_ids)
        return {row["product_id"]: _rows.product(row) for row in rows}

    async def list_product_ids(self) -> list[str]:
        rows = await self._query("SELECT product_id FROM products ORDER BY product_id", ())
        return [row["product_id"] for row in rows]

    async def get_offer(self, product_id: str) -> Offer | None:
        return (await self.get_offers([product_id])).get(product_id)

    async def get_offers(self, product_ids: Sequence[str]) -> Mapping[str, Offer]:
        rows = await self._select_in(f"SELECT {_rows.OFFER_COLUMNS} FROM offers", product_ids)
        return {row["product_id"]: _rows.offer(row) for row in rows}

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return (await self.get_ratings([product_id])).get(product_id)

    async def get_ratings(self, product_ids: Sequence[str]) -> Mapping[str, RatingSummary]:
        rows = await self._select_in(f"SELECT {_rows.RATING_COLUMNS} FROM ratings", product_ids)
        return {row["product_id"]: _rows.rating(row) for row in rows}

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        """Raises ValueError if `days` is below 1."""
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        rows = await self._query(
            "SELECT day, price_cents, in_stock, simulated FROM price_history WHERE product_id = ?"
            " AND day > date((SELECT MAX(day) FROM price_history WHERE product_id = ?), ?)"
            " ORDER BY day",
            (product_id, product_id, f"-{days} days"),
        )
        return [_rows.price_point(row) for row in rows]

    async def get_deals(self, limit: int = 10, category: str | None = None) -> list[Offer]:
        ids = await self.search_products(
            SearchFilters(category=category, in_stock_only=True, on_sale_only=True, sort="discount", limit=limit)
        )
        offers = await self.get_offers(ids)
        return [offers[i] for i in ids if i in offers]

    async def search_products(self, filters: SearchFilters) -> list[str]:
        """Raises ValueError for a negative limit."""
        if filters.limit < 0:
            raise ValueError(f"limit must not be negative, got {filters.limit}")
        where: list[str] = []
        params: list[object] = []
        if filters.category is not None:
            where.append("p.category = ?")
            params.append(filters.category)
        if filters.min_price_cents is not None:
            where.append("o.price_cents >= ?")
            params.append(filters.min_price_cents)
        if filters.max_price_cents is not None:
            where.append("o.price_cents <= ?")
            params.append(filters.max_price_cents)
        if filters.min_rating is not None:
            where.append("r.average >= ?")
            params.append(filters.min_rating)
        if filters.in_stock_only:
            where.append("o.in_stock = 1")
        if filters.on_sale_only:
            where.append("o.price_cents < o.list_price_cents")
        sql = (
            "SELECT p.product_id FROM products p JOIN offers o ON o.product_id = p.product_id"
            " LEFT JOIN ratings r ON r.product_id = p.product_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {_SORT_SQL[filters.sort]} LIMIT ?"
        )
        params.append(filters.limit)
        return [row["product_id"] for row in await self._query(sql, tuple(params))]

    # --- carts ---
    async def get_cart(self, user_id: str) -> Cart:
        return await self._call(lambda conn: _carts.read_cart(conn, user_id, self._currency))

    async def add_to_cart(self, user_id: str, product_id: str, quantity: int = 1, *,
                          request_key: str | None = None) -> Cart:
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        return await self._transaction(
            lambda conn: _carts.add(conn, user_id, product_id, quantity, request_key, self._currency)
        )

    async def remove_from_cart(self, user_id: str, product_id: str, quantity: int | None = None, *,
                               request_key: str | None = None) -> Cart:
        if quantity is not None and quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        return await self._transaction(
            lambda conn: _carts.remove(conn, user_id, product_id, quantity, request_key, self._currency)
        )

    # --- orders ---
    async def place_order(
        self,
        user_id: str,
        lines: Sequence[tuple[str, int]] | None = None,
        *,
        order_key: str | None = None,
    ) -> Order:
        for _, quantity in lines or ():
            if quantity < 1:
                raise ValueError(f"quantity must be at least 1, got {quantity}")
        now_ms = self._clock_ms()
        return await self._transaction(
            lambda conn: _orders.place_order(conn, user_id, lines, order_key, now_ms)
        )

    async def get_order(self, order_id: str) -> Order | None:
        now_ms = self._clock_ms()
        orders = await self._call(lambda conn: _orders.read_orders(conn, "order_id = ?", (order_id,), 1, now_ms))
        return orders[0] if orders else None

    async def get_orders(self, user_id: str, limit: int = 20) -> list[Order]:
        now_ms = self._clock_ms()
        return await self._call(lambda conn: _orders.read_orders(conn, "user_id = ?", (user_id,), limit, now_ms))

    async def get_order_status(self, order_id: str) -> OrderStatus | None:
        order = await self.get_order(order_id)
        return order.status if order else None

    # --- changes ---
    async def record_price_change(
        self, product_id: str, price_cents: int, in_stock: bool, at_ms: int, *, simulated: bool
    ) -> Offer:
        """A price above the list price becomes the new list price. Raises ValueError for a negative
        price, NotFoundError for an unknown product."""
        if price_cents < 0:
            raise ValueError(f"price_cents must not be negative, got {price_cents}")
        day = datetime.fromtimestamp(at_ms / 1000, tz=timezone.utc).date().isoformat()

        def change(conn: sqlite3.Connection) -> Offer:
            cur = conn.execute(
                "UPDATE offers SET price_cents = ?, list_price_cents = MAX(list_price_cents, ?),"
                " in_stock = ?, simulated = ?, seq = seq + 1, updated_at_ms = ? WHERE product_id = ?",
                (price_cents, price_cents, int(in_stock), int(simulated), at_ms, product_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no product {product_id!r} in the store")
            conn.execute(
                "INSERT OR REPLACE INTO price_history (product_id, day, price_cents, in_stock, simulated)"
                " VALUES (?, ?, ?, ?, ?)",
                (product_id, day, price_cents, int(in_stock), int(simulated)),
            )
            row = conn.execute(
                f"SELECT {_rows.OFFER_COLUMNS} FROM offers WHERE product_id = ?", (product_id,)
            ).fetchone()
            return _rows.offer(row)

        return await self._transaction(change)

    # --- loading (used by pipeline/store/loader.py, not part of the Store protocol) ---
    async def catalog_keys(self, product_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(content_hash, sim_key) of each stored product among `product_ids`."""
        rows = await self._select_in("SELECT product_id, content_hash, sim_key FROM products", product_ids)
        return {row["product_id"]: (row["content_hash"], row["sim_key"]) for row in rows}

    async def write_catalog(
        self, upserts: Sequence[ProductUpsert], simulations: Mapping[str, SimulatedProduct]
    ) -> None:
        """Upsert product rows and replace the offer, rating and history of each simulated product,
        all in one transaction."""

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO products (product_id, title, category, category_source, kind, brand,"
                " content_hash, sim_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (product_id) DO UPDATE SET"
                " title = excluded.title, category = excluded.category,"
                " category_source = excluded.category_source, kind = excluded.kind, brand = excluded.brand,"
                " content_hash = excluded.content_hash, sim_key = excluded.sim_key",
                [
                    (u.product.product_id, u.product.title, u.product.category, u.product.category_source,
                     u.product.kind, u.product.brand, u.content_hash, u.sim_key)
                    for u in upserts
                ],
            )
            for product_id, sim in simulations.items():
                conn.execute("DELETE FROM price_history WHERE product_id = ?", (product_id,))
                conn.executemany(
                    "INSERT INTO price_history (product_id, day, price_cents, in_stock, simulated)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(product_id, _iso(p.day), p.price_cents, int(p.in_stock), int(p.simulated))
                     for p in sim.history],
                )
                conn.execute(
                    f"INSERT OR REPLACE INTO offers ({_rows.OFFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _rows.offer_values(sim.offer, sim.delivery_days),
                )
                conn.execute(
                    f"INSERT OR REPLACE INTO ratings ({_rows.RATING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _rows.rating_values(sim.rating),
                )

        await self._transaction(write)

    # --- plumbing ---
    def _connect(self, _: sqlite3.Connection | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        self._conn = conn
        apply_migrations(conn)

    def _disconnect(self, conn: sqlite3.Connection | None) -> None:
        if conn is not None:
            conn.close()
        self._conn = None

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the store's thread; sqlite3 and OS errors become DependencyError."""

        def run() -> T:
            try:
                # _connect runs before a connection exists; every other caller gets one.
                return fn(self._conn)  # type: ignore[arg-type]
            except AisleError:
                raise
            except (sqlite3.Error, OSError) as exc:
                raise DependencyError(f"store {self.path}: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one write transaction, rolled back if it raises."""

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result

        return await self._call(run)

    async def _query(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        return await self._call(lambda conn: conn.execute(sql, params).fetchall())

    async def _select_in(self, select: str, product_ids: Sequence[str]) -> list[sqlite3.Row]:
        """`select` restricted to `product_ids` (any number: chunked under SQLite's variable limit)."""
        unique = list(dict.fromkeys(product_ids))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows.extend(await self._query(f"{select} WHERE product_id IN ({marks})", tuple(chunk)))
        return rows


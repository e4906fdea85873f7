"""GET /me: the "You" panel's view of the shopper, read from the store and the account tables.

    GET /me   Authorization: Bearer <session token>
        200 {"user_id", "cart", "orders", "alerts", "memory"}   a part that cannot be read is null
        401 {"error"}   no token, or one the gateway refuses (owner-only: the token names the user)

    cart    {"lines": [{"product_id", "title", "quantity", "unit_price_cents", "in_stock"}],
             "total_cents", "currency"}
    orders  [{"order_id", "status", "placed_at_ms", "delivery_days", "total_cents", "currency",
              "lines": [{"product_id", "title", "quantity"}]}]   newest first, at most MAX_ORDERS
    alerts  [{"alert_id", "product_id", "title", "kind", "threshold_cents", "max_price_cents",
              "quantity", "currency", "created_at_ms", "expires_at_ms", "fired_count", "spends_money"}]
    memory  [{"key", "label", "value", "shown"}]   in preferences.KEYS order

Reading only: every change goes through the socket (protocol.py, `account`) and the stages, never
through this endpoint. Nothing here asks the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline.errors import AisleError
from pipeline.gateway.account_tables import AccountTables
from pipeline.gateway.tokens import InvalidTokenError, SessionSigner
from pipeline.memory.answer import NAMES
from pipeline.memory.preferences import KEYS, describe
from pipeline.messages import AlertRule
from pipeline.store.base import Store
from pipeline.store.records import Cart, Order

log = logging.getLogger(__name__)

MAX_ORDERS = 10
READ_TIMEOUT_S = 2.0
"""Longest wait for the store's cart, orders and titles together."""

OpenStore = Callable[[], Awaitable[Store | None]]
"""The store, opened on first use; None (or AisleError) when it cannot be had."""


class AccountPages:
    def __init__(self, signer: SessionSigner, open_store: OpenStore, tables: AccountTables,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self._signer = signer
        self._open_store = open_store
        self._tables = tables
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    async def me(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return JSONResponse({"error": "send the session token as 'Authorization: Bearer <token>'"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            user_id = self._signer.verify(token.strip()).user_id
        except InvalidTokenError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        now_ms = self._clock_ms()
        alerts = self._tables.alerts(user_id, now_ms)
        preferences = self._tables.preferences(user_id)
        cart, orders, titles = await self._from_store(user_id, [a.product_id for a in alerts or ()])
        return JSONResponse({
            "user_id": user_id,
            "cart": cart_json(cart, titles) if cart is not None else None,
            "orders": [order_json(o, titles) for o in orders] if orders is not None else None,
            "alerts": [alert_json(a, titles) for a in alerts] if alerts is not None else None,
            "memory": memory_json(preferences) if preferences is not None else None,
        }, headers={"Cache-Control": "no-store"})

    async def _from_store(self, user_id: str, more_ids: Sequence[str]
                          ) -> tuple[Cart | None, list[Order] | None, dict[str, str]]:
        try:
            store = await self._open_store()
            if store is None:
                return None, None, {}
            cart, orders = await asyncio.wait_for(
                asyncio.gather(store.get_cart(user_id), store.get_orders(user_id, limit=MAX_ORDERS)), READ_TIMEOUT_S)
            ids = {*more_ids, *(line.product_id for line in cart.lines),
                   *(line.product_id for order in orders for line in order.lines)}
            products = await asyncio.wait_for(store.get_products(sorted(ids)), READ_TIMEOUT_S)
        except (AisleError, TimeoutError) as exc:
            # The panel still shows alerts and memory; the cart and orders say they are unavailable.
            log.warning("GET /me: the store could not be read: %s", exc)
            return None, None, {}
        return cart, orders, {pid: p.title for pid, p in products.items()}


def cart_json(cart: Cart, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "lines": [{"product_id": line.product_id, "title": titles.get(line.product_id, line.product_id),
                   "quantity": line.quantity, "unit_price_cents": line.unit_price_cents, "in_stock": line.in_stock}
                  for line in cart.lines],
        "total_cents": cart.total_cents,
        "currency": cart.currency,
    }


def order_json(order: Order, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "status": order.status, "placed_at_ms": order.placed_at_ms,
        "delivery_days": order.delivery_days, "total_cents": order.total_cents, "currency": order.currency,
        "lines": [{"product_id": line.product_id, "title": titles.get(line.product_id, line.product_id),
                   "quantity": line.quantity} for line in order.lines],
    }


def alert_json(rule: AlertRule, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "alert_id": rule.alert_id, "product_id": rule.product_id, "title": titles.get(rule.product_id, rule.product_id),
        "kind": rule.kind, "threshold_cents": rule.threshold_cents, "max_price_cents": rule.max_price_cents,
        "quantity": rule.quantity, "currency": rule.currency, "created_at_ms": rule.created_at_ms,
        "expires_at_ms": rule.expires_at_ms, "fired_count": rule.fired_count,
        # The one thing a shopper must not miss: this alert places an order by itself.
        "spends_money": rule.kind == "auto_buy",
    }


def memory_json(preferences: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "label": NAMES[key], "value": preferences[key],
             "shown": describe({key: preferences[key]}).removeprefix(f"{key} ").removeprefix("budget ")}
            for key in KEYS if preferences.get(key)]

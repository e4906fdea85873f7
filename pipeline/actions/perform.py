"""Carrying out one command against the store and the alert registry, and saying what happened.

`perform` never raises for what a shopper can cause (unknown product, empty cart, bad threshold):
those become a failed `Outcome` with a sentence for the chat. A store that cannot be reached raises
DependencyError, so the runtime retries the click rather than telling the shopper it failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipeline.actions.commands import (
    AddToCart,
    AskWhichProduct,
    CancelAlert,
    CancelAlertsOn,
    Command,
    ListAlerts,
    OrderStatus,
    RemoveFromCart,
    SetAlert,
    ViewCart,
)
from pipeline.money import format_money
from pipeline.alerts.phrases import threshold_cents
from pipeline.alerts.registry import DEFAULT_TTL_MS, AlertRegistry
from pipeline.errors import ContractError, NotFoundError, StoreConflictError
from pipeline.messages import AlertRule
from pipeline.store.base import Store
from pipeline.store.records import Cart
from pipeline.store.sentences import delivery_phrase


@dataclass(frozen=True)
class Origin:
    """Who asked, and where: every command acts for this user only."""

    user_id: str
    conversation_id: str
    turn: int
    seq: int
    now_ms: int

    @property
    def request_key(self) -> str:
        """One key per click or turn: the store applies a cart change with the same key once."""
        return f"{self.conversation_id}:{self.turn}:{self.seq}"


@dataclass(frozen=True)
class Outcome:
    action: str
    ok: bool
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    registry: list[tuple[str, AlertRule]] = field(default_factory=list)
    """Records to write to `alert-registry` (key, definition)."""


def alert_id_for(origin: Origin, product_id: str) -> str:
    """Deterministic, so a redelivered click registers the same alert, not a second one."""
    seed = f"{origin.conversation_id}|{origin.turn}|{origin.seq}|{product_id}".encode()
    return "al-" + hashlib.sha256(seed).hexdigest()[:20]


async def perform(command: Command, origin: Origin, store: Store, registry: AlertRegistry) -> Outcome:
    try:
        return await _perform(command, origin, store, registry)
    except (NotFoundError, StoreConflictError, ContractError) as exc:
        return Outcome(_name(command), False, f"I could not do that: {exc}.")


async def _perform(command: Command, origin: Origin, store: Store, registry: AlertRegistry) -> Outcome:
    user = origin.user_id
    if isinstance(command, AddToCart):
        cart = await store.add_to_cart(user, command.product_id, command.quantity, request_key=origin.request_key)
        return Outcome("add_to_cart", True, f"Added {command.quantity} × {await _title(store, command.product_id)} to your cart. "
                       + _cart_line(cart), {"product_id": command.product_id, **_cart_payload(cart)})
    if isinstance(command, RemoveFromCart):
        cart = await store.remove_from_cart(user, command.product_id, command.quantity, request_key=origin.request_key)
        return Outcome("remove_from_cart", True, f"Removed {await _title(store, command.product_id)} from your cart. "
                       + _cart_line(cart), {"product_id": command.product_id, **_cart_payload(cart)})
    if isinstance(command, ViewCart):
        cart = await store.get_cart(user)
        return Outcome("view_cart", True, _cart_line(cart), _cart_payload(cart))
    if isinstance(command, OrderStatus):
        orders = await store.get_orders(user, limit=3)
        if not orders:
            return Outcome("order_status", True, "You have no orders yet.", {"orders": []})
        lines = [f"Order {o.order_id}: {o.status}, {format_money(o.total_cents, o.currency)}, "
                 f"{delivery_phrase(o.delivery_days)} from placing" for o in orders]
        return Outcome("order_status", True, "Your latest orders: " + "; ".join(lines) + ".",
                       {"orders": [{"order_id": o.order_id, "status": o.status, "total_cents": o.total_cents} for o in orders]})
    if isinstance(command, ListAlerts):
        rules = registry.list_for_user(user, origin.now_ms)
        if not rules:
            return Outcome("list_alerts", True, "You have no price alerts.", {"alerts": []})
        text = "Your alerts: " + "; ".join(
            f"{r.product_id} {'buy' if r.kind == 'auto_buy' else 'tell you'} at {format_money(r.threshold_cents, r.currency)} or less"
            for r in rules) + "."
        return Outcome("list_alerts", True, text, {"alerts": [r.alert_id for r in rules]})
    if isinstance(command, AskWhichProduct):
        return Outcome(command.action, False, "Which product do you mean? Open its page or ask about it first, then tell me again.")
    if isinstance(command, CancelAlertsOn):
        return _cancel_alerts_on(command, origin, registry)
    if isinstance(command, CancelAlert):
        cancelled = registry.cancel(command.alert_id, user, origin.now_ms)
        if cancelled is None:
            return Outcome("cancel_alert", False, "You have no such active alert.")
        return Outcome("cancel_alert", True, f"Cancelled the alert on {cancelled.product_id}.",
                       {"alert_id": cancelled.alert_id}, [(cancelled.alert_id, cancelled)])
    return await _set_alert(command, origin, store, registry)


def _cancel_alerts_on(command: CancelAlertsOn, origin: Origin, registry: AlertRegistry) -> Outcome:
    active = registry.list_for_user(origin.user_id, origin.now_ms)
    if command.product_id is not None:
        chosen = [rule for rule in active if rule.product_id == command.product_id]
    elif command.everything or len(active) == 1:
        chosen = active
    else:
        chosen = []
    if not chosen:
        if len(active) > 1 and command.product_id is None:
            return Outcome("cancel_alert", False, f"You have {len(active)} alerts; say which product, or \"cancel all my alerts\".",
                           {"alerts": [rule.alert_id for rule in active]})
        return Outcome("cancel_alert", False, "You have no such active alert.")
    cancelled = [rule for rule in (registry.cancel(r.alert_id, origin.user_id, origin.now_ms) for r in chosen) if rule]
    products = ", ".join(sorted({rule.product_id for rule in cancelled}))
    return Outcome("cancel_alert", True, f"Cancelled {len(cancelled)} alert{'s' if len(cancelled) != 1 else ''} ({products}).",
                   {"alert_ids": [rule.alert_id for rule in cancelled]}, [(rule.alert_id, rule) for rule in cancelled])


async def _set_alert(command: SetAlert, origin: Origin, store: Store, registry: AlertRegistry) -> Outcome:
    offer = await store.get_offer(command.product_id)
    if offer is None:
        raise NotFoundError(f"no product {command.product_id}")
    threshold, limit = threshold_cents(command.request, offer)
    kind = command.request.kind
    rule = registry.register(
        AlertRule(
            alert_id=alert_id_for(origin, command.product_id),
            user_id=origin.user_id,
            conversation_id=origin.conversation_id,
            turn=origin.turn,
            product_id=command.product_id,
            kind=kind,
            threshold_cents=threshold,
            currency=offer.currency,
            max_price_cents=limit if kind == "auto_buy" else 0,
            quantity=command.request.quantity,
            created_at_ms=origin.now_ms,
            expires_at_ms=origin.now_ms + DEFAULT_TTL_MS,
            updated_at_ms=origin.now_ms,
        ),
        origin.now_ms,
    )
    title = await _title(store, command.product_id)
    price = format_money(threshold, rule.currency)
    if kind == "auto_buy":
        text = (f"I will buy {rule.quantity} × {title} when it drops to {price} or less "
                f"(never above {format_money(limit, rule.currency)} each), for the next 6 months.")
    else:
        text = f"I will tell you when {title} drops to {price} or less (now {format_money(offer.price_cents, offer.currency)})."
    return Outcome("set_alert", True, text, {"alert_id": rule.alert_id, "threshold_cents": threshold, "kind": kind},
                   [(rule.alert_id, rule)])


async def _title(store: Store, product_id: str) -> str:
    product = await store.get_product(product_id)
    return product.title if product is not None and product.kind == "page" else product_id


def _cart_line(cart: Cart) -> str:
    items = sum(line.quantity for line in cart.lines)
    if not items:
        return "Your cart is empty."
    return f"Your cart: {items} item{'s' if items != 1 else ''}, {format_money(cart.total_cents, cart.currency)}."


def _cart_payload(cart: Cart) -> dict[str, Any]:
    return {
        "cart": [{"product_id": line.product_id, "quantity": line.quantity} for line in cart.lines],
        "total_cents": cart.total_cents,
        "currency": cart.currency,
    }


def _name(command: Command) -> str:
    names = {AddToCart: "add_to_cart", RemoveFromCart: "remove_from_cart", ViewCart: "view_cart",
             OrderStatus: "order_status", SetAlert: "set_alert", CancelAlert: "cancel_alert", ListAlerts: "list_alerts",
             CancelAlertsOn: "cancel_alert", AskWhichProduct: "ask_which_product"}
    return names[type(command)]

"""Shopping commands, and the only two ways to get one: a button the shopper clicked (`Feedback` with
kind action_clicked) or the shopper's own question as the planner read it (a `Plan` of a `UserTurn`).
Pure.

The guard is the types: both readers take the message record itself, not a string, and refuse
anything else with ContractError, so text from reviews, Q&A or the model (EvidenceItem, TokenChunk,
Frame) cannot be turned into a command by mistake. The product of a language command comes from the
turn's context (the page the shopper is on, or the one product the conversation resolved to), never
from ids written in the text. Replayed traffic (`aisle replay`, `run_id` set) never acts.

Button values, as the web chat sends them (pipeline/gateway/static/chat.js):

    {"type": "add_to_cart", "product_id": "B07...", "params": {"quantity": 1}}
    {"type": "price_alert", "product_id": "B07...", "params": {"below_cents": 4999}}

and a compact form for other clients: `add_to_cart:B07...[:quantity=2]`, `remove_from_cart:B07...`,
`price_alert:B07...:below=49.99`, `auto_buy:B07...:below=30.00[:limit=32.00][:quantity=1]`,
`cancel_alert:<alert id>`, `view_cart`, `list_alerts`, `order_status`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from pipeline.alerts.phrases import AlertRequest, parse_alert_request, parse_decimal_cents
from pipeline.errors import ContractError
from pipeline.messages import Feedback, Plan, UserTurn

MAX_QUANTITY = 20
_PRODUCT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class AddToCart:
    product_id: str
    quantity: int = 1


@dataclass(frozen=True)
class RemoveFromCart:
    product_id: str
    quantity: int | None = None
    """None: the whole line."""


@dataclass(frozen=True)
class ViewCart:
    pass


@dataclass(frozen=True)
class OrderStatus:
    pass


@dataclass(frozen=True)
class SetAlert:
    product_id: str
    request: AlertRequest


@dataclass(frozen=True)
class CancelAlert:
    alert_id: str


@dataclass(frozen=True)
class ListAlerts:
    pass


@dataclass(frozen=True)
class CancelAlertsOn:
    """From language: the shopper's alerts on one product, or (product None) their only alert, or
    all of them when they said so."""

    product_id: str | None
    everything: bool = False


@dataclass(frozen=True)
class AskWhichProduct:
    """An action on a product the turn did not resolve: ask, never guess."""

    action: str


Command = (AddToCart | RemoveFromCart | ViewCart | OrderStatus | SetAlert | CancelAlert | ListAlerts | CancelAlertsOn
           | AskWhichProduct)


def command_from_feedback(feedback: Feedback) -> Command | None:
    """The command a button click asks for; None for other feedback or a value we cannot read."""
    if not isinstance(feedback, Feedback):
        raise ContractError(f"actions come from Feedback or UserTurn records only, not {type(feedback).__name__}")
    if feedback.kind != "action_clicked":
        return None
    value = feedback.value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):  # a client's value: 2,000 `{[` fit, the parser's stack does not
            return None
        if not isinstance(data, dict):
            return None
        given = data.get("params")
        return _command(str(data.get("type", "")), str(data.get("product_id", "")), given if isinstance(given, dict) else {})
    name, _, rest = value.partition(":")
    parts = rest.split(":") if rest else []
    target = parts[0] if parts else ""
    params: dict[str, Any] = {}
    for part in parts[1:]:
        key, _, raw = part.partition("=")
        params[key.strip()] = raw.strip()
    return _command(name.strip(), target.strip(), params)


def _command(name: str, target: str, params: dict[str, Any]) -> Command | None:
    if name == "view_cart":
        return ViewCart()
    if name == "list_alerts":
        return ListAlerts()
    if name == "order_status":
        return OrderStatus()
    if name == "cancel_alert":
        return CancelAlert(target) if _PRODUCT_ID.match(target) else None
    if not _PRODUCT_ID.match(target):
        return None
    quantity = _quantity(params.get("quantity"))
    if name == "add_to_cart":
        return AddToCart(target, quantity or 1)
    if name == "remove_from_cart":
        return RemoveFromCart(target, quantity)
    if name in ("price_alert", "auto_buy"):
        below = _cents(params, "below_cents", "below")
        if below is None:
            return None
        limit = _cents(params, "limit_cents", "limit")
        request = AlertRequest("auto_buy") if name == "auto_buy" else AlertRequest("price_below")
        return SetAlert(target, dataclasses.replace(request, below_cents=below, limit_cents=limit, quantity=quantity or 1))
    return None


def _cents(params: dict[str, Any], cents_key: str, dollars_key: str) -> int | None:
    cents = params.get(cents_key)
    if isinstance(cents, int) and not isinstance(cents, bool) and cents > 0:
        return cents
    if isinstance(cents, str) and cents.isdigit() and int(cents) > 0:
        return int(cents)
    dollars = params.get(dollars_key)
    return parse_decimal_cents(str(dollars)) if isinstance(dollars, (str, int, float)) and not isinstance(dollars, bool) else None


def _quantity(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= MAX_QUANTITY else None


# ---- the shopper's own words, as the planner read them ------------------------------------------

_ACTING_INTENTS = ("cart_action", "order_status", "price_alert")
_ALL = re.compile(r"\ball\b|\bevery\b", re.I)


def command_from_plan(plan: Plan) -> Command | None:
    """The command a planned turn asks for, or None (not an acting intent, or replayed traffic).

    The planner already guarded the request (pipeline/planner/rules.py: the shopper's explicit words,
    one resolved product, no injected instructions); the plan's action step says what it understood.
    Alert thresholds are read from the shopper's own request text (`plan.request`), never from
    evidence. An action on a product the turn did not resolve gives AskWhichProduct.
    """
    if not isinstance(plan, Plan) or not isinstance(plan.request, UserTurn):
        raise ContractError(f"language actions come from a Plan of a UserTurn only, not {type(plan).__name__}")
    request = plan.request
    if request.client == "replay" or request.run_id is not None or plan.intent not in _ACTING_INTENTS:
        return None
    if plan.intent == "order_status":
        return OrderStatus()
    step = next((s for s in plan.steps if s.source in ("cart", "alerts")), None)
    if step is None:
        return None
    action = step.filters.get("action", "")
    product = step.product_ids[0] if len(step.product_ids) == 1 else None
    if step.source == "cart":
        if action == "view":
            return ViewCart()
        if product is None:
            return AskWhichProduct(action)
        if action == "add":
            return AddToCart(product, _quantity(step.filters.get("quantity")) or 1)
        return RemoveFromCart(product) if action == "remove" else None
    if action == "list":
        return ListAlerts()
    if action == "cancel":
        return CancelAlertsOn(product, everything=_ALL.search(request.text) is not None)
    alert = parse_alert_request(request.text)
    if alert is None:
        return None
    return SetAlert(product, alert) if product else AskWhichProduct("set_alert")

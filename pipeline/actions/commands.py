"""Shopping commands, and the only two ways to get one: a button the shopper clicked (`Feedback` with
kind action_clicked) or the shopper's own question (`UserTurn.text`). Pure.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.alerts.phrases import AlertRequest, parse_alert_request, parse_decimal_cents
from pipeline.errors import ContractError
from pipeline.messages import Feedback, UserTurn

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


Command = AddToCart | RemoveFromCart | ViewCart | OrderStatus | SetAlert | CancelAlert | ListAlerts


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
        except ValueError:
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


# ---- the shopper's own words ---------------------------------------------------------------------

_ADD = re.compile(r"\b(?:add|put|throw|place)\b(?:\s+(?P<qty>\d{1,2}))?.*\b(?:to|in|into)\s+(?:my\s+|the\s+)?(?:cart|basket|bag)\b", re.I)
_REMOVE = re.compile(r"\b(?:remove|delete|take)\b.*\b(?:from|out of|off)\s+(?:my\s+|the\s+)?(?:cart|basket|bag)\b", re.I)
_VIEW = re.compile(r"\b(?:show|view|see|open|check)\b.*\b(?:my\s+)?(?:cart|basket)\b|\bwhat(?:'s| is) in my (?:cart|basket)\b", re.I)
_ORDER = re.compile(r"\bwhere(?:'s| is| are)\s+my\s+(?:order|package|parcel|delivery|stuff)s?\b|\b(?:order|delivery)\s+status\b|"
                    r"\btrack\s+my\s+(?:order|package)\b|\bhas my order (?:shipped|arrived)\b", re.I)
_LIST_ALERTS = re.compile(r"\b(?:list|show|what are|which)\b.*\bmy (?:price )?alerts\b", re.I)
_QUESTION_ONLY = re.compile(r"^\s*(?:should|can|could|would|is|does|do|will)\s+(?:i|you|it)\b", re.I)


def command_from_turn(turn: UserTurn, context_product_ids: Sequence[str] = ()) -> Command | None:
    """The command the shopper's own question asks for, or None.

    `context_product_ids` are the products the planner resolved from the conversation ("it", "the
    cheaper one"); a command on a product needs the page product or exactly one of these, else None
    (the answer should ask which product). "Should I add it to my cart?" is a question, not a command.
    """
    if not isinstance(turn, UserTurn):
        raise ContractError(f"actions come from Feedback or UserTurn records only, not {type(turn).__name__}")
    if turn.client == "replay" or turn.run_id is not None:
        return None
    text = turn.text
    if _ORDER.search(text):
        return OrderStatus()
    if _LIST_ALERTS.search(text):
        return ListAlerts()
    if _QUESTION_ONLY.search(text):
        return None
    product = turn.page_product_id or (context_product_ids[0] if len(context_product_ids) == 1 else None)
    alert = parse_alert_request(text)
    if alert is not None:
        return SetAlert(product, alert) if product else None
    if _REMOVE.search(text):
        return RemoveFromCart(product) if product else None
    if (add := _ADD.search(text)) is not None:
        quantity = _quantity(add.group("qty")) or 1
        return AddToCart(product, quantity) if product else None
    if _VIEW.search(text):
        return ViewCart()
    return None

"""What a fired alert becomes: an `Alert` record (topic `alerts`) and an `alert` Frame (topic `frames`,
so the shopper's open sockets on that conversation show it at once; the gateway turns the `Alert` into
an alert frame for their sockets on other conversations, with `alert_record_message`). Pure.

The frame goes to the turn the alert was set in. Its seq must be above every seq that turn already
used, or clients and the gateway drop it as a replay; turn frames count from 0 and action
confirmations use millisecond timestamps, so the firing event's time (ms) is above both. It is
also deterministic: a firing sent twice after a crash carries the same seq and is dropped once.
"""

from __future__ import annotations

import json

from pipeline.alerts.registry import Firing
from pipeline.messages import Alert, AlertRule, Frame
from pipeline.money import format_money


def alert_record(firing: Firing, fired_at_ms: int, order_id: str | None = None) -> Alert:
    rule = firing.rule
    return Alert(
        alert_id=rule.alert_id,
        conversation_id=rule.conversation_id,
        turn=rule.turn,
        seq=firing.firing_seq,
        user_id=rule.user_id,
        product_id=rule.product_id,
        kind=rule.kind,
        threshold_cents=rule.threshold_cents,
        price_cents=firing.event.price_cents,
        currency=firing.event.currency,
        order_id=order_id,
        fired_at_ms=fired_at_ms,
    )


def frame_seq(firing: Firing, index: int) -> int:
    """The frame's seq: the event time in ms (at least the alert's creation + 1), plus `index` for
    several alerts of one conversation fired by the same event."""
    return max(firing.event.at_ms, firing.rule.created_at_ms + 1) + index


def alert_message(rule: AlertRule, alert: Alert, title: str | None, outcome: str | None) -> str:
    name = title or rule.product_id
    price = format_money(alert.price_cents, alert.currency)
    threshold = format_money(rule.threshold_cents, rule.currency)
    if rule.kind == "auto_buy":
        if alert.order_id is not None:
            return f"Bought {rule.quantity} × {name} at {price} (your target: {threshold}). Order {alert.order_id}."
        return f"{name} dropped to {price} (your target: {threshold}), but I did not buy it: {outcome or 'the order failed'}."
    return f"Price alert: {name} is now {price} (you asked for {threshold} or less)."


def alert_record_message(alert: Alert) -> str:
    """The text for a reader holding only the `Alert` (the gateway, for the user's sockets on other
    conversations): the record has no product title, quantity or reason a purchase failed, so it names
    the product by id and points at the conversation the alert was set in for the rest."""
    price = format_money(alert.price_cents, alert.currency)
    threshold = format_money(alert.threshold_cents, alert.currency)
    if alert.kind == "auto_buy":
        if alert.order_id is not None:
            return f"Auto-buy: bought {alert.product_id} at {price} (your target: {threshold}). Order {alert.order_id}."
        return (
            f"Auto-buy: {alert.product_id} dropped to {price} (your target: {threshold}), but no order was "
            "placed; the conversation you set it in says why."
        )
    return f"Price alert: {alert.product_id} is now {price} (you asked for {threshold} or less)."


def alert_frame(firing: Firing, alert: Alert, index: int, *, title: str | None = None, outcome: str | None = None) -> Frame:
    rule = firing.rule
    message = alert_message(rule, alert, title, outcome)
    payload = {
        "alert_id": rule.alert_id,
        "kind": rule.kind,
        "product_id": rule.product_id,
        "price_cents": alert.price_cents,
        "threshold_cents": rule.threshold_cents,
        "currency": alert.currency,
        "order_id": alert.order_id,
        "message": message,
    }
    return Frame(
        conversation_id=rule.conversation_id,
        turn=rule.turn,
        seq=frame_seq(firing, index),
        type="alert",
        text=message,
        payload=json.dumps(payload, separators=(",", ":")),
    )

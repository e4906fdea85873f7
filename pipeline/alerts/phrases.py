"""Reading an alert or auto-buy request from a shopper's own words. Pure.

    "tell me when it drops below $40"          -> price_below, threshold 4000 cents
    "let me know if it's under 39.99 dollars"  -> price_below, threshold 3999
    "alert me when it's 20% off"               -> price_below, 20 % below the list price
    "buy it when it's 30% off"                 -> auto_buy, 30 % below the list price
    "order 2 when it hits $35, max $38"        -> auto_buy, threshold 3500, limit 3800, quantity 2

Anything without both a request (notify or buy) and a condition (a price or a percentage off)
gives None: "is it cheaper than $40?" is a question, not an alert. The product is not read from
the text; the caller resolves it from the turn (page product, or the product the conversation is
about), so only the shopper's own words and context can set an alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from pipeline.store.records import Offer

_MONEY = r"(?:\$\s?(?P<{n}>\d{{1,6}}(?:[.,]\d{{1,2}})?)|(?P<{n}w>\d{{1,6}}(?:[.,]\d{{1,2}})?)\s?(?:dollars|bucks|usd)\b)"
_BELOW = re.compile(
    r"\b(?:below|under|less than|lower than|cheaper than|drops? to|falls? to|goes? down to|hits?|reach(?:es)?|gets? to|is|at|for)\s+"
    + _MONEY.format(n="price"),
    re.IGNORECASE,
)
_PERCENT = re.compile(r"\b(?P<pct>\d{1,2})\s?(?:%|percent|per cent)\s+(?:off|discount|cheaper|lower|down)\b", re.IGNORECASE)
_LIMIT = re.compile(
    r"\b(?:max(?:imum)?|at most|no more than|up to|limit(?: of)?|budget(?: of)?|not over)\s+" + _MONEY.format(n="limit"),
    re.IGNORECASE,
)
_BUY = re.compile(
    r"\b(?:buy|order|purchase|get)\s+(?:it|this|that|them|one|me one|(?P<qty>\d{1,2})(?: of (?:it|them|these|those))?)?\b.*?"
    r"\b(?:when|if|once|as soon as)\b",
    re.IGNORECASE,
)
_AUTO_BUY = re.compile(r"\bauto[- ]?buy\b", re.IGNORECASE)
_NOTIFY = re.compile(
    r"\b(?:tell|let|notify|alert|ping|remind|email|text|message|warn)\s+me\b|\b(?:price|set an?|create an?)\s+alert\b|"
    r"\bwatch (?:the price|it|this)\b|\blet me know\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"\b(?:when|if|once|as soon as|whenever)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AlertRequest:
    """What the shopper asked for; money in cents. Exactly one of below_cents and percent_off is set."""

    kind: Literal["price_below", "auto_buy"]
    below_cents: int | None = None
    percent_off: int | None = None
    """Percent below the list price, 1..95."""
    limit_cents: int | None = None
    """auto_buy: the most the shopper will pay per unit; defaults to the threshold."""
    quantity: int = 1


def parse_alert_request(text: str) -> AlertRequest | None:
    """The alert or auto-buy `text` asks for, or None when it does not ask for one."""
    buy = _BUY.search(text) or (_AUTO_BUY.search(text) if _WHEN.search(text) else None)
    notify = _NOTIFY.search(text) if _WHEN.search(text) or _BELOW.search(text) else None
    if buy is None and notify is None:
        return None
    below = _BELOW.search(text)
    percent = _PERCENT.search(text)
    below_cents = _cents(below, "price") if below else None
    percent_off = int(percent.group("pct")) if percent else None
    if percent_off is not None and not 1 <= percent_off <= 95:
        percent_off = None
    if below_cents is None and percent_off is None:
        return None
    if below_cents is not None:
        percent_off = None  # a stated price is the more exact of the two
    if buy is None:
        return AlertRequest("price_below", below_cents=below_cents, percent_off=percent_off)
    limit = _LIMIT.search(text)
    quantity = int(buy.group("qty")) if "qty" in buy.groupdict() and buy.group("qty") else 1
    return AlertRequest(
        "auto_buy",
        below_cents=below_cents,
        percent_off=percent_off,
        limit_cents=_cents(limit, "limit") if limit else None,
        quantity=max(1, quantity),
    )


def parse_decimal_cents(value: str) -> int | None:
    """'49.99' or '49,99' or '49' -> cents; None when it is not a positive amount."""
    try:
        amount = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount > 10_000_000:
        return None
    return int((amount * 100).to_integral_value())


def threshold_cents(request: AlertRequest, offer: Offer) -> tuple[int, int]:
    """(threshold, per-unit limit) in cents for `request` on `offer`: a percentage is taken off the
    list price (what "30% off" means in a shop), rounded down to the cent."""
    if request.below_cents is not None:
        threshold = request.below_cents
    else:
        percent = request.percent_off or 0
        threshold = offer.list_price_cents * (100 - percent) // 100
    limit = request.limit_cents if request.limit_cents is not None else threshold
    return threshold, max(limit, threshold)


def _cents(match: re.Match[str], name: str) -> int | None:
    value = match.group(name) or match.group(name + "w")
    return parse_decimal_cents(value) if value else None

"""The JSON payload of each frame type, as frozen dataclasses (docs/markup.md, "Frames").

A Frame's `payload` is `to_json(<one of these>)`: keys sorted, no spaces, so the same content always
gives the same bytes (replayed turns produce identical frames). It is encoded once, by hydrate, with
orjson; render reads each frame's payload at most once and the gateway splices it into the client's
message unparsed (pipeline/gateway/protocol.py). Money is integer cents with an ISO
currency; days are ISO dates (UTC). A value the store does not have is null, never a guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class LinkPayload:
    """type `text` when the text is a link to a product (`<link>`); plain text frames have `{}`."""

    product_id: str


@dataclass(frozen=True)
class RatingInfo:
    average: float
    """Mean stars, 1.0 to 5.0 (0.0 when count is 0)."""
    count: int
    distribution: list[int]
    """Five counts: ratings of 1, 2, 3, 4 and 5 stars."""
    simulated: bool


@dataclass(frozen=True)
class DealInfo:
    list_price_cents: int
    discount_pct: int
    """Whole percent below the list price."""


@dataclass(frozen=True)
class CardPayload:
    """type `card`: one product."""

    product_id: str
    title: str
    image: str | None
    """An image URL; null while the catalog has none."""
    price_cents: int | None
    """null when the offer could not be read in time (then `live` is false)."""
    currency: str | None
    availability: str | None
    """in_stock | out_of_stock | null when unknown."""
    delivery_days: int | None
    rating: RatingInfo | None
    deal: DealInfo | None
    """Set when the price is below the list price."""
    simulated: bool
    """True when any figure on the card comes from the store simulator."""
    live: bool
    """False when the price lookup timed out or failed: the card shows no price."""


@dataclass(frozen=True)
class CarouselPayload:
    """type `carousel`: several cards in the order the answer named them."""

    product_ids: list[str]
    cards: list[CardPayload]


@dataclass(frozen=True)
class CompareRow:
    attr: str
    """The attribute as the answer asked for it, e.g. "battery life"."""
    values: list[str | None]
    """One per product, in `product_ids` order; null when that product has no such attribute."""
    sources: list[str | None]
    """The catalog attribute each value was read from (e.g. "item_weight"), or null."""


@dataclass(frozen=True)
class ComparePayload:
    """type `compare`: a table of real attribute values."""

    product_ids: list[str]
    titles: list[str | None]
    attrs: list[str]
    rows: list[CompareRow]
    simulated: bool
    """True when a price or rating row holds simulated figures."""


@dataclass(frozen=True)
class AspectInfo:
    aspect: str
    """A noun phrase as the reviews write it, e.g. "sound quality"."""
    mentions: int
    """Reviews naming it."""
    positive: int
    """Reviews naming it in a sentence scored positive."""
    negative: int
    """Reviews naming it in a sentence scored negative."""


@dataclass(frozen=True)
class ReviewsPayload:
    """type `reviews`: what customers say, extracted from review text (docs/markup.md)."""

    product_id: str
    pros: list[str]
    cons: list[str]
    sentiment: dict[str, int]
    """Review sentences counted as positive, negative and neutral by the lexicon."""
    sentences: int
    rating: RatingInfo | None
    method: str
    """How pros and cons were chosen, e.g. "aspects-v2" (markup/opinions.py)."""
    summary: str = ""
    """One line stated from the counts ("This kettle is well reviewed."; aspects-v1 added the tally:
    ": 6 of 8 reviews are positive."); "" before aspects-v1."""
    aspects: list[AspectInfo] = field(default_factory=list)
    """Aspects named in at least two reviews, most mentioned first (at most 8)."""
    reviews: int = 0
    """Review texts read (the "of N" of the counts); 0 before aspects-v1."""


@dataclass(frozen=True)
class PricePointInfo:
    day: str
    """ISO date, UTC."""
    price_cents: int
    in_stock: bool


@dataclass(frozen=True)
class PriceHistoryPayload:
    """type `price_history`: daily prices, oldest first."""

    product_id: str
    currency: str | None
    series: list[PricePointInfo]
    min_cents: int
    max_cents: int
    simulated: bool


@dataclass(frozen=True)
class SuggestionsPayload:
    """type `suggestions`: follow-up questions the shopper can tap."""

    items: list[str]


@dataclass(frozen=True)
class ActionPayload:
    """type `action`: a button. `params` per type: add_to_cart {quantity}; price_alert {below_cents}."""

    type: str
    product_id: str
    params: dict[str, int]


@dataclass(frozen=True)
class ErrorPayload:
    """type `error`: the turn could not be completed as asked."""

    reason: str
    stage: str
    retriable: bool


@dataclass(frozen=True)
class DonePayload:
    """type `done`: the last frame of a turn."""

    chars: int
    """Characters of the answer consumed, markup included."""
    frames: int
    """Frames of the turn before this one."""
    directives: int
    """Directives the parser read (shown or not)."""
    counts: dict[str, int]
    """Parser and hydrate counters by name, e.g. ungrounded, malformed, timeout (zero counts left out)."""
    products_shown: list[str]
    model: str | None
    error: bool
    context: dict[str, str] = field(default_factory=dict)
    """The final chunk's turn facts (user_id, question, intent, ...), passed on for render."""


Payload = (
    LinkPayload
    | CardPayload
    | CarouselPayload
    | ComparePayload
    | ReviewsPayload
    | PriceHistoryPayload
    | SuggestionsPayload
    | ActionPayload
    | ErrorPayload
    | DonePayload
)


def to_json(payload: Payload | None) -> str:
    """The canonical JSON text of a payload; `{}` for None."""
    if payload is None:
        return "{}"
    # orjson writes a dataclass's fields in declaration order even with OPT_SORT_KEYS; handing it each
    # dataclass as its field dict (no deep copy, unlike dataclasses.asdict) gets the keys sorted.
    options = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
    return orjson.dumps(payload, default=_fields, option=options).decode()


def _fields(value: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    raise TypeError(f"{type(value).__name__} is not a payload field")


_SHOWING = frozenset({"text", "card", "carousel", "compare", "reviews", "price_history"})
_SHOWING_ONE = (LinkPayload, CardPayload, ReviewsPayload, PriceHistoryPayload)


def payload_product_ids(payload: Payload | None) -> list[str]:
    """The products a payload shows (cards, carousels, tables, reviews, charts and links; not actions),
    read from the dataclass: what hydrate needs without decoding the JSON it just encoded."""
    if isinstance(payload, _SHOWING_ONE):
        return [payload.product_id]
    if isinstance(payload, (CarouselPayload, ComparePayload)):
        return list(payload.product_ids)
    return []


def shown_product_ids(frame_type: str, data: dict[str, Any]) -> list[str]:
    """The products a frame shows, from its decoded payload (`from_json(frame.payload)`)."""
    if frame_type not in _SHOWING:
        return []
    ids = data.get("product_ids")
    if isinstance(ids, list):
        return [pid for pid in ids if isinstance(pid, str)]
    pid = data.get("product_id")
    return [pid] if isinstance(pid, str) else []


def from_json(payload: str) -> dict[str, Any]:
    """Decode a frame payload to plain JSON values; `{}` when it is not a JSON object."""
    if payload == "{}":
        return {}  # a plain text frame: most frames of a turn
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}

"""Frame payloads: orjson's canonical text is the text json.dumps gave before, and hydrate's reading of
the products a payload shows (from the dataclass) agrees with render's (from the JSON)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.markup.payloads import (
    ActionPayload,
    AspectInfo,
    CardPayload,
    CarouselPayload,
    ComparePayload,
    CompareRow,
    DealInfo,
    DonePayload,
    LinkPayload,
    Payload,
    PriceHistoryPayload,
    PricePointInfo,
    RatingInfo,
    ReviewsPayload,
    SuggestionsPayload,
    from_json,
    payload_product_ids,
    shown_product_ids,
    to_json,
)

RATING = RatingInfo(4.333333333333333, 3, [0, 0, 1, 0, 2], True)
CARD = CardPayload("B01", "Kettle «Été» 1.7 L", None, 4999, "USD", "in_stock", 2, RATING, DealInfo(5999, 17),
                   True, True)
PAYLOADS: dict[str, Payload] = {
    "text": LinkPayload("B01"),
    "card": CARD,
    "carousel": CarouselPayload(["B01", "B02"], [CARD, dataclasses.replace(CARD, product_id="B02", rating=None)]),
    "compare": ComparePayload(["B01", "B02"], ["A", None], ["weight"],
                              [CompareRow("weight", ["1 kg", None], ["item_weight", None])], False),
    "reviews": ReviewsPayload("B01", ["quiet"], ["heavy"], {"positive": 3, "negative": 1, "neutral": 0}, 4,
                              RATING, "aspects-v2", "Well reviewed.", [AspectInfo("lid", 2, 1, 1)], 4),
    "price_history": PriceHistoryPayload("B01", "USD", [PricePointInfo("2026-12-01", 4999, True)], 4999, 4999,
                                         True),
    "suggestions": SuggestionsPayload(["Is it in stock?"]),
    "action": ActionPayload("price_alert", "B01", {"below_cents": 4500}),
    "done": DonePayload(10, 3, 2, {"ungrounded": 1}, ["B01"], None, False, {"user_id": "u", "question": "ä?"}),
}


@pytest.mark.parametrize("frame_type", sorted(PAYLOADS))
def test_to_json_is_the_canonical_text(frame_type: str) -> None:
    payload = PAYLOADS[frame_type]
    expected = json.dumps(dataclasses.asdict(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert to_json(payload) == expected


@pytest.mark.parametrize("frame_type", sorted(PAYLOADS))
def test_products_shown_agree_between_the_dataclass_and_the_json(frame_type: str) -> None:
    payload = PAYLOADS[frame_type]
    assert payload_product_ids(payload) == shown_product_ids(frame_type, from_json(to_json(payload)))


def test_what_each_payload_shows() -> None:
    assert payload_product_ids(PAYLOADS["compare"]) == ["B01", "B02"]
    assert payload_product_ids(PAYLOADS["card"]) == ["B01"]
    assert payload_product_ids(PAYLOADS["action"]) == []  # a button shows nothing
    assert payload_product_ids(None) == []


def test_from_json_gives_an_object_or_nothing() -> None:
    assert from_json('{"a":[1]}') == {"a": [1]}
    assert from_json("{}") == {}
    assert from_json("[1]") == {}
    assert from_json("{broken") == {}
    assert to_json(None) == "{}"

"""Reading alert and auto-buy requests from a shopper's words."""

from __future__ import annotations

import pytest

from pipeline.alerts.phrases import AlertRequest, parse_alert_request, threshold_cents
from pipeline.store.records import Offer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tell me when it drops below $40", AlertRequest("price_below", below_cents=4000)),
        ("let me know if it's under 39.99 dollars", AlertRequest("price_below", below_cents=3999)),
        ("alert me when it is 20% off", AlertRequest("price_below", percent_off=20)),
        ("buy it when it's 30% off", AlertRequest("auto_buy", percent_off=30)),
        ("order 2 when it hits $35, max $38", AlertRequest("auto_buy", below_cents=3500, limit_cents=3800, quantity=2)),
        ("notify me when the price drops under $19.50", AlertRequest("price_below", below_cents=1950)),
    ],
)
def test_requests_are_read(text: str, expected: AlertRequest) -> None:
    assert parse_alert_request(text) == expected


@pytest.mark.parametrize(
    "text",
    ["is it cheaper than $40?", "add it to my cart", "buy it", "what is the price?", "tell me about the battery",
     "buy it when it is cheap"],
)
def test_questions_and_other_requests_are_not_alerts(text: str) -> None:
    assert parse_alert_request(text) is None


def test_percent_off_is_taken_from_the_list_price() -> None:
    offer = Offer("P1", 4500, 5000, "USD", True, 3, True)
    assert threshold_cents(AlertRequest("auto_buy", percent_off=30), offer) == (3500, 3500)
    assert threshold_cents(AlertRequest("auto_buy", below_cents=3000, limit_cents=3200), offer) == (3000, 3200)

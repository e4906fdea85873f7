"""The terminal client's rendering: frames in, what a terminal shows out (rendered to plain text)."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from rich.console import Console, RenderableType

from pipeline.chat.render import actions, money, render_frame, render_turn, sparkline


def shown(renderable: RenderableType | None, width: int = 120) -> str:
    assert renderable is not None
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def frame(seq: int, kind: str, text: str = "", **payload: Any) -> dict[str, Any]:
    return {"type": kind, "conversation_id": "c1", "turn": 0, "seq": seq, "text": text,
            "payload": json.loads(json.dumps(payload))}


CARD: dict[str, Any] = {
    "product_id": "B0KETTLE01", "title": "Steel Kettle 1.7 L", "image": None, "price_cents": 3499,
    "currency": "USD", "availability": "in_stock", "delivery_days": 2,
    "rating": {"average": 4.36, "count": 812, "distribution": [1, 2, 3, 4, 5], "simulated": True},
    "deal": {"list_price_cents": 4999, "discount_pct": 30}, "simulated": True, "live": True,
}


def test_text_chunks_join_into_one_paragraph_and_blocks_sit_where_they_arrived() -> None:
    frames = [frame(0, "text", "The steel kettle "), frame(1, "text", "boils fast."), frame(2, "card", **CARD),
              frame(3, "text", "Anything else?")]
    out = shown(render_turn(frames))
    assert "The steel kettle boils fast." in out
    assert out.index("boils fast.") < out.index("Steel Kettle 1.7 L") < out.index("Anything else?")


def test_card_shows_title_price_simulated_label_deal_availability_and_rating() -> None:
    out = shown(render_frame(frame(0, "card", **CARD)))
    for expected in ("Steel Kettle 1.7 L", "$34.99", "(simulated)", "list $49.99", "-30%", "In stock",
                     "delivery in 2 days", "★ 4.4 (812) simulated", "B0KETTLE01"):
        assert expected in out, expected


def test_card_without_a_live_price_says_so_and_never_shows_a_number() -> None:
    card: dict[str, Any] = {**CARD, "price_cents": None, "live": False, "deal": None, "simulated": False}
    out = shown(render_frame(frame(0, "card", **card)))
    assert "price unavailable right now" in out
    assert "$" not in out and "simulated" not in out.replace("★ 4.4 (812) simulated", "")


def test_carousel_shows_every_card_side_by_side() -> None:
    second: dict[str, Any] = {**CARD, "product_id": "B0KETTLE02", "title": "Glass Kettle", "price_cents": 2599}
    out = shown(render_frame(frame(0, "carousel", product_ids=["B0KETTLE01", "B0KETTLE02"], cards=[CARD, second])))
    first_line = next(line for line in out.splitlines() if "Steel Kettle" in line)
    assert "Glass Kettle" in first_line  # a row of panels, not a stack
    assert "$25.99" in out


def test_comparison_is_a_table_with_a_dash_for_missing_values() -> None:
    compare: dict[str, Any] = {"product_ids": ["A1", "B2"], "titles": ["Kettle A", "Kettle B"], "attrs": ["capacity", "weight"],
               "rows": [{"attr": "capacity", "values": ["1.7 L", "1.5 L"], "sources": ["capacity", "capacity"]},
                        {"attr": "weight", "values": [1.2, None], "sources": ["item_weight", None]}],
               "simulated": True}
    out = shown(render_frame(frame(0, "compare", **compare)))
    header = next(line for line in out.splitlines() if "Kettle A" in line)
    assert "Kettle B" in header
    weight_row = next(line for line in out.splitlines() if "weight" in line)
    assert "1.2" in weight_row and "—" in weight_row
    assert "includes simulated prices" in out


def test_review_summary_shows_pros_and_cons_and_rating() -> None:
    reviews: dict[str, Any] = {"product_id": "A1", "pros": ["Boils in two minutes."], "cons": ["The lid sticks."],
               "sentiment": {"positive": 3, "negative": 1, "neutral": 0}, "sentences": 14,
               "rating": {"average": 4.0, "count": 20, "simulated": False}, "method": "lexicon-v1"}
    out = shown(render_frame(frame(0, "reviews", **reviews)))
    assert "Liked" in out and "Boils in two minutes." in out
    assert "Disliked" in out and "The lid sticks." in out
    assert "★ 4.0 (20)" in out and "14 review sentences" in out


def test_review_summary_shows_the_summary_line_and_the_counts() -> None:
    reviews: dict[str, Any] = {
        "product_id": "A1", "summary": "This kettle is well reviewed: 6 of 8 reviews are positive.",
        "pros": ["5 of 8 reviews praise the color.", "The color is great."], "cons": [],
        "sentiment": {"positive": 9, "negative": 1, "neutral": 4}, "sentences": 14, "reviews": 8,
        "aspects": [{"aspect": "color", "mentions": 5, "positive": 5, "negative": 0}], "rating": None,
        "method": "aspects-v1"}
    out = shown(render_frame(frame(0, "reviews", **reviews)))
    assert "This kettle is well reviewed: 6 of 8 reviews are positive." in out
    assert "5 of 8 reviews praise the color." in out and "The color is great." in out
    assert "review sentences" not in out  # the summary line already says how many were read


def test_price_history_shows_a_sparkline_and_the_30_and_90_day_lows() -> None:
    # 120 days: the all-time low is 100 days back, a lower price than any since sits 60 days back.
    series: list[dict[str, Any]] = []
    for i in range(120):
        day = (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat()
        cents = 5000
        if i == 20:
            cents = 3000  # ~100 days before the end: outside the 90-day window
        if i == 60:
            cents = 4000  # inside 90 days, outside 30
        if i == 100:
            cents = 4500  # inside 30 days
        series.append({"day": day, "price_cents": cents, "in_stock": True})
    history: dict[str, Any] = {"product_id": "A1", "currency": "USD", "series": series, "min_cents": 3000, "max_cents": 5000,
               "simulated": True}
    out = shown(render_frame(frame(0, "price_history", **history)))
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")
    lines = out.splitlines()
    assert "$45.00" in next(line for line in lines if "30-day low" in line)
    assert "$40.00" in next(line for line in lines if "90-day low" in line)
    assert "$30.00" in next(line for line in lines if "range" in line)
    assert "simulated prices" in out


def test_suggestions_are_numbered_and_actions_shown_as_commands() -> None:
    frames = [frame(0, "suggestions", items=["Is it dishwasher safe?", "Cheaper ones?"]),
              frame(1, "action", type="add_to_cart", product_id="A1", params={"quantity": 1}),
              frame(2, "action", type="price_alert", product_id="A1", params={"below_cents": 2999})]
    out = shown(render_turn(frames))
    assert "1. Is it dishwasher safe?" in out and "2. Cheaper ones?" in out
    assert "/action 1  add A1 to cart" in out
    assert "/action 2  alert me when A1 drops below $29.99" in out
    assert [(a.number, a.type, dict(a.params)) for a in actions(frames)] == [
        (1, "add_to_cart", {"quantity": 1}), (2, "price_alert", {"below_cents": 2999})]


def test_hostile_strings_print_as_themselves_not_as_rich_markup() -> None:
    hostile = "[bold red]PWNED[/] <script>alert(1)</script> <img src=x onerror=alert(1)>"
    card: dict[str, Any] = {**CARD, "title": hostile}
    frames = [frame(0, "text", "[link=http://evil]click[/link]"), frame(1, "card", **card),
              frame(2, "reviews", product_id="A1", pros=[hostile], cons=[], sentences=1, rating=None),
              frame(3, "suggestions", items=["[blink]x[/blink]"])]
    out = shown(render_turn(frames), width=200)
    assert "[link=http://evil]click[/link]" in out
    assert out.count("[bold red]PWNED[/]") == 2
    assert "onerror=alert(1)>" in out and "<script>alert(1)</script>" in out
    assert "[blink]x[/blink]" in out


def test_bad_payloads_degrade_instead_of_raising() -> None:
    weird: list[dict[str, Any]] = [
        {"type": "card", "payload": {"price_cents": "12", "rating": [], "deal": 3}},
        {"type": "carousel", "payload": {"cards": "nope"}},
        {"type": "compare", "payload": {"product_ids": ["A"], "rows": [{"values": []}, 7]}},
        {"type": "price_history", "payload": {"series": [{"day": "not a day", "price_cents": 1}, {"price_cents": 2}]}},
        {"type": "suggestions", "payload": {"items": [None, 3, ""]}},
        {"type": "text", "text": None, "payload": None},
        {"type": "mystery", "payload": {}},
        {"type": "error", "text": "", "payload": {"reason": "timeout"}},
    ]
    out = shown(render_turn(weird))
    assert "price unavailable right now" in out
    assert "error: timeout" in out


def test_money_and_sparkline() -> None:
    assert money(123456, "USD") == "$1,234.56"
    assert money(999, "EUR") == "9.99 EUR"
    assert money(None, "USD") == "" and money(True, "USD") == ""
    assert sparkline([1, 2, 3]) == "▁▅█"
    assert sparkline([5, 5]) == "▄▄"
    assert sparkline([]) == ""

"""Frames to rich renderables: the terminal client's view, with no I/O.

`render_turn(frames)` turns the frames of one turn (dicts as the gateway sends them, in seq order) into
one renderable: consecutive text frames join into one paragraph, and every other frame becomes a block
where it arrived in the stream. `render_frame` does one non-text frame. Payload fields are read
defensively (docs/markup.md: any may be missing or null), and every string from the server goes into a
`rich.text.Text`, never through rich's markup parser, so a title like "[red]x" or "<script>" prints as
itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pipeline.money import format_money
from pipeline.store.sentences import delivery_phrase

SPARK_BARS = "▁▂▃▄▅▆▇█"
LOW_WINDOWS_DAYS = (30, 90)
"""The "lowest in the last N days" rows under a price history."""


@dataclass(frozen=True)
class Suggestion:
    number: int
    text: str


@dataclass(frozen=True)
class Action:
    """An action button as a command: `/action <number>` sends it as feedback."""

    number: int
    turn: int
    type: str
    product_id: str
    params: Mapping[str, Any]


def render_turn(frames: Sequence[Mapping[str, Any]]) -> RenderableType:
    """One turn's frames (seq order) as a Group. Suggestions and actions are numbered from 1 per turn."""
    parts: list[RenderableType] = []
    paragraph: Text | None = None
    suggestion_no = action_no = 0
    for frame in frames:
        kind = _str(frame.get("type"))
        payload = _obj(frame.get("payload"))
        if kind == "text":
            if paragraph is None:
                paragraph = Text()
                parts.append(paragraph)
            _append_text(paragraph, _str(frame.get("text")), payload)
            continue
        block: RenderableType | None
        if kind == "suggestions":
            items = suggestions(frame, start=suggestion_no + 1)
            suggestion_no += len(items)
            block = _suggestion_list(items)
        elif kind == "action":
            action_no += 1
            block = _action_line(action_no, payload)
        else:
            block = render_frame(frame)
        if block is not None:
            parts.append(block)
            paragraph = None
    return Group(*parts)


def render_frame(frame: Mapping[str, Any]) -> RenderableType | None:
    """A block for one frame; None for frames that show nothing on their own (text is joined by
    render_turn; `done` only ends the turn)."""
    kind = _str(frame.get("type"))
    payload = _obj(frame.get("payload"))
    if kind == "card":
        return card_panel(payload)
    if kind == "carousel":
        cards = [card_panel(_obj(c)) for c in _list(payload.get("cards"))]
        return Columns(cards, equal=True) if cards else None
    if kind == "compare":
        return compare_table(payload)
    if kind == "reviews":
        return review_panel(payload)
    if kind == "price_history":
        return price_history(payload)
    if kind == "suggestions":
        return _suggestion_list(suggestions(frame))
    if kind == "action":
        return _action_line(1, payload)
    if kind == "alert":
        message = _str(frame.get("text")) or _str(payload.get("message")) or "Price alert"
        return Panel(Text(message), title="alert", border_style="yellow")
    if kind == "error":
        reason = _str(frame.get("text")) or _str(payload.get("reason")) or "this answer could not be finished"
        return Text(f"error: {reason}", style="bold red")
    return None


def suggestions(frame: Mapping[str, Any], start: int = 1) -> list[Suggestion]:
    """The follow-up questions of a suggestions frame, numbered from `start`."""
    items = [_str(item).strip() for item in _list(_obj(frame.get("payload")).get("items"))]
    return [Suggestion(start + i, text) for i, text in enumerate(t for t in items if t)]


def starters(body: Mapping[str, Any]) -> list[Suggestion]:
    """The questions of a GET /products/{id}/starters answer (docs/gateway.md), numbered from 1."""
    items = [_str(item).strip() for item in _list(body.get("questions"))]
    return [Suggestion(1 + i, text) for i, text in enumerate(t for t in items if t)]


def render_starters(body: Mapping[str, Any], items: Sequence[Suggestion]) -> Text | None:
    """The starter questions of a product page, numbered like follow-ups; None when there are none."""
    about = _str(body.get("title")) or _str(body.get("product_id")) or "this product"
    return _suggestion_list(items, f"Ask about {about} (type the number):")


def actions(frames: Sequence[Mapping[str, Any]]) -> list[Action]:
    """The turn's action frames as numbered commands (the numbers render_turn shows)."""
    found: list[Action] = []
    for frame in frames:
        if frame.get("type") != "action":
            continue
        payload = _obj(frame.get("payload"))
        turn = frame.get("turn")
        found.append(Action(len(found) + 1, turn if isinstance(turn, int) else -1, _str(payload.get("type")),
                            _str(payload.get("product_id")), _obj(payload.get("params"))))
    return found


def card_panel(card: Mapping[str, Any]) -> Panel:
    """A product card: title, price (with "simulated" when it is), deal, availability, rating."""
    body = Text()
    price = money(card.get("price_cents"), card.get("currency"))
    if card.get("live") is False or not price:
        body.append("price unavailable right now", style="dim")
    else:
        body.append(price, style="bold")
        deal = _obj(card.get("deal"))
        list_price = money(deal.get("list_price_cents"), card.get("currency"))
        if list_price:
            body.append(f"  list {list_price}", style="dim strike")
        discount = _num(deal.get("discount_pct"))
        if discount:
            body.append(f"  -{discount:g}%", style="green")
        if card.get("simulated"):
            body.append("  (simulated)", style="yellow")
    availability = {"in_stock": "In stock", "out_of_stock": "Out of stock"}.get(_str(card.get("availability")))
    if availability:
        body.append("\n" + availability, style="green" if availability == "In stock" else "red")
        days = _num(card.get("delivery_days"))
        if days is not None:
            body.append(f" · {delivery_phrase(days)}")
    rating = _rating(card.get("rating"))
    if rating:
        body.append("\n" + rating)
    title = Text(_str(card.get("title")) or _str(card.get("product_id")) or "product", style="bold")
    return Panel(Group(title, body), subtitle=Text(_str(card.get("product_id")), style="dim"), width=44)


def compare_table(compare: Mapping[str, Any]) -> Table:
    ids = [_str(i) for i in _list(compare.get("product_ids"))]
    titles = _list(compare.get("titles"))
    table = Table(title=Text("Comparison"), show_lines=True)
    table.add_column("")
    for i, product_id in enumerate(ids):
        heading = _str(titles[i]) if i < len(titles) else ""
        table.add_column(Text(heading or product_id), overflow="fold")
    for row in map(_obj, _list(compare.get("rows"))):
        values = _list(row.get("values"))
        cells = [Text("—" if i >= len(values) or values[i] is None else _cell(values[i])) for i in range(len(ids))]
        table.add_row(Text(_str(row.get("attr")), style="bold"), *cells)
    if compare.get("simulated"):
        table.caption = "includes simulated prices"
    return table


def review_panel(reviews: Mapping[str, Any]) -> Panel:
    """What customers say: the summary line, pros and cons side by side (counted aspects first, as
    "4 of 8 reviews praise the sound quality."), then the rating."""
    columns: list[RenderableType] = []
    for name, label, style in (("pros", "Liked", "green"), ("cons", "Disliked", "red")):
        items = [_str(i) for i in _list(reviews.get(name)) if _str(i)]
        if items:
            lines = Text("\n").join(Text(f"• {item}") for item in items)
            columns.append(Panel(lines, title=Text(label, style=style), border_style=style, width=40))
    summary = _str(reviews.get("summary"))
    parts: list[RenderableType] = [Text(summary, style="bold")] if summary else []
    if columns:
        parts.append(Columns(columns))
    elif not summary:
        parts.append(Text("no review summary", style="dim"))
    rating = _rating(reviews.get("rating"))
    sentences = _num(reviews.get("sentences"))
    read = "" if summary or not sentences else f"from {sentences:g} review sentences"  # the summary has the counts
    footer = " · ".join(x for x in (rating, read) if x)
    if footer:
        parts.append(Text(footer, style="dim"))
    return Panel(Group(*parts), title="What customers say", subtitle=Text(_str(reviews.get("product_id")), style="dim"))


def price_history(history: Mapping[str, Any]) -> Panel:
    """A sparkline of the series, and the current price with the 30- and 90-day lows."""
    currency = history.get("currency")
    points = [(_date(p.get("day")), _num(p.get("price_cents"))) for p in map(_obj, _list(history.get("series")))]
    priced = [(day, cents) for day, cents in points if cents is not None]
    if len(priced) < 2:
        return Panel(Text("not enough history", style="dim"), title="Price history")
    lo, hi = min(c for _, c in priced), max(c for _, c in priced)
    line = sparkline([c for _, c in priced])
    table = Table.grid(padding=(0, 2))
    table.add_row(Text("now"), Text(money(priced[-1][1], currency), style="bold"))
    last_day = priced[-1][0]
    for window in LOW_WINDOWS_DAYS:
        if last_day is None:
            break
        since = last_day - dt.timedelta(days=window)
        in_window = [c for day, c in priced if day is not None and day > since]
        if in_window:
            table.add_row(Text(f"{window}-day low"), Text(money(min(in_window), currency)))
    table.add_row(Text("range"), Text(f"{money(lo, currency)} – {money(hi, currency)}"))
    first, last = _str(_obj(_list(history.get("series"))[0]).get("day")), _str(_obj(_list(history.get("series"))[-1]).get("day"))
    parts: list[RenderableType] = [Text(line, style="cyan"), Text(f"{first} … {last}", style="dim"), table]
    if history.get("simulated"):
        parts.append(Text("simulated prices", style="yellow"))
    return Panel(Group(*parts), title="Price history", subtitle=Text(_str(history.get("product_id")), style="dim"))


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, lowest ▁ to highest █ (all ▄ when flat)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARK_BARS[3] * len(values)
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round((v - lo) / (hi - lo) * top)] for v in values)


def money(cents: object, currency: object) -> str:
    """"$12.34" for USD, "12.34 EUR" otherwise; "" when cents is not a number."""
    amount = _num(cents)
    if amount is None:
        return ""
    return format_money(round(amount), _str(currency) or "USD")


def _append_text(paragraph: Text, text: str, payload: Mapping[str, Any]) -> None:
    product_id = _str(payload.get("product_id"))
    if product_id:
        paragraph.append(text, style="underline cyan")
        paragraph.append(f" [{product_id}]", style="dim")
    else:
        paragraph.append(text)


def _suggestion_list(items: Sequence[Suggestion], header: str = "Follow-ups (type the number):") -> Text | None:
    if not items:
        return None
    text = Text(header, style="dim")
    for item in items:
        text.append(f"\n  {item.number}. ", style="bold cyan")
        text.append(item.text)
    return text


def _action_line(number: int, payload: Mapping[str, Any]) -> Text:
    kind = _str(payload.get("type"))
    product_id = _str(payload.get("product_id"))
    params = _obj(payload.get("params"))
    if kind == "add_to_cart":
        label = f"add {product_id} to cart"
    elif kind == "price_alert":
        label = f"alert me when {product_id} drops below {money(params.get('below_cents'), 'USD') or '?'}"
    else:
        label = f"{kind.replace('_', ' ') or 'action'} {product_id}".strip()
    text = Text(f"/action {number}", style="bold magenta")
    text.append(f"  {label}")
    return text


def _rating(value: object) -> str:
    rating = _obj(value)
    average, count = _num(rating.get("average")), _num(rating.get("count"))
    if average is None or not count:
        return ""
    return f"★ {average:.1f} ({count:g})" + (" simulated" if rating.get("simulated") else "")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(_str(value))
    except ValueError:
        return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []

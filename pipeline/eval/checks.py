"""Checks on what a shopper saw in one turn, for the scenario suite (scenarios.py). Pure.

A check takes the turn's outcome and the conversation's earlier outcomes and returns None when it holds,
or a sentence saying what the shopper saw instead. `every_turn` holds for every turn of every scenario:
an answer that ends (`done`), no error frame, no raw markup in text, no sentence said twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.eval._runners import TurnOutcome
from pipeline.money import format_money

Check = Callable[[TurnOutcome, Sequence[TurnOutcome]], str | None]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_TAG = re.compile(r"</?[a-z][a-z-]*\b|/>")


def payloads(outcome: TurnOutcome, kind: str) -> list[dict[str, Any]]:
    return [json.loads(f.payload or "{}") for f in outcome.frames if f.type == kind]


def shown(outcome: TurnOutcome) -> list[str]:
    return list(outcome.response.products_shown) if outcome.response is not None else []


def prices(outcome: TurnOutcome) -> dict[str, int]:
    """Product id -> price in cents, from the cards and carousel cards shown."""
    found: dict[str, int] = {}
    items = [*payloads(outcome, "card"), *(card for c in payloads(outcome, "carousel") for card in c.get("cards", []))]
    for item in items:
        if item.get("product_id") and isinstance(item.get("price_cents"), int):
            found[item["product_id"]] = item["price_cents"]
    return found


def every_turn(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    if outcome.response is None or not any(f.type == "done" for f in outcome.frames):
        return f"the turn did not finish ({', '.join(outcome.errors) or 'no done frame'})"
    if errors := [f.payload for f in outcome.frames if f.type == "error"]:
        return f"error frames: {errors}"
    text = "".join(f.text for f in outcome.frames if f.type == "text")
    if _TAG.search(text) or "<" in text or ">" in text:
        return f"raw markup in the text: {text[:200]!r}"
    sentences = [" ".join(s.lower().split()) for s in _SENTENCE.split(text) if len(s.split()) > 2]
    if len(sentences) != len(set(sentences)):
        return f"a sentence repeats: {text[:300]!r}"
    return None


def intent_is(*intents: str) -> Check:
    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        intent = outcome.response.intent if outcome.response else None
        return None if intent in intents else f"planned as {intent}, not {' or '.join(intents)}"
    return check


def stated_by_system(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    model = outcome.response.model if outcome.response else None
    return None if model == "direct" else f"the answer came from the model {model!r}, not the system"


def says(pattern: str) -> Check:
    wanted = re.compile(pattern, re.IGNORECASE)

    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        return None if wanted.search(outcome.answer_text) else f"the answer does not say /{pattern}/: {outcome.answer_text[:200]!r}"
    return check


def never_says(pattern: str) -> Check:
    unwanted = re.compile(pattern, re.IGNORECASE)

    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        found = unwanted.search(outcome.answer_text)
        return None if found is None else f"the answer says {found.group(0)!r}: {outcome.answer_text[:200]!r}"
    return check


def has_frame(kind: str, product_id: str | None = None, at_least: int = 1) -> Check:
    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        found = payloads(outcome, kind)
        if product_id is not None:
            found = [p for p in found if product_id in json.dumps(p)]
        if len(found) >= at_least:
            return None
        kinds = [f.type for f in outcome.frames]
        return f"no {kind} frame{' for ' + product_id if product_id else ''} (frames: {kinds})"
    return check


def shows(product_id: str, *alternatives: str) -> Check:
    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        ids = shown(outcome)
        return None if {product_id, *alternatives} & set(ids) else f"{product_id} not shown (shown: {ids})"
    return check


def never_shows(product_id: str) -> Check:
    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        return None if product_id not in shown(outcome) else f"{product_id} was shown"
    return check


def shows_at_least(n: int) -> Check:
    def check(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
        ids = shown(outcome)
        return None if len(ids) >= n else f"{len(ids)} products shown, wanted at least {n}: {ids}"
    return check


def shows_nothing(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    ids = shown(outcome)
    return None if not ids else f"products shown: {ids}"


def cheapest_of_previous(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    """The one card shown is the cheapest of the products the previous turn showed, at the price named."""
    before = prices(earlier[-1]) if earlier else {}
    ids = shown(outcome)
    if len(before) < 2:
        return f"the previous turn showed fewer than two priced products ({before})"
    cheapest = min(before, key=lambda pid: (before[pid], pid))
    if ids != [cheapest]:
        return f"showed {ids}, but the cheapest of {before} is {cheapest}"
    price = format_money(before[cheapest], "USD")
    return None if price in outcome.answer_text else f"the answer does not name the price {price}"


def picks_only_from_previous(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    """Shows at least one product, every one of them shown by the previous turn, and no table: a pick
    among what was shown, not a search for the request's words."""
    before = set(shown(earlier[-1])) if earlier else set()
    ids = shown(outcome)
    if not ids or not set(ids) <= before:
        return f"showed {ids}, not a pick among the previous turn's {sorted(before)}"
    return None if not payloads(outcome, "compare") else "a comparison table instead of a pick"


def compares_first_two_of_previous(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    """A table of the first two products of the most recent list shown (a turn that showed two or more:
    a single card in between, such as the answer to "which one is the cheapest?", is not a list)."""
    lists = [ids for ids in (shown(turn) for turn in reversed(earlier)) if len(ids) >= 2]
    first_two = lists[0][:2] if lists else []
    tables = payloads(outcome, "compare")
    compared = list(tables[0].get("product_ids", [])) if tables else []
    return None if len(first_two) == 2 and compared == first_two else f"compared {compared}, wanted {first_two}"


def cites_evidence(outcome: TurnOutcome, earlier: Sequence[TurnOutcome]) -> str | None:
    """A product answer ends with the passage that backs it (or, when it says the passage itself, where
    the passage is from), or says it is not sure."""
    text = outcome.answer_text
    if re.search(r"A customer says that|The product page (says|lists)|The closest I found|Source:|not sure",
                 text):
        return None
    return f"no stated evidence: {text[:200]!r}"

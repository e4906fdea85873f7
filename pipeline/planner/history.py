"""Resolving what a request refers to ("it", "the second one", "the cheaper one") to product ids.

Only ids the conversation has actually seen are ever resolved: the product page the question was
asked on, the products earlier turns showed (ConversationState), and ASIN-shaped ids the shopper
typed. Together they are the `allowed` set the LLM planner's answer is checked against, so an id a
model invents is never trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.messages import ConversationState

MAX_HISTORY_TURNS = 3
"""Earlier turns whose products can be referred to (the most recent first)."""
MAX_REFERENCED = 5
"""Most products one reference ("these", "all of them") resolves to."""

_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1,
}
# "last" alone is too common ("my last order"); it counts only as "the last one/item/...".
_ORDINAL = re.compile(
    r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th)\b|\b(last)\s+(?:one|item|product|option)\b"
)
# "the first two", "the top 3", "the last two": a run of the last turn's products.
_FIRST_N = re.compile(r"\b(first|top|last) (two|three|four|2|3|4)\b")
_COUNTS = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}
_NUMBERED = re.compile(r"(?:#|\bnumber\s*|\boption\s*|\bitem\s*|\bno\.\s*)([1-9])\b")
_GROUP = re.compile(
    r"\b(both|these|those|them|all of them|either|the two|these two|those two|the (?:cheaper|cheapest|"
    r"lighter|lightest|smaller|smallest|bigger|biggest|larger|largest|better|best|newer|older|"
    r"more expensive|less expensive|most expensive)(?: one)?|which (?:one|of them|of these|is|has|would|should))\b"
)
_SINGULAR = re.compile(r"\b(it|this|that|these|this one|that one|this product|this item|the product|its|it's)\b")
_ASIN = re.compile(r"\b(B0[0-9A-Z]{8})\b")


@dataclass(frozen=True)
class Context:
    """What a request can refer to, and what it did refer to."""

    page_product_id: str | None
    recent: tuple[tuple[str, ...], ...] = ()
    """Products shown per earlier turn, most recent turn first (turns that showed none left out)."""
    typed: tuple[str, ...] = ()
    """ASIN-shaped ids in the request text itself."""
    resolved: list[str] = field(default_factory=list)
    """The products the request refers to, in the order it names them."""
    how: str = "none"
    """none | page | ordinal | group | pronoun | typed: how `resolved` was found."""

    @property
    def allowed(self) -> frozenset[str]:
        """Every id the plan may contain."""
        ids = set(self.typed)
        if self.page_product_id:
            ids.add(self.page_product_id)
        for turn in self.recent:
            ids.update(turn)
        return frozenset(ids)

    @property
    def last_shown(self) -> tuple[str, ...]:
        return self.recent[0] if self.recent else ()


def recent_products(history: ConversationState | None, max_turns: int = MAX_HISTORY_TURNS) -> tuple[tuple[str, ...], ...]:
    """Products shown by the last `max_turns` turns that showed any, most recent first, each turn's in
    the order shown (duplicates within a turn dropped)."""
    if history is None:
        return ()
    turns = sorted(history.turns, key=lambda t: t.turn, reverse=True)
    shown: list[tuple[str, ...]] = []
    for memory in turns:
        ids = tuple(dict.fromkeys(pid for pid in memory.product_ids if pid))
        if ids:
            shown.append(ids)
        if len(shown) >= max_turns:
            break
    return tuple(shown)


def resolve(text: str, page_product_id: str | None, history: ConversationState | None) -> Context:
    """The products `text` refers to. `text` is the request, lower-cased or not.

    Precedence: ids typed in the text; ordinals ("the second one", "#2", "the first two") into the
    most recent list shown that is long enough; group references ("both", "the cheaper one") to all of
    the most recent list's products. A list is a turn that showed two or more: after "which one is the
    cheapest?" answered with one card, "compare the first two" still means the carousel before it.
    With no list, a group reference means the one product the last turn showed (when there is no page). A
    singular pronoun ("it", "this") to the page's product, else to the last turn's product when it
    showed exactly one; else the page's product when there is one. An ambiguous "it" (several products
    shown, no page) resolves to nothing rather than to a guess.
    """
    lowered = text.lower()
    recent = recent_products(history)
    typed = tuple(dict.fromkeys(_ASIN.findall(text.upper())))
    base = Context(page_product_id=page_product_id or None, recent=recent, typed=typed)
    last = base.last_shown
    if typed:
        return _with(base, list(typed), "typed")
    picked = _ordinal_picks(lowered, recent)
    if picked:
        return _with(base, picked, "ordinal")
    listed = _latest_list(recent, 2)
    if _GROUP.search(lowered):
        if listed:
            return _with(base, list(listed[:MAX_REFERENCED]), "group")
        if len(last) == 1 and not base.page_product_id:
            return _with(base, [last[0]], "group")  # "which one is the cheapest?" after one card
    if _SINGULAR.search(lowered):
        if base.page_product_id:
            return _with(base, [base.page_product_id], "page")
        if len(last) == 1:
            return _with(base, [last[0]], "pronoun")
        return base
    if base.page_product_id:
        return _with(base, [base.page_product_id], "page")
    return base


def refers_to_one(lowered: str) -> bool:
    """Whether a lower-cased request points at one product ("it", "this one")."""
    return _SINGULAR.search(lowered) is not None


def _latest_list(recent: tuple[tuple[str, ...], ...], size: int) -> tuple[str, ...]:
    """The most recent turn's products that number at least `size` (at least two: one card is not a list)."""
    return next((shown for shown in recent if len(shown) >= max(size, 2)), ())


def _last(recent: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return recent[0] if recent else ()


def _ordinal_picks(lowered: str, recent: tuple[tuple[str, ...], ...]) -> list[str]:
    if (run := _FIRST_N.search(lowered)) is not None:
        n = _COUNTS[run.group(2)]
        listed = _latest_list(recent, n) or _last(recent)
        return list(listed[-n:] if run.group(1) == "last" else listed[:n])
    indexes = [_ORDINALS[m.group(1) or m.group(2)] for m in _ORDINAL.finditer(lowered)]
    indexes += [int(m.group(1)) - 1 for m in _NUMBERED.finditer(lowered)]
    if not indexes:
        return []
    # "the second one" needs a list with a second; "the last one" any list.
    listed = _latest_list(recent, max(i + 1 if i >= 0 else -i for i in indexes)) or _last(recent)
    picked: list[str] = []
    for index in indexes:
        if -len(listed) <= index < len(listed) and listed[index] not in picked:
            picked.append(listed[index])
    return picked


def _with(base: Context, resolved: list[str], how: str) -> Context:
    return Context(base.page_product_id, base.recent, base.typed, resolved, how)

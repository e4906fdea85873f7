"""Preferences a shopper states about themselves, as key-value pairs (the PEARL idea). Pure.

    "my budget is usually under $30"     -> budget_cents = "3000"
    "I mostly buy Sony" / "I'm a Nike fan" -> brand = "Sony" / "Nike"
    "I wear size 10" / "I'm a medium"    -> size = "10" / "M"
    "I go hiking", "I'm a runner"        -> use = "hiking" / "running"
    "I have a dog and a cat"             -> pets = "dog, cat"
    "we have a toddler", "family of 4"   -> household = "toddler" / "family of four"
    "I'm vegetarian", "I can't have gluten" -> diet = "vegetarian" / "gluten-free"
    "I'm allergic to latex"              -> allergies = "latex"
    "we have a small apartment"          -> home = "small apartment"
    "I'm left-handed"                    -> handedness = "left-handed"

Only the shopper's own statements count (docs/memory.md, "What is remembered"): "dog beds under $50"
is a search whose budget stays with its turn; questions ("is this vegan?"), suppositions ("if I had a
dog"), denials ("I'm not vegetarian") and other people ("my friend likes Sony") state nothing. A
brand must be written with a capital letter ("I prefer lighter ones" names no brand). Extraction
never reads evidence or answers: the plan stage passes the shopper's own request text only. The
patterns are in _patterns.py, the clause guards in _clauses.py; `aisle eval memory` measures them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.memory._clauses import read
from pipeline.memory._patterns import LIST_KEYS
from pipeline.money import format_money

KEYS: tuple[str, ...] = ("budget_cents", "brand", "size", "use", "pets", "household", "diet", "allergies", "home",
                         "handedness")
"""Every preference key, in the order they are shown to the shopper."""

MAX_VALUE_CHARS = 40
MAX_LIST_ITEMS = 4
"""Most things one list value (pets, use, diet, allergies) names."""

_FORGET_ALL = re.compile(r"\b(?:forget|delete|erase|clear|wipe)\b.{0,20}\b(?:everything|all|about me|my (?:data|memory|preferences)|what you know)\b",
                         re.IGNORECASE)
_FORGET_WORDS = {
    "budget_cents": r"budget|price limit|spend",
    "brand": r"brands?",
    "size": r"sizes?",
    "use": r"hobby|hobbies|hiking|running|use",
    "pets": r"pets?|dogs?|cats?",
    "household": r"kids|children|family|household|baby|toddler",
    "diet": r"diet|vegetarian|vegan|gluten|dairy|lactose|keto|halal|kosher|pescatarian",
    "allergies": r"allerg(?:y|ies|ic)",
    "home": r"home|apartment|flat|house|space",
    "handedness": r"left-handed|right-handed|handedness|lefty",
}


def extract(text: str) -> dict[str, str]:
    """The preferences `text` (the shopper's own request) states, by key; empty when it states none.
    A key stated twice keeps its first value; a list key keeps every value, in order."""
    return stated(text)[0]


def stated(text: str) -> tuple[dict[str, str], list[tuple[int, int]]]:
    """The preferences `text` states and the character spans that state them."""
    values: dict[str, list[str]] = {}
    spans = []
    for found in sorted(read(text), key=lambda f: f.start):
        spans.append((found.start, found.end))
        kept = values.setdefault(found.key, [])
        if kept and found.key not in LIST_KEYS:
            continue  # a single-valued key keeps what was stated first
        for value in found.value.split(", "):
            if value not in kept and len(kept) < MAX_LIST_ITEMS:
                kept.append(value)
    found_values = {key: ", ".join(v)[:MAX_VALUE_CHARS] for key, v in values.items()}
    return {key: found_values[key] for key in KEYS if key in found_values}, spans


def forget_keys(text: str) -> tuple[str, ...]:
    """Which preferences "forget ..." names: every key for "forget everything", else the keys whose
    words appear; empty when the text names none (the caller then forgets everything it was asked
    about, or nothing)."""
    if _FORGET_ALL.search(text):
        return KEYS
    lowered = text.lower()
    return tuple(key for key in KEYS if re.search(rf"\b(?:{_FORGET_WORDS[key]})\b", lowered))


def step_keys(filters: Mapping[str, str]) -> tuple[str, ...]:
    """The keys a memory step's `keys` filter names ("budget_cents,diet")."""
    return tuple(key for key in filters.get("keys", "").split(",") if key)


def merge(kept: Mapping[str, str], learned: Mapping[str, str]) -> dict[str, str]:
    """Newer statements replace older ones key by key."""
    return {key: value for key, value in {**kept, **learned}.items() if key in KEYS}


def without(kept: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {key: value for key, value in kept.items() if key not in keys}


def describe(preferences: Mapping[str, str]) -> str:
    """One line for the shopper (and the prompt): "budget $50.00; brand Sony; pets dog"."""
    parts = []
    for key in KEYS:
        value = preferences.get(key)
        if not value:
            continue
        if key == "budget_cents":
            parts.append(f"budget {format_money(int(value), 'USD')}" if value.isdigit() else f"budget {value}")
        else:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


"""Preferences a shopper states about themselves, as key-value pairs (the PEARL idea). Pure.

    "my budget is $50"                 -> budget_cents = "5000"
    "I prefer Anker" / "I love Sony"   -> brand = "Anker" / "Sony"
    "I wear size 10" / "my size is M"  -> size = "10" / "M"
    "I have a dog" / "my cat ..."      -> pets = "dog" / "cat"
    "I have two kids", "family of 4"   -> household = "two kids" / "family of 4"
    "I go hiking", "I'm a runner"      -> use = "hiking" / "running"

Only first-person statements count: "dog beds under $50" is a search, not a fact about the shopper,
and a search's budget stays with its turn. A brand must be written with a capital letter ("I prefer
lighter ones" names no brand). Extraction never reads evidence or answers: the plan stage passes the
shopper's own request text only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.alerts.phrases import parse_decimal_cents

KEYS: tuple[str, ...] = ("budget_cents", "brand", "size", "use", "pets", "household")
"""Every preference key, in the order they are shown to the shopper."""

MAX_VALUE_CHARS = 40

_MONEY = r"\$?\s?(\d{1,6}(?:[.,]\d{1,2})?)\s?(?:dollars|bucks|usd)?"
_BUDGET = re.compile(
    r"\b(?:my budget is|my budget's|i have a budget of|budget of|i can (?:only )?(?:spend|afford)|"
    r"i(?:'d| would) like to spend|i want to spend|i don'?t want to spend more than)\s+"
    r"(?:about |around |up to |at most |no more than |under |less than |roughly )?" + _MONEY,
    re.IGNORECASE,
)
_BRAND = re.compile(
    r"\bI (?:really |usually |always |mostly )?(?:prefer|like|love|trust|only buy|always buy|am a fan of|'m a fan of|stick with|swear by)"
    r"\s+(?P<brand>[A-Z][\w&'-]{1,30})\b"
)
_NOT_BRANDS = frozenset({"I", "It", "The", "This", "That", "Them", "They", "Those", "These", "A", "An", "My", "Your"})
_SIZE = re.compile(
    r"\b(?:i wear (?:a )?|i(?:'m| am) (?:a )?|my (?:shoe |dress |shirt |pants |pant |ring |jeans )?size is |i take (?:a )?)"
    r"size\s+(?P<size>[0-9]{1,2}(?:\.5)?|xx?s|s|m|l|xx?l|xxxl|small|medium|large|x-large)\b"
    r"|\bmy (?:shoe |dress |shirt |pants |pant |ring |jeans )?size is (?P<size2>[0-9]{1,2}(?:\.5)?|xx?s|s|m|l|xx?l|small|medium|large)\b",
    re.IGNORECASE,
)
_PET_WORDS = r"dogs?|cats?|puppy|puppies|kittens?|rabbits?|hamsters?|guinea pigs?|birds?|parrots?|fish|horses?"
_PETS = re.compile(
    rf"\bi (?:have|own|got|adopted) (?:a |an |two |three |\d )?(?:\w+ )?(?P<pet>{_PET_WORDS})\b|\bmy (?P<pet2>dog|cat|puppy|kitten|rabbit|parrot|horse)\b",
    re.IGNORECASE,
)
_HOUSEHOLD = re.compile(
    r"\bi have (?P<kids>(?:a |an |one |two |three |four |\d )?(?:young |little |teenage )?(?:kids?|children|toddlers?|baby|babies|teenagers?|twins))\b"
    r"|\b(?:we are|we're) a (?P<family>family of (?:\d|two|three|four|five|six))\b|\b(?P<alone>i live alone)\b",
    re.IGNORECASE,
)
_HOBBIES = {
    "hiking": "hiking", "hiker": "hiking", "running": "running", "runner": "running", "jogging": "running",
    "camping": "camping", "cycling": "cycling", "cyclist": "cycling", "biking": "cycling", "gaming": "gaming",
    "gamer": "gaming", "swimming": "swimming", "swimmer": "swimming", "yoga": "yoga", "fishing": "fishing",
    "skiing": "skiing", "climbing": "climbing", "cooking": "cooking", "baking": "baking", "travel": "travel",
    "traveling": "travel", "travelling": "travel", "gardening": "gardening", "photography": "photography",
    "photographer": "photography", "woodworking": "woodworking", "knitting": "knitting",
}
_USE = re.compile(
    r"\bi (?:go|love|like|enjoy|do a lot of|am into|'m into) (?P<verb>" + "|".join(_HOBBIES) + r")\b"
    r"|\bi(?:'m| am) (?:a |an )?(?:keen |avid |big )?(?P<noun>" + "|".join(_HOBBIES) + r")\b"
    r"|\bi (?:use|need) (?:it|them|this|one|something) for (?P<for>" + "|".join(_HOBBIES) + r")\b",
    re.IGNORECASE,
)
_FORGET_ALL = re.compile(r"\b(?:forget|delete|erase|clear|wipe)\b.{0,20}\b(?:everything|all|about me|my (?:data|memory|preferences)|what you know)\b",
                         re.IGNORECASE)
_FORGET_WORDS = {
    "budget_cents": r"budget|price limit|spend",
    "brand": r"brands?",
    "size": r"sizes?",
    "use": r"hobby|hobbies|hiking|running|use",
    "pets": r"pets?|dogs?|cats?",
    "household": r"kids|children|family|household|baby",
}


def extract(text: str) -> dict[str, str]:
    """The preferences `text` (the shopper's own request) states, by key; empty when it states none."""
    found: dict[str, str] = {}
    if (budget := _BUDGET.search(text)) is not None and (cents := parse_decimal_cents(budget.group(1))) is not None:
        found["budget_cents"] = str(cents)
    if (brand := _BRAND.search(text)) is not None and brand.group("brand") not in _NOT_BRANDS:
        found["brand"] = brand.group("brand")
    if (size := _SIZE.search(text)) is not None:
        found["size"] = (size.group("size") or size.group("size2")).upper()
    if (pet := _PETS.search(text)) is not None:
        found["pets"] = _singular((pet.group("pet") or pet.group("pet2")).lower())
    if (home := _HOUSEHOLD.search(text)) is not None:
        found["household"] = " ".join((home.group("kids") or home.group("family") or "lives alone").lower().split())
    if (use := _USE.search(text)) is not None:
        found["use"] = _HOBBIES[(use.group("verb") or use.group("noun") or use.group("for")).lower()]
    return {key: value[:MAX_VALUE_CHARS] for key, value in found.items()}


def forget_keys(text: str) -> tuple[str, ...]:
    """Which preferences "forget ..." names: every key for "forget everything", else the keys whose
    words appear; empty when the text names none (the caller then forgets everything it was asked
    about, or nothing)."""
    if _FORGET_ALL.search(text):
        return KEYS
    lowered = text.lower()
    return tuple(key for key in KEYS if re.search(rf"\b(?:{_FORGET_WORDS[key]})\b", lowered))


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
            parts.append(f"budget ${int(value) / 100:,.2f}" if value.isdigit() else f"budget {value}")
        else:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


def _singular(word: str) -> str:
    irregular = {"puppies": "puppy", "guinea pigs": "guinea pig", "fish": "fish"}
    if word in irregular:
        return irregular[word]
    return word[:-1] if word.endswith("s") else word

"""The simulated base price of a product: a documented price band per product, sampled per product.

The catalog has no prices, so the store makes them up (and labels them simulated); this module makes
the made-up price fit the product, so a digital piano is not $13.99. It is pure and deterministic.

    quote_price(title, category, attributes) -> PriceQuote   the band (low, typical, high) and why
    sample_price_cents(band, u)              -> int          the base list price for a uniform u in [0, 1)

How a band is chosen (docs/store.md, "The price model", has the tables):

1. Kind. The title's head (without parentheses, up to the first " with ", " for ", " w/ ", ", " and
   the like after three words: the thing sold, not what it comes with or fits) is matched against
   KIND_RULES (pipeline/store/_price_kinds.py); the first match wins. A kind has its own band
   ("digital piano": $199.99 / $449.99 / $1,999.99).
2. Category. With no kind, the band of the inferred category (CATEGORY_BANDS), narrower than most.
3. Cues scale the whole band: a multipack ("pack of 6", "3-pack", "set of 2", "4 pairs") by n^0.3 for
   2-24 items (a box of more than 24 is small items sold by the box, and is left alone); "professional",
   "commercial", "heavy duty", "deluxe", "premium" by 1.25; "mini", "compact", "travel", "pocket",
   "junior", "kids" by 0.8; the net quantity of a consumable (grocery, health, beauty, pet supplies,
   chemicals) by (ounces / 16)^0.4, clipped to 0.5-2.5. Without a kind, also: the item's weight
   (attribute item_weight, else item_package_weight) by 0.75 up to 1/4 lb, 1.3 from 10 lb, 2 from
   30 lb, 3 from 80 lb; a rated power of 1000 W or more by 1.5; a "kit", "set" or 10+ pieces by 1.25.

Sampling is log-normal around the typical price, truncated at two standard deviations, each side's
deviation set so that -2 sd is the low price and +2 sd the high one; the result ends in .99 and is
always within the band.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist

from pipeline.catalog import Attribute
from pipeline.store._price_kinds import KIND_RULES


@dataclass(frozen=True)
class PriceBand:
    """Plausible base (list) prices for one product, cents; each ends in 99."""

    low_cents: int
    typical_cents: int
    """The median of the sampled prices."""
    high_cents: int

    def __post_init__(self) -> None:
        if not 0 < self.low_cents <= self.typical_cents <= self.high_cents:
            raise ValueError(f"a price band needs 0 < low <= typical <= high, got {self}")

    def contains(self, cents: int) -> bool:
        return self.low_cents <= cents <= self.high_cents

    def scaled(self, factor: float) -> PriceBand:
        """The band times `factor`, each price rounded to end in .99."""
        return PriceBand(*(charm_cents(c * factor) for c in (self.low_cents, self.typical_cents, self.high_cents)))

    def key(self) -> str:
        """A short text form, stored with a product so a changed band re-simulates it."""
        return f"{self.low_cents}-{self.typical_cents}-{self.high_cents}"


@dataclass(frozen=True)
class PriceQuote:
    """A product's price band and how it was chosen."""

    band: PriceBand
    basis: str
    """"kind:<kind>" when a title rule matched, else "category:<category>"."""
    cues: tuple[str, ...]
    """The cues that scaled the band, each as "<cue> x<factor>"."""


CATEGORY_BANDS: Mapping[str, PriceBand] = {
    "appliance_parts": PriceBand(599, 1_999, 6_999),
    "automotive": PriceBand(799, 2_999, 11_999),
    "baby": PriceBand(799, 2_999, 11_999),
    "beauty": PriceBand(399, 1_499, 4_999),
    "clothing": PriceBand(999, 2_999, 8_999),
    "computers": PriceBand(999, 3_999, 14_999),
    "electronics": PriceBand(999, 3_999, 14_999),
    "grocery": PriceBand(299, 1_199, 3_999),
    "health": PriceBand(499, 1_699, 5_999),
    "home_kitchen": PriceBand(799, 2_999, 11_999),
    "musical_instruments": PriceBand(1_499, 6_999, 29_999),
    "office": PriceBand(299, 1_299, 4_999),
    "patio_garden": PriceBand(799, 3_499, 14_999),
    "pet_supplies": PriceBand(499, 1_999, 7_999),
    "software": PriceBand(1_499, 4_999, 19_999),
    "sports_outdoors": PriceBand(999, 3_499, 12_999),
    "tools_home_improvement": PriceBand(599, 2_499, 9_999),
    "toys_games": PriceBand(799, 2_499, 7_999),
    "video_games": PriceBand(999, 2_999, 6_999),
    "other": PriceBand(599, 2_499, 9_999),
}
"""The band of each inferred category (pipeline.categories.CATEGORIES), for products with no kind. Narrower
than most kinds' bands: the category is a rough guess, so a product of unknown kind stays near the
category's typical price (the weight cue still lifts heavy goods)."""

KIND_BANDS: Mapping[str, PriceBand] = {kind: PriceBand(*band) for kind, _, band, _ in KIND_RULES}

CONSUMABLE_CATEGORIES = frozenset({"grocery", "health", "beauty", "pet_supplies"})
CONSUMABLE_KINDS = frozenset({"cleaning and chemicals", "grocery staple"})


def quote_price(title: str, category: str, attributes: Iterable[Attribute] = ()) -> PriceQuote:
    """The price band of a product from its title, inferred category and attributes; see the module
    docstring. An unknown category is priced as "other"."""
    text = " ".join(title.lower().split())
    kind = _kind(_head(text), text)
    cues = _common_cues(text)
    if kind is None:
        known = category if category in CATEGORY_BANDS else "other"
        basis, band = f"category:{known}", CATEGORY_BANDS[known]
        if known in CONSUMABLE_CATEGORIES:
            cues += _quantity_cue(text)
        cues += _fallback_cues(text, {a.name: a.value for a in reversed(tuple(attributes))})
    else:
        basis, band = f"kind:{kind}", KIND_BANDS[kind]
        if kind in CONSUMABLE_KINDS:
            cues += _quantity_cue(text)
    factor = math.prod(f for _, f in cues)
    return PriceQuote(
        band=band.scaled(factor) if factor != 1 else band,
        basis=basis,
        cues=tuple(f"{name} x{f:.2f}" for name, f in cues),
    )


_EDGE = 2.0
"""Sampled prices are truncated at this many standard deviations (low and high sit there)."""
_TAIL = NormalDist().cdf(-_EDGE)


def sample_price_cents(band: PriceBand, u: float) -> int:
    """The base price for `u` in [0, 1): log-normal around band.typical, within [low, high], ending
    in .99. Monotonic in `u`. Raises ValueError for `u` outside [0, 1)."""
    if not 0 <= u < 1:
        raise ValueError(f"u must be in [0, 1), got {u}")
    z = NormalDist().inv_cdf(_TAIL + u * (1 - 2 * _TAIL))
    edge = band.high_cents if z >= 0 else band.low_cents
    log_price = math.log(band.typical_cents) + abs(z) / _EDGE * (math.log(edge) - math.log(band.typical_cents))
    return min(band.high_cents, max(band.low_cents, charm_cents(math.exp(log_price))))


def charm_cents(cents: float) -> int:
    """Round to whole dollars, then one cent less ($24.99); never below 99 cents."""
    return max(99, round(cents / 100) * 100 - 1)


# --- kinds -----------------------------------------------------------------------------------------

_HEAD_END = re.compile(r", | with | w/ ?| for | fits | includes? | including | \+ | & free ")
_PARENTHESES = re.compile(r"\([^)]*(\)|$)")

_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None], ...] = tuple(
    (
        kind,
        re.compile(r"\b(?:" + "|".join(words) + r")\b") if words else None,
        re.compile(r"\b(?:" + "|".join(context) + r")\b") if context else None,
    )
    for kind, words, _, context in KIND_RULES
)
"""(kind, words, context); a rule with no words matches on its context alone."""


def _head(text: str) -> str:
    """The title without parentheses, up to the first separator, after at least 3 words, that starts
    a description of something else ("Bar Stool, 24-Inch ..." keeps going past "bar stool")."""
    text = " ".join(_PARENTHESES.sub(" ", text).split())
    for match in _HEAD_END.finditer(text):
        if len(text[: match.start()].split()) >= 3:
            return text[: match.start()]
    return text


def _kind(head: str, text: str) -> str | None:
    for kind, words, context in _KIND_PATTERNS:
        if (words is None or words.search(head)) and (context is None or context.search(text)):
            return kind
    return None


# --- cues ------------------------------------------------------------------------------------------

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "eight": 8, "ten": 10, "twelve": 12}
_N = r"(\d+|" + "|".join(_NUMBER_WORDS) + ")"
_PACK = re.compile(rf"\b(?:pack|set|case|box) of {_N}\b|\b{_N}[- ]?(?:pack|pk|pairs)\b")
_PREMIUM = re.compile(r"\b(?:professional|commercial|industrial|heavy[- ]duty|deluxe|premium)\b")
_SMALL = re.compile(r"\b(?:mini|compact|travel|pocket|junior|kids)\b")
_QUANTITY = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)[- ]?(fl\.? ?oz|fl[- ]ounces?|ounces?|oz|lbs?|pounds?|gallons?|"
    r"quarts?|pints?|liters?|litres?|ml|kg|grams?)\b"
)
_OUNCES_PER_UNIT = (("fl", 1.0), ("oz", 1.0), ("ounce", 1.0), ("lb", 16.0), ("pound", 16.0), ("gallon", 128.0),
                    ("quart", 32.0), ("pint", 16.0), ("liter", 33.8), ("litre", 33.8), ("ml", 0.0338),
                    ("kg", 35.27), ("gram", 0.03527))
_WEIGHT = re.compile(r"(\d+(?:\.\d+)?) (pounds|kilograms|grams|ounces)")
_POUNDS = {"pounds": 1.0, "kilograms": 2.2046, "grams": 0.0022046, "ounces": 0.0625}
_WEIGHT_FACTORS = ((80.0, 3.0), (30.0, 2.0), (10.0, 1.3))
"""(at least this many pounds, factor), heaviest first; 1/4 lb or less is 0.75."""
_WATTS = re.compile(r"\b(\d[\d,]*)[- ]?(?:watts?|w)\b")
_KIT = re.compile(r"\bkit\b|\bset\b(?! of)|\b(\d+)[- ]?(?:piece|pieces|pcs?)\b")


_Cues = list[tuple[str, float]]
"""(what matched, factor) for each cue that applies."""


def _common_cues(text: str) -> _Cues:
    cues: _Cues = []
    pack = _PACK.search(text)
    if pack is not None:
        raw = pack.group(1) or pack.group(2)
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        if 2 <= n <= 24:
            cues.append((pack.group(0), n**0.3))
    premium = _PREMIUM.search(text)
    if premium is not None:
        cues.append((premium.group(0), 1.25))
    small = _SMALL.search(text)
    if small is not None:
        cues.append((small.group(0), 0.8))
    return cues


def _quantity_cue(text: str) -> _Cues:
    """The first net quantity in the title ("16.9 fl oz", "5 lbs"), in ounces against a pound."""
    match = _QUANTITY.search(text)
    if match is None:
        return []
    unit = match.group(2)
    per_unit = next(ounces for prefix, ounces in _OUNCES_PER_UNIT if unit.startswith(prefix))
    ounces = float(match.group(1)) * per_unit
    if ounces <= 0:
        return []
    return [(match.group(0), min(2.5, max(0.5, (ounces / 16) ** 0.4)))]


def _fallback_cues(text: str, attributes: Mapping[str, str]) -> _Cues:
    """Cues for a product of no kind: its weight, rated power, and whether it is a kit or set."""
    cues: _Cues = []
    weight = attributes.get("item_weight") or attributes.get("item_package_weight") or ""
    match = _WEIGHT.search(weight)
    if match is not None:
        pounds = float(match.group(1)) * _POUNDS[match.group(2)]
        factor = next((f for least, f in _WEIGHT_FACTORS if pounds >= least), 1.0) if pounds > 0.25 else 0.75
        if factor != 1.0:
            cues.append((f"weight {pounds:.2f} lb", factor))
    watts = _WATTS.search(text)
    if watts is not None and int(watts.group(1).replace(",", "")) >= 1000:
        cues.append((watts.group(0), 1.5))
    kit = _KIT.search(text)
    if kit is not None and (kit.group(1) is None or int(kit.group(1)) >= 10):
        cues.append((kit.group(0), 1.25))
    return cues



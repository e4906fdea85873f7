"""Search filters stated in a request: budget ("under $50"), rating ("4 stars and up"), stock.

Money is integer cents. A filter phrase is removed from the search query, so "headphones under
$50" searches for "headphones" with max_price_cents=5000. The catalog has no category paths (see
/work/shared/data/README.md), so no category is extracted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AMOUNT = r"(?:\$|usd\s*|€|£)?\s*(\d{1,3}(?:,\d{3})+|\d+)(?![\d,])(?:\.(\d{1,2}))?(?!\d)(?!\.\d)\s*(k\b)?\s*(?:dollars|bucks|usd|euros?)?"
# A bare number followed by a unit is a size or an age, not money ("under 5 pounds", "under 3 years").
_NOT_MONEY = (
    r"(?!\s*(?:lbs?\b|pounds?|inch|inches|ft\b|feet|foot|cm\b|mm\b|m\b|kg\b|g\b|oz\b|ounces?|watts?"
    r"|w\b|v\b|volts?|years?|yrs?|months?|days?|hours?|minutes?|gallons?|quarts?|qt\b|l\b|lit(?:er|re)s?"
    r"|mph|%|x\b|\"|'|stars?))"
)
_BETWEEN = re.compile(rf"\bbetween\s+{_AMOUNT}\s+(?:and|to|-)\s+{_AMOUNT}")
_MAX = re.compile(
    rf"(?<!kids )(?<!children )(?<!ages )(?<!age )(?<!toddlers )(?<!babies )"
    rf"(?:\bunder|\bbelow|\bless than|\bcheaper than|\bno more than|\bnot more than|\bat most|\bmax(?:imum)?"
    rf"|\bup to|\bwithin|\bbudget(?: is| of)?|<)\s*{_AMOUNT}{_NOT_MONEY}"
)
_MAX_AFTER = re.compile(rf"{_AMOUNT}{_NOT_MONEY}\s+(?:or less|or under|max\b|maximum|budget)")
_MIN = re.compile(rf"(?:\bover|\babove|\bmore than|\bat least|\bstarting at|>)\s*{_AMOUNT}{_NOT_MONEY}")
_STARS = re.compile(r"(?:\bat least\s+)?([1-5](?:\.\d)?)\s*\+?\s*(?:stars?|star rating)(?:\s+(?:and up|or (?:more|higher|above|better)|\+))?")
_WELL_RATED = re.compile(r"\b(?:highly|top|best|well|good|great)[- ](?:rated|reviewed)\b|\bwith good reviews\b|\bgood ratings?\b")
_IN_STOCK = re.compile(r"\b(?:in stock|available now|available today|ships? (?:today|now|fast)|ready to ship)\b")

WELL_RATED_MIN = "4"
"""The min_rating that "highly rated" and the like stand for."""


@dataclass(frozen=True)
class Filters:
    max_price_cents: int | None = None
    min_price_cents: int | None = None
    min_rating: str | None = None
    """A decimal string ("4", "4.5"), as RetrievalStep filters hold strings."""
    in_stock: bool = False

    def as_step_filters(self) -> dict[str, str]:
        """The RetrievalStep `filters` map (only the filters that were stated)."""
        out: dict[str, str] = {}
        if self.max_price_cents is not None:
            out["max_price_cents"] = str(self.max_price_cents)
        if self.min_price_cents is not None:
            out["min_price_cents"] = str(self.min_price_cents)
        if self.min_rating is not None:
            out["min_rating"] = self.min_rating
        if self.in_stock:
            out["in_stock"] = "true"
        return out


def _cents(whole: str, frac: str | None, thousands: str | None) -> int:
    cents = int(whole.replace(",", "")) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return cents * 1000 if thousands else cents


def extract(lowered: str) -> tuple[Filters, str]:
    """The filters stated in `lowered` (a lower-cased request) and the request with their phrases
    removed (whitespace collapsed)."""
    rest = lowered
    max_cents: int | None = None
    min_cents: int | None = None
    if m := _BETWEEN.search(rest):
        low = _cents(m.group(1), m.group(2), m.group(3))
        high = _cents(m.group(4), m.group(5), m.group(6))
        min_cents, max_cents = min(low, high), max(low, high)
        rest = _cut(rest, m)
    else:
        if m := (_MAX.search(rest) or _MAX_AFTER.search(rest)):
            max_cents = _cents(m.group(1), m.group(2), m.group(3))
            rest = _cut(rest, m)
        if m := _MIN.search(rest):
            min_cents = _cents(m.group(1), m.group(2), m.group(3))
            rest = _cut(rest, m)
    min_rating: str | None = None
    if m := _STARS.search(rest):
        min_rating = m.group(1)
        rest = _cut(rest, m)
    elif m := _WELL_RATED.search(rest):
        min_rating = WELL_RATED_MIN
        rest = _cut(rest, m)
    in_stock = False
    if m := _IN_STOCK.search(rest):
        in_stock = True
        rest = _cut(rest, m)
    filters = Filters(max_cents, min_cents, min_rating, in_stock)
    return filters, " ".join(rest.split()).strip(" .,;:!")


def _cut(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end() :]

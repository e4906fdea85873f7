"""Resolve directives into frame payloads against the store and catalog (docs/markup.md, "Frames").

`CatalogReader` is everything resolution reads. Its first four methods are those of
pipeline.store.base.Store (so a Store fits them as is); the last two read the product page text of
pipeline.catalog. The builders are pure functions of
what was read (`Fetched`), and each has its reads (`card_reads`, ...), so the caller fetches first:

    fetched = await lookups.fetch(resolve.card_reads(pid))     # pipeline/markup/lookups.py: the I/O
    payload = resolve.card(fetched, pid)

A read that timed out or failed counts as missing; what the payload then shows is documented per
builder. Nothing here guesses a value, and nothing here waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from pipeline.catalog import Product
from pipeline.markup import opinions
from pipeline.markup.payloads import (
    AspectInfo,
    CardPayload,
    CarouselPayload,
    ComparePayload,
    CompareRow,
    DealInfo,
    PriceHistoryPayload,
    PricePointInfo,
    RatingInfo,
    ReviewsPayload,
)
from pipeline.money import format_money
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct

MAX_CAROUSEL = 10
MAX_COMPARE_PRODUCTS = 4
MAX_COMPARE_ATTRS = 8
MAX_ASPECTS = 8
"""Counted aspects a `reviews` payload carries (most mentioned first)."""
DEFAULT_COMPARE_ATTRS = 5
"""Page attributes shown when `<compare>` names none: those most of the products share, after the
store's price and rating, which every comparison shows first."""
_CATALOG_BOOKKEEPING = frozenset({
    "binding", "part_number", "model_number", "is_heat_sensitive", "cpsia_cautionary_statement", "street_date",
    "size_map", "specification_met", "long_term_storage_information", "country_as_labeled", "platform",
    "hardware_platform", "target_audience", "unit_count",
})
"""Page attributes that tell a shopper nothing when comparing ("binding: miscellaneous" on two dog
feeders was a whole table once): left out of the default rows, still shown when asked for by name."""

class CatalogReader(Protocol):
    """What hydrate reads. Unknown ids give None or empty results; errors may raise anything."""

    async def get_product(self, product_id: str) -> StoreProduct | None: ...

    async def get_offer(self, product_id: str) -> Offer | None: ...

    async def get_rating(self, product_id: str) -> RatingSummary | None: ...

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]: ...

    async def get_page(self, product_id: str) -> Product | None:
        """The product page (attributes, review sentences), or None for a product without one."""
        ...

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        """Review sentences or whole reviews of the product, in catalog order; [] if none."""
        ...


PRODUCT, OFFER, RATING, HISTORY, PAGE, REVIEWS = "product", "offer", "rating", "history", "page", "reviews"
KINDS = (PRODUCT, OFFER, RATING, HISTORY, PAGE, REVIEWS)
"""What can be read of a product: one CatalogReader method each."""
Read = tuple[str, str]
"""(kind, product id): one read of a CatalogReader."""


@dataclass(frozen=True)
class Fetched:
    """What was read, by (kind, product id): the builders below are pure functions of it.

    `values` holds every read that completed (an unknown id reads None, or empty); `missing` every read
    that did not, with why ("timeout" or "failed"). A read in neither was not made, and reads as missing.
    """

    values: Mapping[Read, object] = field(default_factory=dict)
    missing: Mapping[Read, str] = field(default_factory=dict)

    def ok(self, kind: str, pid: str) -> bool:
        """Whether the read completed (its value may still be None: an unknown product)."""
        return (kind, pid) in self.values

    def product(self, pid: str) -> StoreProduct | None:
        return cast("StoreProduct | None", self.values.get((PRODUCT, pid)))

    def offer(self, pid: str) -> Offer | None:
        return cast("Offer | None", self.values.get((OFFER, pid)))

    def rating(self, pid: str) -> RatingSummary | None:
        return cast("RatingSummary | None", self.values.get((RATING, pid)))

    def history(self, pid: str) -> Sequence[PricePoint]:
        return cast("Sequence[PricePoint]", self.values.get((HISTORY, pid)) or ())

    def page(self, pid: str) -> Product | None:
        return cast("Product | None", self.values.get((PAGE, pid)))

    def reviews(self, pid: str) -> Sequence[str]:
        return cast("Sequence[str]", self.values.get((REVIEWS, pid)) or ())


def card_reads(pid: str) -> list[Read]:
    return [(PRODUCT, pid), (OFFER, pid), (RATING, pid)]


def carousel_reads(pids: Sequence[str]) -> list[Read]:
    return [read for pid in pids[:MAX_CAROUSEL] for read in card_reads(pid)]


def compare_reads(pids: Sequence[str]) -> list[Read]:
    """Everything a comparison may show: which attributes it shows is known only from the pages."""
    return [(kind, pid) for pid in pids[:MAX_COMPARE_PRODUCTS] for kind in (PRODUCT, PAGE, OFFER, RATING)]


def reviews_reads(pid: str) -> list[Read]:
    return [(REVIEWS, pid), (RATING, pid), (PAGE, pid)]


def price_history_reads(pid: str) -> list[Read]:
    return [(HISTORY, pid), (OFFER, pid)]


def split_ids(value: str) -> list[str]:
    """Comma-separated ids, trimmed, empty ones dropped, each kept once in first-seen order."""
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _rating_info(rating: RatingSummary | None) -> RatingInfo | None:
    if rating is None:
        return None
    return RatingInfo(rating.average, rating.count, list(rating.distribution), rating.simulated)


def card(fetched: Fetched, pid: str) -> CardPayload | None:
    """A product card (`card_reads`); None when the product is unknown or its record was not read.

    When the offer was not read (in time) the card has no price and `live` false.
    """
    product = fetched.product(pid)
    if product is None:
        return None
    o = fetched.offer(pid)
    r = fetched.rating(pid)
    deal = None
    if o is not None and o.discount_pct > 0:
        deal = DealInfo(o.list_price_cents, o.discount_pct)
    return CardPayload(
        product_id=pid,
        title=product.title,
        image=None,
        price_cents=o.price_cents if o else None,
        currency=o.currency if o else None,
        availability=o.availability if o else None,
        delivery_days=o.delivery_days if o else None,
        rating=_rating_info(r),
        deal=deal,
        simulated=bool((o and o.simulated) or (r and r.simulated)),
        live=fetched.ok(OFFER, pid),
    )


def carousel(fetched: Fetched, pids: Sequence[str]) -> CarouselPayload | None:
    """Cards of the known products among `pids` (at most MAX_CAROUSEL; `carousel_reads`); None when
    there are none."""
    cards = [card(fetched, pid) for pid in pids[:MAX_CAROUSEL]]
    shown = [c for c in cards if c is not None]
    if not shown:
        return None
    return CarouselPayload([c.product_id for c in shown], shown)


def _norm(name: str) -> list[str]:
    return re.sub(r"[_\-\s]+", " ", name.lower()).split()


def match_attribute(page: Product | None, wanted: str) -> tuple[str | None, str | None]:
    """The page attribute for a name like "battery life": (catalog name, value) or (None, None).

    An attribute whose words equal the wanted words wins; else one containing all of them with the
    fewest extra words (ties: alphabetical name). An empty source value counts as missing.
    """
    if page is None:
        return None, None
    words = _norm(wanted)
    if not words:
        return None, None
    candidates: list[tuple[int, str, str]] = []
    for attr in page.attributes:
        have = _norm(attr.name)
        if set(words) <= set(have) and attr.value.strip():
            candidates.append((len(have) - len(words), attr.name, attr.value))
    if not candidates:
        return None, None
    _, name, value = min(candidates)
    return name, value


def _default_attrs(pages: Sequence[Product | None]) -> list[str]:
    counts: dict[str, int] = {}
    for page in pages:
        for name in dict.fromkeys(a.name for a in (page.attributes if page else ()) if a.value.strip()):
            if name not in _CATALOG_BOOKKEEPING:
                counts[name] = counts.get(name, 0) + 1
    shared = sorted((n for n in counts if counts[n] >= 2), key=lambda n: (-counts[n], n))
    return ["price", "rating", *(" ".join(_norm(n)) for n in shared[:DEFAULT_COMPARE_ATTRS])]


def compare(fetched: Fetched, pids: Sequence[str], attrs: Sequence[str]) -> ComparePayload | None:
    """A comparison of 2 to MAX_COMPARE_PRODUCTS known products (`compare_reads`); None with fewer than 2.

    Rows come from each product page's attributes; the names "price" and "rating" read the store.
    A value that is not there (or was not read in time) is null.
    """
    products = [(pid, fetched.product(pid)) for pid in pids[:MAX_COMPARE_PRODUCTS]]
    known = [(pid, p) for pid, p in products if p is not None]
    if len(known) < 2:
        return None
    ids = [pid for pid, _ in known]
    pages = [fetched.page(pid) for pid in ids]
    wanted = list(dict.fromkeys(a.strip() for a in attrs if a.strip()))[:MAX_COMPARE_ATTRS] or _default_attrs(pages)
    rows: list[CompareRow] = []
    simulated = False
    for attr in wanted:
        key = " ".join(_norm(attr))
        if key == "price":
            offers = [fetched.offer(pid) for pid in ids]
            values = [format_money(o.price_cents, o.currency) if o else None for o in offers]
            sources: list[str | None] = ["store.offer" if o else None for o in offers]
            simulated = simulated or any(o.simulated for o in offers if o)
        elif key == "rating":
            ratings = [fetched.rating(pid) for pid in ids]
            values = [f"{r.average:.2f} ({r.count})" if r and r.count else None for r in ratings]
            sources = ["store.rating" if v else None for v in values]
            simulated = simulated or any(r.simulated for r in ratings if r)
        else:
            matched = [match_attribute(page, attr) for page in pages]
            values = [value for _, value in matched]
            sources = [name for name, _ in matched]
        rows.append(CompareRow(attr, values, sources))
    return ComparePayload(ids, [p.title for _, p in known], wanted, rows, simulated)


def reviews(fetched: Fetched, pid: str) -> ReviewsPayload | None:
    """Summary, pros, cons and counts from review text, plus the store's rating (`reviews_reads`);
    None if neither.

    A product page's reviews are single sentences from reviews (catalog.Product.reviews), so for a
    product with a page the counts say "review excerpts"; review sets hold whole reviews.
    """
    rating, page = fetched.rating(pid), fetched.page(pid)
    unit = "review excerpt" if page is not None and page.reviews else "review"
    found = opinions.extract(fetched.reviews(pid), unit=unit)
    if found.sentences == 0 and rating is None:
        return None
    return ReviewsPayload(
        product_id=pid,
        pros=found.pros,
        cons=found.cons,
        sentiment={"positive": found.positive, "negative": found.negative, "neutral": found.neutral},
        sentences=found.sentences,
        rating=_rating_info(rating),
        method=opinions.METHOD,
        summary=found.summary,
        aspects=[AspectInfo(a.name, a.mentions, a.positive, a.negative) for a in found.aspects[:MAX_ASPECTS]],
        reviews=found.reviews,
    )


def price_history(fetched: Fetched, pid: str) -> PriceHistoryPayload | None:
    """Daily prices, oldest first (`price_history_reads`); None when the store has no history (or
    none was read in time)."""
    points = fetched.history(pid)
    if not points:
        return None
    prices = [p.price_cents for p in points]
    offer = fetched.offer(pid)
    return PriceHistoryPayload(
        product_id=pid,
        currency=offer.currency if offer else None,
        series=[PricePointInfo(p.day.isoformat(), p.price_cents, p.in_stock) for p in points],
        min_cents=min(prices),
        max_cents=max(prices),
        simulated=any(p.simulated for p in points),
    )

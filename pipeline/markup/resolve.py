"""Resolve directives into frame payloads against the store and catalog (docs/markup.md, "Frames").

`CatalogReader` is everything resolution reads. Its first four methods are those of
pipeline.store.base.Store (so a Store fits them as is); the last two read the product page text of
pipeline.catalog. `Lookups` is a per-turn cache over a reader: each (kind, product id) is fetched
once per turn, and every wait is bounded by a timeout. A lookup that times out or fails counts as
missing; what the payload then shows is documented per builder. Nothing here guesses a value.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

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
"""Attributes shown when `<compare>` names none: those most of the products share."""

T = TypeVar("T")


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


@dataclass(frozen=True)
class Looked(Generic[T]):
    value: T | None
    ok: bool
    """False when the lookup timed out or failed (then `value` is None)."""


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a failure as seen, so an abandoned lookup does not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


class Lookups:
    """A per-turn cache of reads, each wait bounded by `timeout_s` seconds."""

    def __init__(self, reader: CatalogReader, timeout_s: float) -> None:
        self.reader = reader
        self.timeout_s = timeout_s
        self.timeouts = 0
        self.failures = 0
        self._tasks: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def get(
        self, kind: str, product_id: str, fetch: Callable[[], Coroutine[Any, Any, T | None]]
    ) -> Looked[T]:
        key = (kind, product_id)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(fetch())
            task.add_done_callback(_retrieve)
            self._tasks[key] = task
        try:
            value = await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        except TimeoutError:
            self.timeouts += 1
            return Looked(None, False)
        except asyncio.CancelledError:
            if task.cancelled() and not _current_task_cancelling():
                self.failures += 1
                return Looked(None, False)
            raise
        except Exception:  # a reader may fail any way; the frame degrades, the turn goes on
            self.failures += 1
            return Looked(None, False)
        return Looked(cast(T, value), True)

    async def product(self, pid: str) -> Looked[StoreProduct]:
        return await self.get("product", pid, lambda: self.reader.get_product(pid))

    async def offer(self, pid: str) -> Looked[Offer]:
        return await self.get("offer", pid, lambda: self.reader.get_offer(pid))

    async def rating(self, pid: str) -> Looked[RatingSummary]:
        return await self.get("rating", pid, lambda: self.reader.get_rating(pid))

    async def history(self, pid: str) -> Looked[list[PricePoint]]:
        return await self.get("history", pid, lambda: self.reader.get_price_history(pid))

    async def page(self, pid: str) -> Looked[Product]:
        return await self.get("page", pid, lambda: self.reader.get_page(pid))

    async def reviews(self, pid: str) -> Looked[Sequence[str]]:
        return await self.get("reviews", pid, lambda: self.reader.get_review_texts(pid))

    def close(self) -> None:
        """Cancel reads still running (the turn is over)."""
        for task in self._tasks.values():
            if not task.done():
                task.cancel()


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def split_ids(value: str) -> list[str]:
    """Comma-separated ids, trimmed, empty ones dropped, each kept once in first-seen order."""
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _rating_info(rating: RatingSummary | None) -> RatingInfo | None:
    if rating is None:
        return None
    return RatingInfo(rating.average, rating.count, list(rating.distribution), rating.simulated)


async def card(lookups: Lookups, pid: str) -> CardPayload | None:
    """A product card; None when the product is unknown or its record cannot be read in time.

    When the offer cannot be read in time the card has no price and `live` false.
    """
    product, offer, rating = await asyncio.gather(lookups.product(pid), lookups.offer(pid), lookups.rating(pid))
    if product.value is None:
        return None
    o = offer.value
    r = rating.value
    deal = None
    if o is not None and o.discount_pct > 0:
        deal = DealInfo(o.list_price_cents, o.discount_pct)
    return CardPayload(
        product_id=pid,
        title=product.value.title,
        image=None,
        price_cents=o.price_cents if o else None,
        currency=o.currency if o else None,
        availability=o.availability if o else None,
        delivery_days=o.delivery_days if o else None,
        rating=_rating_info(r),
        deal=deal,
        simulated=bool((o and o.simulated) or (r and r.simulated)),
        live=offer.ok,
    )


async def carousel(lookups: Lookups, pids: Sequence[str]) -> CarouselPayload | None:
    """Cards of the known products among `pids` (at most MAX_CAROUSEL); None when there are none."""
    cards = await asyncio.gather(*(card(lookups, pid) for pid in pids[:MAX_CAROUSEL]))
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
            counts[name] = counts.get(name, 0) + 1
    shared = sorted((n for n in counts if counts[n] >= 2), key=lambda n: (-counts[n], n))
    return [" ".join(_norm(n)) for n in shared[:DEFAULT_COMPARE_ATTRS]]


async def compare(lookups: Lookups, pids: Sequence[str], attrs: Sequence[str]) -> ComparePayload | None:
    """A comparison of 2 to MAX_COMPARE_PRODUCTS known products; None with fewer than 2.

    Rows come from each product page's attributes; the names "price" and "rating" read the store.
    A value that is not there (or could not be read in time) is null.
    """
    products = await asyncio.gather(*(lookups.product(pid) for pid in pids[:MAX_COMPARE_PRODUCTS]))
    known = [(pid, p.value) for pid, p in zip(pids, products) if p.value is not None]
    if len(known) < 2:
        return None
    ids = [pid for pid, _ in known]
    pages = [p.value for p in await asyncio.gather(*(lookups.page(pid) for pid in ids))]
    wanted = list(dict.fromkeys(a.strip() for a in attrs if a.strip()))[:MAX_COMPARE_ATTRS] or _default_attrs(pages)
    rows: list[CompareRow] = []
    simulated = False
    for attr in wanted:
        key = " ".join(_norm(attr))
        if key == "price":
            offers = [o.value for o in await asyncio.gather(*(lookups.offer(pid) for pid in ids))]
            values = [format_money(o.price_cents, o.currency) if o else None for o in offers]
            sources: list[str | None] = ["store.offer" if o else None for o in offers]
            simulated = simulated or any(o.simulated for o in offers if o)
        elif key == "rating":
            ratings = [r.value for r in await asyncio.gather(*(lookups.rating(pid) for pid in ids))]
            values = [f"{r.average:.2f} ({r.count})" if r and r.count else None for r in ratings]
            sources = ["store.rating" if v else None for v in values]
            simulated = simulated or any(r.simulated for r in ratings if r)
        else:
            matched = [match_attribute(page, attr) for page in pages]
            values = [value for _, value in matched]
            sources = [name for name, _ in matched]
        rows.append(CompareRow(attr, values, sources))
    return ComparePayload(ids, [p.title for _, p in known], wanted, rows, simulated)


async def reviews(lookups: Lookups, pid: str) -> ReviewsPayload | None:
    """Summary, pros, cons and counts from review text, plus the store's rating; None if neither.

    A product page's reviews are single sentences from reviews (catalog.Product.reviews), so for a
    product with a page the counts say "review excerpts"; review sets hold whole reviews.
    """
    texts, rating, page = await asyncio.gather(lookups.reviews(pid), lookups.rating(pid), lookups.page(pid))
    unit = "review excerpt" if page.value is not None and page.value.reviews else "review"
    found = opinions.extract(texts.value or (), unit=unit)
    if found.sentences == 0 and rating.value is None:
        return None
    return ReviewsPayload(
        product_id=pid,
        pros=found.pros,
        cons=found.cons,
        sentiment={"positive": found.positive, "negative": found.negative, "neutral": found.neutral},
        sentences=found.sentences,
        rating=_rating_info(rating.value),
        method=opinions.METHOD,
        summary=found.summary,
        aspects=[AspectInfo(a.name, a.mentions, a.positive, a.negative) for a in found.aspects[:MAX_ASPECTS]],
        reviews=found.reviews,
    )


async def price_history(lookups: Lookups, pid: str) -> PriceHistoryPayload | None:
    """Daily prices, oldest first; None when the store has no history (or none in time)."""
    history, offer = await asyncio.gather(lookups.history(pid), lookups.offer(pid))
    points = history.value or []
    if not points:
        return None
    prices = [p.price_cents for p in points]
    return PriceHistoryPayload(
        product_id=pid,
        currency=offer.value.currency if offer.value else None,
        series=[PricePointInfo(p.day.isoformat(), p.price_cents, p.in_stock) for p in points],
        min_cents=min(prices),
        max_cents=max(prices),
        simulated=any(p.simulated for p in points),
    )

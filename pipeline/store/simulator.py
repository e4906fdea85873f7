"""The store simulator: plausible, deterministic, clearly simulated prices, stock and ratings.

The real catalog has no prices, stock or ratings, so the store makes them up, by these rules (also
in docs/store.md). Everything made here is marked `simulated=True`.

- Randomness: one `random.Random` per product, seeded from sha256(seed | product id | category). Only
  `Random.random()` is used, whose sequence is stable across Python versions, so one seed gives the
  same data byte for byte on any machine, in any load order.
- Base price: drawn from the product's price band (pipeline/store/price_model.py: a band per kind of
  product named in the title, else per category, scaled by cues such as "pack of 6"), log-normal
  around the band's typical price, ending in .99. Without a band, the category's band.
- History: `history_days` daily points ending on `as_of`. Each day:
  the list price changes with probability 1/120 (by -7% to +8%, ending in .99, kept within the band);
  a sale starts with probability 1/30 (2-7 days, 10-30% off), and one sale is forced on a day chosen
  from the product's hash if none started by then, so every product has at least one;
  a stock-out starts with probability 1/100 (1-5 days; the price is still recorded).
- Current offer: the last history point (price, stock) with the list price of that day, USD, and a
  delivery estimate of 1-7 days (None while out of stock).
- Rating: a count log-uniform in 3-4000 and a binomial spread of stars around a mean of 3.0-4.8, with
  a few extra 1-star ratings, as real products have. Products whose reviews carry real star ratings
  (the Copycat/FewSum review sets) get their true aggregate instead, with simulated=False.
- Live events (`next_events`): pick a product uniformly; restock it if out of stock; else with
  probability 0.15 it goes out of stock; else a sale ends (price back to list) or one starts (10-30%).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.messages import StoreEvent
from pipeline.store.base import Store
from pipeline.store.price_model import CATEGORY_BANDS, PriceBand, charm_cents, sample_price_cents
from pipeline.store.records import Offer, PricePoint, RatingSummary

DEFAULT_AS_OF = date(2025, 6, 30)


@dataclass(frozen=True)
class SimulationConfig:
    """What a simulation depends on besides the product. Same config and product -> same data."""

    seed: int = 0
    as_of: date = DEFAULT_AS_OF
    """The last day of the price history (the day of the current offer)."""
    history_days: int = 365
    currency: str = "USD"

    def key(self) -> str:
        """A short fingerprint of the config, stored with each product to detect a change."""
        return f"v2:{self.seed}:{self.as_of.isoformat()}:{self.history_days}:{self.currency}"


@dataclass(frozen=True)
class SimulatedProduct:
    offer: Offer
    delivery_days: int
    """The delivery estimate, kept while out of stock (the offer then shows None)."""
    rating: RatingSummary
    history: tuple[PricePoint, ...]


def product_seed(config: SimulationConfig, product_id: str, category: str) -> int:
    digest = hashlib.sha256(f"{config.seed}|{product_id}|{category}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def simulate_product(
    product_id: str,
    category: str,
    config: SimulationConfig,
    *,
    band: PriceBand | None = None,
    real_ratings: Sequence[int] = (),
) -> SimulatedProduct:
    """Offer, rating and price history for one product; pure and deterministic.

    `band` bounds the list price (price_model.quote_price gives a product's band); None means the
    category's band. `real_ratings` are true 1-5 star ratings; when given, the rating aggregate is
    theirs (not simulated). Raises ValueError if `config.history_days` is below 1.
    """
    if config.history_days < 1:
        raise ValueError(f"history_days must be at least 1, got {config.history_days}")
    rng = random.Random(product_seed(config, product_id, category))
    if band is None:
        band = CATEGORY_BANDS.get(category, CATEGORY_BANDS["other"])
    history = _history(rng, band, config)
    last = history[-1]
    delivery_days = _int_between(rng, 1, 7)
    offer = Offer(
        product_id=product_id,
        price_cents=last[0].price_cents,
        list_price_cents=last[1],
        currency=config.currency,
        in_stock=last[0].in_stock,
        delivery_days=delivery_days if last[0].in_stock else None,
        simulated=True,
    )
    if real_ratings:
        rating = _real_rating(product_id, real_ratings)
    else:
        rating = _simulated_rating(rng, product_id)
    return SimulatedProduct(
        offer=offer,
        delivery_days=delivery_days,
        rating=rating,
        history=tuple(p for p, _ in history),
    )


def _history(rng: random.Random, band: PriceBand, config: SimulationConfig) -> list[tuple[PricePoint, int]]:
    """(point, list price that day) for each day, oldest first; the list price stays within `band`."""
    list_price = sample_price_cents(band, rng.random())
    days = config.history_days
    calendar = _calendar(config.as_of, days)
    forced_sale_day = _int_between(rng, days // 12, max(days // 12, days - days // 12 - 1))
    sale_days_left = 0
    sale_price = list_price
    out_days_left = 0
    had_sale = False
    points: list[tuple[PricePoint, int]] = []
    for offset in range(days):
        # Every draw happens every day, whatever the state, so one rule never shifts another's dice.
        list_change, change_size = rng.random(), rng.random()
        sale_start, sale_len, sale_depth = rng.random(), rng.random(), rng.random()
        out_start, out_len = rng.random(), rng.random()
        if list_change < 1 / 120:
            list_price = charm_cents(list_price * (0.93 + 0.15 * change_size))
            list_price = min(band.high_cents, max(band.low_cents, list_price))
        if sale_days_left == 0 and (sale_start < 1 / 30 or (not had_sale and offset >= forced_sale_day)):
            sale_days_left = 2 + int(sale_len * 6)
            sale_price = list_price * (100 - (10 + int(sale_depth * 21))) // 100
            had_sale = True
        if out_days_left == 0 and out_start < 1 / 100:
            out_days_left = 1 + int(out_len * 5)
        price = sale_price if sale_days_left > 0 else list_price
        points.append((PricePoint(calendar[offset], price, out_days_left == 0, True), list_price))
        sale_days_left = max(0, sale_days_left - 1)
        out_days_left = max(0, out_days_left - 1)
    return points


@functools.lru_cache(maxsize=8)
def _calendar(as_of: date, days: int) -> tuple[date, ...]:
    """The `days` days ending on `as_of`, oldest first (shared by every product of a load)."""
    first_day = as_of - timedelta(days=days - 1)
    return tuple(first_day + timedelta(days=offset) for offset in range(days))


def _simulated_rating(rng: random.Random, product_id: str) -> RatingSummary:
    count = int(math.exp(_uniform(rng, math.log(3), math.log(4000))))
    mean = _uniform(rng, 3.0, 4.8)
    q = (mean - 1) / 4
    # Binomial(4, q) over (stars - 1) has mean `mean`; real products also collect some 1-star ratings.
    shares = [math.comb(4, k) * q**k * (1 - q) ** (4 - k) for k in range(5)]
    shares[0] += (4.8 - mean) / 20
    total = sum(shares)
    distribution = _apportion(count, [s / total for s in shares])
    return RatingSummary.from_distribution(product_id, distribution, simulated=True)


def _real_rating(product_id: str, ratings: Sequence[int]) -> RatingSummary:
    counts = [0, 0, 0, 0, 0]
    for stars in ratings:
        if not 1 <= stars <= 5:
            raise ValueError(f"a star rating must be 1-5, got {stars}")
        counts[stars - 1] += 1
    distribution = (counts[0], counts[1], counts[2], counts[3], counts[4])
    return RatingSummary.from_distribution(product_id, distribution, simulated=False)


def _apportion(count: int, shares: Sequence[float]) -> tuple[int, int, int, int, int]:
    """Split `count` by `shares` (summing to 1) into whole numbers that add up exactly."""
    exact = [count * s for s in shares]
    whole = [int(x) for x in exact]
    # Largest remainders get the leftover units; ties go to the lower star for a stable result.
    order = sorted(range(5), key=lambda k: (-(exact[k] - whole[k]), k))
    for k in order[: count - sum(whole)]:
        whole[k] += 1
    return (whole[0], whole[1], whole[2], whole[3], whole[4])


def _uniform(rng: random.Random, low: float, high: float) -> float:
    return low + (high - low) * rng.random()


def _int_between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high], from one `random()` draw (stable across Python versions)."""
    return low + min(high - low, int(rng.random() * (high - low + 1)))


# --- live events ----------------------------------------------------------------------------------

STOCK_OUT_PROBABILITY = 0.15


async def next_events(store: Store, rng: random.Random, n: int, *, now_ms: int) -> list[StoreEvent]:
    """Make `n` price or stock changes, apply each to `store`, and return them as StoreEvents.

    Deterministic given the store's state, the state of `rng` and `now_ms` (Unix ms; event i is
    stamped now_ms + i, so events keep their order). Each event's seq is the product's offer seq after
    the change, so a consumer keyed by product id can drop duplicates. Returns [] for an empty store.
    """
    product_ids = await store.list_product_ids()
    events: list[StoreEvent] = []
    if not product_ids:
        return events
    for i in range(n):
        product_id = product_ids[min(len(product_ids) - 1, int(rng.random() * len(product_ids)))]
        offer = await store.get_offer(product_id)
        if offer is None:
            continue
        roll, depth = rng.random(), rng.random()
        kind, price, in_stock = _next_change(offer, roll, depth)
        at_ms = now_ms + i
        changed = await store.record_price_change(product_id, price, in_stock, at_ms, simulated=True)
        events.append(
            StoreEvent(
                product_id=product_id,
                seq=changed.seq,
                kind=kind,
                price_cents=changed.price_cents,
                currency=changed.currency,
                in_stock=changed.in_stock,
                simulated=True,
                at_ms=at_ms,
            )
        )
    return events


def _next_change(offer: Offer, roll: float, depth: float) -> tuple[str, int, bool]:
    """(kind, price_cents, in_stock) of the next change to `offer`."""
    if not offer.in_stock:
        return "stock", offer.price_cents, True
    if roll < STOCK_OUT_PROBABILITY:
        return "stock", offer.price_cents, False
    if offer.price_cents < offer.list_price_cents:
        return "price", offer.list_price_cents, True
    discount_pct = 10 + int(depth * 21)
    return "price", offer.list_price_cents * (100 - discount_pct) // 100, True

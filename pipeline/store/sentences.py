"""Store facts written as the short evidence sentences the answer model reads.

The retrieve stage puts these sentences into a turn's evidence (pipeline/retrieval/store_evidence.py,
over what its StoreFetcher read), and the training data (pipeline/training/) writes the same sentences for the prices it
simulates, so the model is trained on exactly the wording it is served. Simulated values say so:
the prompt must never pass them off as real.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.money import format_money
from pipeline.store.records import Offer, PricePoint


def delivery_phrase(days: float) -> str:
    """"delivery in 1 day", "delivery in 3 days"."""
    return f"delivery in {days:g} day{'' if days == 1 else 's'}"


def offer_sentence(title: str, offer: Offer) -> str:
    """"Acme Kettle: $19.99 (simulated price), in stock, delivery in 3 days"."""
    stock = "in stock" if offer.in_stock else "out of stock"
    delivery = f", {delivery_phrase(offer.delivery_days)}" if offer.delivery_days is not None else ""
    label = " (simulated price)" if offer.simulated else ""
    return f"{title}: {format_money(offer.price_cents, offer.currency)}{label}, {stock}{delivery}"


def price_history_sentence(points: Sequence[PricePoint], currency: str = "USD") -> str | None:
    """Today's price and the lowest of the last 30 and 90 points (days), or None without points.

    `points` are oldest first, one per day, as Store.get_price_history returns them.
    """
    if not points:
        return None
    last = points[-1]
    low30 = min(points[-30:], key=lambda p: p.price_cents)
    low90 = min(points[-90:], key=lambda p: p.price_cents)
    label = " (simulated)" if last.simulated else ""
    return (f"price history{label}: now {format_money(last.price_cents, currency)}; lowest in 30 days "
            f"{format_money(low30.price_cents, currency)} on {low30.day.isoformat()}; lowest in 90 days "
            f"{format_money(low90.price_cents, currency)} on {low90.day.isoformat()}")

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from pipeline.store.loader import load_catalog
from pipeline.store.simulator import SimulationConfig, next_events, simulate_product
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import START_MS, make_products

IDS = [f"B{i:09d}" for i in range(300)]


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    config = SimulationConfig(seed=7)
    first = [simulate_product(i, "toys_games", config) for i in IDS[:50]]
    again = [simulate_product(i, "toys_games", config) for i in reversed(IDS[:50])]
    assert first == list(reversed(again))
    other = [simulate_product(i, "toys_games", SimulationConfig(seed=8)) for i in IDS[:50]]
    assert [s.history for s in other] != [s.history for s in first]


def test_history_covers_365_consecutive_days_ending_on_as_of() -> None:
    config = SimulationConfig(as_of=date(2025, 3, 1))
    history = simulate_product(IDS[0], "electronics", config).history
    assert len(history) == 365
    assert history[-1].day == date(2025, 3, 1)
    assert all(b.day - a.day == timedelta(days=1) for a, b in zip(history, history[1:]))


def test_every_product_has_a_sale_and_its_offer_is_the_last_history_point() -> None:
    config = SimulationConfig()
    for product_id in IDS:
        sim = simulate_product(product_id, "home_kitchen", config)
        prices = [p.price_cents for p in sim.history]
        assert min(prices) < max(prices) or sim.offer.price_cents < sim.offer.list_price_cents
        # A sale is a price at least 10% under that day's regular price; the first day is regular
        # unless a sale started on it, so look for a drop of 10% or more against the highest price.
        assert any(p <= max(prices) * 0.91 for p in prices), product_id
        last = sim.history[-1]
        assert (sim.offer.price_cents, sim.offer.in_stock) == (last.price_cents, last.in_stock)
        assert sim.offer.price_cents <= sim.offer.list_price_cents
        assert (sim.offer.delivery_days is None) == (not sim.offer.in_stock)
        assert sim.offer.simulated and sim.rating.simulated and all(p.simulated for p in sim.history)


def test_stock_outs_happen_somewhere() -> None:
    config = SimulationConfig()
    out_days = sum(
        not p.in_stock for i in IDS[:100] for p in simulate_product(i, "other", config).history
    )
    assert out_days > 0


def test_rating_distribution_adds_up_to_its_count_and_average() -> None:
    for product_id in IDS[:100]:
        rating = simulate_product(product_id, "beauty", SimulationConfig()).rating
        assert sum(rating.distribution) == rating.count >= 3
        mean = sum((k + 1) * n for k, n in enumerate(rating.distribution)) / rating.count
        assert abs(rating.average - mean) < 0.005
        assert 1.0 <= rating.average <= 5.0


def test_real_ratings_give_a_real_aggregate() -> None:
    rating = simulate_product("R1", "home_kitchen", SimulationConfig(), real_ratings=[5, 5, 4, 1]).rating
    assert rating.simulated is False
    assert rating.distribution == (1, 0, 0, 1, 2)
    assert rating.average == 3.75


async def _loaded_store(path: Path) -> SqliteStore:
    store = await SqliteStore.open(path)
    await load_catalog(store, make_products(40))
    return store


async def test_live_events_are_deterministic_and_applied(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        store = await _loaded_store(tmp_path / name / "store.sqlite")
        events = await next_events(store, random.Random(3), 60, now_ms=START_MS)
        offers = {e.product_id: await store.get_offer(e.product_id) for e in events}
        history = {e.product_id: await store.get_price_history(e.product_id, days=1) for e in events}
        await store.close()
        runs.append(events)
    assert runs[0] == runs[1]
    events = runs[0]
    assert len(events) == 60
    assert {e.kind for e in events} == {"price", "stock"}
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)
    last_by_product = {e.product_id: e for e in events}
    for product_id, event in last_by_product.items():
        offer = offers[product_id]
        assert offer is not None
        assert (offer.price_cents, offer.in_stock, offer.seq) == (event.price_cents, event.in_stock, event.seq)
        assert history[product_id][-1].price_cents == event.price_cents
    seqs: dict[str, list[int]] = {}
    for e in events:
        seqs.setdefault(e.product_id, []).append(e.seq)
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values())
    assert all(e.simulated for e in events)


async def test_no_events_from_an_empty_store(store: SqliteStore) -> None:
    assert await next_events(store, random.Random(0), 5, now_ms=START_MS) == []

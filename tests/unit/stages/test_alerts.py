"""The alerts stage with a real SQLite store: auto-buy within the limit, once, with an audit record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts.registry import DEFAULT_TTL_MS, state_key
from pipeline.errors import DependencyError
from pipeline.messages import Alert, AlertRule, Frame, StoreEvent
from pipeline.stages.alerts import AlertsStage
from pipeline.stages.base import Table
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import START_MS, make_products

PRODUCT = "B000000001"


class MemoryTable:
    def __init__(self, apply: Callable[[str, Any], None], records: list[tuple[str, Any]]) -> None:
        self.apply, self.records = apply, records

    async def start(self) -> None:
        for key, value in self.records:
            self.apply(key, value)

    async def put(self, key: str, value: Any) -> None:
        self.records.append((key, value))

    async def stop(self) -> None: ...


async def test_auto_buy_orders_once_within_the_limit(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.sqlite", clock_ms=lambda: START_MS)
    await load_catalog(store, make_products(4))
    offer = await store.get_offer(PRODUCT)
    assert offer is not None
    low = offer.price_cents - 100
    rule = AlertRule("al-1", "u1", "c1", 1, PRODUCT, "auto_buy", low, offer.currency, max_price_cents=low,
                     created_at_ms=START_MS, expires_at_ms=START_MS + DEFAULT_TTL_MS)
    records: list[tuple[str, Any]] = [("al-1", rule)]

    async def open_store() -> SqliteStore:
        return store

    def open_table(apply: Callable[[str, Any], None]) -> Table:
        return MemoryTable(apply, records)

    stage = AlertsStage(open_table, open_store, clock_ms=lambda: START_MS + 10)
    await stage.start()
    try:
        # The store's own price is still above the limit: the drop fires, but nothing is bought.
        event = StoreEvent(PRODUCT, offer.seq + 1, "price", low, offer.currency, True, True, START_MS + 5)
        first = [o async for o in stage.process(event)]
        alert = next(o.value for o in first if isinstance(o.value, Alert))
        assert alert.order_id is None and await store.get_orders("u1") == []
        assert "above your limit" in next(o.value for o in first if isinstance(o.value, Frame)).text

        # Fresh alert; the store now has the low price too: one order, recorded on the state.
        records[:] = [("al-2", AlertRule(**{**rule.__dict__, "alert_id": "al-2"}))]
        stage2 = AlertsStage(open_table, open_store, clock_ms=lambda: START_MS + 10)
        await stage2.start()
        await store.record_price_change(PRODUCT, low, True, START_MS + 6, simulated=True)
        event2 = StoreEvent(PRODUCT, offer.seq + 2, "price", low, offer.currency, True, True, START_MS + 6)
        out = [o async for o in stage2.process(event2)]
        again = [o async for o in stage2.process(event2)]
        orders = await store.get_orders("u1")
        assert len(orders) == 1 and orders[0].total_cents == low
        assert next(o.value for o in out if isinstance(o.value, Alert)).order_id == orders[0].order_id
        state = next(o for o in out if o.topic == "alert-registry")
        assert state.key == state_key("al-2") and state.value.order_id == orders[0].order_id
        assert again == [], "a redelivered event fired the auto-buy again"
    finally:
        await stage.stop()


class _FlakyTitles:
    """The real store, except that product lookups fail while `failing` is set (after the order)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store, self.failing = store, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get_product(self, product_id: str) -> Any:
        if self.failing:
            raise DependencyError("store lookup timed out")
        return await self.store.get_product(product_id)


async def _auto_buy_setup(tmp_path: Path) -> tuple[SqliteStore, AlertRule, int, str]:
    store = await SqliteStore.open(tmp_path / "store.sqlite", clock_ms=lambda: START_MS)
    await load_catalog(store, make_products(4))
    offer = await store.get_offer(PRODUCT)
    assert offer is not None
    low = offer.price_cents - 100
    await store.record_price_change(PRODUCT, low, True, START_MS + 6, simulated=True)
    rule = AlertRule("al-9", "u1", "c1", 1, PRODUCT, "auto_buy", low, offer.currency, max_price_cents=low,
                     created_at_ms=START_MS, expires_at_ms=START_MS + DEFAULT_TTL_MS)
    return store, rule, offer.seq, offer.currency


async def test_a_failure_after_the_order_never_orders_twice_after_a_restart(tmp_path: Path) -> None:
    store, rule, seq, currency = await _auto_buy_setup(tmp_path)
    flaky = _FlakyTitles(store)
    records: list[tuple[str, Any]] = [("al-9", rule)]

    async def open_store() -> Any:
        return flaky

    def open_table(apply: Callable[[str, Any], None]) -> Table:
        return MemoryTable(apply, records)

    first = AlertsStage(open_table, open_store, clock_ms=lambda: START_MS + 10)
    await first.start()
    low = rule.threshold_cents
    event = StoreEvent(PRODUCT, seq + 1, "price", low, currency, True, True, START_MS + 7)
    with pytest.raises(DependencyError):
        _ = [o async for o in first.process(event)]
    assert len(await store.get_orders("u1")) == 1
    # The event was dead-lettered and the registry state never written; a restarted worker sees the
    # alert armed again and the next low price fires it: it must find the same order, not a new one.
    flaky.failing = False
    restarted = AlertsStage(open_table, open_store, clock_ms=lambda: START_MS + 20)
    await restarted.start()
    later = StoreEvent(PRODUCT, seq + 2, "price", low, currency, True, True, START_MS + 8)
    out = [o async for o in restarted.process(later)]
    orders = await store.get_orders("u1")
    assert len(orders) == 1, "the auto-buy ordered twice"
    assert next(o.value for o in out if isinstance(o.value, Alert)).order_id == orders[0].order_id
    await store.close()


async def test_a_retried_event_fires_again_with_the_same_order(tmp_path: Path) -> None:
    store, rule, seq, currency = await _auto_buy_setup(tmp_path)
    flaky = _FlakyTitles(store)

    async def open_store() -> Any:
        return flaky

    def open_table(apply: Callable[[str, Any], None]) -> Table:
        return MemoryTable(apply, [("al-9", rule)])

    stage = AlertsStage(open_table, open_store, clock_ms=lambda: START_MS + 10)
    await stage.start()
    event = StoreEvent(PRODUCT, seq + 1, "price", rule.threshold_cents, currency, True, True, START_MS + 7)
    with pytest.raises(DependencyError):
        _ = [o async for o in stage.process(event)]
    flaky.failing = False
    # The worker retries the same event: the failed attempt must not have consumed the firing.
    out = [o async for o in stage.process(event)]
    orders = await store.get_orders("u1")
    assert len(orders) == 1
    states = [o.value for o in out if o.topic == "alert-registry"]
    assert len(states) == 1 and states[0].order_id == orders[0].order_id and not states[0].armed
    assert [o async for o in stage.process(event)] == [], "a redelivered event fired again"
    await store.close()

"""The alerts stage with a real SQLite store: auto-buy within the limit, once, with an audit record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.alerts.registry import DEFAULT_TTL_MS, state_key
from pipeline.messages import Alert, AlertRule, Frame, StoreEvent
from pipeline.stages.alerts import AlertsStage, Table
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

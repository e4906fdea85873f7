"""The alert registry: registration rules, firing once per drop, re-arming, replays, restore."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.alerts.registry import DEFAULT_TTL_MS, AlertRegistry, restore, state_key
from pipeline.errors import ContractError
from pipeline.messages import AlertRule, StoreEvent

NOW = 1_700_000_000_000


def rule(alert_id: str = "a1", *, kind: str = "price_below", threshold: int = 4000, user: str = "u1",
         product: str = "P1", limit: int = 0) -> AlertRule:
    return AlertRule(alert_id, user, "c1", 3, product, kind, threshold, "USD", max_price_cents=limit,
                     created_at_ms=NOW, expires_at_ms=NOW + DEFAULT_TTL_MS)


def event(seq: int, price: int, *, product: str = "P1", in_stock: bool = True) -> StoreEvent:
    return StoreEvent(product, seq, "price", price, "USD", in_stock, True, NOW + seq)


def fired_ids(registry: AlertRegistry, ev: StoreEvent) -> list[str]:
    return [f.rule.alert_id for f in registry.match(ev, NOW + 1).fired]


def test_fires_once_per_drop_and_rearms_only_above_the_threshold() -> None:
    registry = AlertRegistry()
    registry.register(rule(), NOW)
    assert fired_ids(registry, event(1, 4500)) == []
    assert fired_ids(registry, event(2, 3900)) == ["a1"]
    assert fired_ids(registry, event(3, 3800)) == [], "a second low price in the same drop fired again"
    assert fired_ids(registry, event(4, 4000)) == [], "at the threshold is still the same drop"
    assert fired_ids(registry, event(5, 4100)) == []
    assert fired_ids(registry, event(6, 3950)) == ["a1"], "a new drop after going back above must fire"
    current = registry.get("a1")
    assert current is not None and current.fired_count == 2 and current.last_event_seq == 6


def test_replayed_event_changes_nothing() -> None:
    registry = AlertRegistry()
    registry.register(rule(), NOW)
    assert fired_ids(registry, event(7, 3000)) == ["a1"]
    registry.match(event(8, 5000), NOW)  # re-armed
    assert fired_ids(registry, event(7, 3000)) == [], "a redelivered older event fired"
    assert registry.match(event(8, 5000), NOW).changed == []


def test_only_matching_product_currency_and_stock_fire() -> None:
    registry = AlertRegistry()
    registry.register(rule(), NOW)
    assert fired_ids(registry, event(1, 100, product="P2")) == []
    assert fired_ids(registry, event(2, 100, in_stock=False)) == [], "an out-of-stock price cannot be bought"
    assert fired_ids(registry, dataclasses.replace(event(3, 100), currency="EUR")) == []
    assert fired_ids(registry, event(4, 100)) == ["a1"]


def test_auto_buy_fires_once_and_respects_its_limit() -> None:
    registry = AlertRegistry()
    registry.register(rule("b1", kind="auto_buy", threshold=3000, limit=3000), NOW)
    assert fired_ids(registry, event(1, 2500)) == ["b1"]
    registry.match(event(2, 5000), NOW)
    assert fired_ids(registry, event(3, 2000)) == [], "an auto-buy bought twice"
    assert registry.list_for_user("u1", NOW) == []


def test_register_refuses_rules_that_cannot_work() -> None:
    registry = AlertRegistry()
    with pytest.raises(ContractError):
        registry.register(rule(threshold=0), NOW)
    with pytest.raises(ContractError):
        registry.register(rule(kind="sell"), NOW)
    with pytest.raises(ContractError):
        registry.register(rule(kind="auto_buy", threshold=3000, limit=2000), NOW)
    with pytest.raises(ContractError):
        registry.register(dataclasses.replace(rule(), expires_at_ms=NOW), NOW)


def test_cancel_is_owner_only_and_final() -> None:
    registry = AlertRegistry()
    registry.register(rule(), NOW)
    assert registry.cancel("a1", "someone-else", NOW) is None
    cancelled = registry.cancel("a1", "u1", NOW)
    assert cancelled is not None and cancelled.status == "cancelled"
    registry.apply("a1", rule())  # the registration, replayed from the changelog
    assert fired_ids(registry, event(1, 100)) == []
    assert registry.list_for_user("u1", NOW) == []


def test_alerts_expire() -> None:
    registry = AlertRegistry()
    registry.register(dataclasses.replace(rule(), expires_at_ms=NOW + 1000), NOW)
    assert [r.alert_id for r in registry.list_for_user("u1", NOW)] == ["a1"]
    assert registry.match(event(1, 100), NOW + 1000).fired == []
    assert registry.purge(NOW + 1000) == ["a1", state_key("a1")]
    assert len(registry) == 0


def test_restore_from_changelog_keeps_the_furthest_state() -> None:
    live = AlertRegistry()
    live.register(rule(), NOW)
    records: list[tuple[str, AlertRule | None]] = [("a1", rule())]
    for ev in (event(1, 3000), event(2, 5000), event(3, 3500)):
        records += [(state_key(s.alert_id), s) for s in live.match(ev, NOW).changed]
    # The follower may read an older state after a newer one: it must not go back.
    records.append(records[1])
    restored = restore(records)
    state = restored.get("a1")
    assert state is not None and (state.armed, state.last_event_seq, state.fired_count) == (False, 3, 2)
    assert fired_ids(restored, event(3, 3500)) == [], "a restored registry fired again for a seen event"
    assert fired_ids(restored, event(4, 3000)) == []
    restored.match(event(5, 4500), NOW)
    assert fired_ids(restored, event(6, 3000)) == ["a1"]

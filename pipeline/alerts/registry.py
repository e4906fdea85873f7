"""The alert registry: which alerts watch which product, and when one fires. Pure: no I/O.

Two kinds of record live in the compacted `alert-registry` topic, each key with one writer:

- the definition, key `<alert_id>`: written by the actions stage when a shopper sets or cancels an
  alert (status `active` or `cancelled`; cancelled is final);
- the firing state, key `<alert_id>#state`: written by the alerts stage only, when an alert fires
  or re-arms (armed, last_event_seq, fired_count, order_id).

`apply(key, record)` merges either into memory (restore and follow both use it). The effective
alert is the definition with the state's firing fields laid over it.

Firing rule, per alert: it fires when an in-stock price event at or below the threshold arrives
while the alert is armed; it is then disarmed, and re-arms only on a later event above the
threshold. So one price drop fires once however many events repeat the low price, and a redelivered
event (seq at or below `last_event_seq`) changes nothing. An auto-buy fires at most once in all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.errors import ContractError
from pipeline.messages import AlertRule, StoreEvent

STATE_SUFFIX = "#state"
DEFAULT_TTL_MS = 183 * 24 * 3600 * 1000
"""Six months: how long an alert watches unless told otherwise."""
KINDS = frozenset({"price_below", "auto_buy"})
MAX_ALERTS_PER_USER = 50


def state_key(alert_id: str) -> str:
    """The topic key of an alert's firing state."""
    return alert_id + STATE_SUFFIX


@dataclass(frozen=True)
class Firing:
    """One alert fired by one event. `rule` is the state after firing; `firing_seq` counts from 0."""

    rule: AlertRule
    event: StoreEvent
    firing_seq: int


@dataclass(frozen=True)
class MatchResult:
    fired: list[Firing]
    changed: list[AlertRule]
    """New firing states to persist under `state_key(alert_id)` (fired and re-armed alerts)."""


class AlertRegistry:
    """Alert definitions and firing states, indexed by product."""

    def __init__(self) -> None:
        self._definitions: dict[str, AlertRule] = {}
        self._states: dict[str, AlertRule] = {}
        self._by_product: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._definitions)

    # ---- changes from the changelog and from shoppers ----------------------------------------------

    def follow(self, key: str, value: object) -> None:
        """`apply` for a changelog table's callback: records of any other type are ignored."""
        if value is None or isinstance(value, AlertRule):
            self.apply(key, value)

    def apply(self, key: str, record: AlertRule | None) -> None:
        """Merge one changelog record (None: tombstone). Stale or repeated records change nothing."""
        if key.endswith(STATE_SUFFIX):
            alert_id = key.removesuffix(STATE_SUFFIX)
            if record is None:
                self._states.pop(alert_id, None)
                return
            current = self._states.get(alert_id)
            # The follower echoes our own writes, maybe after newer ones: keep the furthest state.
            if current is None or (record.last_event_seq, record.fired_count) >= (current.last_event_seq, current.fired_count):
                self._states[alert_id] = record
            return
        if record is None:
            self._forget(key)
            return
        current = self._definitions.get(key)
        if current is not None and current.status == "cancelled":
            return  # cancelling is final; a replayed registration must not revive it
        self._definitions[key] = record
        self._by_product.setdefault(record.product_id, set()).add(key)

    def register(self, rule: AlertRule, now_ms: int) -> AlertRule:
        """Validate and add a definition; returns it. Raises ContractError for a rule that cannot work
        (unknown kind, non-positive threshold or quantity, auto-buy limit below the threshold, expiry in
        the past, or the user already has MAX_ALERTS_PER_USER active alerts)."""
        if rule.kind not in KINDS:
            raise ContractError(f"unknown alert kind {rule.kind!r}")
        if rule.threshold_cents <= 0:
            raise ContractError("an alert needs a positive threshold")
        if rule.kind == "auto_buy" and (rule.quantity < 1 or rule.max_price_cents < rule.threshold_cents):
            raise ContractError("an auto-buy needs a quantity of at least 1 and a limit at or above its threshold")
        if rule.expires_at_ms <= now_ms:
            raise ContractError("the alert would expire before it starts")
        existing = self._definitions.get(rule.alert_id)
        if existing is None and len(self.list_for_user(rule.user_id, now_ms)) >= MAX_ALERTS_PER_USER:
            raise ContractError(f"at most {MAX_ALERTS_PER_USER} alerts per shopper")
        self.apply(rule.alert_id, rule)
        return self._definitions[rule.alert_id]

    def cancel(self, alert_id: str, user_id: str, now_ms: int) -> AlertRule | None:
        """The cancelled definition to persist, or None when the user has no such active alert."""
        current = self._definitions.get(alert_id)
        if current is None or current.user_id != user_id or current.status != "active":
            return None
        cancelled = dataclasses.replace(current, status="cancelled", updated_at_ms=now_ms)
        self._definitions[alert_id] = cancelled
        return cancelled

    # ---- reading -----------------------------------------------------------------------------------

    def get(self, alert_id: str) -> AlertRule | None:
        """The effective alert (definition plus firing state), or None."""
        definition = self._definitions.get(alert_id)
        if definition is None:
            return None
        state = self._states.get(alert_id)
        if state is None:
            return definition
        return dataclasses.replace(
            definition,
            armed=state.armed,
            last_event_seq=state.last_event_seq,
            fired_count=state.fired_count,
            order_id=state.order_id,
            updated_at_ms=max(definition.updated_at_ms, state.updated_at_ms),
        )

    def list_for_user(self, user_id: str, now_ms: int) -> list[AlertRule]:
        """The user's alerts that still watch, oldest first."""
        rules = (self.get(alert_id) for alert_id, d in self._definitions.items() if d.user_id == user_id)
        return sorted((r for r in rules if r is not None and is_watching(r, now_ms)), key=lambda r: r.created_at_ms)

    def watching(self, product_id: str, now_ms: int) -> list[AlertRule]:
        rules = (self.get(alert_id) for alert_id in self._by_product.get(product_id, ()))
        return sorted((r for r in rules if r is not None and is_watching(r, now_ms)), key=lambda r: r.alert_id)

    # ---- matching ----------------------------------------------------------------------------------

    def match(self, event: StoreEvent, now_ms: int, *, commit: bool = True) -> MatchResult:
        """Fire and re-arm the product's alerts for one event; the new states are returned for
        persisting, and kept in memory unless `commit` is False (then `commit_states` keeps them once
        the caller has acted on them). Events at or below an alert's `last_event_seq` are ignored."""
        fired: list[Firing] = []
        changed: list[AlertRule] = []
        for rule in self.watching(event.product_id, now_ms):
            if event.seq <= rule.last_event_seq or event.currency != rule.currency:
                continue
            below = event.in_stock and event.price_cents <= rule.threshold_cents
            if rule.kind == "auto_buy":
                below = below and event.price_cents <= rule.max_price_cents
            if rule.armed and below:
                after = dataclasses.replace(
                    rule, armed=False, last_event_seq=event.seq, fired_count=rule.fired_count + 1, updated_at_ms=now_ms
                )
                fired.append(Firing(after, event, rule.fired_count))
            elif not rule.armed and event.price_cents > rule.threshold_cents:
                after = dataclasses.replace(rule, armed=True, last_event_seq=event.seq, updated_at_ms=now_ms)
            else:
                continue
            if commit:
                self._states[rule.alert_id] = after
            changed.append(after)
        return MatchResult(fired, changed)

    def commit_states(self, states: Iterable[AlertRule]) -> None:
        """Keep firing states from `match(commit=False)` in memory, once they have been acted on."""
        for state in states:
            self._states[state.alert_id] = state

    def purge(self, now_ms: int) -> list[str]:
        """Forget alerts that no longer watch (expired, cancelled, finished auto-buys); returns the
        topic keys to tombstone."""
        gone = [
            alert_id for alert_id in self._definitions
            if (rule := self.get(alert_id)) is not None and not is_watching(rule, now_ms)
        ]
        keys: list[str] = []
        for alert_id in gone:
            self._forget(alert_id)
            keys.extend((alert_id, state_key(alert_id)))
        return keys

    def _forget(self, alert_id: str) -> None:
        definition = self._definitions.pop(alert_id, None)
        self._states.pop(alert_id, None)
        if definition is not None:
            ids = self._by_product.get(definition.product_id)
            if ids is not None:
                ids.discard(alert_id)
                if not ids:
                    del self._by_product[definition.product_id]


def auto_buy_order_key(firing: Firing) -> str:
    """The store's idempotency key for the order an auto-buy firing places.

    Derived from the alert and which firing this is, never from the event: if the firing state is
    lost (the event dead-lettered after the order, then a restart), the alert re-arms from its last
    persisted state and the next low price is the same firing, so the store returns the first order.
    """
    return f"{firing.rule.alert_id}:firing-{firing.firing_seq}"


def is_watching(rule: AlertRule, now_ms: int) -> bool:
    """Active, not expired, and not an auto-buy that has already bought."""
    if rule.status != "active" or rule.expires_at_ms <= now_ms:
        return False
    return not (rule.kind == "auto_buy" and rule.fired_count > 0)


def restore(records: Iterable[tuple[str, AlertRule | None]]) -> AlertRegistry:
    """A registry from changelog records in topic order (used by tests and tools)."""
    registry = AlertRegistry()
    for key, record in records:
        registry.apply(key, record)
    return registry

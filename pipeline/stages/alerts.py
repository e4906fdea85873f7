"""The alerts stage: StoreEvents from `store-events` in; fired alerts out to `frames` (the sockets of
the conversation the alert was set in), `alerts` (read by the gateway for the user's sockets on other
conversations; offline shoppers; backend teams) and their new firing state to `alert-registry`.

The registry (pipeline/alerts/registry.py) is restored at start from the compacted `alert-registry`
topic and then follows it, so alerts set by the actions stage arrive while the worker runs. For
each event, `match` decides which alerts fire or re-arm; auto-buys place their order in the store
with `order_key = <alert_id>:firing-<n>` (`auto_buy_order_key`), so whatever repeats the firing (a
redelivered event, a retried one, or a later low price after the firing state was lost) gets the
first order back instead of buying twice.

The new firing states are kept in memory only after every output has been yielded: a failure part
way (a store lookup timing out) leaves the alert as it was, so the worker's retry fires it again,
with the same order key, rather than finding it already fired and writing nothing.

Restart safety: the new firing state is produced with the notifications, and the input event is
committed only once all of them are acknowledged. A restarted worker restores the state, so a
redelivered event (seq at or below the alert's `last_event_seq`) fires nothing. If the worker dies
after the state was written but before the frame was, that one notification is lost; if it dies
before the state was written, the event is redelivered and the notification repeats with the same
frame seq and Alert seq (consumers drop it) and the same order key (the store returns the first
order). docs/alerts.md has the whole flow.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pipeline import topics
from pipeline.alerts.notify import alert_frame, alert_record
from pipeline.alerts.registry import AlertRegistry, Firing, auto_buy_order_key, state_key
from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.errors import NotFoundError, StoreConflictError
from pipeline.messages import StoreEvent
from pipeline.money import format_money
from pipeline.stages.base import Output, Table, TableFactory
from pipeline.store.base import Store

log = logging.getLogger(__name__)

PURGE_INTERVAL_MS = 3_600_000
"""How often alerts that stopped watching are tombstoned in the registry topic."""


StoreFactory = Callable[[], Awaitable[Store]]


class AlertsStage:
    """Fires alerts on price events; one registry per process, restored from the changelog."""

    name = "alerts"
    input_topic = topics.STORE_EVENTS
    output_topics = (topics.FRAMES, topics.ALERTS, topics.ALERT_REGISTRY)
    input_type = StoreEvent
    dedupe = False  # store events carry no conversation; replays are recognised by event seq

    def __init__(
        self, open_table: TableFactory, open_store: StoreFactory, *, clock_ms: Clock = now_ms
    ) -> None:
        self.registry = AlertRegistry()
        self._open_table = open_table
        self._open_store = open_store
        self._clock_ms = clock_ms
        self._table: Table | None = None
        self._store: Store | None = None
        self._last_purge_ms = 0

    async def start(self) -> None:
        self._store = await self._open_store()
        self._table = self._open_table(self.registry.follow)
        await self._table.start()
        self._last_purge_ms = self._clock_ms()
        log.info("alerts: %d alerts restored", len(self.registry))

    async def stop(self) -> None:
        if self._table is not None:
            await self._table.stop()
        if self._store is not None:
            await self._store.close()

    async def process(self, message: StoreEvent) -> AsyncIterator[Output]:
        now_ms = self._clock_ms()
        result = self.registry.match(message, now_ms, commit=False)
        states = {rule.alert_id: rule for rule in result.changed}
        per_conversation: dict[str, int] = {}
        for firing in result.fired:
            order_id, outcome = None, None
            if firing.rule.kind == "auto_buy":
                order_id, outcome = await self._buy(firing)
                states[firing.rule.alert_id] = dataclasses.replace(states[firing.rule.alert_id], order_id=order_id)
            alert = alert_record(firing, now_ms, order_id)
            conversation = firing.rule.conversation_id
            index = per_conversation.get(conversation, 0)
            per_conversation[conversation] = index + 1
            title = await self._title(firing.rule.product_id)
            yield Output(topics.FRAMES, conversation, alert_frame(firing, alert, index, title=title, outcome=outcome))
            yield Output(topics.ALERTS, conversation, alert)
        for alert_id, state in states.items():
            yield Output(topics.ALERT_REGISTRY, state_key(alert_id), state)
        self.registry.commit_states(states.values())
        if now_ms - self._last_purge_ms >= PURGE_INTERVAL_MS:
            self._last_purge_ms = now_ms
            await self._purge(now_ms)

    async def _buy(self, firing: Firing) -> tuple[str | None, str | None]:
        """Place the auto-buy's order within its limit: (order id, None) or (None, why not)."""
        store, rule = self._require_store(), firing.rule
        offer = await store.get_offer(rule.product_id)
        if offer is None or not offer.in_stock:
            return None, "it is not in stock in the store"
        if offer.price_cents > rule.max_price_cents:
            # The store's price moved since the event: never pay more than the shopper agreed to.
            return None, f"the store's price is {format_money(offer.price_cents, offer.currency)}, above your limit"
        try:
            order = await store.place_order(
                rule.user_id, [(rule.product_id, rule.quantity)], order_key=auto_buy_order_key(firing)
            )
        except (NotFoundError, StoreConflictError) as exc:
            return None, str(exc)
        log.info("alerts: auto-buy %s placed order %s for %s", rule.alert_id, order.order_id, rule.user_id)
        return order.order_id, None

    async def _title(self, product_id: str) -> str | None:
        product = await self._require_store().get_product(product_id)
        return product.title if product is not None and product.kind == "page" else None

    async def _purge(self, now_ms: int) -> None:
        if self._table is None:
            return
        for key in self.registry.purge(now_ms):
            await self._table.put(key, None)

    def _require_store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the alerts stage is not started")
        return self._store


def build(settings: Settings) -> AlertsStage:
    # The table and the store are opened here, outside the stage, so the stage class stays free of
    # Kafka: the runtime's table module is the only broker code involved.
    from pipeline.runtime.table import ChangelogTable
    from pipeline.store.sqlite import open_store

    async def store() -> Store:
        return await open_store(settings)

    def table(apply: Callable[[str, Any], None]) -> Table:
        return ChangelogTable(settings, topics.ALERT_REGISTRY, apply, what="alerts registry")

    return AlertsStage(table, store)

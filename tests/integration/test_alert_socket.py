"""A price alert reaches the shopper's open socket: the real broker, a real gateway (uvicorn, in this
process) and the alerts stage as a worker (in this process too, so the test can see its registry).

The shopper gets a session and asks once (turn 0), sets an alert on that turn (registered as the
actions stage does: the definition on `alert-registry`), and the store drops the price below the
threshold (`record_price_change` and its StoreEvent, as `aisle store simulate` does). The socket gets
one `alert` frame, however many low-price events follow; another shopper's socket gets nothing. With
the socket closed, the next drop is still recorded on `alerts`, and the gateway's resume buffer
hands its frame to the shopper when they reconnect.

A shopper who has moved on to another conversation (the web chat's "new conversation", or another tab)
is told too: with one socket on the alert's conversation and one on another, a drop gives exactly one
`alert` frame on each (the second from the gateway reading `alerts`), also when the `Alert` record is
delivered twice, and another shopper's socket gets none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from websockets.asyncio.client import ClientConnection

from pipeline import codec
from pipeline.alerts.registry import DEFAULT_TTL_MS
from pipeline.catalog import PRODUCTS_FILE, Product, read_products
from pipeline.config import Settings
from pipeline.messages import Alert, AlertRule, Frame, StoreEvent
from pipeline.runtime.service import load_stage_factory
from pipeline.runtime.worker import StageWorker
from pipeline.stages.alerts import AlertsStage
from pipeline.store.base import Store
from pipeline.store.loader import load_catalog
from pipeline.store.records import Offer
from pipeline.store.sqlite import open_store
from tests.integration.gateway_client import new_session, open_socket, receive, running_gateway

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TIMEOUT_S = 30.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S} s: {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running_alerts_worker(settings: Settings) -> AsyncIterator[StageWorker]:
    worker = StageWorker(load_stage_factory("alerts")(settings), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async def ready() -> bool:
            if task.done():
                task.result()  # a worker that died says why
            return worker.ready

        await eventually(ready, "the alerts worker was assigned store-events")
        yield worker
    finally:
        stop.set()
        await task


async def nothing_else_queued(ws: ClientConnection) -> None:
    """A ping is answered after everything already queued for the socket: pong first means nothing was."""
    await ws.send(json.dumps({"type": "ping"}))
    assert await receive(ws) == {"type": "pong"}


async def gateway_read_past(base: str, settings: Settings, producer: AIOKafkaProducer, conversation_id: str) -> None:
    """Returns once the gateway has read every frame already on `conversation_id`'s partition of
    `frames`: a marker frame for another conversation goes on that partition (the workers' producers
    use the same default partitioner) and the gateway reads a partition in order."""
    topic = settings.topic("frames")
    partitions = sorted(await producer.partitions_for(topic))
    partition = DefaultPartitioner()(conversation_id.encode(), partitions, partitions)
    before = await frames_received(base)
    marker = Frame(f"marker-{conversation_id}", 0, 0, "done")
    await (await producer.send(topic, codec.encode(marker), key=marker.conversation_id.encode(), partition=partition))

    async def marker_read() -> bool:
        return await frames_received(base) > before

    await eventually(marker_read, "the gateway read the marker frame")


async def gateway_metric(base: str, name: str) -> int:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{base}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith(f"aisle_gateway_{name} "))
    return int(float(line.split()[1]))


async def frames_received(base: str) -> int:
    return await gateway_metric(base, "frames_received_total")


class Shop:
    """The store and the store-events topic, changed together as the simulator does."""

    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer, product_id: str) -> None:
        self.settings, self.store, self.producer, self.product_id = settings, store, producer, product_id
        self.published = 0

    async def set_price(self, price_cents: int) -> StoreEvent:
        at_ms = now_ms()
        offer = await self.store.record_price_change(self.product_id, price_cents, True, at_ms, simulated=True)
        event = StoreEvent(self.product_id, offer.seq, "price", offer.price_cents, offer.currency, True, True, at_ms)
        await self.send(event)
        return event

    async def send(self, event: StoreEvent) -> None:
        """Publish (or, for an event sent before, redeliver) one event."""
        topic = self.settings.topic("store-events")
        await (await self.producer.send(topic, codec.encode(event), key=event.product_id.encode()))
        self.published += 1

    async def still_low_and_redelivered(self, drop: StoreEvent, price_cents: int, worker: StageWorker) -> None:
        """Another low price, then `drop` delivered again; returns once the worker has processed all."""
        await self.set_price(price_cents)
        await self.send(drop)
        await self.processed_by(worker, "every store event")

    async def close(self) -> None:
        await self.producer.stop()
        await self.store.close()

    async def processed_by(self, worker: StageWorker, what: str) -> None:
        async def all_processed() -> bool:
            return worker.stats.processed >= self.published

        await eventually(all_processed, f"the alerts worker processed {what}")
        assert worker.stats.dead_lettered == 0


async def open_shop(kafka_settings: Settings, tmp_path: Path) -> tuple[Settings, Product, Shop, Offer]:
    """Settings for one test, a store holding one real product, and its current offer (close the shop)."""
    settings = dataclasses.replace(kafka_settings, home=tmp_path, session_secret="alert-socket-test-secret-0123456789")
    product = next(iter(read_products(settings.shared_data / PRODUCTS_FILE)))
    store = await open_store(settings)
    await load_catalog(store, [product])
    offer = await store.get_offer(product.asin)
    assert offer is not None
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=1)
    await producer.start()
    return settings, product, Shop(settings, store, producer, product.asin), offer


async def test_an_alert_reaches_the_owners_open_socket_once_and_the_alerts_topic_when_offline(
    kafka_settings: Settings, tmp_path: Path,
) -> None:
    settings, product, shop, offer = await open_shop(kafka_settings, tmp_path)
    producer = shop.producer
    threshold = offer.price_cents - 100  # the current price does not fire
    try:
        async with running_gateway(settings) as base, running_alerts_worker(settings) as worker:
            stage = cast(AlertsStage, worker.stage)
            owner, stranger = await new_session(base), await new_session(base)
            ws = await open_socket(base, owner["token"], after_seq={})  # as the web chat's first connect
            other = await open_socket(base, stranger["token"], after_seq={})
            await ws.send(json.dumps({"type": "ask", "text": "tell me when it drops", "page_product_id": product.asin}))
            accepted = await receive(ws)
            assert accepted["type"] == "accepted"

            # The alert set on that turn, as the actions stage registers it.
            rule = AlertRule(
                "al-socket-1", owner["user_id"], owner["conversation_id"], accepted["turn"], product.asin,
                "price_below", threshold, offer.currency, created_at_ms=now_ms(), expires_at_ms=now_ms() + DEFAULT_TTL_MS,
            )
            await (await producer.send(settings.topic("alert-registry"), codec.encode(rule), key=rule.alert_id.encode()))

            async def registered() -> bool:
                return stage.registry.get(rule.alert_id) is not None

            await eventually(registered, "the running alerts worker followed the new alert")

            await shop.set_price(offer.price_cents + 50)  # above: nothing
            drop = await shop.set_price(threshold - 250)  # the drop
            frame = await receive(ws)
            assert (frame["type"], frame["conversation_id"], frame["turn"]) == ("alert", owner["conversation_id"], accepted["turn"])
            assert frame["seq"] == drop.at_ms
            payload = frame["payload"]
            assert (payload["alert_id"], payload["kind"], payload["product_id"]) == (rule.alert_id, "price_below", product.asin)
            assert (payload["price_cents"], payload["threshold_cents"], payload["currency"]) == (
                threshold - 250, threshold, offer.currency)
            assert f"{(threshold - 250) // 100}.{(threshold - 250) % 100:02d}" in frame["text"]

            # Still low (another event, and the drop redelivered): no second frame.
            await shop.still_low_and_redelivered(drop, threshold - 300, worker)
            # The worker's output is acknowledged before it counts an event processed, so a second
            # frame, had one been produced, is on the partition before the marker.
            await gateway_read_past(base, settings, producer, owner["conversation_id"])
            assert await frames_received(base) == 2, "the alert's frame and the marker, nothing more"
            await nothing_else_queued(ws)
            await nothing_else_queued(other)  # the other shopper never sees it
            await ws.close()

            # Offline: back above (re-arms), then a new drop.
            await shop.set_price(threshold + 500)
            second = await shop.set_price(threshold - 400)
            await shop.processed_by(worker, "the offline drop")

            alerts: list[Alert] = []

            async def two_alerts() -> bool:
                alerts[:] = await read_alerts(settings, producer)
                return len(alerts) >= 2

            await eventually(two_alerts, "both firings recorded on `alerts`")
            assert [(a.alert_id, a.user_id, a.seq, a.price_cents, a.threshold_cents) for a in alerts] == [
                (rule.alert_id, owner["user_id"], 0, threshold - 250, threshold),
                (rule.alert_id, owner["user_id"], 1, threshold - 400, threshold),
            ]

            # Back within the resume window: the missed frame, once.
            async def gateway_has_it() -> bool:
                return await frames_received(base) >= 3  # the first alert, the marker, this one

            await eventually(gateway_has_it, "the gateway read the offline alert frame")
            ws = await open_socket(base, owner["token"], after_seq={str(accepted["turn"]): frame["seq"]},
                                   last_turn=accepted["turn"])
            missed = await receive(ws)
            assert (missed["type"], missed["seq"], missed["payload"]["price_cents"]) == ("alert", second.at_ms, threshold - 400)
            await nothing_else_queued(ws)
            await ws.close()
            await other.close()
    finally:
        await shop.close()


async def test_an_alert_reaches_every_open_socket_of_its_user_once_whichever_conversation(
    kafka_settings: Settings, tmp_path: Path,
) -> None:
    settings, product, shop, offer = await open_shop(kafka_settings, tmp_path)
    producer = shop.producer
    threshold = offer.price_cents - 100
    try:
        async with running_gateway(settings) as base, running_alerts_worker(settings) as worker:
            stage = cast(AlertsStage, worker.stage)
            home = await new_session(base)
            # The shopper moved on: a new conversation for the same user, as the web chat's button asks.
            elsewhere = await new_session(base, token=home["token"], new_conversation=True)
            assert elsewhere["user_id"] == home["user_id"]
            assert elsewhere["conversation_id"] != home["conversation_id"]
            stranger = await new_session(base)
            ws_home = await open_socket(base, home["token"], after_seq={})
            ws_elsewhere = await open_socket(base, elsewhere["token"], after_seq={})
            ws_stranger = await open_socket(base, stranger["token"], after_seq={})

            rule = AlertRule(
                "al-socket-2", home["user_id"], home["conversation_id"], 0, product.asin, "price_below",
                threshold, offer.currency, created_at_ms=now_ms(), expires_at_ms=now_ms() + DEFAULT_TTL_MS,
            )
            await (await producer.send(settings.topic("alert-registry"), codec.encode(rule), key=rule.alert_id.encode()))

            async def registered() -> bool:
                return stage.registry.get(rule.alert_id) is not None

            await eventually(registered, "the running alerts worker followed the new alert")
            drop = await shop.set_price(threshold - 250)

            # The alert's own conversation: the frame from `frames`, resumable (it has a seq).
            on_home = await receive(ws_home)
            assert (on_home["type"], on_home["conversation_id"], on_home["turn"], on_home["seq"]) == (
                "alert", home["conversation_id"], 0, drop.at_ms)
            # The other conversation: the same alert, from `alerts`, naming the conversation it was set in.
            on_elsewhere = await receive(ws_elsewhere)
            assert (on_elsewhere["type"], on_elsewhere["conversation_id"], on_elsewhere["turn"]) == (
                "alert", home["conversation_id"], 0)
            assert "seq" not in on_elsewhere
            for message in (on_home, on_elsewhere):
                payload = message["payload"]
                assert (payload["alert_id"], payload["product_id"], payload["price_cents"]) == (
                    rule.alert_id, product.asin, threshold - 250)
            assert f"{(threshold - 250) // 100}.{(threshold - 250) % 100:02d}" in on_elsewhere["text"]

            # Still low, and the drop redelivered: the worker fires nothing more.
            await shop.still_low_and_redelivered(drop, threshold - 300, worker)
            (fired,) = await read_alerts(settings, producer)
            # The Alert delivered twice (at-least-once): the gateway drops the copy.
            topic = settings.topic("alerts")
            await (await producer.send(topic, codec.encode(fired), key=fired.conversation_id.encode()))

            async def gateway_read_both() -> bool:
                return await gateway_metric(base, "alerts_received_total") >= 2

            await eventually(gateway_read_both, "the gateway read the alert and its copy")
            # A second frame on `frames`, had the worker produced one, is read before this marker.
            await gateway_read_past(base, settings, producer, home["conversation_id"])
            for ws in (ws_home, ws_elsewhere, ws_stranger):
                await nothing_else_queued(ws)
            assert await gateway_metric(base, "alerts_delivered_total") == 1
            assert await gateway_metric(base, "alerts_duplicate_total") == 1
            assert await frames_received(base) == 2, "the alert's frame and the marker, nothing more"
            for ws in (ws_home, ws_elsewhere, ws_stranger):
                await ws.close()
    finally:
        await shop.close()


async def read_alerts(settings: Settings, producer: AIOKafkaProducer) -> list[Alert]:
    """Every Alert on the `alerts` topic up to its end offsets now, in firing order."""
    topic = settings.topic("alerts")
    # The producer's metadata names every partition (a fresh consumer's cache is empty until it subscribes).
    partitions = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Alert] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(codec.decode_as(r.value, Alert) for r in records if r.value is not None)
        return sorted(found, key=lambda a: a.seq)
    finally:
        await consumer.stop()

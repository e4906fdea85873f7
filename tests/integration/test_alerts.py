"""Price alerts on the real broker: a price drop on `store-events` reaches the shopper's conversation
on `frames` (and `alerts`), and after a SIGKILL and restart of the alerts worker the same drop does
not fire again while a new drop fires exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import codec
from pipeline.alerts.registry import DEFAULT_TTL_MS
from pipeline.config import Settings
from pipeline.messages import Alert, AlertRule, Frame, StoreEvent

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[2]
CONVERSATION = "conv-alerts"
PRODUCT = "B07ALERT01"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def worker(settings: Settings, home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        AISLE_TOPIC_PREFIX=settings.topic_prefix,
        AISLE_HOME=str(home),
        AISLE_SESSION_TIMEOUT_MS=str(settings.session_timeout_ms),
        AISLE_CONNECT_RETRY_MAX_S=str(settings.connect_retry_max_s),
        PYTHONPATH=str(REPO),
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker", "alerts"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )


class Sink:
    """Everything on `frames` and `alerts`, from the start."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.frames: list[Frame] = []
        self.alerts: list[Alert] = []

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            self.settings.topic("frames"), self.settings.topic("alerts"),
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest", enable_auto_commit=False, fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        value = codec.decode(record.value) if record.value is not None else None
                        if isinstance(value, Frame):
                            self.frames.append(value)
                        elif isinstance(value, Alert):
                            self.alerts.append(value)
        finally:
            await consumer.stop()

    async def wait_for_frames(self, count: int, timeout_s: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.frames) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.frames)} of {count} alert frames in {timeout_s} s; worker log:\n{log.read_text()[-3000:]}"
                )
            await asyncio.sleep(0.05)


    async def wait_for_text(self, text: str, timeout_s: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in f.text for f in self.frames):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no frame with {text!r} in {timeout_s} s: {[f.text for f in self.frames]}; worker log:\n{log.read_text()[-3000:]}"
                )
            await asyncio.sleep(0.05)


async def firing_state_written(settings: Settings, alert_id: str, timeout_s: float) -> None:
    """Waits for the alerts stage's firing-state record of `alert_id` with fired_count >= 1."""
    consumer = AIOKafkaConsumer(settings.topic("alert-registry"), bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    if record.key == f"{alert_id}#state".encode() and record.value is not None:
                        if codec.decode_as(record.value, AlertRule).fired_count >= 1:
                            return
        raise AssertionError(f"no firing state for {alert_id} on alert-registry in {timeout_s} s")
    finally:
        await consumer.stop()


@asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=1)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def publish_event(client: AIOKafkaProducer, settings: Settings, seq: int, price_cents: int) -> None:
    event = StoreEvent(PRODUCT, seq, "price", price_cents, "USD", True, True, now_ms())
    await (await client.send(settings.topic("store-events"), codec.encode(event), key=PRODUCT.encode()))


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
async def test_alert_fires_on_a_drop_and_exactly_once_across_a_sigkill(kafka_settings: Settings, tmp_path: Path) -> None:
    settings = kafka_settings
    log = tmp_path / "alerts.log"
    rule = AlertRule(
        "al-test-1", "user-1", CONVERSATION, 2, PRODUCT, "price_below", 4000, "USD",
        created_at_ms=now_ms(), expires_at_ms=now_ms() + DEFAULT_TTL_MS,
    )
    sink = Sink(settings)
    sink_task = asyncio.create_task(sink.run())
    first = second = None
    try:
        async with producer(settings) as client:
            # Registered as the actions stage does: the definition on the compacted topic.
            await (await client.send(settings.topic("alert-registry"), codec.encode(rule), key=rule.alert_id.encode()))
            first = worker(settings, tmp_path, log)
            await publish_event(client, settings, 1, 4500)
            await publish_event(client, settings, 2, 3900)  # the drop
            await sink.wait_for_frames(1, 60, log)
            frame = sink.frames[0]
            assert (frame.conversation_id, frame.turn, frame.type) == (CONVERSATION, 2, "alert")
            assert "$39.00" in frame.text
            # The firing state on the registry topic before the kill: the restarted worker reads it back.
            await firing_state_written(settings, rule.alert_id, timeout_s=30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

            second = worker(settings, tmp_path, log)
            await publish_event(client, settings, 2, 3900)  # the same drop, replayed
            await publish_event(client, settings, 3, 3800)  # still the same drop
            await publish_event(client, settings, 4, 4600)  # back above: re-arms
            await publish_event(client, settings, 5, 3700)  # a new drop
            # The worker applies one product's events in order and the frames share a key: once the
            # new drop's frame is here, a frame fired twice for the old drop would be here before it.
            await sink.wait_for_text("$37.00", 60, log)

        assert [f.seq for f in sink.frames] == sorted({f.seq for f in sink.frames}), "a frame repeated"
        assert len(sink.frames) == 2, [f.text for f in sink.frames]
        assert "$37.00" in sink.frames[1].text
        deadline = time.monotonic() + 10
        while len(sink.alerts) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [(a.alert_id, a.seq, a.price_cents) for a in sink.alerts] == [("al-test-1", 0, 3900), ("al-test-1", 1, 3700)]
    finally:
        for process in (first, second):
            if process is not None:
                stop(process, signal.SIGTERM)
        sink_task.cancel()
        try:
            await sink_task
        except asyncio.CancelledError:
            pass

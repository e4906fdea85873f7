"""The bus and the stage runtime on the real broker.

    hop          produce -> consume latency of one hop at a steady 1,000 msg/s (p50/p99, ms), after
                 HOP_WARMUP_MESSAGES untimed ones on the same fresh topic
    passthrough  messages/s through one StageWorker running a stage that re-emits each message
    isolation    end-to-end p99 of 1,000 conversations (500 msg/s in all) while one conversation's
                 work sleeps 5 s per message

Needs a broker (`make kafka-up`); topics get a fresh prefix per run. Run `python -m bench.runtime`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._shared import fresh_topics
from pipeline import codec
from pipeline.config import Settings
from pipeline.messages import TokenChunk, UserTurn
from pipeline.runtime.worker import StageWorker
from pipeline.stages.base import Output
from pipeline.stats import percentile

HOP_RATE_PER_S = 1_000
HOP_MESSAGES = 5_000
HOP_WARMUP_MESSAGES = 2_000
"""Sent at the same rate before the timed ones, and not timed. A topic's first second or two after it is
created stalls on this VM (acks of 20-300 ms on a fresh topic, 4-10 ms p99 on the same topic a pass
later, measured 2026-12-05): the cost of creating the bench's own topics, not of a hop."""
PASSTHROUGH_MESSAGES = 20_000
PASSTHROUGH_CONVERSATIONS = 2_000
ISOLATION_CONVERSATIONS = 1_000
ISOLATION_RATE_PER_S = 500
ISOLATION_SECONDS = 10
ISOLATION_SLEEP_S = 5.0


def _now_ns() -> int:
    return time.time_ns()


class _PassThrough:
    """requests -> tokens, one output per input; sleeps when the text asks it to."""

    name = "bench-passthrough"
    input_topic = "requests"
    output_topics = ("tokens",)
    input_type = UserTurn

    async def process(self, message: UserTurn) -> AsyncIterator[Output]:
        if message.text.startswith("sleep:"):
            await asyncio.sleep(float(message.text[6:]))
        yield Output("tokens", message.conversation_id,
                     TokenChunk(message.conversation_id, message.turn, message.seq, message.text, offset=message.sent_at_ms))

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _bench_settings(base: Settings) -> Settings:
    return fresh_topics(base, ("requests", "tokens", "dead-letters"))


async def _consumer(settings: Settings, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                fetch_max_wait_ms=settings.fetch_max_wait_ms)
    await consumer.start()
    return consumer


async def bench_hop(base: Settings) -> dict[str, float]:
    settings = _bench_settings(base)
    consumer = await _consumer(settings, "requests")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0, acks=1)
    await producer.start()
    latencies_ms: list[float] = []

    total = HOP_WARMUP_MESSAGES + HOP_MESSAGES
    read = 0

    async def consume() -> None:
        nonlocal read
        while read < total:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = _now_ns()
                for record in records:
                    read += 1
                    index, sent_ns = map(int, record.key.split(b":"))
                    if index >= HOP_WARMUP_MESSAGES:
                        latencies_ms.append((now - sent_ns) / 1e6)

    try:
        reader = asyncio.create_task(consume())
        await asyncio.sleep(1.0)  # partitions assigned and first fetch issued before we start the clock
        interval_s = 1 / HOP_RATE_PER_S
        start = time.monotonic()
        for i in range(total):
            # Steady rate: wait for this message's slot, then send it.
            delay = start + i * interval_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            turn = UserTurn(f"c{i % 100}", 0, i, "bench", "x")
            await producer.send(settings.topic("requests"), codec.encode(turn), key=f"{i}:{_now_ns()}".encode())
        await asyncio.wait_for(reader, timeout=60)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"messages": float(HOP_MESSAGES), "warmup_messages": float(HOP_WARMUP_MESSAGES), "rate_per_s": float(HOP_RATE_PER_S),
            "p50_ms": percentile(latencies_ms, 50), "p99_ms": percentile(latencies_ms, 99)}


async def _fill(settings: Settings, turns: list[UserTurn]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        for turn in turns:
            turn = dataclasses.replace(turn, sent_at_ms=_now_ns() // 1_000_000)
            await producer.send(settings.topic("requests"), codec.encode(turn), key=turn.conversation_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def bench_passthrough(base: Settings) -> dict[str, float]:
    settings = _bench_settings(base)
    turns = [UserTurn(f"c{i % PASSTHROUGH_CONVERSATIONS}", 0, i // PASSTHROUGH_CONVERSATIONS, "bench", "x")
             for i in range(PASSTHROUGH_MESSAGES)]
    await _fill(settings, turns)  # a backlog, so the stage runs flat out
    worker = StageWorker(_PassThrough(), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    while worker.stats.received == 0:
        await asyncio.sleep(0.01)
    start = time.monotonic()
    while worker.stats.processed < PASSTHROUGH_MESSAGES:
        await asyncio.sleep(0.01)
    elapsed_s = time.monotonic() - start
    stop.set()
    await task
    return {"messages": float(PASSTHROUGH_MESSAGES), "seconds": elapsed_s, "msg_per_s": PASSTHROUGH_MESSAGES / elapsed_s}


async def bench_isolation(base: Settings) -> dict[str, float]:
    """1,000 conversations send at a steady ISOLATION_RATE_PER_S in all while conversation "slow"
    sleeps 5 s on each of its messages; the others' latency should not notice."""
    settings = _bench_settings(base)
    worker = StageWorker(_PassThrough(), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    consumer = await _consumer(settings, "tokens")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    latencies_ms: list[float] = []
    total = ISOLATION_RATE_PER_S * ISOLATION_SECONDS

    async def send(turn: UserTurn) -> None:
        turn = dataclasses.replace(turn, sent_at_ms=_now_ns() // 1_000_000)
        await producer.send(settings.topic("requests"), codec.encode(turn), key=turn.conversation_id.encode())

    async def consume() -> None:
        while len(latencies_ms) < total:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now_ms = _now_ns() / 1e6
                for record in records:
                    chunk = codec.decode_as(record.value, TokenChunk)
                    if chunk.conversation_id.startswith("c"):
                        latencies_ms.append(now_ms - chunk.offset)

    try:
        await send(UserTurn("warm-up", 0, 0, "bench", "x"))
        while not (await consumer.getmany(timeout_ms=100)):
            pass
        reader = asyncio.create_task(consume())
        for seq in range(3):
            await send(UserTurn("slow", 0, seq, "bench", f"sleep:{ISOLATION_SLEEP_S}"))
        start = time.monotonic()
        for i in range(total):
            delay = start + i / ISOLATION_RATE_PER_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            c = i % ISOLATION_CONVERSATIONS
            await send(UserTurn(f"c{c}", 0, i // ISOLATION_CONVERSATIONS, "bench", "x"))
        await asyncio.wait_for(reader, timeout=60)
        slow_still_busy = worker.stats.processed < 1 + total + 3
    finally:
        stop.set()
        await producer.stop()
        await consumer.stop()
        await task
    return {"conversations": float(ISOLATION_CONVERSATIONS), "rate_per_s": float(ISOLATION_RATE_PER_S),
            "slow_conversation_sleep_s": ISOLATION_SLEEP_S, "slow_still_busy_at_end": float(slow_still_busy),
            "others_p50_ms": percentile(latencies_ms, 50), "others_p99_ms": percentile(latencies_ms, 99)}


async def run_async(settings: Settings) -> dict[str, Any]:
    return {
        "hop": await bench_hop(settings),
        "passthrough": await bench_passthrough(settings),
        "isolation": await bench_isolation(settings),
    }


def run(settings: Settings | None = None) -> dict[str, Any]:
    return asyncio.run(run_async(settings or Settings.from_env()))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))

TARGETS = [
    ("one hop p50 ms at 1k msg/s", "hop.p50_ms", "<=", 3.0),
    ("one hop p99 ms at 1k msg/s", "hop.p99_ms", "<=", 10.0),
    ("pass-through stage msg/s", "passthrough.msg_per_s", ">=", 5_000),
    ("others' end-to-end p99 ms while one conversation sleeps 5 s", "isolation.others_p99_ms", "<=", 100.0),
]

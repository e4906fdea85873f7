"""What a consumer's long-poll wait (AISLE_FETCH_MAX_WAIT_MS) costs and buys, on the real broker.

For 5 ms (the default until 2026-12-02) and the configured wait (default 500 ms):

    idle      8 consumers on an empty 12-partition topic for IDLE_S seconds: CPU time of this
              process and of the broker (/proc; the broker's pid from `make kafka-up`), % of a core
    latency   8 conversations each producing a record every 40 ms (the token-chunk pattern), read by
              one consumer: produce -> consume p50 / p99 / max, ms

A record that arrives ends the broker's wait at once, so the wait should cost no latency; a short wait
makes every idle consumer poll. The benchmark pins itself off the LLM server's cores, as workers do.
Needs a broker (`make kafka-up`); a fresh topic per run. `python -m bench polling`.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench._shared import cpu_seconds
from pipeline.config import Settings
from pipeline.runtime.affinity import pin_this_process
from pipeline.stats import percentile

OLD_WAIT_MS = 5
CONSUMERS = 8
PARTITIONS = 12
IDLE_S = 10.0
STREAMS = 8
RECORDS_PER_STREAM = 250
INTERVAL_S = 0.04


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _broker_cpu_s(settings: Settings) -> float | None:
    """CPU seconds so far of the broker started by `make kafka-up`: its pid file names the shell that
    runs java, so the shell's children count too. None for a broker that is not ours."""
    try:
        shell = int((settings.home / "kafka" / "kafka.pid").read_text().strip())
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        return cpu_seconds(shell) + sum(cpu_seconds(int(child)) for child in children)
    except (OSError, ValueError):
        return None


async def _idle(settings: Settings, topic: str, wait_ms: int) -> dict[str, float | None]:
    consumers = [AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                  fetch_max_wait_ms=wait_ms) for _ in range(CONSUMERS)]
    for consumer in consumers:
        await consumer.start()

    async def poll(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=100)

    polling = [asyncio.create_task(poll(c)) for c in consumers]
    try:
        await asyncio.sleep(1.0)  # partitions assigned, first fetches out
        own, broker, started = _own_cpu_s(), _broker_cpu_s(settings), time.monotonic()
        await asyncio.sleep(IDLE_S)
        elapsed = time.monotonic() - started
        own_pct = 100 * (_own_cpu_s() - own) / elapsed
        broker_now = _broker_cpu_s(settings)
        broker_pct = None if broker is None or broker_now is None else 100 * (broker_now - broker) / elapsed
    finally:
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()
    return {"idle_client_pct_of_core": own_pct, "idle_broker_pct_of_core": broker_pct}


async def _latency(settings: Settings, topic: str, wait_ms: int) -> dict[str, float]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                auto_offset_reset="latest", fetch_max_wait_ms=wait_ms)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    latencies: list[float] = []

    async def read() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                latencies.extend((now - float(r.value or b"0")) * 1000 for r in records)

    async def stream(k: int) -> None:
        await asyncio.sleep(k * INTERVAL_S / STREAMS)
        for _ in range(RECORDS_PER_STREAM):
            await producer.send(topic, str(time.monotonic()).encode(), key=f"conversation-{k}".encode())
            await asyncio.sleep(INTERVAL_S)

    reading = asyncio.create_task(read())
    try:
        await asyncio.sleep(1.0)
        await asyncio.gather(*(stream(k) for k in range(STREAMS)))
        await asyncio.sleep(1.0)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
    return {"latency_p50_ms": percentile(latencies, 50), "latency_p99_ms": percentile(latencies, 99),
            "latency_max_ms": max(latencies), "records": float(len(latencies))}


async def run_async(settings: Settings) -> dict[str, Any]:
    pin_this_process(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    idle_topic, stream_topic = (f"bench-polling-{uuid.uuid4().hex[:8]}-{kind}" for kind in ("idle", "stream"))
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (idle_topic, stream_topic)])
    results: dict[str, Any] = {}
    try:
        for wait_ms in sorted({OLD_WAIT_MS, settings.fetch_max_wait_ms}):
            results[f"wait_{wait_ms}ms"] = {**await _idle(settings, idle_topic, wait_ms),
                                            **await _latency(settings, stream_topic, wait_ms)}
    finally:
        await admin.delete_topics([idle_topic, stream_topic])
        await admin.close()
    return results


def run(settings: Settings | None = None) -> dict[str, Any]:
    return asyncio.run(run_async(settings or Settings.from_env()))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))

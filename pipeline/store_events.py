"""`aisle store simulate`: live price and stock changes, published to the store-events topic.

The store simulator (pipeline/store/simulator.py) decides each change and applies it to the store;
this module paces them and publishes each as a StoreEvent keyed by product id, so the alerts stage
and anyone else can react. Everything published is marked simulated.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from pipeline import codec
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.runtime.kafka import make_producer, start_with_retry
from pipeline.store.simulator import next_events
from pipeline.store.sqlite import open_store


async def publish_store_events(
    settings: Settings, *, rate_per_s: float, count: int = 0, seed: int = 1,
    report: Callable[[str], None] = print,
) -> int:
    """Publish `count` events (0: until cancelled) at `rate_per_s`; returns how many were sent."""
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    store = await open_store(settings)
    producer = await start_with_retry(lambda: make_producer(settings), "store simulate", settings)
    rng = random.Random(seed)
    sent = 0
    start = time.monotonic()
    try:
        while count == 0 or sent < count:
            delay = start + sent / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for event in await next_events(store, rng, 1, now_ms=now_ms()):
                await producer.send(settings.topic("store-events"), codec.encode(event), key=event.product_id.encode())
                sent += 1
                if sent % 100 == 0:
                    report(f"{sent} events published")
        await producer.flush()
    finally:
        await producer.stop()
        await store.close()
    return sent

"""Hydrate + render: overhead per token chunk, and frames per second through one worker of each.

    per_chunk     the hydrate and render stages chained in-process (pipeline/runtime/chain.py) on a
                  realistic answer (30-character chunks, a card, a comparison, reviews, suggestions)
                  against the real SQLite store and catalog: milliseconds per chunk, p50/p99 (store
                  lookups included)
    workers       a backlog of answers on `tokens`, one hydrate and one render StageWorker on the broker:
                  hydrated frames per second out of render

Needs the broker and an ingested store (`aisle ingest`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import BenchmarkSkipped
from bench._shared import fresh_topics
from pipeline import codec
from pipeline.catalog import PRODUCTS_FILE, read_products
from pipeline.config import Settings
from pipeline.messages import TokenChunk
from pipeline.runtime.chain import chain, running
from pipeline.runtime.worker import StageWorker
from pipeline.stages.hydrate import HydrateStage
from pipeline.stages.render import RenderStage
from pipeline.stats import percentile
from pipeline.topics import FRAMES

CHUNK_CHARS = 30
TURNS_IN_PROCESS = 50
TURNS_ON_BROKER = 300

TARGETS = [
    ("hydrate+render per chunk p99 ms", "per_chunk.p99_ms", "<=", 5.0),
]


def _answer(ids: list[str], attr: str) -> str:
    a, b = ids[0], ids[1]
    return (
        f"Both are solid picks for the price. <product id=\"{a}\"/> The first is lighter and reviewers like "
        f"how quiet it is. <compare ids=\"{a},{b}\" attrs=\"{attr}\"/> Customers mostly praise the build. "
        f"<reviews id=\"{a}\"/> <suggest>Which one is lighter?|Is it in stock?</suggest>"
    )


def _chunks(conversation: str, text: str, grounded: list[str]) -> list[TokenChunk]:
    pieces = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    out = [TokenChunk(conversation, 0, n, p, n * CHUNK_CHARS, grounded_product_ids=grounded) for n, p in enumerate(pieces)]
    out.append(TokenChunk(conversation, 0, len(pieces), "", len(text), final=True, grounded_product_ids=grounded,
                          context={"user_id": "bench", "question": "q", "intent": "comparison"}))
    return out


def _workload(settings: Settings, turns: int) -> list[list[TokenChunk]]:
    pages = [p for _, p in zip(range(200), read_products(settings.shared_data / PRODUCTS_FILE)) if p.attributes]
    answers = []
    for i in range(turns):
        a, b = pages[i % len(pages)], pages[(i + 1) % len(pages)]
        grounded = [a.asin, b.asin]
        answers.append(_chunks(f"h-{uuid.uuid4().hex[:6]}-{i}", _answer(grounded, a.attributes[0].name), grounded))
    return answers


async def bench_per_chunk(settings: Settings) -> dict[str, float]:
    timings: list[float] = []
    frames = 0
    async with running([HydrateStage(settings), RenderStage(settings)]) as stages:
        for answer in _workload(settings, TURNS_IN_PROCESS):
            for chunk in answer:
                start = time.perf_counter()
                async for out in chain(stages, chunk):
                    if out.topic == FRAMES:
                        frames += 1
                timings.append((time.perf_counter() - start) * 1000)
    return {"chunks": float(len(timings)), "frames": float(frames),
            "p50_ms": percentile(timings, 50), "p99_ms": percentile(timings, 99)}


async def bench_workers(base: Settings) -> dict[str, float]:
    settings = fresh_topics(base, ("tokens", "hydrated", "frames", "responses", "conversation-state", "dead-letters"))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    chunks = 0
    try:
        for answer in _workload(settings, TURNS_ON_BROKER):
            for chunk in answer:
                await producer.send(settings.topic("tokens"), codec.encode(chunk), key=chunk.conversation_id.encode())
                chunks += 1
        await producer.flush()
    finally:
        await producer.stop()
    stop = asyncio.Event()
    hydrate, render = StageWorker(HydrateStage(settings), settings), StageWorker(RenderStage(settings), settings)
    tasks = [asyncio.create_task(hydrate.run(stop)), asyncio.create_task(render.run(stop))]
    while hydrate.stats.received == 0:
        await asyncio.sleep(0.01)
    start = time.monotonic()
    while render.stats.processed + render.stats.duplicates < hydrate.stats.outputs or hydrate.stats.processed < chunks:
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - start
    stop.set()
    await asyncio.gather(*tasks)
    return {"chunks": float(chunks), "frames": float(hydrate.stats.outputs), "seconds": elapsed,
            "frames_per_s": hydrate.stats.outputs / elapsed, "chunks_per_s": chunks / elapsed}


async def run_async(settings: Settings) -> dict[str, Any]:
    if not settings.store_path.exists():
        raise BenchmarkSkipped(f"no store at {settings.store_path}; run `aisle ingest` first")
    return {"per_chunk": await bench_per_chunk(settings), "workers": await bench_workers(settings)}


def run(settings: Settings | None = None) -> dict[str, Any]:
    return asyncio.run(run_async(settings or Settings.from_env()))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))

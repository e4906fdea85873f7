"""Time to first token and throughput through plan + retrieve + generate, against vLLM directly.

In one run, for 1, 8 and 32 concurrent conversations:

    direct     the same prompts streamed straight from the vLLM server (LlmClient); both sides are
               measured with vLLM's prefix cache warm (a first pipeline run builds the prompts)
    pipeline   UserTurns produced to `requests`; plan (rules planner, so the planner's own model time
               is excluded; it is measured by `python -m pipeline.eval.planner`), retrieve and generate
               run as workers in this process; TTFT is request sent -> first TokenChunk on `tokens`

At 1 conversation 16 run one after another, and at 8 conversations 3 rounds (ROUNDS), so a p50 is not
one or a few samples: on this shared 2-core VM, repeated runs of the same code gave overheads 30 ms
apart at 1 conversation and 90 ms apart at 8.
TTFT overhead = pipeline p50 - direct p50 at the same concurrency. Throughput compares characters
per second of answer text (the pipeline sees chunks, not tokens); direct tokens/s is reported too.
Only the model's text counts on the pipeline side: chunks the system states itself (model `direct`:
a review-summary or price-history lead, a closed directive, a fallback) are left out of both TTFT
and throughput. The benchmark process pins itself off the LLM server's cores, as workers do.
Needs the broker, the LLM server (`make llm-up`), the models and an ingested catalog (`aisle ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import BenchmarkSkipped
from bench.runtime import percentile
from pipeline import codec
from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.generation.direct import DIRECT_MODEL
from pipeline.generation.prompt import build_messages
from pipeline.llm.client import LlmClient
from pipeline.llm.router import ModelRouter
from pipeline.messages import EvidenceBundle, TokenChunk, UserTurn
from pipeline.runtime.affinity import pin_this_process
from pipeline.runtime.worker import StageWorker
from pipeline.stages.generate import GenerateStage
from pipeline.stages.plan import build as build_plan
from pipeline.stages.retrieve import RetrieveStage
from pipeline.topics import load_topics

CONCURRENCY = (1, 8, 32)
ROUNDS = {1: 16, 8: 3}
"""Rounds per concurrency (default 1), one after another."""
MAX_TOKENS = 48
QUESTIONS = [
    "is this good for travel?", "how long does the battery last?", "what do reviewers complain about?",
    "is it easy to clean?", "does it come with a warranty?", "what size is it?", "is it loud?",
    "would it make a good gift?",
]

TARGETS = [
    ("pipeline TTFT overhead p50 ms at 1 conversation", "c1.ttft_overhead_p50_ms", "<=", 30.0),
    ("pipeline TTFT overhead p50 ms at 8 conversations", "c8.ttft_overhead_p50_ms", "<=", 30.0),
    ("pipeline / direct aggregate throughput at 8", "c8.throughput_ratio", ">=", 0.9),
    ("pipeline / direct aggregate throughput at 32", "c32.throughput_ratio", ">=", 0.9),
]


def _product_ids(settings: Settings, n: int) -> list[str]:
    from pipeline.catalog import PRODUCTS_FILE, read_products

    return [p.asin for _, p in zip(range(n), read_products(settings.shared_data / PRODUCTS_FILE))]


async def _direct(settings: Settings, bundles: list[EvidenceBundle], n: int) -> dict[str, float]:
    """The bundles' prompts straight to vLLM, n at a time (rounds one after another, as _pipeline)."""
    router = ModelRouter.from_settings(settings)
    ttft: list[float] = []
    chars = tokens = 0
    async with LlmClient(settings) as client:

        async def one(bundle: EvidenceBundle) -> None:
            nonlocal chars, tokens
            start = time.monotonic()
            first = True
            async for chunk in client.stream_chat(build_messages(bundle), model=router.for_answer(bundle.plan),
                                                  max_tokens=MAX_TOKENS, temperature=0.0, seed=0):
                if first and chunk.text:
                    ttft.append((time.monotonic() - start) * 1000)
                    first = False
                chars += len(chunk.text)
                tokens += 1

        started = time.monotonic()
        for first_of_round in range(0, len(bundles), n):
            await asyncio.gather(*(one(b) for b in bundles[first_of_round:first_of_round + n]))
        elapsed = time.monotonic() - started
    return {"ttft_p50_ms": percentile(ttft, 0.5), "ttft_p99_ms": percentile(ttft, 0.99),
            "chars_per_s": chars / elapsed, "tokens_per_s": tokens / elapsed}


async def _pipeline(settings: Settings, n: int, products: list[str]) -> tuple[dict[str, float], list[EvidenceBundle]]:
    """Run n conversations at a time through the stages, in ROUNDS[n] rounds one after another (so a
    p50 at low concurrency is not one sample); returns the measurements and the evidence bundles the
    pipeline built (so `direct` streams exactly the same prompts)."""
    settings = dataclasses.replace(settings, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", generate_max_tokens=MAX_TOKENS,
                                   generate_grammar=False, planner_mode="rules")
    apply_topics(settings, [s for s in load_topics(settings.default_partitions)
                            if s.name in {"requests", "plans", "evidence", "tokens", "dead-letters", "conversation-state",
                                                 "user-memory", "alert-registry"}])
    stop = asyncio.Event()
    workers = [StageWorker(build_plan(settings), settings), StageWorker(RetrieveStage(settings), settings),
               StageWorker(GenerateStage(settings), settings)]
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    tokens = AIOKafkaConsumer(settings.topic("tokens"), settings.topic("evidence"),
                              bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest",
                              fetch_max_wait_ms=5)
    await tokens.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    sent_at: dict[str, float] = {}
    first_at: dict[str, float] = {}
    bundles: dict[str, EvidenceBundle] = {}
    done: set[str] = set()
    counted = [0]  # characters of the model's text, updated by _until_done
    try:
        while not all(w.ready for w in workers):  # stages started (models loaded), partitions assigned
            for task in tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.1)
        start = time.monotonic()
        deadline = time.monotonic() + 600
        rounds = ROUNDS.get(n, 1)
        for r in range(rounds):
            for i in range(r * n, (r + 1) * n):
                conv = f"bench-{i}"
                turn = UserTurn(conv, 0, 0, "bench", QUESTIONS[i % len(QUESTIONS)], page_product_id=products[i % len(products)])
                sent_at[conv] = time.monotonic()
                await producer.send(settings.topic("requests"), codec.encode(turn), key=conv.encode())
            await _until_done(tasks, tokens, (r + 1) * n, deadline, bundles, first_at, done, counted)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        await producer.stop()
        await tokens.stop()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks)
    ttft = [(first_at[c] - sent_at[c]) * 1000 for c in first_at]
    planner = [b.plan.planner_ms for b in bundles.values()]
    return ({"ttft_p50_ms": percentile(ttft, 0.5), "ttft_p99_ms": percentile(ttft, 0.99),
             "chars_per_s": counted[0] / elapsed, "planner_p50_ms": percentile(planner, 0.5) if planner else 0.0,
             "answered": float(len(done))},
            [bundles[c] for c in sorted(bundles, key=lambda c: int(c.rsplit("-", 1)[1]))])


async def _until_done(tasks: list[asyncio.Task[None]], tokens: AIOKafkaConsumer, total: int, deadline: float,
                      bundles: dict[str, EvidenceBundle], first_at: dict[str, float], done: set[str],
                      counted: list[int]) -> None:
    """Read `tokens` and `evidence` until `total` conversations have finished."""
    while len(done) < total and time.monotonic() < deadline:
        for task in tasks:
            if task.done():
                task.result()  # a worker that died (e.g. a missing topic) ends the run with its error
                raise RuntimeError("a stage worker stopped during the benchmark")
        for records in (await tokens.getmany(timeout_ms=100)).values():
            now = time.monotonic()
            for record in records:
                message = codec.decode(record.value)
                if isinstance(message, EvidenceBundle):
                    bundles[message.conversation_id] = message
                elif isinstance(message, TokenChunk):
                    # Text the system added (a fallback, a closed directive) is not model throughput.
                    if message.model != DIRECT_MODEL:
                        if message.text and message.conversation_id not in first_at:
                            first_at[message.conversation_id] = now
                        counted[0] += len(message.text)
                    if message.final:
                        done.add(message.conversation_id)


async def run_async(settings: Settings) -> dict[str, Any]:
    try:
        httpx.get(f"{settings.llm_url}/models", timeout=2.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise BenchmarkSkipped(f"the LLM server at {settings.llm_url} is not reachable ({exc}); run make llm-up") from exc
    # 32 streams on one CPU core: a stream can wait seconds for its next token while others prefill.
    # Both paths get the same patient timeouts, so neither measures a timeout.
    settings = dataclasses.replace(settings, llm_token_timeout_s=30.0, llm_first_token_timeout_s=120.0)
    # Off the LLM server's cores, as `aisle worker` is: both sides' clients and the stages run here.
    pin_this_process(settings)
    products = _product_ids(settings, 50)
    results: dict[str, Any] = {}
    for n in CONCURRENCY:
        # vLLM caches prompt prefixes, so whichever side runs first pays the prefill the other skips.
        # The pipeline runs once to build the bundles (and warm the cache), then direct and pipeline
        # are measured on equal terms: the same prompts, both warm.
        cold, bundles = await _pipeline(settings, n, products)
        direct = await _direct(settings, bundles, n)
        pipeline, _ = await _pipeline(settings, n, products)
        results[f"c{n}"] = {
            "direct": direct,
            "pipeline": pipeline,
            "pipeline_cold_ttft_p50_ms": cold["ttft_p50_ms"],
            "ttft_overhead_p50_ms": pipeline["ttft_p50_ms"] - direct["ttft_p50_ms"],
            "throughput_ratio": pipeline["chars_per_s"] / direct["chars_per_s"] if direct["chars_per_s"] else 0.0,
        }
    return results


def run(settings: Settings | None = None) -> dict[str, Any]:
    return asyncio.run(run_async(settings or Settings.from_env()))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))

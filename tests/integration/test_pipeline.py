"""The whole dataflow on real parts: Kafka, the vLLM server, the SQLite store, the Qdrant index.

plan -> retrieve -> generate -> hydrate -> render run as workers in this process (each its own
consumer group, as in production); a question asked on a product page must come back as frames in
seq order, grounded in the store. Needs `make llm-up` (skips with the reason when the server is not
reachable) and `make models`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import codec
from pipeline.config import Settings
from pipeline.messages import Frame, TurnResponse, UserTurn
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import PassageIndex
from pipeline.retrieval.ingest import ingest_catalog
from pipeline.runtime.service import load_stage_factory
from pipeline.runtime.worker import StageWorker
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import open_store
from pipeline.catalog import read_products, PRODUCTS_FILE

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PRODUCTS = 30


def _llm_up(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.llm_url}/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
async def system(kafka_settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """Store and index for the first PRODUCTS products of the catalog, and all five stages running."""
    if not _llm_up(kafka_settings):
        pytest.skip(f"the vLLM server at {kafka_settings.llm_url} is not reachable (start it: make llm-up)")
    models = REPO / ".aisle" / "models"
    if not (models / "minilm" / "model.onnx").exists():
        pytest.skip("the embedding models are not built (make models)")
    (tmp_path / "models").symlink_to(models)
    settings = dataclasses.replace(kafka_settings, home=tmp_path, generate_max_tokens=60,
                                   planner_deadline_ms=2_000)
    products = [p for _, p in zip(range(PRODUCTS), read_products(settings.shared_data / PRODUCTS_FILE))]
    store = await open_store(settings)
    await load_catalog(store, products)
    await store.close()
    embedder = Embedder(models)
    index = PassageIndex.open(settings, embedder)
    await ingest_catalog(settings, index, limit=PRODUCTS)
    index.close()
    embedder.close()

    stop = asyncio.Event()
    workers = [StageWorker(load_stage_factory(name)(settings), settings)
               for name in ("plan", "retrieve", "generate", "hydrate", "render")]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield settings
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def ask(settings: Settings, turn: UserTurn) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("requests"), codec.encode(turn), key=turn.conversation_id.encode())
    finally:
        await producer.stop()


async def collect_turn(settings: Settings, conversation: str, timeout_s: float) -> tuple[list[Frame], TurnResponse]:
    consumer = AIOKafkaConsumer(settings.topic("frames"), settings.topic("responses"),
                                bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    frames: list[Frame] = []
    response: TurnResponse | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while response is None and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    message = codec.decode(record.value)
                    if isinstance(message, Frame) and message.conversation_id == conversation:
                        frames.append(message)
                    elif isinstance(message, TurnResponse) and message.conversation_id == conversation:
                        response = message
    finally:
        await consumer.stop()
    if response is None:
        raise AssertionError(f"no finished turn in {timeout_s} s; frames so far: {frames}")
    return frames, response


async def test_a_question_on_a_product_page_streams_grounded_frames(system: Settings) -> None:
    settings = system
    page = next(iter(read_products(settings.shared_data / PRODUCTS_FILE)))
    await ask(settings, UserTurn("e2e-1", 0, 0, "shopper-1", "how much is this and is it any good?",
                                 page_product_id=page.asin))
    frames, response = await collect_turn(settings, "e2e-1", timeout_s=240)

    assert [f.seq for f in frames] == list(range(len(frames))), "in seq order, no gaps, no duplicates"
    assert frames[-1].type == "done"
    assert any(f.type == "text" and f.text.strip() for f in frames)
    assert response.question == "how much is this and is it any good?" and response.user_id == "shopper-1"
    assert response.intent and response.text.strip()
    assert {"plan", "retrieve", "generate", "hydrate"} <= set(response.hop_ms), response.hop_ms

    store = await open_store(settings)
    try:
        for frame in frames:
            if frame.type != "card":
                continue
            card = json.loads(frame.payload)
            assert card["product_id"] in response.products_shown
            offer = await store.get_offer(card["product_id"])
            assert offer is not None
            if card.get("live", True):
                assert card["price_cents"] == offer.price_cents, "the card shows the store's current price"
            assert card["simulated"] is True
        known = set(await store.list_product_ids())
    finally:
        await store.close()
    assert set(response.products_shown) <= known, "nothing shown is invented"

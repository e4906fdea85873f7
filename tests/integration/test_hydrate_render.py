"""Hydrate and render on the real broker, fed token chunks directly (no LLM): a comparison becomes a
table of real catalog values, and killing hydrate mid-answer (after it has produced frames, before the
answer ends) leaves the frames topic in seq order with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import codec
from pipeline.catalog import PRODUCTS_FILE, Product, read_products
from pipeline.config import Settings
from pipeline.messages import Frame, TokenChunk
from pipeline.runtime.worker import StageWorker
from pipeline.stages.hydrate import HydrateStage
from pipeline.stages.render import RenderStage
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import open_store
from tests.integration.test_runtime import running, worker_process

pytestmark = pytest.mark.kafka


def products_with_shared_attributes(settings: Settings) -> tuple[Product, Product, str]:
    """Two catalog products that both have a non-empty attribute of the same name."""
    pages = list(read_products(settings.shared_data / PRODUCTS_FILE))
    seen: dict[str, Product] = {}
    for page in pages:
        for attr in page.attributes:
            if not attr.value:
                continue
            other = seen.get(attr.name)
            if other is not None and other.asin != page.asin:
                return other, page, attr.name
            seen.setdefault(attr.name, page)
    raise AssertionError("no two products share an attribute")


@pytest.fixture
async def hydrate_settings(kafka_settings: Settings, tmp_path: Path) -> Settings:
    settings = dataclasses.replace(kafka_settings, home=tmp_path)
    pages = list(read_products(settings.shared_data / PRODUCTS_FILE))
    store = await open_store(settings)
    await load_catalog(store, pages)
    await store.close()
    return settings


def chunks(conversation: str, text: str, grounded: list[str], size: int, turn: int = 0) -> list[TokenChunk]:
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    out = [TokenChunk(conversation, turn, n, piece, n * size, grounded_product_ids=grounded) for n, piece in enumerate(pieces)]
    out.append(TokenChunk(conversation, turn, len(pieces), "", len(text), final=True, grounded_product_ids=grounded,
                          context={"user_id": "u1", "question": "compare them", "intent": "comparison"}))
    return out


async def produce(settings: Settings, records: Iterable[TokenChunk], pause_s: float = 0.0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(settings.topic("tokens"), codec.encode(record), key=record.conversation_id.encode())
            if pause_s:
                await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def frames_of(settings: Settings, conversation: str, timeout_s: float) -> list[Frame]:
    """Every frame of the conversation on the frames topic, until its `done` (or the timeout)."""
    watch = FrameWatch(settings, conversation)
    async with running(watch.run()):
        await watch.until(lambda frames: any(f.type == "done" for f in frames), "the done frame", timeout_s)
    return watch.frames


class FrameWatch:
    """Reads the frames topic from the start and keeps one conversation's frames, in arrival order."""

    def __init__(self, settings: Settings, conversation: str) -> None:
        self.settings = settings
        self.conversation = conversation
        self.frames: list[Frame] = []

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(self.settings.topic("frames"), bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    auto_offset_reset="earliest", enable_auto_commit=False, fetch_max_wait_ms=20)
        await consumer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    self.frames += [f for r in records
                                    if (f := codec.decode_as(r.value, Frame)).conversation_id == self.conversation]
        finally:
            await consumer.stop()

    async def until(self, check: Callable[[list[Frame]], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not check(self.frames):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not within {timeout_s} s; frames: {[(f.turn, f.seq, f.type) for f in self.frames]}")
            await asyncio.sleep(0.05)


async def until_logged(log: Path, marker: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while marker not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"{log.name} did not say {marker!r} within {timeout_s} s:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def test_a_comparison_shows_the_catalog_values(hydrate_settings: Settings) -> None:
    settings = hydrate_settings
    first, second, attr = products_with_shared_attributes(settings)
    text = f'Here they are side by side. <compare ids="{first.asin},{second.asin}" attrs="{attr}"/> Both are fine.'
    stop = asyncio.Event()
    async with running(StageWorker(HydrateStage(settings), settings).run(stop),
                       StageWorker(RenderStage(settings), settings).run(stop)):
        await produce(settings, chunks("cmp-1", text, [first.asin, second.asin], size=7))
        frames = await frames_of(settings, "cmp-1", timeout_s=60)
        stop.set()
    compare = [json.loads(f.payload) for f in frames if f.type == "compare"]
    assert len(compare) == 1, frames
    table = compare[0]
    assert table["product_ids"] == [first.asin, second.asin]
    row = next(r for r in table["rows"] if r["attr"] == attr)
    assert row["values"] == [first.attribute(attr), second.attribute(attr)], "values are the catalog's, not guessed"
    assert "".join(f.text for f in frames if f.type == "text").startswith("Here they are side by side.")


async def test_killing_hydrate_mid_answer_leaves_no_gap_or_duplicate(hydrate_settings: Settings, tmp_path: Path) -> None:
    settings = hydrate_settings
    first, second, _ = products_with_shared_attributes(settings)
    sentence = "A sentence of the answer that streams slowly, word by word. "
    text = sentence * 6 + f'<product id="{first.asin}"/> ' + sentence * 6 + f'<product id="{second.asin}"/> The end.'
    stream = chunks("restart-1", text, [first.asin, second.asin], size=12)
    # A second turn after the first, on the same key: hydrate and render keep each conversation's
    # order, so once its `done` arrives, anything the restarted hydrate repeated of turn 0 has too.
    after = chunks("restart-1", "And that was all.", [], size=12, turn=1)
    stop = asyncio.Event()
    watch = FrameWatch(settings, "restart-1")
    log = tmp_path / "hydrate-1.log"
    hydrate = worker_process(settings, "hydrate", log)
    restarted = None
    try:
        async with running(StageWorker(RenderStage(settings), settings).run(stop), watch.run()):
            await until_logged(log, "assigned", 60)  # hydrate joined its group
            half = len(stream) // 2
            await produce(settings, stream[:half], pause_s=0.05)
            await watch.until(lambda frames: any(f.type == "text" for f in frames), "frames of the first half", 60)
            hydrate.send_signal(signal.SIGKILL)
            hydrate.wait(timeout=10)
            before_kill = list(watch.frames)
            restarted = worker_process(settings, "hydrate", tmp_path / "hydrate-2.log")
            await produce(settings, stream[half:] + after, pause_s=0.05)
            await watch.until(lambda frames: any(f.turn == 1 and f.type == "done" for f in frames), "turn 1's done", 90)
            stop.set()
    finally:
        for proc in (hydrate, restarted):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=40)
    # Killed mid-answer: hydrate had produced frames, and the answer had not ended.
    assert any(f.type == "text" for f in before_kill) and not any(f.type == "done" for f in before_kill), before_kill
    frames = [f for f in watch.frames if f.turn == 0]
    assert [f.seq for f in frames] == list(range(len(frames))), [(f.seq, f.type) for f in frames]
    assert frames[-1].type == "done"
    shown = "".join(f.text for f in frames if f.type == "text")
    assert shown.count("word by word.") == 12, "every sentence exactly once"
    assert [json.loads(f.payload)["product_id"] for f in frames if f.type == "card"] == [first.asin, second.asin]

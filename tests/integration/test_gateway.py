"""The gateway on a real broker and a real uvicorn server: asks reach `requests`, frames reach only their
conversation's socket in order, and a reconnect with resume gets the rest exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import codec
from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.messages import Frame, UserTurn
from pipeline.topics import load_topics
from tests.integration.gateway_client import RECEIVE_TIMEOUT_S, new_session, open_socket, receive, running_gateway

pytestmark = pytest.mark.kafka


@pytest.fixture
async def gateway_settings(kafka_bootstrap: str) -> Settings:
    """Fresh requests/frames/feedback topics under a unique prefix."""
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"test-gw-{uuid.uuid4().hex[:10]}.",
        session_secret="integration-test-secret-0123456789",
    )
    specs = [dataclasses.replace(s, partitions=3) for s in load_topics(3) if s.name in {"requests", "frames", "feedback"}]
    await asyncio.to_thread(apply_topics, settings, specs)
    return settings


@pytest.fixture
async def gateway(gateway_settings: Settings) -> AsyncIterator[tuple[Settings, str]]:
    async with running_gateway(gateway_settings) as base:
        yield gateway_settings, base


async def frames_received(base: str) -> int:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{base}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("aisle_gateway_frames_received_total "))
    return int(float(line.split()[1]))


async def wait_for_frames(base: str, count: int) -> None:
    deadline = time.monotonic() + RECEIVE_TIMEOUT_S
    while await frames_received(base) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"gateway did not read {count} frames")
        await asyncio.sleep(0.05)


async def produce_frames(settings: Settings, frames: list[Frame]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=1)
    await producer.start()
    try:
        for frame in frames:
            await producer.send(settings.topic("frames"), codec.encode(frame), key=frame.conversation_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def text_frame(conversation_id: str, turn: int, seq: int) -> Frame:
    return Frame(conversation_id, turn, seq, "text", text=f"{conversation_id[-4:]}:{turn}.{seq}")


async def test_an_ask_becomes_a_user_turn_on_requests(gateway: tuple[Settings, str]) -> None:
    settings, base = gateway
    session = await new_session(base)
    ws = await open_socket(base, session["token"])
    await ws.send(json.dumps({"type": "ask", "text": "a kettle under $40?", "page_product_id": "B0KETTLE"}))
    assert await receive(ws) == {"type": "accepted", "turn": 0}
    await ws.close()

    consumer = AIOKafkaConsumer(
        settings.topic("requests"), bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), RECEIVE_TIMEOUT_S)
    finally:
        await consumer.stop()
    turn = codec.decode_as(record.value, UserTurn)
    assert record.key == session["conversation_id"].encode()
    assert (turn.conversation_id, turn.user_id, turn.turn) == (session["conversation_id"], session["user_id"], 0)
    assert (turn.text, turn.page_product_id) == ("a kettle under $40?", "B0KETTLE")
    assert dict(record.headers).keys() >= {"aisle-hop:gateway:in", "aisle-hop:gateway:out"}


async def test_frames_reach_only_their_conversation_in_order_and_resume_exactly_once(
    gateway: tuple[Settings, str],
) -> None:
    settings, base = gateway
    a, b = await new_session(base), await new_session(base)
    conv_a, conv_b = a["conversation_id"], b["conversation_id"]
    ws_a = await open_socket(base, a["token"], after_seq={})
    ws_b = await open_socket(base, b["token"], after_seq={})

    interleaved = [f for seq in range(4) for f in (text_frame(conv_a, 0, seq), text_frame(conv_b, 0, seq))]
    await produce_frames(settings, interleaved)
    got_a = [await receive(ws_a) for _ in range(4)]
    got_b = [await receive(ws_b) for _ in range(4)]
    assert [(f["conversation_id"], f["seq"]) for f in got_a] == [(conv_a, s) for s in range(4)]
    assert [(f["conversation_id"], f["seq"]) for f in got_b] == [(conv_b, s) for s in range(4)]
    await ws_a.close()

    # While A is away: more of its turn, plus a redelivery of a frame it already has.
    await produce_frames(settings, [text_frame(conv_a, 0, s) for s in (4, 5, 6, 3)])
    await wait_for_frames(base, 12)
    ws_a = await open_socket(base, a["token"], after_seq={"0": got_a[-1]["seq"]})
    await produce_frames(settings, [text_frame(conv_a, 0, 7), text_frame(conv_a, 1, 0)])
    rest = [await receive(ws_a) for _ in range(5)]
    await ws_a.send(json.dumps({"type": "ping"}))
    assert await receive(ws_a) == {"type": "pong"}  # nothing else was queued: no duplicates
    assert [(f["turn"], f["seq"]) for f in rest] == [(0, 4), (0, 5), (0, 6), (0, 7), (1, 0)]
    assert {f["conversation_id"] for f in rest} == {conv_a}
    await ws_b.send(json.dumps({"type": "ping"}))
    assert await receive(ws_b) == {"type": "pong"}  # B never saw A's frames
    await ws_a.close()
    await ws_b.close()


async def test_a_client_resumes_on_another_gateway_process(gateway_settings: Settings) -> None:
    """Each process reads every frame (no consumer group), so any of them can serve a resume."""
    settings = gateway_settings
    async with running_gateway(settings) as first, running_gateway(settings) as second:
        session = await new_session(first)
        conv = session["conversation_id"]
        ws = await open_socket(first, session["token"], after_seq={})
        await produce_frames(settings, [text_frame(conv, 0, s) for s in range(3)])
        got = [await receive(ws) for _ in range(2)]
        await ws.close()  # the first process "dies" for this client after two frames
        await wait_for_frames(second, 3)
        ws = await open_socket(second, session["token"], after_seq={"0": got[-1]["seq"]})
        await produce_frames(settings, [text_frame(conv, 0, 3)])
        rest = [await receive(ws) for _ in range(2)]
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
        assert [f["seq"] for f in got + rest] == [0, 1, 2, 3]
        await ws.close()

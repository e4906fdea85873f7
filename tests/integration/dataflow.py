"""Talking to the running dataflow as a client would: ask on `requests`, read a turn back from
`frames` and `responses`, read a topic from the start. Shared by the end-to-end tests."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import codec
from pipeline.config import Settings
from pipeline.messages import Frame, TurnResponse, UserTurn


async def ask(settings: Settings, turn: UserTurn) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("requests"), codec.encode(turn), key=turn.conversation_id.encode())
    finally:
        await producer.stop()


async def turn_of(settings: Settings, conversation: str, turn: int, timeout_s: float = 300) -> tuple[list[Frame], TurnResponse]:
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
                    if getattr(message, "conversation_id", None) != conversation or getattr(message, "turn", None) != turn:
                        continue
                    if isinstance(message, Frame):
                        frames.append(message)
                    elif isinstance(message, TurnResponse):
                        response = message
    finally:
        await consumer.stop()
    if response is None:
        raise AssertionError(f"turn {turn} of {conversation} did not finish in {timeout_s} s; frames: {frames}")
    return frames, response


async def records_of(settings: Settings, topic: str) -> list[object]:
    consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3_000)
        return [codec.decode(r.value) for records in batches.values() for r in records]
    finally:
        await consumer.stop()

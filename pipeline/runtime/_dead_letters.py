"""The records the worker writes to `dead-letters`, the reasons it gives, and the sending of both a
dead letter and the error frames that end its turn (runtime/turn_errors.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from aiokafka import ConsumerRecord

from pipeline import codec, topics
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import ContractError
from pipeline.messages import DeadLetter
from pipeline.runtime._producer import RenewableProducer
from pipeline.runtime.turn_errors import turn_error_frames, turn_of

REASON_MAX_CHARS = 2_000


def letter_for(stage: str, record: ConsumerRecord[bytes, bytes], exc: BaseException) -> DeadLetter:
    """The dead letter for `record`, which failed in `stage` with `exc` (its notes say how many tries)."""
    reason = "; ".join([str(exc) or type(exc).__name__, *getattr(exc, "__notes__", ())])
    return DeadLetter(
        stage=stage,
        reason=reason[:REASON_MAX_CHARS],
        error_type=type(exc).__name__,
        origin_topic=record.topic,
        origin_partition=record.partition,
        origin_offset=record.offset,
        key=record.key,
        value=record.value,
        headers={k: v.decode("utf-8", "replace") for k, v in record.headers or ()},
        failed_at_ms=now_ms(),
    )


def unfinished_turn(key: Hashable, turn: Any, records: int, timeout_s: float) -> ContractError:
    """The reason a held turn is dead-lettered (runtime/_turns.py)."""
    return ContractError(
        f"unfinished turn: turn {turn} of key {key!r} had no message for {timeout_s:.0f} s "
        f"(AISLE_TURN_HOLD_TIMEOUT_S); its {records} records were released so the partition's "
        "commit position moves on"
    )


async def send_dead_letter(producer: RenewableProducer, settings: Settings, letter: DeadLetter,
                           record: ConsumerRecord[bytes, bytes]) -> bool:
    """Write `letter` and, when `record` belongs to a shopper's turn, the error frames that end that
    turn; wait for every acknowledgement (the first failure is raised). True when a turn was ended.

    Both go out before the record counts as finished, so a crash in between redelivers the record and
    both are written again: the letter is then a repeat operators see twice, the frames are dropped
    by (conversation, turn, seq) wherever frames are read."""
    acks = [await producer.send(settings.topic(topics.DEAD_LETTERS), codec.encode(letter), key=record.key)]
    turn = turn_of(record.value)
    if turn is not None:
        conversation, number = turn
        for frame in turn_error_frames(conversation, number):
            acks.append(await producer.send(settings.topic(topics.FRAMES), codec.encode(frame), key=conversation.encode()))
    results = await asyncio.gather(*acks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return turn is not None

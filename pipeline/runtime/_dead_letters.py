"""The records the worker writes to `dead-letters`, and the reasons it gives."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from aiokafka import ConsumerRecord

from pipeline.clock import now_ms
from pipeline.errors import ContractError
from pipeline.messages import DeadLetter

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

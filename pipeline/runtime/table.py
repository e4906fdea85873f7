"""A changelog-backed table: a topic read from the beginning at start, then followed.

A stage that keeps state across restarts (the alerts stage's registry) writes every change as a
record to a compacted topic, keyed by what changed. `ChangelogTable.start()` reads that topic from
offset 0 up to the end offsets it finds, handing each decoded record to `apply(key, value)` (value
None for a tombstone), and returns only when the table has caught up. It then keeps following the
topic in a background task, so records written by other processes (the actions stage registering an
alert) reach the stage while it runs. `put` writes through and waits for the broker's ack.

No consumer group: every process reads every partition, so each holds the whole table. That is
right for tables that fit in memory (alerts: one small record per alert); a table too big for that
would be partitioned like its input and restored per assigned partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline import codec
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, DecodeError
from pipeline.runtime.kafka import make_consumer, make_producer, start_with_retry

log = logging.getLogger(__name__)

Apply = Callable[[str, Any], None]
"""Called with (key, decoded value or None for a tombstone), in each partition's offset order."""

_POLL_TIMEOUT_MS = 200
_METADATA_WAIT_S = 10.0


class ChangelogTable:
    """Restore-then-follow reader of one compacted topic, with write-through `put`."""

    def __init__(self, settings: Settings, topic: str, apply: Apply, *, what: str = "table") -> None:
        self.settings = settings
        self.topic = topic
        self.what = what
        self.restored = 0
        """Records read during the restore."""
        self._apply = apply
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._follow: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Restore the whole topic, then follow it. Raises BrokerUnavailableError."""
        try:
            await self._restore()
        except BaseException:
            await self.stop()
            raise
        self._follow = asyncio.create_task(self._follow_forever(), name=f"{self.what}-follow")

    async def _restore(self) -> None:
        name = self.settings.topic(self.topic)
        self._producer = await start_with_retry(lambda: make_producer(self.settings), self.what, self.settings)
        self._consumer = await start_with_retry(
            lambda: make_consumer(self.settings, None), self.what, self.settings
        )
        partitions = await self._partitions(name)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        try:
            end = await self._consumer.end_offsets(partitions)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"cannot read the end offsets of {name}: {exc}") from exc
        pending = {tp for tp, offset in end.items() if offset > 0}
        while pending:
            for records in (await self._consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS)).values():
                self._apply_all(records)
                self.restored += len(records)
            for tp in list(pending):
                if await self._consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        log.info("%s: restored %d records from %s", self.what, self.restored, name)

    async def put(self, key: str, value: Any) -> None:
        """Write one record (None: a tombstone) and wait for the ack; raises BrokerUnavailableError.

        The record also comes back through the follower, so `apply` must accept a value it has
        already applied (tables here merge by version, so a repeat is a no-op).
        """
        if self._producer is None:
            raise RuntimeError(f"{self.what} is not started")
        data = None if value is None else codec.encode(value)
        try:
            ack = await self._producer.send(self.settings.topic(self.topic), data, key=key.encode())
            await ack
        except KafkaError as exc:
            raise BrokerUnavailableError(f"cannot write {self.topic}: {exc}") from exc

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _partitions(self, name: str) -> list[TopicPartition]:
        if self._producer is None:
            raise RuntimeError(f"{self.what} is not started")
        try:
            # The producer fetches metadata for any topic; an unsubscribed consumer knows none.
            found = await asyncio.wait_for(self._producer.partitions_for(name), _METADATA_WAIT_S)
        except (KafkaError, asyncio.TimeoutError) as exc:
            raise BrokerUnavailableError(f"topic {name} is not there (run `aisle topics apply`): {exc}") from exc
        return [TopicPartition(name, p) for p in sorted(found)]

    async def _follow_forever(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS)
            except KafkaError as exc:
                log.warning("%s: reading %s failed (%s); retrying", self.what, self.topic, exc)
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                self._apply_all(records)

    def _apply_all(self, records: list[Any]) -> None:
        for record in records:
            key = record.key.decode("utf-8", "replace") if record.key is not None else ""
            try:
                value = None if record.value is None else codec.decode(record.value)
            except DecodeError as exc:
                # One bad record must not stop the restore; it is logged and skipped.
                log.warning("%s: skipping undecodable record at %s[%d]@%d: %s", self.what, record.topic,
                            record.partition, record.offset, exc)
                continue
            self._apply(key, value)

"""In-memory stand-ins for aiokafka's consumer and producer, for the worker's unit tests.

They keep the parts of the contract the worker relies on: a consumer delivers records in offset
order per partition, commits are recorded, rebalance listeners are called; a producer's `send`
returns a future that resolves on "acknowledgement" or fails with a scripted error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from pipeline import codec


def record(tp: TopicPartition, offset: int, value: Any, key: str) -> ConsumerRecord[bytes, bytes]:
    body = codec.encode(value)
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, key.encode(), body, None, len(key), len(body), [])


class FakeConsumer:
    def __init__(self, partitions: set[TopicPartition]) -> None:
        self.assigned = set(partitions)
        self.inbox: asyncio.Queue[ConsumerRecord[bytes, bytes]] = asyncio.Queue()
        self.commits: list[dict[TopicPartition, int]] = []
        self.listener: Any = None
        self.highwaters: dict[TopicPartition, int] = {}  # the log end a fetch reported, per partition

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)

    def pause(self, *tps: TopicPartition) -> None: ...

    def resume(self, *tps: TopicPartition) -> None: ...

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        try:
            first = await asyncio.wait_for(self.inbox.get(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            return {}
        return {TopicPartition(first.topic, first.partition): [first]}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def committed(self, tp: TopicPartition) -> int | None:
        positions = [c[tp] for c in self.commits if tp in c]
        return positions[-1] if positions else None

    async def revoke(self, tps: set[TopicPartition]) -> None:
        await self.listener.on_partitions_revoked(tps)
        self.assigned -= tps


class FakeProducer:
    """Sends succeed unless `failures` (shared by every producer of one test) has errors left."""

    def __init__(self, failures: list[BaseException], sent: list[tuple[str, bytes | None, Any]]) -> None:
        self.failures, self.sent = failures, sent
        self.stopped = False

    async def start(self) -> None: ...

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                   headers: Any = None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.stopped:
            raise RuntimeError("send on a stopped producer")
        if self.failures:
            future.set_exception(self.failures.pop(0))
        else:
            self.sent.append((topic, key, codec.decode(value) if value is not None else None))
            future.set_result(None)
        return future


class Clients:
    """The factories a StageWorker takes in `make_clients`, and what they made."""

    def __init__(self, consumer: FakeConsumer, failures: list[BaseException] | None = None) -> None:
        self.consumer = consumer
        self.failures = failures if failures is not None else []
        self.sent: list[tuple[str, bytes | None, Any]] = []
        self.producers: list[FakeProducer] = []

    def factories(self) -> tuple[Callable[[], FakeConsumer], Callable[[], FakeProducer]]:
        def producer() -> FakeProducer:
            self.producers.append(FakeProducer(self.failures, self.sent))
            return self.producers[-1]

        return (lambda: self.consumer), producer

    def to(self, topic: str) -> list[Any]:
        return [value for t, _, value in self.sent if t == topic]


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a positive signal (never a fixed sleep); fails the test after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)

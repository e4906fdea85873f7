"""The worker against in-memory clients: retries, producer renewal, revoke fencing, held-turn bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import TopicPartition
from aiokafka import errors as kafka_errors

from pipeline.config import Settings
from pipeline.messages import DeadLetter, TokenChunk
from pipeline.runtime.worker import StageWorker
from pipeline.stages.base import Output
from tests.unit.runtime.fakes import Clients, FakeConsumer, record, until

TP = TopicPartition("t.tokens", 0)
SETTINGS = Settings(topic_prefix="t.", commit_interval_ms=5, retry_backoff_ms=1, retry_backoff_max_ms=4,
                    retry_max_s=2.0, connect_retry_max_s=1.0, turn_hold_timeout_s=60.0)


class Echo:
    name, input_topic, output_topics = "echo", "tokens", ("frames",)

    def __init__(self, gate: asyncio.Event | None = None, fail: BaseException | None = None) -> None:
        self.gate, self.fail, self.started = gate, fail, 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        yield Output("frames", message.conversation_id, message)


class TurnEcho(Echo):
    def ends_turn(self, message: TokenChunk) -> bool:
        return message.final


def chunk(seq: int, conversation: str = "c1", final: bool = False) -> TokenChunk:
    return TokenChunk(conversation, 1, seq, f"t{seq}", seq, final=final)


async def run(worker: StageWorker, clients: Clients, check: Any) -> None:
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    try:
        await check()
    finally:
        stopping.set()
        await task


async def test_transient_broker_errors_are_retried_in_order_not_dead_lettered() -> None:
    clients = Clients(FakeConsumer({TP}), [kafka_errors.LeaderNotAvailableError(), kafka_errors.RequestTimedOutError()])
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        for offset in range(2):
            clients.consumer.inbox.put_nowait(record(TP, offset, chunk(offset), "c1"))
        await until(lambda: clients.consumer.committed(TP) == 2)

    await run(worker, clients, check)
    assert [c.seq for c in clients.to("t.frames")] == [0, 1]
    assert clients.to("t.dead-letters") == [] and worker.stats.retries == 2


async def test_poison_is_dead_lettered_at_once_and_a_lasting_outage_after_the_budget() -> None:
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Echo(fail=ValueError("bug")), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    assert worker.stats.retries == 0 and len(clients.to("t.dead-letters")) == 1

    short = Settings(**{**SETTINGS.__dict__, "retry_max_s": 0.05, "extra": {}})
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Echo(fail=TimeoutError("store")), short, make_clients=clients.factories())
    await run(worker, clients, check)
    letter: DeadLetter = clients.to("t.dead-letters")[0]
    assert worker.stats.retries >= 2 and "gave up after" in letter.reason


async def test_an_output_to_a_topic_the_stage_did_not_declare_is_dead_lettered() -> None:
    class Undeclared(Echo):
        output_topics = ("responses",)

    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Undeclared(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    letter: DeadLetter = clients.to("t.dead-letters")[0]
    assert worker.stats.retries == 0 and letter.error_type == "ContractError" and "'frames'" in letter.reason


async def test_a_fatal_idempotence_error_renews_the_producer_and_resends() -> None:
    clients = Clients(FakeConsumer({TP}), [kafka_errors.OutOfOrderSequenceNumber()])
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    assert len(clients.producers) == 2 and clients.producers[0].stopped
    assert [c.seq for c in clients.to("t.frames")] == [0] and clients.to("t.dead-letters") == []


async def test_a_revoked_partition_stops_producing_on_the_old_owner() -> None:
    gate = asyncio.Event()
    stage = Echo(gate=gate)
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(stage, SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: stage.started == 1)
        await clients.consumer.revoke({TP})
        gate.set()
        clients.consumer.inbox.put_nowait(record(TopicPartition("t.tokens", 1), 0, chunk(0, "c2"), "c2"))
        await until(lambda: len(clients.to("t.frames")) >= 1)

    await run(worker, clients, check)
    assert [c.conversation_id for c in clients.to("t.frames")] == ["c2"], "the revoked record was still produced"
    assert worker.stats.revoked == 1


async def test_an_unfinished_turn_is_dead_lettered_after_the_hold_timeout() -> None:
    now = [0.0]
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(TurnEcho(), SETTINGS, make_clients=clients.factories(), clock_s=lambda: now[0])

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: worker.stats.processed == 1)
        assert clients.consumer.committed(TP) is None  # held: the turn has not ended
        now[0] = 61.0
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    letter: DeadLetter = clients.to("t.dead-letters")[0]
    assert "unfinished turn" in letter.reason and letter.origin_offset == 0

"""Every turn ends: a dead letter on a turn's path ends that turn with error frames, once (issue 16)."""

from __future__ import annotations

import dataclasses
import json

from aiokafka import TopicPartition
from aiokafka import errors as kafka_errors

from pipeline import codec
from pipeline.messages import DeadLetter, Frame, StoreEvent, TokenChunk, UserTurn
from pipeline.runtime.turn_errors import SHOPPER_MESSAGE, TURN_ERROR_SEQ, turn_error_frames, turn_of
from pipeline.runtime.worker import StageWorker
from tests.unit.runtime.fakes import Clients, FakeConsumer, record, until
from tests.unit.runtime.test_worker import SETTINGS, TP, Echo, TurnEcho, chunk, run


def test_a_record_on_the_answer_path_names_its_turn_and_others_none() -> None:
    assert turn_of(codec.encode(UserTurn("c1", 3, 0, "u", "hi"))) == ("c1", 3)
    assert turn_of(codec.encode(TokenChunk("c1", 2, 5, "t", 0))) == ("c1", 2)
    assert turn_of(codec.encode(Frame("c1", 4, 1, "text", "x"))) == ("c1", 4)
    assert turn_of(codec.encode(StoreEvent("B01", 0, "price", 100, "USD", True, True, 0))) is None
    assert turn_of(b"\x00not avro") is None and turn_of(None) is None
    assert turn_of(codec.encode(UserTurn("", 0, 0, "u", "hi"))) is None


def test_the_error_frames_are_the_same_for_every_attempt_and_say_what_to_do() -> None:
    first, again = turn_error_frames("c1", 2), turn_error_frames("c1", 2)
    assert first == again and [codec.encode(f) for f in first] == [codec.encode(f) for f in again]
    error, done = first
    assert (error.type, error.seq, done.type, done.seq) == ("error", TURN_ERROR_SEQ, "done", TURN_ERROR_SEQ + 1)
    payload = json.loads(error.payload)
    assert payload["reason"] == SHOPPER_MESSAGE and payload["retriable"] is True
    assert json.loads(done.payload)["error"] is True


async def test_poison_on_a_turn_ends_it_with_error_frames_once_even_when_redelivered() -> None:
    sent: list[Frame] = []
    for _ in range(2):  # the second worker gets the record again, as after a crash before the commit
        clients = Clients(FakeConsumer({TP}))
        worker = StageWorker(Echo(fail=ValueError("bug")), SETTINGS, make_clients=clients.factories())

        async def check() -> None:
            clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
            await until(lambda: clients.consumer.committed(TP) == 1)

        await run(worker, clients, check)
        assert worker.stats.dead_lettered == 1 and worker.stats.turns_ended_with_error == 1
        assert [k for t, k, _ in clients.sent if t == "t.frames"] == [b"c1"] * 2
        sent.extend(clients.to("t.frames"))
    assert [(f.type, f.seq) for f in sent] == [("error", TURN_ERROR_SEQ), ("done", TURN_ERROR_SEQ + 1)] * 2
    assert sent[:2] == sent[2:], "the repeat has the same (conversation, turn, seq), so clients drop it"


async def test_an_undecodable_record_is_dead_lettered_without_frames() -> None:
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())
    bad = dataclasses.replace(record(TP, 0, chunk(0), "c1"), value=b"garbage")

    async def check() -> None:
        clients.consumer.inbox.put_nowait(bad)
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    assert len(clients.to("t.dead-letters")) == 1 and clients.to("t.frames") == []


async def test_a_held_turn_released_by_the_timeout_gets_its_error_frames() -> None:
    now = [0.0]
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(TurnEcho(), SETTINGS, make_clients=clients.factories(), clock_s=lambda: now[0])

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: worker.stats.processed == 1)
        now[0] = 61.0
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    frames = clients.to("t.frames")
    assert [getattr(f, "type", "chunk") for f in frames] == ["chunk", "error", "done"]
    assert "unfinished turn" in clients.to("t.dead-letters")[0].reason


async def test_a_dead_letter_that_meets_a_broker_restart_is_retried_not_fatal() -> None:
    # The stage's send fails for good (poison); then the dead letter's first attempt meets a broker
    # that lost the idempotent producer's state and timeouts: the producer is renewed and it is sent.
    clients = Clients(FakeConsumer({TP}), [ValueError("bug"), kafka_errors.OutOfOrderSequenceNumber(),
                                           kafka_errors.KafkaTimeoutError(), kafka_errors.KafkaTimeoutError()])
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(record(TP, 0, chunk(0), "c1"))
        await until(lambda: clients.consumer.committed(TP) == 1)

    await run(worker, clients, check)
    letters: list[DeadLetter] = clients.to("t.dead-letters")
    assert letters and {f.seq for f in clients.to("t.frames")} == {TURN_ERROR_SEQ, TURN_ERROR_SEQ + 1}
    assert worker.stats.retries == 1 and len(clients.producers) == 2 and worker._fatal is None

"""The replay through a broker outage: one line when it starts, one when it ends, a clear error when it
lasts, and no librdkafka in the replay (issue 16)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from pipeline.errors import BrokerUnavailableError
from pipeline.replay._broker import Outage, lag_total, retrying

REPLAY = Path(__file__).resolve().parents[3] / "pipeline" / "replay"


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends() -> None:
    outage = Outage("127.0.0.1:9092", give_up_s=60.0)
    lines = [outage.failed(t, KafkaConnectionError()) for t in (10.0, 10.5, 11.0, 29.0)]
    assert lines[0] is not None and "unreachable" in lines[0] and "60 s" in lines[0]
    assert lines[1:] == [None, None, None]
    assert outage.succeeded(30.0) == "replay: Kafka at 127.0.0.1:9092 is back after 20.0 s"
    assert outage.succeeded(31.0) is None
    assert outage.failed(40.0, KafkaTimeoutError()) is not None, "a second outage is said again"
    assert outage.outages == 2 and outage.down_s_total == 20.0


def test_an_outage_that_lasts_stops_with_a_clear_error() -> None:
    outage = Outage("127.0.0.1:9092", give_up_s=5.0)
    outage.failed(0.0, KafkaConnectionError())
    with pytest.raises(BrokerUnavailableError, match=r"unreachable for 5 s .*Is the broker running"):
        outage.failed(5.0, KafkaConnectionError())


async def test_retrying_waits_out_a_restart_and_logs_two_lines(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        if len(calls) < 40:  # 40 refused attempts, as while a broker restarts
            raise KafkaConnectionError("Connection refused")
        return "acked"

    async def sleep(delay_s: float) -> None:
        now[0] += delay_s

    outage = Outage("b:1", give_up_s=120.0)
    with caplog.at_level(logging.INFO, logger="pipeline.replay._broker"):
        assert await retrying(send, outage, clock_s=lambda: now[0], sleep=sleep) == "acked"
    assert len(caplog.records) == 2, [r.getMessage() for r in caplog.records]
    assert "unreachable" in caplog.records[0].getMessage() and "back after" in caplog.records[1].getMessage()
    assert now[0] < 80.0, "backoff is capped, so the broker is retried often enough"


async def test_retrying_gives_up_when_the_broker_stays_away() -> None:
    now = [0.0]

    async def send() -> None:
        raise KafkaConnectionError("Connection refused")

    async def sleep(delay_s: float) -> None:
        now[0] += delay_s

    with pytest.raises(BrokerUnavailableError):
        await retrying(send, Outage("b:1", give_up_s=10.0), clock_s=lambda: now[0], sleep=sleep)
    assert 10.0 <= now[0] <= 13.0


def test_lag_counts_uncommitted_messages_per_partition() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    assert lag_total({a: 10, b: 4}, {a: 7}) == 3 + 4
    assert lag_total({a: 10}, {a: 12}) == 0


def test_the_replay_uses_no_librdkafka_client() -> None:
    """confluent-kafka's threads wrote hundreds of lines to the terminal and then crashed the replay."""
    for path in REPLAY.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not any(name and (name.startswith("confluent_kafka") or name == "pipeline.admin") for name in imported), path

"""The retry rule: transient failures retry with capped, jittered backoff; poison is dead-lettered."""

from __future__ import annotations

import sqlite3

import pytest
from aiokafka import errors as kafka_errors

from pipeline.config import Settings
from pipeline.errors import ContractError, DecodeError, DependencyError, NotFoundError, StageError
from pipeline.runtime.retry import RetryPolicy, Verdict, classify


@pytest.mark.parametrize("exc", [
    kafka_errors.LeaderNotAvailableError(),
    kafka_errors.NotLeaderForPartitionError(),
    kafka_errors.NotEnoughReplicasError(),
    kafka_errors.NotEnoughReplicasAfterAppendError(),
    kafka_errors.RequestTimedOutError(),
    kafka_errors.KafkaTimeoutError(),
    kafka_errors.KafkaConnectionError(),
    DependencyError("store: database is locked"),
    TimeoutError(),
    ConnectionResetError(),
])
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert classify(exc) is Verdict.RETRY


def test_a_locked_sqlite_database_is_transient_even_unwrapped() -> None:
    assert classify(sqlite3.OperationalError("database is locked")) is Verdict.RETRY
    assert classify(sqlite3.OperationalError("no such table: orders")) is Verdict.DEAD_LETTER


@pytest.mark.parametrize("exc", [
    kafka_errors.OutOfOrderSequenceNumber(),
    kafka_errors.UnknownProducerId(),
    kafka_errors.InvalidProducerEpoch(),
    kafka_errors.ProducerFenced(),
])
def test_a_broken_idempotent_producer_is_renewed(exc: BaseException) -> None:
    assert classify(exc) is Verdict.RENEW_PRODUCER


@pytest.mark.parametrize("exc", [
    DecodeError("not avro"),
    ContractError("expected Plan"),
    NotFoundError("no such product"),
    StageError("bad plan"),
    ValueError("bug"),
    KeyError("bug"),
    kafka_errors.RecordTooLargeError(),
])
def test_poison_is_dead_lettered(exc: BaseException) -> None:
    assert classify(exc) is Verdict.DEAD_LETTER


def test_causes_are_followed_but_contract_errors_are_final() -> None:
    def wrapped(outer: BaseException, inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise outer from exc
        except BaseException as caught:
            return caught

    assert classify(wrapped(StageError("lookup"), TimeoutError())) is Verdict.RETRY
    assert classify(wrapped(RuntimeError("x"), kafka_errors.LeaderNotAvailableError())) is Verdict.RETRY
    assert classify(wrapped(ContractError("bad"), TimeoutError())) is Verdict.DEAD_LETTER
    assert classify(wrapped(StageError("bad"), ValueError())) is Verdict.DEAD_LETTER


class _ConfluentError:
    def __init__(self, *, fatal: bool, retriable: bool) -> None:
        self._fatal, self._retriable = fatal, retriable

    def fatal(self) -> bool:
        return self._fatal

    def retriable(self) -> bool:
        return self._retriable


def test_confluent_kafka_errors_say_for_themselves() -> None:
    class KafkaException(Exception):
        pass

    assert classify(KafkaException(_ConfluentError(fatal=True, retriable=False))) is Verdict.RENEW_PRODUCER
    assert classify(KafkaException(_ConfluentError(fatal=False, retriable=True))) is Verdict.RETRY
    assert classify(KafkaException(_ConfluentError(fatal=False, retriable=False))) is Verdict.DEAD_LETTER


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(first_backoff_ms=100, max_backoff_ms=1_000, jitter=0.5, max_s=60)
    assert [policy.backoff_s(n, 0.0) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert policy.backoff_s(3, 0.999) == pytest.approx(0.8 * (1 - 0.5 * 0.999))
    assert policy.backoff_s(1_000, 0.0) == 1.0


def test_retries_stop_at_the_budget_and_poison_never_waits() -> None:
    policy = RetryPolicy(first_backoff_ms=100, max_backoff_ms=1_000, jitter=0.0, max_s=2.0)
    assert policy.next_delay_s(Verdict.RETRY, 0, 0.0, 0.5) == 0.1
    assert policy.next_delay_s(Verdict.RENEW_PRODUCER, 2, 1.0, 0.5) == 0.4
    assert policy.next_delay_s(Verdict.RETRY, 4, 1.5, 0.5) is None
    assert policy.next_delay_s(Verdict.DEAD_LETTER, 0, 0.0, 0.5) is None


def test_the_policy_comes_from_settings_and_refuses_nonsense() -> None:
    settings = Settings.from_env({"AISLE_RETRY_BACKOFF_MS": "50", "AISLE_RETRY_MAX_S": "5"})
    policy = RetryPolicy.from_settings(settings)
    assert (policy.first_backoff_ms, policy.max_backoff_ms, policy.max_s) == (50, 5_000, 5.0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)
    with pytest.raises(ValueError):
        RetryPolicy(first_backoff_ms=10, max_backoff_ms=5)

"""What a worker does with a message that failed: try again, renew the producer, or dead-letter it.

Pure: no I/O, no clock, no randomness of its own (the caller passes elapsed time and a uniform draw),
so the rule is tested exactly. The worker (runtime/worker.py) applies it inside the message's lane,
so a retry delays only that conversation, and its later messages stay behind it, in order.

The rule (docs/architecture.md, "Retries and dead letters"):

- RETRY: the error may go away by itself. Broker errors that say so (`retriable` on aiokafka's
  errors, `retriable()` on confluent-kafka's: leader changes, not enough replicas, request timeouts),
  a producer timeout, a dropped connection, and our own errors with `retriable = True`
  (DependencyError: the store's "database is locked", the LLM server, the index).
- RENEW_PRODUCER: the idempotent producer's sequence state is broken for good (OutOfOrderSequenceNumber
  after a broker restart, an unknown or fenced producer id). Every later send on that producer fails,
  so the worker replaces it and sends the message again; downstream dedupe drops what was already
  written.
- DEAD_LETTER: the message can never succeed (it cannot be decoded, breaks a contract, or the stage
  raised something not known to be transient), or retrying took longer than `max_s`.

Backoff is capped exponential with jitter: attempt n waits `first * 2**n`, capped at `max`, then
scaled down by up to `jitter` of itself, so workers that failed together do not retry together.
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.errors import AisleError, ContractError


class Verdict(enum.Enum):
    RETRY = "retry"
    RENEW_PRODUCER = "renew-producer"
    DEAD_LETTER = "dead-letter"


# By name, because the runtime's rule must hold for aiokafka's and confluent-kafka's spellings alike
# and this module stays free of broker clients.
_FATAL_PRODUCER_ERRORS = frozenset({
    "OutOfOrderSequenceNumber", "OutOfOrderSequenceNumberError",
    "UnknownProducerId", "UnknownProducerIdError",
    "InvalidProducerEpoch", "InvalidProducerEpochError",
    "InvalidProducerIdMapping", "InvalidPidMappingError",
    "ProducerFenced", "ProducerFencedError",
})
# aiokafka marks these `retriable = False`, yet each only means "not now": a batch that expired
# waiting for a leader, a client closed under the message by a producer renewal.
_TRANSIENT_BY_NAME = frozenset({"KafkaTimeoutError", "ProducerClosed"})
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy")


def classify(exc: BaseException) -> Verdict:
    """The verdict for one failure, looking through `raise ... from` causes of library errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _classify_one(current)
        if verdict is not None:
            return verdict
        current = current.__cause__
    return Verdict.DEAD_LETTER


def _classify_one(exc: BaseException) -> Verdict | None:
    """A verdict when `exc` itself says; None to ask its cause."""
    name = type(exc).__name__
    if name in _FATAL_PRODUCER_ERRORS:
        return Verdict.RENEW_PRODUCER
    if isinstance(exc, ContractError):
        return Verdict.DEAD_LETTER  # the same bytes will break the same contract every time
    if isinstance(exc, AisleError):
        if exc.retriable:
            return Verdict.RETRY
        # A non-retriable wrapper of a transient library error (a stage that wrapped a timeout in
        # StageError) still retries; one that wraps nothing is poison.
        return None if exc.__cause__ is not None else Verdict.DEAD_LETTER
    # confluent-kafka raises KafkaException(KafkaError); the KafkaError says fatal() and retriable().
    confluent: object = exc.args[0] if exc.args else None
    fatal, retriable = getattr(confluent, "fatal", None), getattr(confluent, "retriable", None)
    if callable(fatal) and callable(retriable):
        if fatal():
            return Verdict.RENEW_PRODUCER
        return Verdict.RETRY if retriable() else Verdict.DEAD_LETTER
    if name in _TRANSIENT_BY_NAME or getattr(exc, "retriable", None) is True:
        return Verdict.RETRY
    if isinstance(exc, sqlite3.OperationalError) and any(s in str(exc).lower() for s in _SQLITE_TRANSIENT):
        return Verdict.RETRY
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return Verdict.RETRY
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a worker retries one message. Defaults: docs/config.md."""

    first_backoff_ms: int = 100
    max_backoff_ms: int = 5_000
    jitter: float = 0.5
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.first_backoff_ms < 0 or self.max_backoff_ms < self.first_backoff_ms:
            raise ValueError("need 0 <= first_backoff_ms <= max_backoff_ms")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must lie in [0, 1]")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.retry_backoff_ms, settings.retry_backoff_max_ms, settings.retry_jitter,
                   settings.retry_max_s)

    def backoff_s(self, attempt: int, draw: float) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first); `draw` is uniform in [0, 1)."""
        capped_ms: float = min(self.max_backoff_ms, self.first_backoff_ms * 2 ** min(attempt, 32))
        return capped_ms * (1.0 - self.jitter * draw) / 1000

    def next_delay_s(self, verdict: Verdict, attempt: int, elapsed_s: float, draw: float) -> float | None:
        """Seconds to wait before trying again, or None: dead-letter now. `elapsed_s` counts from
        the first failure of this message; no retry starts past `max_s`."""
        if verdict is Verdict.DEAD_LETTER:
            return None
        delay_s = self.backoff_s(attempt, draw)
        if elapsed_s + delay_s > self.max_s:
            return None
        return delay_s

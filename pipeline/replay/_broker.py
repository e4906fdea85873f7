"""The replay through a broker outage: retry what it sends, say so once per change, give up clearly.

`aisle replay run` once died with a segmentation fault after 241 lines of librdkafka "Connection
refused" while the broker restarted: its lag sampler used confluent-kafka's admin client from worker
threads. Everything the replay does now goes through aiokafka (whose per-attempt connection errors
the CLI keeps quiet), and this module is what it says instead:

- `Outage` (pure): the broker's state as the replay sees it. The first failure after a success is
  one warning ("Kafka unreachable ... retrying for up to N s"), the first success after failures one
  line ("Kafka is back after X s"); failures in between say nothing. A failure that has lasted
  `give_up_s` raises BrokerUnavailableError with what happened.
- `send_retrying`: produce one record, retrying every KafkaError with capped backoff until the
  outage gives up. The replay's producer is not idempotent, so there is no producer state for a
  restarted broker to reject; a record sent twice (acknowledged but the ack lost) is an ask or a
  feedback the stages drop by (conversation, turn, seq).
- `group_lag`: a stage group's lag from aiokafka's admin client and the collector's end offsets,
  None when the broker does not answer in time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from pipeline.errors import BrokerUnavailableError

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 2.0
LAG_TIMEOUT_S = 5.0


@dataclass
class Outage:
    """Broker reachability as seen by one replay. No I/O; the caller passes the clock."""

    bootstrap: str
    give_up_s: float
    down_since_s: float | None = None
    outages: int = 0
    down_s_total: float = 0.0

    def failed(self, now_s: float, exc: BaseException) -> str | None:
        """Record a failure; the line to log when the broker just went away (else None). Raises
        BrokerUnavailableError when it has been away for `give_up_s`."""
        if self.down_since_s is None:
            self.down_since_s = now_s
            self.outages += 1
            return (f"replay: Kafka at {self.bootstrap} unreachable ({type(exc).__name__}); "
                    f"retrying for up to {self.give_up_s:g} s")
        if now_s - self.down_since_s >= self.give_up_s:
            raise BrokerUnavailableError(
                f"replay: Kafka at {self.bootstrap} unreachable for {now_s - self.down_since_s:.0f} s "
                f"(last error {type(exc).__name__}: {exc}); stopped. Is the broker running? ('make kafka-up')")
        return None

    def succeeded(self, now_s: float) -> str | None:
        """Record a success; the line to log when the broker just came back (else None)."""
        if self.down_since_s is None:
            return None
        away_s = now_s - self.down_since_s
        self.down_s_total += away_s
        self.down_since_s = None
        return f"replay: Kafka at {self.bootstrap} is back after {away_s:.1f} s"


async def retrying(action: Callable[[], Awaitable[Any]], outage: Outage, *, proves_up: bool = True,
                   clock_s: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Any:
    """`action()`, retried on KafkaError (and timeouts) with capped backoff until `outage` gives up.
    `proves_up=False` for an action that succeeds without the broker (a fetch returns nothing while
    its client reconnects): its success must not announce the broker back."""
    delay_s = BACKOFF_START_S
    while True:
        try:
            result = await action()
        except (KafkaError, asyncio.TimeoutError, OSError) as exc:
            line = outage.failed(clock_s(), exc)
            if line is not None:
                log.warning("%s", line)
            await sleep(delay_s)
            delay_s = min(BACKOFF_MAX_S, delay_s * 2)
            continue
        line = outage.succeeded(clock_s()) if proves_up else None
        if line is not None:
            log.warning("%s", line)
        return result


async def send_retrying(producer: AIOKafkaProducer, outage: Outage, topic: str, value: bytes, key: bytes,
                        headers: Sequence[tuple[str, bytes]] | None = None) -> None:
    """Produce one record and wait for its acknowledgement, through an outage (see `retrying`)."""
    await retrying(lambda: producer.send_and_wait(topic, value, key=key, headers=headers), outage)


def lag_total(ends: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int]) -> int:
    """Messages not yet committed: per partition its end offset minus the group's committed offset
    (0 when the group has committed nothing there yet, as Kafka's own tools count it)."""
    return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())


async def group_lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group_id: str,
                    partitions: Sequence[TopicPartition]) -> int | None:
    """`group_id`'s lag on `partitions`; None when the broker does not answer within LAG_TIMEOUT_S."""
    try:
        async with asyncio.timeout(LAG_TIMEOUT_S):
            offsets = await admin.list_consumer_group_offsets(group_id, partitions=list(partitions))
            ends = await consumer.end_offsets(list(partitions))
    except (KafkaError, asyncio.TimeoutError, OSError):
        return None
    committed = {tp: meta.offset for tp, meta in offsets.items() if meta is not None and meta.offset >= 0}
    return lag_total(ends, committed)

"""The gateway's only contact with Kafka, behind a seam (`GatewayBus`) that unit tests fake.

`KafkaBus` produces UserTurn records to `requests` and Feedback to `feedback`, keyed by conversation
id, and reads the whole `frames` topic. Every gateway process must see every frame (it cannot know
which process holds a conversation's sockets), so the consumer joins no group: it assigns itself all
partitions and commits nothing. At start it seeks to the frames of the last `gateway_resume_age_s`
seconds, so a fresh process can serve resumes for clients whose process died (docs/gateway.md).

It also reads the whole `alerts` topic (`AlertSource`), with a second consumer, the same way and for
the same reason (it cannot know which process holds a user's sockets), from the end: fired alerts reach
the user's sockets on other conversations while they are open, and are not replayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline import codec
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, ContractError
from pipeline.messages import Alert, Feedback, Frame, UserTurn
from pipeline.runtime.headers import hop_name

log = logging.getLogger(__name__)

FETCH_TIMEOUT_MS = 1000
"""How long one getmany call waits when the frames (or alerts) topic is idle."""
R = TypeVar("R")
# The stages carry these forward, so a turn's latency breakdown starts at the socket.
HOP_IN = hop_name("gateway", "in")
HOP_OUT = hop_name("gateway", "out")


class GatewayBus(Protocol):
    """What the gateway needs from the bus."""

    async def start(self) -> None:
        """Connect; raises BrokerUnavailableError."""

    async def stop(self) -> None: ...

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        """Produce to `requests` and wait for the broker's ack; raises BrokerUnavailableError."""

    async def send_feedback(self, feedback: Feedback) -> None:
        """Produce to `feedback` and wait for the broker's ack; raises BrokerUnavailableError."""

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        """Call on_frame for every frame, in partition order, until cancelled."""


@runtime_checkable
class AlertSource(Protocol):
    """A bus that also delivers fired alerts (topic `alerts`); the gateway routes them to the user's
    sockets on other conversations. A bus without it (unit tests' fakes) leaves that out."""

    async def run_alerts(self, on_alert: Callable[[Alert], None], on_bad_alert: Callable[[Exception], None]) -> None:
        """Call on_alert for every Alert produced from now on, in partition order, until cancelled."""


class KafkaBus:
    """GatewayBus and AlertSource over aiokafka."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._alerts_consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        s = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            linger_ms=s.producer_linger_ms,
            acks="all",
            enable_idempotence=True,
            client_id="aisle-gateway",
        )
        consumer, alerts_consumer = self._new_consumer(), self._new_consumer()
        # Owned from creation, so a failed start still closes all three (aiokafka warns about unclosed clients).
        self._producer, self._consumer, self._alerts_consumer = producer, consumer, alerts_consumer
        try:
            await producer.start()
            await consumer.start()
            await self._assign_frames(producer, consumer)
            await alerts_consumer.start()
            if not await self._assign_alerts(producer, alerts_consumer):
                self._alerts_consumer = None
                await alerts_consumer.stop()
        except KafkaError as exc:
            await self.stop()
            raise BrokerUnavailableError(f"gateway cannot reach Kafka at {s.kafka_bootstrap_servers}") from exc
        except BaseException:
            await self.stop()
            raise

    async def _assign_frames(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
        topic = self._settings.topic("frames")
        try:
            # The producer's call waits for the topic's metadata; the consumer's only reads a cache.
            ids = await producer.partitions_for(topic)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"topic {topic} does not exist (run `aisle topics apply`)") from exc
        if not ids:
            raise BrokerUnavailableError(f"topic {topic} does not exist (run `aisle topics apply`)")
        assigned = [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(assigned)
        since_ms = now_ms() - int(self._settings.gateway_resume_age_s * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in assigned})
        for tp in assigned:
            found = offsets.get(tp)
            if found is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)

    def _new_consumer(self) -> AIOKafkaConsumer:
        s = self._settings
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            auto_offset_reset="latest",
            client_id="aisle-gateway",
        )

    async def _assign_alerts(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> bool:
        """Assign every partition of `alerts` at its end; False (and a warning) if the topic is missing."""
        topic = self._settings.topic("alerts")
        # Asked of the cluster's metadata first: the producer's lookup of a missing topic waits seconds.
        ids = await producer.partitions_for(topic) if topic in await consumer.topics() else set()
        if not ids:
            # The gateway's core is frames; without `alerts` it still serves every conversation.
            log.warning(
                "topic %s does not exist (run `aisle topics apply`): a fired alert reaches only the sockets "
                "of the conversation it was set in, until the gateway restarts with the topic",
                topic,
            )
            return False
        assigned = [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(assigned)
        # Not replayed: a socket gets the alerts fired while it is open. The alert's own conversation
        # has the frame, and its resume, on `frames`.
        await consumer.seek_to_end(*assigned)
        return True

    async def stop(self) -> None:
        alerts_consumer, self._alerts_consumer = self._alerts_consumer, None
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if alerts_consumer is not None:
            await alerts_consumer.stop()
        if consumer is not None:
            await consumer.stop()
        if producer is not None:
            await producer.stop()

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        headers = [(HOP_IN, str(received_at_ms).encode()), (HOP_OUT, str(now_ms()).encode())]
        await self._send(self._settings.topic("requests"), turn.conversation_id, codec.encode(turn), headers)

    async def send_feedback(self, feedback: Feedback) -> None:
        await self._send(self._settings.topic("feedback"), feedback.conversation_id, codec.encode(feedback), [])

    async def _send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self._producer is None:
            raise BrokerUnavailableError("gateway bus is not started")
        try:
            await self._producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"could not produce to {topic}") from exc

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        if self._consumer is None:
            raise BrokerUnavailableError("gateway bus is not started")
        await _follow(self._consumer, Frame, on_frame, on_bad_frame, "frame")

    async def run_alerts(self, on_alert: Callable[[Alert], None], on_bad_alert: Callable[[Exception], None]) -> None:
        consumer = self._alerts_consumer
        if consumer is None:
            if self._producer is None:
                raise BrokerUnavailableError("gateway bus is not started")
            await asyncio.Event().wait()  # no `alerts` topic (warned at start): nothing to read, ever
            return
        await _follow(consumer, Alert, on_alert, on_bad_alert, "alert")


async def _follow(consumer: AIOKafkaConsumer, value_type: type[R], deliver: Callable[[R], None],
                  on_bad: Callable[[Exception], None], what: str) -> None:
    """Decode every record of `consumer` as `value_type` and hand it to `deliver`, forever."""
    while True:
        try:
            batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
        except KafkaError as exc:
            # aiokafka reconnects by itself; log and keep polling rather than drop every socket.
            log.warning("%s fetch failed: %s", what, exc)
            on_bad(exc)
            continue
        for records in batches.values():
            for record in records:
                try:
                    value = codec.decode_as(record.value or b"", value_type)
                except ContractError as exc:
                    # Not dead-lettered: every gateway process reads every record, so N processes
                    # would write N copies. The stage that wrote it owns what goes on its topic.
                    log.warning("undecodable %s at %s:%s: %s", what, record.partition, record.offset, exc)
                    on_bad(exc)
                    continue
                deliver(value)

"""The gateway's only contact with Kafka, behind a seam (`GatewayBus`) that unit tests fake.

`KafkaBus` produces UserTurn records to `requests` and Feedback to `feedback`, keyed by conversation
id, and reads the whole `frames` topic. Every gateway process must see every frame (it cannot know
which process holds a conversation's sockets), so the consumer joins no group: it assigns itself all
partitions and commits nothing. At start it seeks to the frames of the last `gateway_resume_age_s`
seconds, so a fresh process can serve resumes for clients whose process died (docs/gateway.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline import codec
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, ContractError
from pipeline.messages import Feedback, Frame, UserTurn
from pipeline.runtime.headers import hop_name

log = logging.getLogger(__name__)

FETCH_TIMEOUT_MS = 1000
"""How long one getmany call waits when the frames topic is idle."""
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


class KafkaBus:
    """GatewayBus over aiokafka."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        s = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            linger_ms=s.producer_linger_ms,
            acks="all",
            enable_idempotence=True,
            client_id="aisle-gateway",
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            auto_offset_reset="latest",
            client_id="aisle-gateway",
        )
        # Owned from creation, so a failed start still closes both (aiokafka warns about unclosed clients).
        self._producer, self._consumer = producer, consumer
        try:
            await producer.start()
            await consumer.start()
            await self._assign_frames(producer, consumer)
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
        since_ms = int(time.time() * 1000 - self._settings.gateway_resume_age_s * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in assigned})
        for tp in assigned:
            found = offsets.get(tp)
            if found is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            await consumer.stop()
        if producer is not None:
            await producer.stop()

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        headers = [(HOP_IN, str(received_at_ms).encode()), (HOP_OUT, str(_now_ms()).encode())]
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
        consumer = self._consumer
        if consumer is None:
            raise BrokerUnavailableError("gateway bus is not started")
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
            except KafkaError as exc:
                # aiokafka reconnects by itself; log and keep polling rather than drop every socket.
                log.warning("frames fetch failed: %s", exc)
                on_bad_frame(exc)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        frame = codec.decode_as(record.value or b"", Frame)
                    except ContractError as exc:
                        # Not dead-lettered: every gateway process reads every frame, so N processes
                        # would write N copies. The render stage owns what goes on `frames`.
                        log.warning("undecodable frame at %s:%s: %s", record.partition, record.offset, exc)
                        on_bad_frame(exc)
                        continue
                    on_frame(frame)


def _now_ms() -> int:
    return int(time.time() * 1000)

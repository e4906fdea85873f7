"""The Kafka adapter every stage runs in.

    consumer --getmany--> dispatch --offer--> KeyedLanes --handle--> stage.process --> producer
        ^                    |  (lane full: park the record, pause its partition)       |
        +---- commit <-- OffsetTracker (contiguous finished prefix) <--- acks ----------+

- One conversation's messages run in order; different conversations run concurrently.
- A message's offset is finished only after every output it produced is acknowledged by the broker,
  and commits cover only the contiguous finished prefix: at-least-once, nothing lost on a crash.
- Duplicates (replays after a restart upstream) are dropped by (conversation, turn, seq).
- A message that fails with a transient error (a leader change, a broker timeout, a locked store) is
  retried in its lane, with capped, jittered backoff (runtime/retry.py), so its conversation keeps its
  order; a producer broken for good (a fatal idempotence error) is renewed and the message sent again.
- A message that can never succeed, or still fails after AISLE_RETRY_MAX_S, goes to the dead-letter
  topic with the reason, and its shopper's turn gets error frames that end it (turn_errors.py); the
  worker keeps going. If even that cannot be written (after retries), the worker stops without
  committing the message, so it is retried after a restart rather than lost.
- On a rebalance, revoked partitions' messages stop (lanes.py `revoke`); the new owner replays them.
- SIGTERM (the `stopping` event): fetching pauses, in-flight work finishes, offsets commit, then exit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from dataclasses import dataclass
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from pipeline import codec, topics
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import ContractError
from pipeline.runtime.dedupe import SeenFilter, Verdict
from pipeline.runtime.headers import carry, hops, stage_durations_ms
from pipeline.runtime._producer import RenewableProducer
from pipeline.runtime._rebalance import RebalanceListener
from pipeline.runtime._dead_letters import letter_for, send_dead_letter, unfinished_turn
from pipeline.runtime._turns import HeldTurns
from pipeline.runtime.kafka import make_consumer, make_producer, start_with_retry
from pipeline.runtime.lanes import KeyedLanes
from pipeline.runtime.offsets import OffsetTracker
from pipeline.runtime._retrying import Abandoned, with_retries
from pipeline.runtime._stats import WorkerStats
from pipeline.runtime.metrics import UNFINISHED_TURN, WorkerGauges, WorkerMetrics, consumer_lag
from pipeline.runtime.retry import RetryPolicy
from pipeline.stages.base import Stage, current_hop_ms

log = logging.getLogger(__name__)

_POLL_TIMEOUT_MS = 100
_MAX_RECORDS_PER_POLL = 500
_DRAIN_TIMEOUT_S = 30.0

@dataclass(frozen=True)
class _Delivery:
    tp: TopicPartition
    record: ConsumerRecord[bytes, bytes]


class StageWorker:
    """Runs one stage against Kafka. Several workers of one stage share its partitions (one group)."""

    def __init__(
        self,
        stage: Stage,
        settings: Settings,
        *,
        group_id: str | None = None,
        make_clients: tuple[Callable[[], Any], Callable[[], Any]] | None = None,
        clock_s: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.stage = stage
        self.settings = settings
        self.group_id = group_id or f"{settings.topic_prefix}{stage.name}"
        self._outputs = {name: settings.topic(name) for name in stage.output_topics}
        self.stats = WorkerStats()
        # make_clients (consumer factory, producer factory) replaces the aiokafka clients in tests.
        self._make_clients = make_clients or (
            lambda: make_consumer(settings, self.group_id), lambda: make_producer(settings)
        )
        self._clock_s = clock_s
        self._rng = rng or random.Random()
        self._retry = RetryPolicy.from_settings(settings)
        self._tracker = OffsetTracker()
        self._seen = SeenFilter(settings.dedupe_window)
        self._lanes: KeyedLanes[_Delivery] = KeyedLanes(
            self._handle,
            max_lanes=settings.max_lanes,
            queue_size=settings.lane_queue_size,
            on_room=self._unpark,
        )
        self._parked: dict[TopicPartition, collections.deque[_Delivery]] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: RenewableProducer | None = None
        self._fatal: BaseException | None = None
        # Optional stage hooks (see pipeline/stages/base.py): turn-scoped commits, and opting out of the
        # (conversation, turn, seq) duplicate filter for stages that dedupe by their own rule.
        self._ends_turn: Callable[[Any], bool] | None = getattr(stage, "ends_turn", None)
        self._dedupe: bool = getattr(stage, "dedupe", True)
        self._held: HeldTurns[_Delivery] = HeldTurns()
        self._stopping = asyncio.Event()
        self.metrics = metrics or WorkerMetrics(stage.name)  # one registry per worker: /metrics
        self.metrics.bind(self.stats, self.gauges)

    @property
    def ready(self) -> bool:
        """True once the stage has started and the group has assigned this worker its partitions."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def gauges(self) -> WorkerGauges:
        """Lanes, parked records and lag as they are now (read at each scrape of /metrics)."""
        lag = consumer_lag(self._consumer, {**self._tracker.committable(), **self._committed})
        return WorkerGauges(self._lanes.active_lanes, self._tracker.in_flight(),
                            sum(map(len, self._parked.values())), len(self.stats.paused_partitions), lag)

    # ---- lifecycle ------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Consume until `stopping` is set (or a fatal error), then shut down gracefully."""
        if stopping is not None:
            self._stopping = stopping
        settings = self.settings
        make_consumer_, make_producer_ = self._make_clients

        async def start_producer() -> Any:
            return await start_with_retry(make_producer_, self.stage.name, settings)

        self._producer = RenewableProducer(start_producer, self.stage.name)
        await self._producer.start()
        try:
            self._consumer = await start_with_retry(make_consumer_, self.stage.name, settings)
            await self.stage.start()
            try:
                self._consumer.subscribe([settings.topic(self.stage.input_topic)], listener=RebalanceListener(self.stage.name, self._on_revoked))
                log.info("%s: consuming %s as group %s", self.stage.name, settings.topic(self.stage.input_topic), self.group_id)
                await self._consume()
                await self._shutdown()
            finally:
                await self.stage.stop()
        finally:
            if self._consumer is not None:
                await self._consumer.stop()
            await self._producer.stop()
            log.info("%s: stopped; %s", self.stage.name, self.stats)
        if self._fatal is not None:
            raise self._fatal

    async def _consume(self) -> None:
        consumer = self._require_consumer()
        last_commit = time.monotonic()
        interval_s = self.settings.commit_interval_ms / 1000
        while not self._stopping.is_set():
            batch = await consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS, max_records=_MAX_RECORDS_PER_POLL)
            for tp, records in batch.items():
                for record in records:
                    self._dispatch(tp, record)
            if time.monotonic() - last_commit >= interval_s:
                await self._release_stale_turns()
                await self._commit()
                last_commit = time.monotonic()

    async def _shutdown(self) -> None:
        consumer = self._require_consumer()
        consumer.pause(*consumer.assignment())
        try:
            await asyncio.wait_for(self._lanes.drain(), timeout=_DRAIN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("%s: in-flight work did not finish in %.0f s; it will be redelivered", self.stage.name, _DRAIN_TIMEOUT_S)
            await self._lanes.cancel()
        await self._commit()

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the worker is not running")
        return self._consumer

    def _require_producer(self) -> RenewableProducer:
        if self._producer is None:
            raise RuntimeError("the worker is not running")
        return self._producer

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stopping.set()

    # ---- dispatch: keep order per key, never block on one key --------------------------------------

    def _dispatch(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        self.stats.received += 1
        self._tracker.received(tp, record.offset)
        delivery = _Delivery(tp, record)
        parked = self._parked.get(tp)
        if parked is not None:
            parked.append(delivery)  # behind earlier parked records of the same partition
        elif not self._lanes.offer(self._lane_key(delivery), delivery):
            self._parked[tp] = collections.deque([delivery])
            self._pause(tp)

    @staticmethod
    def _lane_key(delivery: _Delivery) -> Any:
        return delivery.record.key if delivery.record.key is not None else delivery.tp

    def _unpark(self) -> None:
        for tp in list(self._parked):
            parked = self._parked[tp]
            while parked and self._lanes.offer(self._lane_key(parked[0]), parked[0]):
                parked.popleft()
            if not parked:
                del self._parked[tp]
                self._resume(tp)

    def _pause(self, tp: TopicPartition) -> None:
        if self._consumer is not None and tp in self._consumer.assignment():
            self._consumer.pause(tp)
            self.stats.paused_partitions.add(f"{tp.topic}:{tp.partition}")

    def _resume(self, tp: TopicPartition) -> None:
        if self._consumer is not None and tp in self._consumer.assignment() and not self._stopping.is_set():
            self._consumer.resume(tp)
        self.stats.paused_partitions.discard(f"{tp.topic}:{tp.partition}")

    # ---- handling one message ---------------------------------------------------------------------

    async def _handle(self, delivery: _Delivery) -> None:
        record = delivery.record
        received_ms, started_s = now_ms(), time.perf_counter()
        message: Any = None
        try:
            message = codec.decode(record.value) if record.value is not None else None
            if message is None:
                raise ContractError("record has no value")
            expected = getattr(self.stage, "input_type", None)
            if expected is not None and not isinstance(message, expected):
                raise ContractError(f"expected {expected.__name__} on {record.topic}, got {type(message).__name__}")
            if self._is_duplicate(message):
                self.stats.duplicates += 1
            else:
                hop_times = hops(record.headers)
                current_hop_ms.set(stage_durations_ms(hop_times))
                self.metrics.observe_wait(hop_times, record.timestamp, received_ms)
                # Retried in its lane while the failure is transient, so the conversation keeps its order.
                await self._retrying(lambda: self._process(message, record, received_ms, started_s), record)
                self.metrics.processing_s.observe(time.perf_counter() - started_s)
                self.stats.processed += 1
        except asyncio.CancelledError:
            raise
        except Abandoned:
            return  # stopping: the offset stays uncommitted and the message is redelivered
        except Exception as exc:  # noqa: BLE001 - any failure of one message becomes a dead letter
            if not await self._dead_letter(record, exc):
                return  # not finished: the offset stays uncommitted and the message is redelivered
        if self._ends_turn is not None and message is not None:
            ends = self._ends_turn(message)
            released = self._held.hold(self._lane_key(delivery), getattr(message, "turn", None), delivery,
                                       ends=ends, now_s=self._clock_s())
            for done in released:
                self._tracker.finished(done.tp, done.record.offset)
        else:
            self._tracker.finished(delivery.tp, record.offset)

    async def _retrying(self, attempt: Callable[[], Awaitable[None]], record: ConsumerRecord[bytes, bytes]) -> None:
        """`attempt`, tried again while runtime/retry.py says the failure is transient. The lane waits
        meanwhile, so the conversation's later messages stay behind this one."""
        def on_retry(exc: BaseException, tries: int, delay_s: float) -> None:
            self.stats.retries += 1
            log.warning("%s: %s at %s[%d]@%d; retry %d in %.2f s", self.stage.name, type(exc).__name__,
                        record.topic, record.partition, record.offset, tries, delay_s)

        await with_retries(attempt, policy=self._retry, producer=self._require_producer(), stopping=self._stopping,
                           clock_s=self._clock_s, rng=self._rng, on_retry=on_retry)

    def _is_duplicate(self, message: Any) -> bool:
        if not self._dedupe:
            return False
        conversation = getattr(message, "conversation_id", None)
        turn, seq = getattr(message, "turn", None), getattr(message, "seq", None)
        if not isinstance(conversation, str) or not isinstance(turn, int) or not isinstance(seq, int):
            return False
        verdict = self._seen.check(conversation, turn, seq)
        if verdict is Verdict.GAP:
            self.stats.gaps += 1
            log.warning("%s: gap before %s turn %d seq %d", self.stage.name, conversation, turn, seq)
        return verdict is Verdict.DUPLICATE

    async def _process(self, message: Any, record: ConsumerRecord[bytes, bytes], received_ms: int,
                       started_s: float) -> None:
        producer = self._require_producer()
        acks: list[asyncio.Future[Any]] = []
        try:
            async for output in self.stage.process(message):
                topic = self._outputs.get(output.topic)
                if topic is None:
                    raise ContractError(f"{self.stage.name} produced to {output.topic!r}, not one of its output_topics")
                headers = carry(record.headers, self.stage.name, in_ms=received_ms, out_ms=now_ms())
                if not acks:
                    self.metrics.first_output_s.observe(time.perf_counter() - started_s)
                acks.append(
                    await producer.send(
                        topic,
                        codec.encode(output.value),
                        key=output.key.encode(),
                        headers=headers,
                    )
                )
        finally:
            # Outputs already sent must be acknowledged (or fail) before the input counts as done.
            results = await asyncio.gather(*acks, return_exceptions=True)
        self.stats.outputs += len(acks)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception, reason: str = "") -> bool:
        """Send `record` to the dead-letter topic and end its turn with error frames, retrying transient
        failures (a broker restart must not turn a dead letter into a lost turn); False if that fails
        (the worker then stops) or is abandoned because the worker is stopping."""
        letter = letter_for(self.stage.name, record, exc)
        log.warning("%s: %s at %s[%d]@%d: %s", self.stage.name, letter.error_type, record.topic,
                    record.partition, record.offset, letter.reason)
        ended: list[bool] = []

        async def attempt() -> None:
            ended.append(await send_dead_letter(self._require_producer(), self.settings, letter, record))

        try:
            await self._retrying(attempt, record)
        except Abandoned:
            return False
        except Exception as send_exc:  # noqa: BLE001 - whatever it is, the record must not be committed
            log.error("%s: cannot write to %s (%s); stopping", self.stage.name, topics.DEAD_LETTERS, send_exc)
            self._fail(send_exc)
            return False
        self.stats.dead_lettered += 1
        self.stats.dead_letters_by_reason[reason or letter.error_type] += 1
        self.stats.turns_ended_with_error += ended[-1]
        return True

    # ---- offsets ------------------------------------------------------------------------------------
    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._tracker.committable().items()
            if isinstance(tp, TopicPartition)
            and tp in assigned
            and (only is None or tp in only)
            and self._committed.get(tp) != offset
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            log.warning("%s: commit failed (%s); the next commit retries", self.stage.name, exc)
            self.stats.commit_failures += 1
            return
        self._committed.update(offsets)
        self.stats.commits += 1

    async def _release_stale_turns(self) -> None:
        """Dead-letter turns unfinished for AISLE_TURN_HOLD_TIMEOUT_S and let their offsets commit."""
        if self._ends_turn is None:
            return
        for held in self._held.expire(self._clock_s(), self.settings.turn_hold_timeout_s):
            reason = unfinished_turn(held.key, held.turn, len(held.items), self.settings.turn_hold_timeout_s)
            if not await self._dead_letter(held.items[-1].record, reason, UNFINISHED_TURN):
                return  # the worker is stopping; the turn stays uncommitted and is replayed
            self.stats.turns_released += 1
            for done in held.items:
                self._tracker.finished(done.tp, done.record.offset)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        # Stop the revoked partitions' work first: the new owner replays it from the committed
        # position, and anything this process produced from here on would be a second copy.
        self.stats.revoked += await self._lanes.revoke(lambda d: d.tp in revoked)
        await self._commit(only=revoked)
        self._tracker.forget(revoked)
        self._held.drop(lambda d: d.tp in revoked)
        for tp in revoked:
            self._parked.pop(tp, None)
            self._committed.pop(tp, None)
            self.stats.paused_partitions.discard(f"{tp.topic}:{tp.partition}")

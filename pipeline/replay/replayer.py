"""`aisle replay`: recorded traffic produced into `requests` under a run id, and everything it caused.

    traffic file --asks (UserTurn, run_id)--> requests ... pipeline ... frames, responses, dead-letters
                 --feedback------------------> feedback                  |
                 <-------------------- collector (all partitions, no group) --> TurnRecords -> report

Isolation: every replayed conversation is renamed `replay/<run id>/<recorded id>` and every ask carries
`run_id`, so nothing of a replay lands in a live conversation or in another run's, and the collector
keeps only its own run's keys.

Order: one task per conversation sends its events in file order. An ask goes at its recorded time
(offset / speed after the start) or when the conversation's previous turn ended (its `done` frame, or
the turn timeout), whichever is later. At most `concurrency` turns are in flight at once. Feedback goes
at its recorded time, after the turn before it.

The collector is assigned every partition of frames, responses and dead-letters (plus evidence when
asked) at their end offsets before the first ask is sent, so it sees all of the run and nothing older.
A sampler records each stage group's consumer lag every `lag_interval_s` while the run lasts.

A broker restart mid-run is waited out (_broker.py): sends and fetches are retried, the outage is
logged once when it starts and once when it ends, and one that lasts `broker_wait_s` stops the run
with a clear error. Only aiokafka is used, so no librdkafka thread writes to the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from pipeline import codec
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, DecodeError
from pipeline.messages import DeadLetter, EvidenceBundle, Feedback, Frame, TurnResponse, UserTurn
from pipeline.replay._broker import Outage, group_lag, retrying, send_retrying
from pipeline.replay._partitions import topic_partitions
from pipeline.replay.report import DeadLetterRecord, LagSample, RunFacts, TurnRecord, error_kind
from pipeline.replay.traffic import ASK, REPLAY_PREFIX, Traffic, TrafficEvent
from pipeline.runtime.headers import hop_name
from pipeline.runtime.service import stage_inputs

log = logging.getLogger(__name__)

ReplayProgress = Callable[[int, int], None]
"""progress(turns finished, turns in the file)."""

RESPONSE_GRACE_S = 5.0
"""After the last done frame, how long to wait for finished-turn records still on their way."""


@dataclass(frozen=True)
class ReplayOptions:
    speed: float = 1.0
    """Recorded time is divided by this; 0 sends every turn as soon as its conversation allows."""
    concurrency: int = 8
    """Turns in flight at once, at most."""
    run_id: str = ""
    """Empty: a fresh id (r-<utc time>-<random>)."""
    turn_timeout_s: float = 180.0
    """A turn with no done frame after this long counts as timed out, and its conversation moves on."""
    lag_interval_s: float = 2.0
    keep_frames: bool = False
    """Keep every frame and the evidence of each turn (`aisle eval answers` needs them)."""
    acting: bool = False
    """Send the turns as their users' own (no run id, client "backend"), so cart requests, alerts and
    memory take effect: the scenario suite, for its own test users. Replays never act."""
    broker_wait_s: float = 60.0
    """How long the broker may stay unreachable mid-run before the replay stops with an error."""


@dataclass
class ReplayedTurn:
    """Mutable while the run lasts; frozen into a TurnRecord at the end."""

    record: TurnRecord
    done: asyncio.Event = field(default_factory=asyncio.Event)
    seen_seqs: set[int] = field(default_factory=set)
    frames: list[Frame] = field(default_factory=list)
    evidence: EvidenceBundle | None = None
    response: TurnResponse | None = None


@dataclass(frozen=True)
class ReplayResult:
    facts: RunFacts
    turns: list[TurnRecord]
    lag: list[LagSample]
    dead_letters: list[DeadLetterRecord]
    frames: dict[tuple[str, int], list[Frame]]
    """(recorded conversation, turn) -> its frames in arrival order; only with keep_frames."""
    evidence: dict[tuple[str, int], EvidenceBundle]
    responses: dict[tuple[str, int], TurnResponse]
    outages: int = 0
    """Times the broker became unreachable during the run (and came back, or the run stopped)."""
    down_s: float = 0.0


def new_run_id() -> str:
    return time.strftime("r-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2)


def replay_conversation_id(run_id: str, conversation: str) -> str:
    return f"{REPLAY_PREFIX}{run_id}/{conversation}"


class Replayer:
    """One replay run. `run()` returns its result; a broker failure raises BrokerUnavailableError."""

    def __init__(self, settings: Settings, traffic: Traffic, options: ReplayOptions, *,
                 traffic_file: str = "", progress: ReplayProgress | None = None) -> None:
        self.settings = settings
        self.traffic = traffic
        self.options = replace(options, run_id=options.run_id or new_run_id())
        self.run_id = self.options.run_id
        self._traffic_file = traffic_file
        self._progress = progress
        self._prefix = replay_conversation_id(self.run_id, "")
        self._turns: dict[tuple[str, int], ReplayedTurn] = {}
        self._dead: list[DeadLetterRecord] = []
        self._lag: list[LagSample] = []
        self._frame_times: list[int] = []
        self._finished = 0
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        self.outage = Outage(settings.kafka_bootstrap_servers, options.broker_wait_s)

    async def run(self) -> ReplayResult:
        s = self.settings
        # Not idempotent: a restarted broker cannot reject its sequence state (OutOfOrderSequenceNumber),
        # and a repeated ask is dropped by the plan stage's (conversation, turn, seq) filter anyway.
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, linger_ms=s.producer_linger_ms,
                                    acks="all", enable_idempotence=False, request_timeout_ms=15_000,
                                    client_id="aisle-replay")
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, fetch_max_wait_ms=s.fetch_max_wait_ms,
                                    client_id="aisle-replay")
        started_at_ms = now_ms()
        try:
            await producer.start()
            await consumer.start()
            await self._assign_at_end(producer, consumer)
            collector = asyncio.create_task(self._collect(consumer), name="replay-collect")
            # Resolved before the traffic starts: it imports every stage module.
            inputs = stage_inputs()
            sampler = asyncio.create_task(self._sample_lag(producer, consumer, inputs), name="replay-lag")
            try:
                started_at_ms = now_ms()
                start = time.monotonic()
                by_conversation: dict[str, list[TrafficEvent]] = {}
                for event in self.traffic.events:
                    by_conversation.setdefault(event.conversation, []).append(event)
                senders = [asyncio.create_task(self._conversation(producer, events, start))
                           for events in by_conversation.values()]
                await self._watch(senders, collector)
                await self._await_responses()
            finally:
                for task in (collector, sampler):
                    task.cancel()
                await asyncio.wait([collector, sampler])
        except KafkaError as exc:
            raise BrokerUnavailableError(f"replay: Kafka at {s.kafka_bootstrap_servers}: {exc}") from exc
        finally:
            await consumer.stop()
            await producer.stop()
        return self._result(started_at_ms)

    @staticmethod
    async def _watch(senders: list[asyncio.Task[None]], collector: asyncio.Task[None]) -> None:
        """Wait for every sender. A failed sender, or a collector that stops (it only stops by failing,
        e.g. the broker is gone), cancels the rest and raises its error."""
        pending: set[asyncio.Task[None]] = {*senders, collector}
        while pending - {collector}:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if t is collector or (not t.cancelled() and t.exception() is not None)]
            if failed:
                for task in senders:
                    task.cancel()
                await asyncio.wait(senders)
                failed[0].result()
                raise BrokerUnavailableError("replay: the collector stopped")

    async def _assign_at_end(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
        names = ["frames", "responses", "dead-letters"] + (["evidence"] if self.options.keep_frames else [])
        partitions = await topic_partitions(producer, [self.settings.topic(name) for name in names])
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything of the run is produced
            await consumer.position(tp)

    async def _conversation(self, producer: AIOKafkaProducer, events: Sequence[TrafficEvent], start: float) -> None:
        conversation_id = self._prefix + events[0].conversation
        speed = self.options.speed
        for event in events:
            if speed > 0:
                delay = start + event.offset_ms / 1000 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if event.type == ASK:
                async with self._slots:
                    await self._ask(producer, conversation_id, event)
            else:
                feedback = Feedback(conversation_id, event.turn, now_ms(), event.user, event.kind, event.value,
                                    sent_at_ms=now_ms())
                await send_retrying(producer, self.outage, self.settings.topic("feedback"), codec.encode(feedback),
                                    conversation_id.encode())

    async def _ask(self, producer: AIOKafkaProducer, conversation_id: str, event: TrafficEvent) -> None:
        sent_at_ms = now_ms()
        state = ReplayedTurn(TurnRecord(event.conversation, event.turn, sent_at_ms))
        self._turns[(event.conversation, event.turn)] = state
        turn = UserTurn(conversation_id, event.turn, 0, event.user, event.text, event.page_product_id,
                        client="backend" if self.options.acting else "replay",
                        run_id=None if self.options.acting else self.run_id, sent_at_ms=sent_at_ms)
        headers = [(hop_name("replay", "in"), str(sent_at_ms).encode()),
                   (hop_name("replay", "out"), str(now_ms()).encode())]
        await send_retrying(producer, self.outage, self.settings.topic("requests"), codec.encode(turn),
                            conversation_id.encode(), headers)
        try:
            await asyncio.wait_for(state.done.wait(), self.options.turn_timeout_s)
        except TimeoutError:
            state.record = replace(state.record, timed_out=True)
            log.warning("replay %s: no done frame for %s turn %d after %.0f s", self.run_id, event.conversation,
                        event.turn, self.options.turn_timeout_s)
        self._finished += 1
        if self._progress is not None:
            self._progress(self._finished, len(self.traffic.asks))

    async def _collect(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await retrying(lambda: consumer.getmany(timeout_ms=500), self.outage, proves_up=False)
            for records in batches.values():
                for record in records:
                    key = (record.key or b"").decode("utf-8", "replace")
                    if not key.startswith(self._prefix):
                        continue
                    try:
                        message = codec.decode(record.value or b"")
                    except DecodeError as exc:
                        log.warning("replay: undecodable record on %s: %s", record.topic, exc)
                        continue
                    self._observe(key[len(self._prefix):], message, record.timestamp)

    def _observe(self, conversation: str, message: Any, at_ms: int) -> None:
        if isinstance(message, DeadLetter):
            turn = _dead_letter_turn(message)
            self._dead.append(DeadLetterRecord(conversation, turn, message.stage, message.error_type, message.reason))
            return
        state = self._turns.get((conversation, getattr(message, "turn", -1)))
        if state is None:
            return
        if isinstance(message, Frame):
            self._on_frame(state, message, at_ms)
        elif isinstance(message, TurnResponse):
            state.response = message
            state.record = replace(state.record, answered=True, hop_ms=dict(message.hop_ms),
                                   answer_chars=len(message.text), intent=message.intent,
                                   products_shown=list(message.products_shown))
        elif isinstance(message, EvidenceBundle):
            state.evidence = message

    def _on_frame(self, state: ReplayedTurn, frame: Frame, at_ms: int) -> None:
        record = state.record
        if frame.seq in state.seen_seqs:
            state.record = replace(record, duplicate_frames=record.duplicate_frames + 1)
            return
        state.seen_seqs.add(frame.seq)
        self._frame_times.append(at_ms)
        if self.options.keep_frames:
            state.frames.append(frame)
        changes: dict[str, Any] = {"frames": record.frames + 1}
        if frame.type == "text" and frame.text and record.first_text_at_ms is None:
            changes["first_text_at_ms"] = at_ms
        payload = _payload(frame)
        if frame.type == "error":
            changes["errors"] = [*record.errors, (error_kind(payload), str(payload.get("reason", "")))]
        if frame.type == "done":
            changes["done_frames"] = record.done_frames + 1
            counts = payload.get("counts")
            if isinstance(counts, dict):
                changes["done_counts"] = {str(k): int(v) for k, v in counts.items() if isinstance(v, int)}
            changes["done_at_ms"] = at_ms
        state.record = replace(record, **changes)
        if frame.type == "done":
            state.done.set()

    async def _sample_lag(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer,
                          stage_topics: dict[str, str]) -> None:
        """Each stage group's lag every lag_interval_s; a sample the broker does not answer is None."""
        s = self.settings
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers, client_id="aisle-replay-lag")
        try:
            await admin.start()
            inputs = {stage: await topic_partitions(producer, [s.topic(topic)]) for stage, topic in stage_topics.items()}
        except (KafkaError, BrokerUnavailableError) as exc:
            log.info("replay: no lag samples (%s)", exc)
            return
        try:
            while True:
                at_ms = now_ms()
                lag = {stage: await group_lag(admin, consumer, f"{s.topic_prefix}{stage}", tps)
                       for stage, tps in inputs.items()}
                self._lag.append(LagSample(at_ms, lag))
                await asyncio.sleep(self.options.lag_interval_s)
        finally:
            await admin.close()

    async def _await_responses(self) -> None:
        deadline = time.monotonic() + RESPONSE_GRACE_S
        while time.monotonic() < deadline:
            if all(t.response is not None for t in self._turns.values() if t.record.done_at_ms is not None):
                return
            await asyncio.sleep(0.1)

    def _result(self, started_at_ms: int) -> ReplayResult:
        facts = RunFacts(self.run_id, self._traffic_file, self.options.speed, self.options.concurrency,
                         started_at_ms, now_ms(), [(b.line_no, b.reason) for b in self.traffic.bad_lines],
                         sorted(self._frame_times))
        ordered = sorted(self._turns.items(), key=lambda item: item[1].record.sent_at_ms)
        return ReplayResult(
            facts=facts,
            turns=[t.record for _, t in ordered],
            lag=list(self._lag),
            dead_letters=list(self._dead),
            frames={key: list(t.frames) for key, t in ordered} if self.options.keep_frames else {},
            evidence={key: t.evidence for key, t in ordered if t.evidence is not None},
            responses={key: t.response for key, t in ordered if t.response is not None},
            outages=self.outage.outages,
            down_s=self.outage.down_s_total,
        )


def _payload(frame: Frame) -> dict[str, Any]:
    try:
        data = json.loads(frame.payload or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dead_letter_turn(letter: DeadLetter) -> int | None:
    """The turn of the dead-lettered message, when its value still decodes."""
    with contextlib.suppress(DecodeError):
        turn = getattr(codec.decode(letter.value or b""), "turn", None)
        return turn if isinstance(turn, int) else None
    return None

"""Recording traffic into the traffic file format (traffic.py).

Two ways in:
- `TrafficRecorder`: the gateway's `AISLE_RECORD=path` hook. It appends each ask and client event as it
  is produced. The first line is a header with the recording's start; a gateway that restarts on the
  same file keeps that start, so offsets stay comparable.
- `record_from_topics`: `aisle record --from --to OUT` reads `requests` and `feedback` between two
  times (offsets_for_times on every partition) and writes the same format. Replayed turns (a run id
  set) are left out, so recording a window never captures a replay.
"""

from __future__ import annotations

import json
import logging

from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline import codec
from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, DecodeError
from pipeline.messages import Feedback, UserTurn
from pipeline.replay._partitions import topic_partitions
from pipeline.replay.traffic import ASK, FEEDBACK, HEADER, REPLAY_PREFIX, TrafficEvent, event_line, header_line

log = logging.getLogger(__name__)


class TrafficRecorder:
    """Appends asks and feedback to a traffic file. Writes are small and synchronous (one line,
    flushed), which is cheap next to the broker round trip each of them follows."""

    def __init__(self, path: Path, clock_ms: Clock = now_ms) -> None:
        self.path = path
        self._clock_ms = clock_ms
        self.started_at_ms = self._open_start()

    def _open_start(self) -> int:
        """The start of the recording already in the file, or now (writing the header)."""
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open(encoding="utf-8", errors="replace") as existing:
                first = existing.readline()
            try:
                header = json.loads(first)
                if isinstance(header, dict) and header.get("type") == HEADER and isinstance(header.get("started_at_ms"), int):
                    return int(header["started_at_ms"])
            except ValueError:
                pass
            log.warning("recording %s: no header line; appending with offsets from now", self.path)
            return self._clock_ms()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = self._clock_ms()
        self._append(header_line(started))
        return started

    def record_turn(self, turn: UserTurn) -> None:
        self._append(event_line(TrafficEvent(ASK, self._offset(turn.sent_at_ms), turn.conversation_id, turn.user_id,
                                             turn.turn, turn.text, turn.page_product_id)))

    def record_feedback(self, feedback: Feedback) -> None:
        self._append(event_line(TrafficEvent(FEEDBACK, self._offset(feedback.sent_at_ms), feedback.conversation_id,
                                             feedback.user_id, feedback.turn, kind=feedback.kind,
                                             value=feedback.value)))

    def _offset(self, at_ms: int) -> int:
        return max(0, (at_ms or self._clock_ms()) - self.started_at_ms)

    def _append(self, line: str) -> None:
        # A recording must never fail a shopper's turn: a write error is logged and the line lost.
        try:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as exc:
            log.warning("recording %s: cannot append (%s)", self.path, exc)


@dataclass(frozen=True)
class RecordSummary:
    asks: int
    feedback: int
    skipped_replays: int
    undecodable: int
    conversations: int


async def record_from_topics(settings: Settings, from_ms: int, to_ms: int, out: Path) -> RecordSummary:
    """Write the asks and feedback produced between `from_ms` and `to_ms` (epoch ms) to `out`.

    Raises BrokerUnavailableError when Kafka or the topics cannot be reached.
    """
    topics = [settings.topic("requests"), settings.topic("feedback")]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                enable_auto_commit=False, client_id="aisle-record")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="aisle-record")
    events: list[tuple[int, TrafficEvent]] = []
    skipped = undecodable = 0
    try:
        await producer.start()
        await consumer.start()
        partitions = await topic_partitions(producer, topics)
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times({tp: from_ms for tp in partitions})
        ends_at = await consumer.offsets_for_times({tp: to_ms for tp in partitions})
        latest = await consumer.end_offsets(partitions)
        remaining: dict[TopicPartition, int] = {}
        for tp in partitions:
            start = starts.get(tp)
            end = ends_at.get(tp)
            stop = end.offset if end is not None else latest[tp]
            if start is None or start.offset >= stop:
                continue
            consumer.seek(tp, start.offset)
            remaining[tp] = stop
        consumer.pause(*[tp for tp in partitions if tp not in remaining])
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= remaining.get(tp, -1):
                        break
                    try:
                        message = codec.decode(record.value or b"")
                    except DecodeError:
                        undecodable += 1
                        continue
                    event = _event(message)
                    if event is None:
                        skipped += isinstance(message, UserTurn)
                        continue
                    events.append((record.timestamp, event))
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
                    consumer.pause(tp)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot read {', '.join(topics)}: {exc}") from exc
    finally:
        await consumer.stop()
        await producer.stop()
    return _write(out, from_ms, events, skipped, undecodable)


def _event(message: object) -> TrafficEvent | None:
    """The traffic event of a decoded message; None for replayed turns and other records."""
    if isinstance(message, UserTurn) and message.run_id is None:
        return TrafficEvent(ASK, message.sent_at_ms, message.conversation_id, message.user_id, message.turn,
                            message.text, message.page_product_id)
    if isinstance(message, Feedback) and not message.conversation_id.startswith(REPLAY_PREFIX):
        return TrafficEvent(FEEDBACK, message.sent_at_ms, message.conversation_id, message.user_id, message.turn,
                            kind=message.kind, value=message.value)
    return None


def _write(out: Path, from_ms: int, events: list[tuple[int, TrafficEvent]], skipped: int,
           undecodable: int) -> RecordSummary:
    # offset_ms holds the sender's clock (sent_at_ms) until here; the broker's time stands in when unset.
    ordered = sorted(((e.offset_ms or ts, e) for ts, e in events), key=lambda pair: pair[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as file:
        file.write(header_line(from_ms) + "\n")
        for at_ms, event in ordered:
            shifted = TrafficEvent(event.type, max(0, at_ms - from_ms), event.conversation, event.user, event.turn,
                                   event.text, event.page_product_id, event.kind, event.value)
            file.write(event_line(shifted) + "\n")
    asks = sum(1 for _, e in ordered if e.type == ASK)
    return RecordSummary(asks, len(ordered) - asks, skipped, undecodable,
                         len({e.conversation for _, e in ordered}))

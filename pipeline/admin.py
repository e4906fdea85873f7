"""Topic administration and inspection with confluent-kafka's admin client.

`apply_topics` makes the broker match topics/topics.toml (idempotent: create what is missing, add
partitions, update configs); `describe_topics` reports live partition counts and offsets; `tail`
prints decoded messages as they arrive, a dead letter with the record it carries decoded too
(`readable_dead_letter`). These are operator tools, run from the CLI, so they use the
synchronous confluent-kafka client rather than the stage runtime's aiokafka.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

from pipeline import codec
from pipeline._kafka_log import kafka_logger
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError, DecodeError
from pipeline.topics import TopicSpec

_TIMEOUT_S = 15.0
DEAD_LETTER = "aisle.DeadLetter"
PREVIEW_BYTES = 64
"""How much of an undecodable dead-lettered record `tail` shows (as hex, and as text if UTF-8)."""


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str
    """created | partitions | config | unchanged"""
    detail: str = ""


@dataclass(frozen=True)
class TopicStatus:
    topic: str
    exists: bool
    partitions: int
    earliest_total: int
    latest_total: int

    @property
    def messages(self) -> int:
        """Messages currently retained (for a compacted topic, an upper bound)."""
        return self.latest_total - self.earliest_total


def _admin(settings: Settings) -> AdminClient:
    # librdkafka's lines go through logging, once per state change (_kafka_log.py), not to stderr.
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers, "socket.timeout.ms": 10_000,
                        "logger": kafka_logger()})


def _existing(admin: AdminClient, settings: Settings) -> dict[str, int]:
    try:
        metadata = admin.list_topics(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise BrokerUnavailableError(
            f"Kafka at {settings.kafka_bootstrap_servers} did not answer ({exc}). Is it running? Try 'make kafka-up'."
        ) from exc
    finally:
        admin.poll(0)  # hands librdkafka's queued log lines to the logger
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def apply_topics(settings: Settings, specs: list[TopicSpec]) -> list[TopicChange]:
    """Create or update every declared topic; returns what changed. Partitions are never removed
    (Kafka cannot), so a declaration with fewer partitions than the broker has is reported, not applied.
    New topics get AISLE_REPLICATION_FACTOR replicas (an existing topic keeps its own: Kafka changes
    that only by reassignment) and every topic `min.insync.replicas` (Settings.topic_min_insync_replicas)."""
    min_insync = {"min.insync.replicas": str(settings.topic_min_insync_replicas)}
    admin = _admin(settings)
    existing = _existing(admin, settings)
    changes: list[TopicChange] = []
    to_create = [s for s in specs if settings.topic(s.name) not in existing]
    if to_create:
        futures = admin.create_topics(
            [
                NewTopic(settings.topic(s.name), s.partitions, settings.replication_factor,
                         config={**s.broker_config(), **min_insync})
                for s in to_create
            ],
            request_timeout=_TIMEOUT_S,
        )
        for name, future in futures.items():
            _wait(future, f"create {name}")
            changes.append(TopicChange(name, "created"))
        _wait_for_leaders(admin, [settings.topic(s.name) for s in to_create])
    for spec in specs:
        name = settings.topic(spec.name)
        if name not in existing:
            continue
        have = existing[name]
        if have < spec.partitions:
            _wait(admin.create_partitions([NewPartitions(name, spec.partitions)])[name], f"add partitions to {name}")
            changes.append(TopicChange(name, "partitions", f"{have} -> {spec.partitions}"))
        elif have > spec.partitions:
            changes.append(TopicChange(name, "unchanged", f"has {have} partitions, declared {spec.partitions}; Kafka cannot shrink"))
        changed = _update_config(admin, name, {**spec.broker_config(), **min_insync})
        if changed:
            changes.append(TopicChange(name, "config", ", ".join(changed)))
        elif have == spec.partitions:
            changes.append(TopicChange(name, "unchanged"))
    return changes


def _wait_for_leaders(admin: AdminClient, topics: list[str], timeout_s: float = _TIMEOUT_S) -> None:
    """Block until every partition of `topics` answers a ListOffsets request: for a moment after a
    topic is created, its partitions refuse reads and writes (NOT_LEADER_FOR_PARTITION) even though
    the metadata already names a leader."""
    deadline = time.monotonic() + timeout_s
    metadata = admin.list_topics(timeout=_TIMEOUT_S).topics
    pending = [TopicPartition(t, p) for t in topics if t in metadata for p in metadata[t].partitions]
    while pending:
        results = admin.list_offsets({tp: OffsetSpec.latest() for tp in pending}, request_timeout=_TIMEOUT_S)
        still = []
        for tp, future in results.items():
            try:
                future.result(timeout=_TIMEOUT_S)
            except KafkaException:
                still.append(tp)
        pending = still
        if pending and time.monotonic() > deadline:
            raise BrokerUnavailableError(f"{len(pending)} new partitions still have no leader after {timeout_s:.0f} s")
        if pending:
            time.sleep(0.2)


def _update_config(admin: AdminClient, topic: str, wanted: dict[str, str]) -> list[str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    current = _wait(admin.describe_configs([resource])[resource], f"describe {topic}")
    differing = [k for k, v in wanted.items() if k not in current or current[k].value != v]
    if not differing:
        return []
    update = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(k, wanted[k], incremental_operation=AlterConfigOpType.SET) for k in differing
        ],
    )
    _wait(admin.incremental_alter_configs([update])[update], f"update configs of {topic}")
    return [f"{k}={wanted[k]}" for k in differing]


def describe_topics(settings: Settings, specs: list[TopicSpec]) -> list[TopicStatus]:
    """Live partition counts and summed earliest/latest offsets of every declared topic."""
    admin = _admin(settings)
    existing = _existing(admin, settings)
    statuses = []
    for spec in specs:
        name = settings.topic(spec.name)
        partitions = existing.get(name, 0)
        if partitions == 0:
            statuses.append(TopicStatus(name, False, 0, 0, 0))
            continue
        earliest = _offset_total(admin, name, partitions, OffsetSpec.earliest())
        latest = _offset_total(admin, name, partitions, OffsetSpec.latest())
        statuses.append(TopicStatus(name, True, partitions, earliest, latest))
    return statuses


def _offset_total(admin: AdminClient, topic: str, partitions: int, spec: OffsetSpec) -> int:
    # Right after a topic is created its partitions may not have a leader yet: retry briefly.
    for attempt in range(10):
        try:
            results = admin.list_offsets({TopicPartition(topic, p): spec for p in range(partitions)},
                                         request_timeout=_TIMEOUT_S)
            return sum(future.result(timeout=_TIMEOUT_S).offset for future in results.values())
        except KafkaException as exc:
            if attempt == 9 or not exc.args[0].retriable():
                raise BrokerUnavailableError(f"offsets of {topic}: {exc}") from exc
            time.sleep(0.3)
    raise AssertionError("unreachable")


def tail(
    settings: Settings,
    topic: str,
    *,
    conversation: str | None = None,
    from_beginning: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, Any]]:
    """Yield decoded messages of `topic` (a declared name) as they arrive.

    Reads without a consumer group commit, so tailing never disturbs the stages. Each item holds the
    partition, offset, key, the schema name and the decoded value (or the decode error).
    The partitions are assigned, not subscribed: no group rebalance, so through a broker outage tail
    keeps its position and prints what was written meanwhile (partitions added later are not read).
    Raises BrokerUnavailableError when the broker does not answer at the start, or the topic is missing.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"aisle-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "fetch.wait.max.ms": 50,
            "logger": kafka_logger(),
        }
    )
    name = settings.topic(topic)
    try:
        try:
            described = consumer.list_topics(name, timeout=_TIMEOUT_S).topics[name]
        except KafkaException as exc:
            raise BrokerUnavailableError(f"Kafka at {settings.kafka_bootstrap_servers} did not answer ({exc})") from exc
        if described.error is not None:
            raise BrokerUnavailableError(f"tail {topic}: {described.error}")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(name, p, start) for p in sorted(described.partitions)])
        while not stop():
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise BrokerUnavailableError(f"tail {topic}: {error}")
                continue  # a broker away (said once by the librdkafka logger): wait for it
            raw_key: bytes | None = message.key()
            key = raw_key.decode("utf-8", "replace") if raw_key else None
            if conversation is not None and key != conversation:
                continue
            item: dict[str, Any] = {"partition": message.partition(), "offset": message.offset(), "key": key}
            try:
                decoded = codec.decode_dict(message.value() or b"")
                value = readable_dead_letter(decoded.value) if decoded.schema_name == DEAD_LETTER else decoded.value
                item["schema"], item["value"] = decoded.schema_name, value
            except DecodeError as exc:
                item["error"] = str(exc)
            yield item
    finally:
        consumer.close()


def readable_dead_letter(letter: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded DeadLetter with the original record it carries made readable.

    `key` becomes text (UTF-8, undecodable bytes replaced). `value` becomes `{"schema", "value"}`
    when its bytes decode with a known schema (any version in schemas/history/ included), or
    `{"error", "size", "hex", "text"}` when they do not: the decode error, the size in bytes, and
    the first PREVIEW_BYTES bytes as hex and, if they are valid UTF-8, as text (else None).
    """
    out = dict(letter)
    key: bytes | None = letter.get("key")
    out["key"] = None if key is None else key.decode("utf-8", "replace")
    raw: bytes | None = letter.get("value")
    if raw is None:
        return out
    try:
        original = codec.decode_dict(raw)
    except DecodeError as exc:
        preview = raw[:PREVIEW_BYTES]
        try:
            text: str | None = preview.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        out["value"] = {"error": str(exc), "size": len(raw), "hex": preview.hex(), "text": text}
    else:
        out["value"] = {"schema": original.schema_name, "value": original.value}
    return out


def _wait(future: Any, what: str) -> Any:
    try:
        return future.result(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"{what}: {exc}") from exc


def admin_client(settings: Settings) -> AdminClient:
    """An admin client for repeated calls (each new client costs a connection and a log line)."""
    return _admin(settings)


def consumer_lag(settings: Settings, group_id: str, topic: str, admin: AdminClient | None = None) -> int | None:
    """Messages of `topic` (a declared name) not yet committed by `group_id`; None if unknown."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = admin or _admin(settings)
    name = settings.topic(topic)
    try:
        partitions = _existing(admin, settings).get(name, 0)
        if not partitions:
            return None
        request = [ConsumerGroupTopicPartitions(group_id, [TopicPartition(name, p) for p in range(partitions)])]
        committed = admin.list_consumer_group_offsets(request)[group_id].result(timeout=_TIMEOUT_S)
        latest = admin.list_offsets({TopicPartition(name, p): OffsetSpec.latest() for p in range(partitions)},
                                    request_timeout=_TIMEOUT_S)
        ends = {tp.partition: f.result(timeout=_TIMEOUT_S).offset for tp, f in latest.items()}
    except (KafkaException, BrokerUnavailableError):
        return None
    lag = 0
    for tp in committed.topic_partitions:
        position = tp.offset if tp.offset >= 0 else 0
        lag += max(0, ends.get(tp.partition, 0) - position)
    return lag

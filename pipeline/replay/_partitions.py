"""Every partition of some topics, from a producer's metadata.

A consumer's `partitions_for_topic` reads a cache that is empty until it subscribes, and `topics()`
fetches metadata without filling that cache; the producer's `partitions_for` waits for the topic's
metadata, which is what the gateway does too (gateway/bus.py).
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline.errors import BrokerUnavailableError


async def topic_partitions(producer: AIOKafkaProducer, topics: list[str]) -> list[TopicPartition]:
    """All partitions of `topics` (full names); raises BrokerUnavailableError for a missing topic."""
    found: list[TopicPartition] = []
    for topic in topics:
        try:
            ids = await producer.partitions_for(topic)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"topic {topic} does not exist (run `aisle topics apply`)") from exc
        if not ids:
            raise BrokerUnavailableError(f"topic {topic} does not exist (run `aisle topics apply`)")
        found += [TopicPartition(topic, p) for p in sorted(ids)]
    return found

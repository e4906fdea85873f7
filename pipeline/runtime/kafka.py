"""Building Kafka clients from Settings, and waiting for a broker that is not there yet.

Every process that talks to Kafka (stage workers, gateway, CLI tools) starts its clients through
`start_with_retry`, so an unreachable broker gives one clear line per attempt and a typed error at
the end, never a traceback from deep inside aiokafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError

log = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 8.0


class _Startable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


C = TypeVar("C", bound=_Startable)


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer tuned for small, latency-critical records."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "linger_ms": settings.producer_linger_ms,
        "acks": "all",
        "enable_idempotence": True,
        "request_timeout_ms": 15_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(settings: Settings, group_id: str | None, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer that never commits by itself: the runtime commits only finished work."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": max(1_000, settings.session_timeout_ms // 3),
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


async def start_with_retry(factory: Callable[[], C], what: str, settings: Settings) -> C:
    """Build and start an aiokafka client, retrying with exponential backoff while the broker is
    unreachable. A fresh client is built for each attempt: a client that failed to start cannot be
    started again.

    Raises BrokerUnavailableError once `settings.connect_retry_max_s` has passed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.connect_retry_max_s
    backoff_s = _FIRST_BACKOFF_S
    while True:
        client = factory()
        try:
            await client.start()
            return client
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            # A failed start leaves background tasks behind; stop() releases them before we retry.
            try:
                await client.stop()
            except Exception:  # noqa: BLE001 - best effort clean-up of a client that never started
                pass
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                raise BrokerUnavailableError(
                    f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({exc}); gave up after "
                    f"{settings.connect_retry_max_s:.0f} s. Is the broker running? Try 'make kafka-up'."
                ) from exc
            wait_s = min(backoff_s, remaining_s)
            log.warning(
                "%s: Kafka at %s is not reachable (%s); retrying in %.1f s",
                what, settings.kafka_bootstrap_servers, type(exc).__name__, wait_s,
            )
            await asyncio.sleep(wait_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

"""A producer that can be replaced while the worker runs.

An idempotent producer whose sequence state the broker no longer accepts (OutOfOrderSequenceNumber
after a broker restart, an unknown producer id) fails every later send. Such a producer is renewed:
a new one (a new producer id, sequences from zero) replaces it, and the lanes whose sends failed
send their messages again through it (runtime/retry.py decides when). Many lanes see the same
failure at once, so a renewal names the generation it saw fail, and only the first renewal of a
generation builds a new producer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

_STOP_OLD_TIMEOUT_S = 5.0


class Sender(Protocol):
    """The part of aiokafka's AIOKafkaProducer the worker uses."""

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...

    async def stop(self) -> None: ...


class RenewableProducer:
    """Sends through the current producer; `renew` swaps in a fresh one. `start` is awaited for each."""

    def __init__(self, start: Callable[[], Awaitable[Sender]], what: str) -> None:
        self._start = start
        self._what = what
        self._current: Sender | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self.renewals = 0

    @property
    def generation(self) -> int:
        """Which producer is current; pass it to `renew` after a send through it failed."""
        return self._generation

    async def start(self) -> None:
        self._current = await self._start()

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Any]:
        """Queue one record; the future resolves when the broker acknowledges it (or fails)."""
        if self._current is None:
            raise RuntimeError("the producer is not started")
        return await self._current.send(topic, value, key=key, headers=headers)

    async def renew(self, failed_generation: int) -> None:
        """Replace the producer of `failed_generation` (once, however many lanes ask)."""
        async with self._lock:
            if failed_generation != self._generation or self._current is None:
                return
            old = self._current
            self._current = await self._start()
            self._generation += 1
            self.renewals += 1
            log.warning("%s: producer renewed after a fatal idempotence error (generation %d)",
                        self._what, self._generation)
        try:
            # Its pending sends fail anyway; do not let a broken producer hold the lanes up.
            await asyncio.wait_for(old.stop(), timeout=_STOP_OLD_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the old producer is being thrown away
            log.info("%s: the replaced producer did not stop cleanly (%s)", self._what, type(exc).__name__)

    async def stop(self) -> None:
        if self._current is not None:
            await self._current.stop()
            self._current = None

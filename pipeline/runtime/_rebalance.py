"""The worker's rebalance listener: revoked partitions go to its callback, assignments to the log.

`aisle up` reads the "assigned" line in a worker's log as the sign that it is ready (launcher.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

log = logging.getLogger("pipeline.runtime.worker")


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, name: str, on_revoked: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self._name, self._on_revoked = name, on_revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("%s: assigned %d partitions", self._name, len(assigned))

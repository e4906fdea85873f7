"""Key-ordered lanes: one serial queue per key, many keys in flight at once.

This is how a stage keeps the dataflow's ordering rule without head-of-line blocking: work for one
conversation runs strictly in order, while other conversations proceed concurrently. It is the KEY
ordering mode of Confluent's Parallel Consumer, in asyncio.

The lanes know nothing about Kafka. The worker offers items; `offer` refuses (returns False) when the
key's lane is full or `max_lanes` keys are already active, and the worker then pauses the partition
and parks the item until `on_room` tells it to try again. That way one slow conversation fills only
its own lane and never stalls the dispatcher.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class KeyedLanes(Generic[T]):
    """Runs `handler(item)` for each offered item, in order per key, concurrently across keys.

    A lane exists while its key has work queued or running; at most `max_lanes` lanes exist at once,
    each holding at most `queue_size` items (the running one included). `handler` must not raise:
    the worker's handler turns failures into dead letters. If it does raise, the error is logged and
    the lane moves on to its next item.
    """

    def __init__(
        self,
        handler: Callable[[T], Awaitable[None]],
        *,
        max_lanes: int,
        queue_size: int,
        on_room: Callable[[], None] | None = None,
    ) -> None:
        if max_lanes < 1 or queue_size < 1:
            raise ValueError("max_lanes and queue_size must be at least 1")
        self._handler = handler
        self._max_lanes = max_lanes
        self._queue_size = queue_size
        self._on_room = on_room
        self._queues: dict[Hashable, collections.deque[T]] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        # The item each lane is handling, in a task of its own, so `revoke` can stop that one item
        # without stopping its lane.
        self._running: dict[Hashable, tuple[T, asyncio.Task[None]]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active_lanes(self) -> int:
        return len(self._queues)

    @property
    def queued(self) -> int:
        """Items queued or running, over all lanes."""
        return sum(len(q) for q in self._queues.values())

    def has_room(self, key: Hashable) -> bool:
        queue = self._queues.get(key)
        if queue is None:
            return len(self._queues) < self._max_lanes
        return len(queue) < self._queue_size

    def offer(self, key: Hashable, item: T) -> bool:
        """Queue `item` on `key`'s lane; False (and nothing queued) when there is no room."""
        if not self.has_room(key):
            return False
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = collections.deque()
            self._tasks[key] = asyncio.create_task(self._run_lane(key, queue), name=f"lane:{key!r}")
        queue.append(item)
        self._idle.clear()
        return True

    async def _run_lane(self, key: Hashable, queue: collections.deque[T]) -> None:
        try:
            while queue:
                item = queue[0]
                handling: asyncio.Task[None] = asyncio.ensure_future(self._handler(item))
                self._running[key] = (item, handling)
                try:
                    await asyncio.wait({handling})  # returns, without raising, when `revoke` cancels it
                except asyncio.CancelledError:  # the lane itself is cancelled: stop its item too
                    handling.cancel()
                    await asyncio.gather(handling, return_exceptions=True)
                    raise
                finally:
                    del self._running[key]
                if not handling.cancelled() and handling.exception() is not None:
                    # The handler's job is to not raise; keep the lane alive if it does.
                    log.error("lane handler raised for key %r; continuing with the next item", key,
                              exc_info=handling.exception())
                if queue and queue[0] is item:
                    queue.popleft()
                if self._on_room is not None:
                    self._on_room()
        finally:
            del self._queues[key]
            del self._tasks[key]
            if not self._queues:
                self._idle.set()
            if self._on_room is not None:
                self._on_room()

    async def revoke(self, doomed: Callable[[T], bool]) -> int:
        """Drop every queued item for which `doomed(item)`, and cancel the one a lane is handling if it
        is doomed; returns how many were dropped. Other items keep their lanes and their order.

        For a rebalance: the records of a partition this process no longer owns must not go on
        producing outputs next to the new owner's."""
        dropped = 0
        stopping: list[asyncio.Task[None]] = []
        for key, queue in self._queues.items():
            running = self._running.get(key)
            kept = [item for item in queue if (running is not None and item is running[0]) or not doomed(item)]
            dropped += len(queue) - len(kept)
            if running is not None and doomed(running[0]):
                dropped += 1
                kept.remove(running[0])
                running[1].cancel()
                stopping.append(running[1])
            queue.clear()
            queue.extend(kept)
        await asyncio.gather(*stopping, return_exceptions=True)
        return dropped

    async def drain(self) -> None:
        """Wait until every queued item has been handled."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Stop all lanes now; queued items are abandoned (their offsets stay uncommitted)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

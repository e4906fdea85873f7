"""Reading a `CatalogReader` for the builders of pipeline/markup/resolve.py: the I/O half of hydrate.

    lookups = Lookups(reader, timeout_s=0.2)       # one per turn (hydrate) or per request (gateway)
    fetched = await lookups.fetch(resolve.card_reads(pid))
    payload = resolve.card(fetched, pid)           # pure
    lookups.close()                                # the turn is over: cancel reads still running

Each (kind, product id) is read at most once per `Lookups`, and once settled stays settled: a value
(None for an unknown id), or missing because it timed out or failed. A read still running when a fetch's
wait of `timeout_s` ends is cancelled and missing for good, so every frame of a turn sees the same
facts, and what a turn shows is a pure function of its tokens and of these outcomes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pipeline.markup.resolve import HISTORY, OFFER, PAGE, PRODUCT, RATING, REVIEWS, CatalogReader, Fetched, Read

_READ: dict[str, Callable[[CatalogReader, str], Awaitable[Any]]] = {
    PRODUCT: lambda reader, pid: reader.get_product(pid),
    OFFER: lambda reader, pid: reader.get_offer(pid),
    RATING: lambda reader, pid: reader.get_rating(pid),
    HISTORY: lambda reader, pid: reader.get_price_history(pid),
    PAGE: lambda reader, pid: reader.get_page(pid),
    REVIEWS: lambda reader, pid: reader.get_review_texts(pid),
}


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a failure as seen, so an abandoned read does not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


class Lookups:
    """Reads over `reader`, each once, each fetch waiting at most `timeout_s` seconds."""

    def __init__(self, reader: CatalogReader, timeout_s: float) -> None:
        self.reader = reader
        self.timeout_s = timeout_s
        self._values: dict[Read, object] = {}
        self._missing: dict[Read, str] = {}
        self._running: dict[Read, asyncio.Future[Any]] = {}

    async def fetch(self, reads: Iterable[Read]) -> Fetched:
        """Everything read so far, after starting `reads` not yet made and waiting for those (at most
        `timeout_s`, all together). Returns at once, without suspending, when none is outstanding.
        Never raises for a failing reader: that read is missing ("failed")."""
        waiting: dict[Read, asyncio.Future[Any]] = {}
        for read in reads:
            if read in self._values or read in self._missing or read in waiting:
                continue
            task = self._running.get(read)
            if task is None:
                kind, pid = read
                task = asyncio.ensure_future(_READ[kind](self.reader, pid))
                task.add_done_callback(_retrieve)
                self._running[read] = task
            waiting[read] = task
        if waiting:
            await asyncio.wait(waiting.values(), timeout=self.timeout_s)
        for read, task in waiting.items():
            self._settle(read, task)
        return Fetched(dict(self._values), dict(self._missing))

    def _settle(self, read: Read, task: asyncio.Future[Any]) -> None:
        if read in self._values or read in self._missing:
            return  # settled by a fetch that waited on it too
        self._running.pop(read, None)
        if not task.done():
            task.cancel()
            self._missing[read] = "timeout"
        elif task.cancelled() or task.exception() is not None:
            # A reader may fail any way (and `close` cancels): the frame degrades, the turn goes on.
            self._missing[read] = "failed"
        else:
            self._values[read] = task.result()

    def close(self) -> None:
        """Cancel reads still running (the turn, or the request, is over)."""
        for task in self._running.values():
            task.cancel()
        self._running.clear()

"""The hydrate stage: token chunks with markup in, resolved frames out (topic `hydrated`).

The core is pure (pipeline/markup/hydrator.py, `TurnHydrator`: parsing, grounding, frames); this
module is the thin adapter that reads the store and catalog for it. Per chunk it fetches first, then
calls the core with what was fetched, as render's stage calls its core:

    hydration = TurnHydration(conversation_id, turn, reader, lookup_timeout_s=0.2)
    frames = await hydration.on_chunk(chunk)

Each read is bounded by `lookup_timeout_s` and made once per turn (pipeline/markup/lookups.py); a
chunk that needs no read, such as plain text, gives its frames without waiting. See the core's
docstring for what the frames guarantee (grounding, idempotence, determinism, suggestions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from cachetools import LRUCache

from pipeline import topics
from pipeline.catalog import read_catalog
from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.markup.hydrator import TurnHydrator
from pipeline.markup.lookups import Lookups
from pipeline.markup.resolve import CatalogReader
from pipeline.messages import Frame, TokenChunk
from pipeline.stages.base import Output
from pipeline.store.base import Store
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.sqlite import open_store

__all__ = ["HydrateStage", "TurnHydration", "build"]


class TurnHydration:
    """One turn through the core, with the turn's reads: fetch what a chunk needs, then the frames."""

    def __init__(self, conversation_id: str, turn: int, reader: CatalogReader, lookup_timeout_s: float) -> None:
        self.hydrator = TurnHydrator(conversation_id, turn)
        self.lookups = Lookups(reader, lookup_timeout_s)

    @property
    def turn(self) -> int:
        return self.hydrator.turn

    async def on_chunk(self, chunk: TokenChunk) -> list[Frame]:
        """The frames one chunk completes, in order, numbered contiguously; [] for a chunk of another
        conversation or turn, or after the final one. Never raises for bad markup or a failing reader."""
        parsed = self.hydrator.take(chunk)
        if parsed is None:
            return []
        frames = self.hydrator.frames(parsed, await self.lookups.fetch(parsed.reads))
        if parsed.final:
            try:
                frames += self.hydrator.end(parsed, await self.lookups.fetch(self.hydrator.ending_reads()))
            finally:
                self.lookups.close()
        return frames

    def close(self) -> None:
        """Cancel the turn's reads still running (a newer turn replaced it)."""
        self.lookups.close()


# ---- the stage: tokens -> hydrated ----------------------------------------------------------------

_REMEMBERED_CONVERSATIONS = 10_000


class HydrateStage:
    """Keeps one TurnHydration per conversation (its latest turn). Commits are turn-scoped
    (`ends_turn`), so a restart replays the turn into a fresh hydrator and rebuilds identical frames;
    replays while running are dropped by character offset inside the hydrator (`dedupe = False`)."""

    name = "hydrate"
    input_topic = topics.TOKENS
    output_topics = (topics.HYDRATED,)
    input_type = TokenChunk
    dedupe = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._reader: CatalogReader | None = None
        self._store: Store | None = None
        self._turns: LRUCache[str, TurnHydration] = LRUCache(maxsize=_REMEMBERED_CONVERSATIONS)

    @staticmethod
    def ends_turn(message: TokenChunk) -> bool:
        return message.final

    async def start(self) -> None:
        self._store = await open_store(self.settings)
        pages = CatalogPages.from_catalog(read_catalog(self.settings.shared_data))
        self._reader = StoreWithPages(self._store, pages)

    async def stop(self) -> None:
        for hydration in self._turns.values():
            hydration.close()
        if self._store is not None:
            await self._store.close()

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        if self._reader is None:
            raise StageError("the hydrate stage was not started")
        hydration = self._turns.get(message.conversation_id)
        if hydration is None or hydration.turn < message.turn:
            if hydration is not None:
                hydration.close()
            timeout_s = self.settings.hydrate_lookup_timeout_ms / 1000
            hydration = TurnHydration(message.conversation_id, message.turn, self._reader, timeout_s)
            self._turns[message.conversation_id] = hydration
        elif hydration.turn > message.turn:
            return  # a replay of an older turn: already hydrated
        for frame in await hydration.on_chunk(message):
            yield Output(topics.HYDRATED, message.conversation_id, frame)


def build(settings: Settings) -> HydrateStage:
    return HydrateStage(settings)

"""The hydrate stage's core: token chunks with markup in, resolved frames out (topic `hydrated`).

One `TurnHydrator` per (conversation, turn) holds the streaming parser and a per-turn lookup cache:

    hydrator = TurnHydrator(conversation_id, turn)
    frames = await hydrator.on_chunk(chunk, reader, lookup_timeout_s=0.2)

Text becomes `text` frames as soon as the parser releases it; each directive becomes one frame once
resolved against the store and catalog (pipeline/markup/resolve.py). The final chunk ends the turn
with an `error` frame when generation failed, then a `done` frame.

Guarantees:
- Grounding: a product id outside the turn's grounded ids (the union of `grounded_product_ids` over
  its chunks) is never shown; it is counted as `ungrounded`. A `<link>` to one keeps its words as text.
- Idempotence: chunks carry the offset of their text in the whole answer, and text already consumed
  is skipped, so a redelivered chunk produces nothing. Text after a gap is consumed (counted `gap`).
- Determinism: frames are numbered 0, 1, 2, ... in output order, and their content depends only on the
  chunk texts and what the reader returns, so a replay after a restart gives identical frames.
- Bounded waits: each lookup waits at most `lookup_timeout_s`; a card whose price could not be read
  in time is shown without it, `live` false.
- Suggestions: the model's `<suggest>` items are held, and the turn ends (before `done`) with one
  `suggestions` frame of at most three follow-ups the catalog can answer: the model's answerable ones,
  then generated ones (pipeline/markup/suggestions.py). A turn that shows a product gets two or three
  whenever its products' records support that many.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation

from cachetools import LRUCache

from pipeline import topics
from pipeline.catalog import read_catalog
from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.generation.guard import GUARD_PREFIX
from pipeline.markup import resolve, suggestions
from pipeline.markup.parser import Directive, Event, MarkupParser, ParseStats, Text
from pipeline.markup.payloads import (
    ActionPayload,
    DonePayload,
    ErrorPayload,
    LinkPayload,
    Payload,
    SuggestionsPayload,
    payload_product_ids,
    to_json,
)
from pipeline.markup.resolve import CatalogReader, Lookups
from pipeline.messages import Frame, TokenChunk
from pipeline.stages.base import Output
from pipeline.store.base import Store
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.sqlite import open_store

__all__ = ["CatalogReader", "HydrateStage", "TurnHydrator", "build"]

MAX_SUGGESTIONS = suggestions.MAX_SUGGESTIONS
ACTION_TYPES = frozenset({"add_to_cart", "price_alert"})
_PAYLOAD_TYPES = {
    "CardPayload": "card",
    "CarouselPayload": "carousel",
    "ComparePayload": "compare",
    "ReviewsPayload": "reviews",
    "PriceHistoryPayload": "price_history",
    "SuggestionsPayload": "suggestions",
    "ActionPayload": "action",
}


class TurnHydrator:
    """Turns one turn's chunk stream into frames. One instance per (conversation, turn)."""

    def __init__(self, conversation_id: str, turn: int, max_directive_chars: int = 512) -> None:
        self.conversation_id = conversation_id
        self.turn = turn
        self.parser = MarkupParser(max_directive_chars)
        self.counts: Counter[str] = Counter()
        """Hydrate's own counters: ungrounded, unknown_product, empty, timeout, gap, ..."""
        self.products_shown: list[str] = []
        self.finished = False
        self._consumed = 0
        self._next_seq = 0
        self._grounded: set[str] = set()
        self._model: str | None = None
        self._context: dict[str, str] = {}
        self._lookups: Lookups | None = None
        self._written: list[str] = []
        """Follow-ups the model wrote, held until the end of the turn (only answerable ones are shown)."""
        self._carded: set[str] = set()
        """Products a card or carousel of this turn already shows (or is resolving)."""
        self._charts: set[tuple[str, str]] = set()
        """(directive, product) of the charts shown: the stated price-history lead and the model's own
        directive may name the same chart, which is shown once."""

    @property
    def consumed(self) -> int:
        """Characters of the answer taken in so far."""
        return self._consumed

    async def on_chunk(self, chunk: TokenChunk, reader: CatalogReader, lookup_timeout_s: float) -> list[Frame]:
        """Consume one chunk; return the frames it completes, in order, numbered contiguously.

        A chunk of another conversation or turn, or one after the final chunk, returns []. Never
        raises for bad markup or a failing reader; those degrade as documented in docs/markup.md.
        """
        if self.finished or chunk.conversation_id != self.conversation_id or chunk.turn != self.turn:
            return []
        self._grounded.update(chunk.grounded_product_ids)
        self._model = chunk.model or self._model
        self._context = chunk.context or self._context
        text = self._new_text(chunk)
        events = self.parser.feed(text) if text else []
        if chunk.final:
            events += self.parser.finish()
        lookups = self._lookups_for(reader, lookup_timeout_s)
        try:
            payloads = await asyncio.gather(*(self._resolve(event, lookups) for event in events))
            frames = [self._frame(kind, text_, payload) for kind, text_, payload in (p for p in payloads if p)]
            if chunk.final and (follow_ups := await self._suggestions(lookups)) is not None:
                frames.append(self._frame("suggestions", "", follow_ups))
        finally:
            if chunk.final:
                lookups.close()
        if chunk.error:
            frames.append(self._frame("error", "", ErrorPayload(chunk.error, "generate", False)))
        if chunk.final:
            self.finished = True
            frames.append(self._done(error=chunk.error is not None))
        return frames

    def _lookups_for(self, reader: CatalogReader, timeout_s: float) -> Lookups:
        # One cache per turn, so a product named twice is read once; a new reader starts a new one.
        if self._lookups is None or self._lookups.reader is not reader:
            if self._lookups is not None:
                self._lookups.close()
                self._lookup_counts()
            self._lookups = Lookups(reader, timeout_s)
        self._lookups.timeout_s = timeout_s
        return self._lookups

    def _lookup_counts(self) -> None:
        if self._lookups is not None:
            self.counts["timeout"] += self._lookups.timeouts
            self.counts["lookup_failed"] += self._lookups.failures
            self._lookups.timeouts = self._lookups.failures = 0

    def _new_text(self, chunk: TokenChunk) -> str:
        end = chunk.offset + len(chunk.text)
        if end <= self._consumed:
            if chunk.text:
                self.counts["duplicate"] += 1
            return ""
        if chunk.offset > self._consumed:
            self.counts["gap"] += 1
            start = 0
        else:
            start = self._consumed - chunk.offset
        self._consumed = end
        return chunk.text[start:]

    def _grounded_ids(self, ids: list[str]) -> list[str]:
        kept = [pid for pid in ids if pid in self._grounded]
        self.counts["ungrounded"] += len(ids) - len(kept)
        return kept

    async def _resolve(self, event: Event, lookups: Lookups) -> tuple[str, str, Payload | None] | None:
        """(frame type, frame text, payload) for one event, or None when nothing is shown."""
        if isinstance(event, Text):
            return ("text", event.text, None)
        payload = await self._directive(event, lookups)
        if payload is None:
            return None
        if isinstance(payload, LinkPayload):
            return ("text", event.body or "", payload)
        if isinstance(payload, Text):
            return ("text", payload.text, None)
        return (_PAYLOAD_TYPES[type(payload).__name__], "", payload)

    async def _directive(self, d: Directive, lookups: Lookups) -> Payload | Text | None:
        name = d.name
        if name == "suggest":
            self._written += [q for q in (d.body or "").split("|") if q.strip()]
            return None
        if name == "link":
            ids = self._grounded_ids([d.attrs["id"].strip()])
            return LinkPayload(ids[0]) if ids else Text(d.body or "")
        if name == "action":
            return self._action(d)
        if name in ("carousel", "compare"):
            ids = self._grounded_ids(resolve.split_ids(d.attrs["ids"]))
            if name == "carousel" and self._already_shown(ids):
                return None  # the model repeating the stated carousel, or a part of it
            if name == "carousel":
                return self._shown(await resolve.carousel(lookups, ids))
            attrs = d.attrs.get("attrs", "").split(",")
            return self._shown(await resolve.compare(lookups, ids, attrs))
        ids = self._grounded_ids([d.attrs["id"].strip()])
        if not ids:
            return None
        if name == "product":
            if self._already_shown(ids):
                return None
            return self._shown(await resolve.card(lookups, ids[0]))
        if (name, ids[0]) in self._charts:
            self.counts["repeated"] += 1
            return None
        self._charts.add((name, ids[0]))
        if name == "reviews":
            return self._shown(await resolve.reviews(lookups, ids[0]))
        return self._shown(await resolve.price_history(lookups, ids[0]))

    async def _suggestions(self, lookups: Lookups) -> SuggestionsPayload | None:
        """The turn's follow-ups, from the model's and the products' records; None when none is answerable.

        The page the shopper is on is taken from the turn's context when generate puts it there
        (`page_product_id`); otherwise every grounded product counts as a possible page.
        """
        page = self._context.get("page_product_id")
        turn = suggestions.TurnFacts(
            shown=tuple(self.products_shown), grounded=frozenset(self._grounded),
            question=self._context.get("question", ""), intent=self._context.get("intent", ""),
            page_product_id=page or None, page_known=page is not None)
        ids = list(dict.fromkeys([*turn.shown[: suggestions.MAX_TARGETS], *([page] if page else [])]))
        facts = dict(zip(ids, await asyncio.gather(*(_facts(lookups, pid) for pid in ids))))
        result = suggestions.suggest(turn, facts, self._written, MAX_SUGGESTIONS)
        self.counts["suggestion_unanswerable"] += result.written_dropped
        return SuggestionsPayload(result.items) if result.items else None

    def _already_shown(self, ids: list[str]) -> bool:
        """Whether a card or carousel would only repeat products this turn already showed. Decided
        before any lookup is awaited, so in parse order whatever the chunking (directives of one
        chunk resolve concurrently)."""
        if ids and set(ids) <= self._carded:
            self.counts["repeated"] += 1
            return True
        self._carded.update(ids)
        return False

    def _action(self, d: Directive) -> ActionPayload | None:
        kind = d.attrs["type"].strip()
        ids = self._grounded_ids([d.attrs["id"].strip()])
        if not ids:
            return None
        if kind not in ACTION_TYPES:
            self.counts["bad_action"] += 1
            return None
        if kind == "add_to_cart":
            return ActionPayload(kind, ids[0], {"quantity": 1})
        below_cents = _cents(d.attrs.get("below", ""))
        if below_cents is None:
            self.counts["bad_action"] += 1
            return None
        return ActionPayload(kind, ids[0], {"below_cents": below_cents})

    def _shown(self, payload: Payload | None) -> Payload | None:
        if payload is None:
            return self._empty()
        return payload

    def _empty(self) -> Payload | None:
        self.counts["empty"] += 1
        return None

    def _frame(self, kind: str, text: str, payload: Payload | None) -> Frame:
        frame = Frame(self.conversation_id, self.turn, self._next_seq, kind, text, to_json(payload))
        self._next_seq += 1
        for pid in payload_product_ids(payload):
            if pid not in self.products_shown:
                self.products_shown.append(pid)
        return frame

    def _done(self, *, error: bool) -> Frame:
        self._lookup_counts()
        counts = {key: n for key, n in sorted((self.counts + _parser_counts(self.parser.stats)
                                                + _guard_counts(self._context)).items()) if n}
        payload = DonePayload(
            chars=self._consumed,
            frames=self._next_seq,
            directives=self.parser.stats.directives,
            counts=counts,
            products_shown=list(self.products_shown),
            model=self._model,
            error=error,
            context=dict(self._context),
        )
        return self._frame("done", "", payload)


async def _facts(lookups: Lookups, pid: str) -> suggestions.ProductFacts:
    """What suggestions need of one product, through the turn's cache (a read that failed is missing)."""
    product, page, reviews, history = await asyncio.gather(
        lookups.product(pid), lookups.page(pid), lookups.reviews(pid), lookups.history(pid))
    return suggestions.ProductFacts.from_records(pid, product.value, page.value, reviews.value or (),
                                                 len(history.value or ()))


def _parser_counts(stats: ParseStats) -> Counter[str]:
    return Counter(
        unknown_tag=stats.unknown,
        malformed=stats.malformed,
        stray_closing=stats.stray_closing,
        overlong=stats.overlong,
        truncated=stats.truncated,
    )


def _guard_counts(context: dict[str, str]) -> Counter[str]:
    """What generate's grounding guard did (pipeline/generation/guard.py), from the turn's context."""
    return Counter({key: int(value) for key, value in context.items()
                    if key.startswith(GUARD_PREFIX) and value.isdigit()})


def _cents(amount: str) -> int | None:
    """"49.99" -> 4999; None unless a positive amount with at most two decimals."""
    try:
        value = Decimal(amount.strip().lstrip("$"))
    except InvalidOperation:
        return None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2 or value <= 0:
        return None
    return int(value * 100)


# ---- the stage: tokens -> hydrated ----------------------------------------------------------------

_REMEMBERED_CONVERSATIONS = 10_000


class HydrateStage:
    """Keeps one TurnHydrator per conversation (its latest turn). Commits are turn-scoped
    (`ends_turn`), so a restart replays the turn into a fresh hydrator and rebuilds identical frames;
    replays while running are dropped by character offset inside the hydrator (`dedupe = False`)."""

    name = "hydrate"
    input_topic = topics.TOKENS
    output_topics = (topics.HYDRATED,)
    input_type = TokenChunk
    dedupe = False

    def __init__(self, settings: Settings, reader: CatalogReader | None = None) -> None:
        self.settings = settings
        self._reader = reader
        self._store: Store | None = None
        self._turns: LRUCache[str, TurnHydrator] = LRUCache(maxsize=_REMEMBERED_CONVERSATIONS)

    @staticmethod
    def ends_turn(message: TokenChunk) -> bool:
        return message.final

    async def start(self) -> None:
        if self._reader is None:
            self._store = await open_store(self.settings)
            pages = CatalogPages.from_catalog(read_catalog(self.settings.shared_data))
            self._reader = StoreWithPages(self._store, pages)

    async def stop(self) -> None:
        if self._store is not None:
            await self._store.close()

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        if self._reader is None:
            raise StageError("the hydrate stage was not started")
        hydrator = self._turns.get(message.conversation_id)
        if hydrator is None or hydrator.turn < message.turn:
            hydrator = TurnHydrator(message.conversation_id, message.turn)
            self._turns[message.conversation_id] = hydrator
        elif hydrator.turn > message.turn:
            return  # a replay of an older turn: already hydrated
        timeout_s = self.settings.hydrate_lookup_timeout_ms / 1000
        for frame in await hydrator.on_chunk(message, self._reader, timeout_s):
            yield Output(topics.HYDRATED, message.conversation_id, frame)


def build(settings: Settings) -> HydrateStage:
    return HydrateStage(settings)

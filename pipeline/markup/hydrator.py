"""The hydrate stage's core: one turn's token chunks and what was read for them in, frames out. Pure.

One `TurnHydrator` per (conversation, turn). Each chunk is taken in two steps, with the reads its
directives need made in between by the adapter (pipeline/stages/hydrate.py, through
pipeline/markup/lookups.py); the end of the turn needs one more read, for its suggestions:

    parsed = hydrator.take(chunk)                        # None: another turn's chunk, or after the end
    frames = hydrator.frames(parsed, await lookups.fetch(parsed.reads))
    if parsed.final:
        frames += hydrator.end(parsed, await lookups.fetch(hydrator.ending_reads()))

`fetched` is everything read so far this turn (resolve.Fetched). Nothing here awaits or reads a clock,
so the frames are a function of the chunks and of what was fetched: a turn replayed after a restart,
or whose reads finished in another order, gives identical frames. A chunk whose directives need no
read (plain text) is fetched for at once, so text goes out as soon as the parser releases it.

Text becomes `text` frames; each directive becomes one frame resolved against the store and catalog
(pipeline/markup/resolve.py). The final chunk ends the turn with an `error` frame when generation
failed, then a `done` frame.

Guarantees:
- Grounding: a product id outside the turn's grounded ids (the union of `grounded_product_ids` over
  its chunks so far) is never shown; it is counted as `ungrounded`. A `<link>` to one keeps its words.
- Idempotence: chunks carry the offset of their text in the whole answer, and text already consumed
  is skipped, so a redelivered chunk produces nothing. Text after a gap is consumed (counted `gap`).
- Determinism: frames are numbered 0, 1, 2, ... in output order, and decided in parse order.
- Bounded waits are the adapter's: a read that did not complete in time is missing; a card whose
  price is missing is shown without it, `live` false. `done` counts missing reads (`timeout`,
  `lookup_failed`).
- Suggestions: the model's `<suggest>` items are held, and the turn ends (before `done`) with one
  `suggestions` frame of at most three follow-ups the catalog can answer: the model's answerable ones,
  then generated ones (pipeline/markup/suggestions.py). A turn that shows a product gets two or three
  whenever its products' records support that many.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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
from pipeline.markup.resolve import Fetched, Read
from pipeline.messages import Frame, TokenChunk

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


@dataclass(frozen=True)
class Parsed:
    """One chunk taken in: the markup events it completes and the reads their directives need."""

    events: tuple[Event, ...]
    reads: frozenset[Read]
    final: bool
    error: str | None


class TurnHydrator:
    """Turns one turn's chunk stream into frames. One instance per (conversation, turn)."""

    def __init__(self, conversation_id: str, turn: int, max_directive_chars: int = 512) -> None:
        self.conversation_id = conversation_id
        self.turn = turn
        self.parser = MarkupParser(max_directive_chars)
        self.counts: Counter[str] = Counter()
        """Hydrate's own counters: ungrounded, empty, repeated, gap, duplicate, ..."""
        self.products_shown: list[str] = []
        self.finished = False
        """True once the final chunk was taken: later chunks are ignored."""
        self._consumed = 0
        self._next_seq = 0
        self._grounded: set[str] = set()
        self._model: str | None = None
        self._context: dict[str, str] = {}
        self._written: list[str] = []
        """Follow-ups the model wrote, held until the end of the turn (only answerable ones are shown)."""
        self._carded: set[str] = set()
        """Products a card or carousel of this turn already shows."""
        self._charts: set[tuple[str, str]] = set()
        """(directive, product) of the charts shown: the stated price-history lead and the model's own
        directive may name the same chart, which is shown once."""

    @property
    def consumed(self) -> int:
        """Characters of the answer taken in so far."""
        return self._consumed

    def take(self, chunk: TokenChunk) -> Parsed | None:
        """Parse one chunk; None for a chunk of another conversation or turn, or one after the final
        chunk. Never raises for bad markup: it degrades as documented in docs/markup.md."""
        if self.finished or chunk.conversation_id != self.conversation_id or chunk.turn != self.turn:
            return None
        self._grounded.update(chunk.grounded_product_ids)
        self._model = chunk.model or self._model
        self._context = chunk.context or self._context
        text = self._new_text(chunk)
        events = self.parser.feed(text) if text else []
        if chunk.final:
            events += self.parser.finish()
            self.finished = True
        reads = frozenset(read for event in events for read in self._reads(event))
        return Parsed(tuple(events), reads, chunk.final, chunk.error)

    def frames(self, parsed: Parsed, fetched: Fetched) -> list[Frame]:
        """The frames of a parsed chunk's events, in order, numbered contiguously; for a chunk that is
        not final and carries an error, an `error` frame after them (the final one's come from `end`)."""
        frames = []
        for event in parsed.events:
            if (resolved := self._resolve(event, fetched)) is not None:
                frames.append(self._frame(*resolved))
        if parsed.error and not parsed.final:
            frames.append(self._frame("error", "", ErrorPayload(parsed.error, "generate", False)))
        return frames

    def ending_reads(self) -> frozenset[Read]:
        """What the turn's suggestions read: the products shown (the first few) and the page's."""
        return frozenset((kind, pid) for pid in self._suggestion_targets()
                         for kind in (resolve.PRODUCT, resolve.PAGE, resolve.REVIEWS, resolve.HISTORY))

    def end(self, parsed: Parsed, fetched: Fetched) -> list[Frame]:
        """The frames that end the turn, after the final chunk's `frames`: suggestions, when any is
        answerable; `error` when generation failed; `done`. `fetched` is everything read this turn."""
        frames = []
        if (follow_ups := self._suggestions(fetched)) is not None:
            frames.append(self._frame("suggestions", "", follow_ups))
        if parsed.error:
            frames.append(self._frame("error", "", ErrorPayload(parsed.error, "generate", False)))
        frames.append(self._done(fetched, error=parsed.error is not None))
        return frames

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

    def _reads(self, event: Event) -> list[Read]:
        """What a directive's grounded products need read (whether it will be shown is decided later,
        in parse order, by `_directive`)."""
        if isinstance(event, Text) or event.name in ("suggest", "link", "action"):
            return []
        if event.name in ("carousel", "compare"):
            ids = [pid for pid in resolve.split_ids(event.attrs["ids"]) if pid in self._grounded]
            return resolve.carousel_reads(ids) if event.name == "carousel" else resolve.compare_reads(ids)
        pid = event.attrs["id"].strip()
        if pid not in self._grounded:
            return []
        if event.name == "product":
            return resolve.card_reads(pid)
        return resolve.reviews_reads(pid) if event.name == "reviews" else resolve.price_history_reads(pid)

    def _grounded_ids(self, ids: list[str]) -> list[str]:
        kept = [pid for pid in ids if pid in self._grounded]
        self.counts["ungrounded"] += len(ids) - len(kept)
        return kept

    def _resolve(self, event: Event, fetched: Fetched) -> tuple[str, str, Payload | None] | None:
        """(frame type, frame text, payload) for one event, or None when nothing is shown."""
        if isinstance(event, Text):
            return ("text", event.text, None)
        payload = self._directive(event, fetched)
        if payload is None:
            return None
        if isinstance(payload, LinkPayload):
            return ("text", event.body or "", payload)
        if isinstance(payload, Text):
            return ("text", payload.text, None)
        return (_PAYLOAD_TYPES[type(payload).__name__], "", payload)

    def _directive(self, d: Directive, fetched: Fetched) -> Payload | Text | None:
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
                return self._shown(resolve.carousel(fetched, ids))
            attrs = d.attrs.get("attrs", "").split(",")
            return self._shown(resolve.compare(fetched, ids, attrs))
        ids = self._grounded_ids([d.attrs["id"].strip()])
        if not ids:
            return None
        if name == "product":
            if self._already_shown(ids):
                return None
            return self._shown(resolve.card(fetched, ids[0]))
        if (name, ids[0]) in self._charts:
            self.counts["repeated"] += 1
            return None
        self._charts.add((name, ids[0]))
        if name == "reviews":
            return self._shown(resolve.reviews(fetched, ids[0]))
        return self._shown(resolve.price_history(fetched, ids[0]))

    def _suggestion_targets(self) -> list[str]:
        page = self._context.get("page_product_id")
        return list(dict.fromkeys([*self.products_shown[: suggestions.MAX_TARGETS], *([page] if page else [])]))

    def _suggestions(self, fetched: Fetched) -> SuggestionsPayload | None:
        """The turn's follow-ups, from the model's and the products' records; None when none is answerable.

        The page the shopper is on is taken from the turn's context when generate puts it there
        (`page_product_id`); otherwise every grounded product counts as a possible page.
        """
        page = self._context.get("page_product_id")
        turn = suggestions.TurnFacts(
            shown=tuple(self.products_shown), grounded=frozenset(self._grounded),
            question=self._context.get("question", ""), intent=self._context.get("intent", ""),
            page_product_id=page or None, page_known=page is not None)
        facts = {pid: suggestions.ProductFacts.from_records(pid, fetched.product(pid), fetched.page(pid),
                                                            fetched.reviews(pid), len(fetched.history(pid)))
                 for pid in self._suggestion_targets()}
        result = suggestions.suggest(turn, facts, self._written, MAX_SUGGESTIONS)
        self.counts["suggestion_unanswerable"] += result.written_dropped
        return SuggestionsPayload(result.items) if result.items else None

    def _already_shown(self, ids: list[str]) -> bool:
        """Whether a card or carousel would only repeat products this turn already showed."""
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
            self.counts["empty"] += 1
        return payload

    def _frame(self, kind: str, text: str, payload: Payload | None) -> Frame:
        frame = Frame(self.conversation_id, self.turn, self._next_seq, kind, text, to_json(payload))
        self._next_seq += 1
        for pid in payload_product_ids(payload):
            if pid not in self.products_shown:
                self.products_shown.append(pid)
        return frame

    def _done(self, fetched: Fetched, *, error: bool) -> Frame:
        missing = Counter(fetched.missing.values())
        lookups = Counter(timeout=missing["timeout"], lookup_failed=missing["failed"])
        counts = {key: n for key, n in sorted((self.counts + lookups + _parser_counts(self.parser.stats)
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

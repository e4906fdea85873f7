"""The incremental, sans-I/O parser of the display markup (docs/markup.md, v1).

Feed it the answer as it streams; it returns events as soon as they are certain:

    parser = MarkupParser()
    for chunk in chunks:
        for event in parser.feed(chunk):
            ...                      # Text(text) or Directive(name, attrs, body)
    events = parser.finish()

Plain text is released at once. Only a possible tag, starting at '<', is held back, and never more than
`max_directive_chars` characters of it. The result does not depend on where the chunks are cut: every
split of the same stream gives the same events once adjacent Text events are merged. Malformed, unknown
and over-long markup degrades to text or is dropped (see `ParseStats`); the parser never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.markup._scan import Accept, Drop, NotATag, name_is_known, scan

MARKUP_VERSION = 1
DEFAULT_MAX_DIRECTIVE_CHARS = 512


@dataclass(frozen=True)
class Text:
    """Answer text to show as is."""

    text: str


@dataclass(frozen=True)
class Directive:
    """One well-formed directive of a known name, with its required attributes present.

    Attribute names are lower-cased; values are kept verbatim. `body` is the text between the opening
    and closing tag for `suggest` and `link`, None for self-closing tags.
    """

    name: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None

    def markup(self) -> str:
        """The canonical v1 spelling of this directive (attributes in sorted order)."""
        attrs = "".join(f' {key}="{value}"' for key, value in sorted(self.attrs.items()))
        if self.body is None:
            return f"<{self.name}{attrs}/>"
        return f"<{self.name}{attrs}>{self.body}</{self.name}>"


Event = Text | Directive


@dataclass
class ParseStats:
    """What the parser did with the markup it saw; counts only grow."""

    directives: int = 0
    """Well-formed directives returned."""
    unknown: int = 0
    """Complete tags of a name v1 does not define: dropped."""
    malformed: int = 0
    """Tags of a known name that break the grammar or miss a required attribute: dropped."""
    stray_closing: int = 0
    """Closing tags with nothing to close: dropped."""
    overlong: int = 0
    """Candidates longer than the bound: a known tag's head dropped, any other '<' released as text."""
    truncated: int = 0
    """A known tag cut off by the end of the stream: dropped."""
    text_chars: int = 0
    """Characters released as text."""

    def dropped(self) -> int:
        return self.unknown + self.malformed + self.stray_closing + self.truncated


class MarkupParser:
    """Streaming parser for one answer. Not thread-safe; one instance per turn."""

    def __init__(self, max_directive_chars: int = DEFAULT_MAX_DIRECTIVE_CHARS) -> None:
        """`max_directive_chars` bounds the held-back buffer (characters); at least 16."""
        self._limit = max(16, max_directive_chars)
        self._pending = ""
        self._finished = False
        self.stats = ParseStats()

    @property
    def buffered(self) -> int:
        """Characters held back waiting to be decided; always below `max_directive_chars`."""
        return len(self._pending)

    def feed(self, chunk: str) -> list[Event]:
        """Take the next piece of the answer; return the events it completes. Never raises."""
        if self._finished or not chunk:
            return []
        events: list[Event] = []
        self._run(self._pending + chunk, events, final=False)
        return events

    def finish(self) -> list[Event]:
        """End of the answer: decide what is still held back. Later calls return nothing."""
        if self._finished:
            return []
        self._finished = True
        events: list[Event] = []
        self._run(self._pending, events, final=True)
        return events

    def _run(self, buf: str, events: list[Event], *, final: bool) -> None:
        self._pending = ""
        pos = 0
        while pos < len(buf):
            lt = buf.find("<", pos)
            if lt < 0:
                self._text(buf[pos:], events)
                return
            if lt > pos:
                self._text(buf[pos:lt], events)
            rest = buf[lt:]
            decision = scan(rest, self._limit)
            if decision is None:
                if not final:
                    self._pending = rest
                    return
                if name_is_known(rest):
                    self.stats.truncated += 1
                    return
                decision = NotATag("text")
            if isinstance(decision, Accept):
                self.stats.directives += 1
                events.append(Directive(decision.name, decision.attrs, decision.body))
                pos = lt + decision.length
            elif isinstance(decision, Drop):
                self._count_drop(decision.reason)
                pos = lt + decision.length
            elif decision.reason == "overlong" and name_is_known(rest[: self._limit]):
                # A known tag that never closes (a model looping inside <suggest> or an id list): its
                # head is markup, never text. Drop through its first '>' or the whole window.
                self.stats.overlong += 1
                head_end = rest.find(">", 0, self._limit)
                pos = lt + (head_end + 1 if head_end >= 0 else min(len(rest), self._limit))
            else:
                if decision.reason == "overlong":
                    self.stats.overlong += 1
                self._text("<", events)
                pos = lt + 1

    def _text(self, text: str, events: list[Event]) -> None:
        self.stats.text_chars += len(text)
        if events and isinstance(events[-1], Text):
            events[-1] = Text(events[-1].text + text)
        else:
            events.append(Text(text))

    def _count_drop(self, reason: str) -> None:
        if reason == "unknown":
            self.stats.unknown += 1
        elif reason == "stray_closing":
            self.stats.stray_closing += 1
        else:
            self.stats.malformed += 1


def merge_text(events: list[Event]) -> list[Event]:
    """Join adjacent Text events (and drop empty ones): the canonical form of an event list."""
    merged: list[Event] = []
    for event in events:
        if isinstance(event, Text):
            if not event.text:
                continue
            if merged and isinstance(merged[-1], Text):
                merged[-1] = Text(merged[-1].text + event.text)
                continue
        merged.append(event)
    return merged

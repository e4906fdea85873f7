"""An incremental parser for server-sent events (the `text/event-stream` format).

OpenAI-compatible servers stream a chat completion as SSE: `data: {json}` lines, events separated by a
blank line, and a final `data: [DONE]`. Network reads split the stream anywhere: inside a line, between
`\\r` and `\\n`, even inside a multi-byte UTF-8 character. `SseDecoder` keeps the unfinished tail between
`feed` calls, so callers can hand it raw bytes as they arrive.

Only what the chat stream needs is kept: the `data` field (multi-line data joined with "\\n") and the
`event` name. `id` and `retry` are read and dropped; comment lines (starting with ":") are keep-alives.
See https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event."""

    data: str
    event: str = "message"


class SseDecoder:
    """Turns byte chunks into complete events; keeps partial lines between calls."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""
        self._data: list[str] = []
        self._event = ""
        # A chunk ending in "\r" may be the first half of "\r\n"; the "\n" must not end a second line.
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Add raw bytes; returns the events completed by them (possibly none)."""
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_lf = False
        buffer = self._tail + text
        events: list[SseEvent] = []
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, next_start = lf, lf + 1
            elif cr + 1 < length:
                end = cr
                next_start = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            else:  # "\r" is the last character we have: a line ends here, a "\n" may follow
                end, next_start = cr, cr + 1
                self._skip_lf = True
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = next_start
        self._tail = buffer[start:]
        return events

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent(data="\n".join(self._data), event=self._event or "message")
        self._data = []
        self._event = ""
        return event

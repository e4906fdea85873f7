"""Coalescing streamed tokens into chunks: a few characters or a few milliseconds each.

One Kafka record per token would multiply per-message overhead by the token count; one record per
answer would defeat streaming. A chunk is flushed when it holds `flush_chars` characters or its first
token has waited `flush_ms`, whichever comes first. The very first token of an answer goes out at
once: time to first token is what the shopper feels, and one small record costs well under a
millisecond, while waiting for company would add up to `flush_ms` to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Coalescer:
    """Pure: the caller supplies the clock (`now_ms`), so tests need no sleeping."""

    flush_chars: int
    flush_ms: float
    _parts: list[str] = field(default_factory=list)
    _size: int = 0
    _since_ms: float | None = None
    _started: bool = False

    def add(self, text: str, now_ms: float) -> str | None:
        """Buffer `text`; returns a chunk when one is due (the answer's first text always is)."""
        if not text:
            return self.due(now_ms)
        if not self._started:
            self._started = True  # nothing can be buffered yet: this is the answer's first text
            return text
        if self._since_ms is None:
            self._since_ms = now_ms
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self.flush_chars:
            return self.flush()
        return self.due(now_ms)

    def due(self, now_ms: float) -> str | None:
        """The buffered text if its first token has waited `flush_ms`, else None."""
        if self._since_ms is not None and now_ms - self._since_ms >= self.flush_ms:
            return self.flush()
        return None

    def wait_ms(self, now_ms: float) -> float | None:
        """How long until the buffer is due; None when it is empty."""
        if self._since_ms is None:
            return None
        return max(0.0, self.flush_ms - (now_ms - self._since_ms))

    def flush(self) -> str | None:
        """Everything buffered, or None when empty."""
        if not self._parts:
            return None
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._since_ms = None
        return text

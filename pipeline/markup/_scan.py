"""Recognise one directive at the start of a buffer that begins with '<'.

The scanner is prefix-monotone: for a buffer it answers `None` (undecided, need more characters) or a
decision, and once it decides for some prefix it decides the same for every longer buffer. That is
what makes the streaming parser split-invariant: where chunks happen to be cut cannot change a decision.
It also never looks further than `limit` characters, so a decision is always reached within that bound.

Decisions:
- `Accept(length, name, attrs, body)`: a complete, well-formed directive of a known name.
- `Drop(length, reason)`: markup to discard: a complete tag of an unknown name, a stray closing tag,
  or a known tag that breaks the grammar (dropped up to the offending character, which is rescanned).
- `NotATag(reason)`: the '<' does not start a tag ("a < b", "<3"), or the candidate ran past `limit`;
  the '<' is text and scanning resumes after it.
"""

from __future__ import annotations

from dataclasses import dataclass

EMPTY_TAGS: dict[str, tuple[str, ...]] = {
    "product": ("id",),
    "carousel": ("ids",),
    "compare": ("ids",),
    "reviews": ("id",),
    "price-history": ("id",),
    "action": ("type", "id"),
}
"""Self-closing tags and their required attributes."""

BODY_TAGS: dict[str, tuple[str, ...]] = {
    "suggest": (),
    "link": ("id",),
}
"""Tags with a text body closed by `</name>`, and their required attributes."""

KNOWN_TAGS = frozenset(EMPTY_TAGS) | frozenset(BODY_TAGS)

_WS = " \t\r\n"


def _is_name_start(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or "0" <= ch <= "9" or ch in "-_"


@dataclass(frozen=True)
class Accept:
    length: int
    name: str
    attrs: dict[str, str]
    body: str | None


@dataclass(frozen=True)
class Drop:
    length: int
    reason: str
    """unknown | stray_closing | malformed"""


@dataclass(frozen=True)
class NotATag:
    reason: str
    """text | overlong"""


Decision = Accept | Drop | NotATag


class _Incomplete(Exception):
    """Raised inside the scan when the buffer ends before a decision."""


class _Broken(Exception):
    """Raised inside the scan at the first character that breaks the grammar."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


class _Cursor:
    def __init__(self, buf: str) -> None:
        self.buf = buf
        self.pos = 0

    def peek(self) -> str:
        if self.pos >= len(self.buf):
            raise _Incomplete
        return self.buf[self.pos]

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def skip_ws(self) -> None:
        while self.peek() in _WS:
            self.pos += 1

    def name(self) -> str:
        start = self.pos
        while _is_name_char(self.peek()):
            self.pos += 1
        return self.buf[start : self.pos]


def scan(buf: str, limit: int) -> Decision | None:
    """Decide what the '<' at buf[0] starts, or return None when more characters are needed.

    Looks at no more than `limit` characters; an undecided candidate of that length is `overlong`.
    """
    window = buf[:limit]
    try:
        return _scan(_Cursor(window))
    except _Incomplete:
        if len(window) >= limit:
            return NotATag("overlong")
        return None


def name_is_known(buf: str) -> bool:
    """Whether an undecided buffer names a known tag in full (used at the end of the stream)."""
    cur = _Cursor(buf)
    cur.pos = 1
    if buf[1:2] == "/":
        cur.pos = 2
    start = cur.pos
    while cur.pos < len(buf) and _is_name_char(buf[cur.pos]):
        cur.pos += 1
    return buf[start : cur.pos] in KNOWN_TAGS


def _scan(cur: _Cursor) -> Decision:
    cur.pos = 1
    if cur.peek() == "/":
        return _scan_closing(cur)
    if not _is_name_start(cur.peek()):
        return NotATag("text")
    name = cur.name()
    known = name in KNOWN_TAGS
    try:
        attrs = _attributes(cur)
        closing = cur.take()
        if closing == "/":
            if cur.take() != ">":
                raise _Broken(cur.pos - 1)
            self_closed = True
        else:
            self_closed = False  # _attributes stops only at '/' or '>'
    except _Broken as broken:
        if known:
            return Drop(_resync(cur, broken.at), "malformed")
        return NotATag("text")
    if not known:
        return Drop(cur.pos, "unknown")
    body: str | None = None
    if name in BODY_TAGS:
        if self_closed:
            return Drop(cur.pos, "malformed")
        try:
            body = _body(cur, name)
        except _Broken as broken:
            return Drop(broken.at, "malformed")
    required = EMPTY_TAGS.get(name) or BODY_TAGS.get(name, ())
    if any(not attrs.get(key, "").strip() for key in required):
        return Drop(cur.pos, "malformed")
    if body is not None and not body.strip():
        return Drop(cur.pos, "malformed")
    return Accept(cur.pos, name, attrs, body)


def _resync(cur: _Cursor, at: int) -> int:
    """Where a broken known tag ends: through the next '>', or before the next '<'."""
    cur.pos = at
    while True:
        ch = cur.peek()
        if ch == "<" and cur.pos > 0:
            return cur.pos
        cur.pos += 1
        if ch == ">":
            return cur.pos


def _scan_closing(cur: _Cursor) -> Decision:
    cur.pos += 1
    if not _is_name_start(cur.peek()):
        return NotATag("text")
    cur.name()
    cur.skip_ws()
    if cur.take() != ">":
        return NotATag("text")
    # A closing tag out of place: markup noise, never shown.
    return Drop(cur.pos, "stray_closing")


def _attributes(cur: _Cursor) -> dict[str, str]:
    """Read `key="value"` pairs up to '/' or '>'; raises _Broken at the first bad character."""
    attrs: dict[str, str] = {}
    while True:
        before = cur.pos
        cur.skip_ws()
        ch = cur.peek()
        if ch in "/>":
            return attrs
        if cur.pos == before or not _is_name_start(ch):
            raise _Broken(cur.pos)  # attributes must be separated by whitespace
        key_at = cur.pos
        key = cur.name().lower()
        cur.skip_ws()
        if cur.peek() != "=":
            raise _Broken(cur.pos)
        cur.pos += 1
        cur.skip_ws()
        quote = cur.peek()
        if quote not in "\"'":
            raise _Broken(cur.pos)
        cur.pos += 1
        start = cur.pos
        while (ch := cur.peek()) != quote:
            if ch in "<>\n":
                raise _Broken(cur.pos)
            cur.pos += 1
        value = cur.buf[start : cur.pos]
        cur.pos += 1
        if key in attrs:
            raise _Broken(key_at)
        attrs[key] = value


def _body(cur: _Cursor, name: str) -> str:
    """Read a body up to `</name>`; a '<' that does not begin that closing tag breaks it."""
    start = cur.pos
    closing = f"</{name}>"
    while True:
        ch = cur.peek()
        if ch == "<":
            at = cur.pos
            for expected in closing:
                if cur.take() != expected:
                    raise _Broken(at)
            return cur.buf[start:at]
        cur.pos += 1

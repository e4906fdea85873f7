"""The traffic file: recorded shopper turns and client events, one JSON object per line (docs/replay.md).

    {"type": "recording", "version": 1, "started_at_ms": 1764100000000}                 optional, first line
    {"type": "ask", "offset_ms": 0, "conversation": "c1", "user": "u1", "turn": 0,
     "text": "is this waterproof?", "page_product_id": "B00X"}
    {"type": "feedback", "offset_ms": 9000, "conversation": "c1", "user": "u1", "turn": 0,
     "kind": "thumbs_up", "value": ""}

`offset_ms` is milliseconds since the recording started. `turn` may be left out of an ask (the next turn
of its conversation is used). A line that is not a JSON object, has a field the format does not know,
misses a required field or has one of the wrong type is reported by number (`BadLine`) and skipped; the
rest is usable. `parse_traffic` raises TrafficFileError only when no usable line is left.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ContractError

FORMAT_VERSION = 1
ASK = "ask"
FEEDBACK = "feedback"
HEADER = "recording"
FEEDBACK_KINDS = frozenset({"thumbs_up", "thumbs_down", "action_clicked", "action_done", "action_failed"})
REPLAY_PREFIX = "replay/"
"""Replayed conversations are named replay/<run id>/<recorded conversation>."""
MAX_TEXT_CHARS = 4_000
"""The gateway's limit on a question; longer recorded text is refused rather than cut."""

_COMMON = {"type", "offset_ms", "conversation", "user", "turn"}
_ASK_FIELDS = _COMMON | {"text", "page_product_id"}
_FEEDBACK_FIELDS = _COMMON | {"kind", "value"}
_HEADER_FIELDS = {"type", "version", "started_at_ms"}


class TrafficFileError(ContractError):
    """A traffic file with no usable line, or one that cannot be read."""


@dataclass(frozen=True)
class TrafficEvent:
    """One line of traffic: a question (`ask`) or a client event (`feedback`)."""

    type: str
    offset_ms: int
    conversation: str
    user: str
    turn: int
    text: str = ""
    page_product_id: str | None = None
    kind: str = ""
    """feedback only: thumbs_up | thumbs_down | action_clicked | action_done | action_failed"""
    value: str = ""
    line_no: int = 0
    """1-based line in the file it came from (0: not from a file)."""


@dataclass(frozen=True)
class BadLine:
    line_no: int
    reason: str


@dataclass(frozen=True)
class Traffic:
    """The usable events in time order (stable for equal offsets) and the lines that were not."""

    events: list[TrafficEvent]
    bad_lines: list[BadLine]
    started_at_ms: int | None = None

    @property
    def asks(self) -> list[TrafficEvent]:
        return [e for e in self.events if e.type == ASK]

    @property
    def conversations(self) -> list[str]:
        return list(dict.fromkeys(e.conversation for e in self.events))


def read_traffic(path: Path) -> Traffic:
    """Parse a traffic file; raises TrafficFileError when it cannot be read or nothing in it is usable."""
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            return parse_traffic(lines, source=str(path))
    except OSError as exc:
        raise TrafficFileError(f"cannot read traffic file {path}: {exc}") from exc


def parse_traffic(lines: Iterable[str], source: str = "traffic") -> Traffic:
    """Parse traffic lines (see the module docstring). Blank lines are ignored.

    Raises TrafficFileError when no ask is usable; its message lists the first bad lines.
    """
    events: list[TrafficEvent] = []
    bad: list[BadLine] = []
    started_at_ms: int | None = None
    next_turn: dict[str, int] = {}
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append(BadLine(line_no, f"not JSON ({exc.msg})"))
            continue
        except RecursionError:
            bad.append(BadLine(line_no, "nested too deeply"))
            continue
        if not isinstance(data, dict):
            bad.append(BadLine(line_no, "not a JSON object"))
            continue
        if data.get("type") == HEADER:
            problem = _unknown(data, _HEADER_FIELDS) or _int_problem(data, "started_at_ms", required=False)
            if problem:
                bad.append(BadLine(line_no, problem))
            elif started_at_ms is None:
                started_at_ms = data.get("started_at_ms")
            continue
        try:
            event = _event(data, line_no, next_turn)
        except _LineProblem as exc:
            bad.append(BadLine(line_no, str(exc)))
            continue
        if event.type == ASK:
            next_turn[event.conversation] = event.turn + 1
        events.append(event)
    if not any(e.type == ASK for e in events):
        shown = "; ".join(f"line {b.line_no}: {b.reason}" for b in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise TrafficFileError(f"{source}: no usable ask in the file" + (f"; {shown}{more}" if bad else " (it is empty)"))
    events.sort(key=lambda e: e.offset_ms)
    return Traffic(events, bad, started_at_ms)


class _LineProblem(Exception):
    pass


def _event(data: Mapping[str, Any], line_no: int, next_turn: Mapping[str, int]) -> TrafficEvent:
    kind = data.get("type")
    if kind not in (ASK, FEEDBACK):
        raise _LineProblem(f"unknown type {kind!r} (expected ask, feedback or recording)")
    problem = _unknown(data, _ASK_FIELDS if kind == ASK else _FEEDBACK_FIELDS)
    for name in ("conversation", "user"):
        problem = problem or _str_problem(data, name, required=True)
    problem = problem or _int_problem(data, "offset_ms", required=True)
    problem = problem or _int_problem(data, "turn", required=kind == FEEDBACK)
    if problem:
        raise _LineProblem(problem)
    conversation = str(data["conversation"])
    expected = next_turn.get(conversation, 0)
    turn = int(data.get("turn", expected))
    if kind == ASK:
        problem = _str_problem(data, "text", required=True) or _str_problem(data, "page_product_id", required=False)
        if problem:
            raise _LineProblem(problem)
        text = str(data["text"])
        if not text.strip():
            raise _LineProblem("empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise _LineProblem(f"text longer than {MAX_TEXT_CHARS} characters")
        if turn < expected:
            raise _LineProblem(f"turn {turn} of {conversation} comes after turn {expected - 1}")
        return TrafficEvent(ASK, int(data["offset_ms"]), conversation, str(data["user"]), turn, text,
                            data.get("page_product_id") or None, line_no=line_no)
    problem = _str_problem(data, "kind", required=True) or _str_problem(data, "value", required=False)
    if problem:
        raise _LineProblem(problem)
    if data["kind"] not in FEEDBACK_KINDS:
        raise _LineProblem(f"unknown feedback kind {data['kind']!r}")
    return TrafficEvent(FEEDBACK, int(data["offset_ms"]), conversation, str(data["user"]), turn,
                        kind=str(data["kind"]), value=str(data.get("value", "")), line_no=line_no)


def _unknown(data: Mapping[str, Any], known: set[str]) -> str | None:
    extra = sorted(set(data) - known)
    return f"unknown field(s): {', '.join(extra)}" if extra else None


def _str_problem(data: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    if name not in data or data[name] is None:
        return f"missing {name}" if required else None
    if not isinstance(data[name], str):
        return f"{name} must be a string"
    if required and not data[name]:
        return f"empty {name}"
    return None


def _int_problem(data: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    if name not in data or data[name] is None:
        return f"missing {name}" if required else None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be an integer"
    if value < 0:
        return f"{name} must not be negative"
    return None


def header_line(started_at_ms: int) -> str:
    """The optional first line of a traffic file."""
    return json.dumps({"type": HEADER, "version": FORMAT_VERSION, "started_at_ms": started_at_ms})


def event_line(event: TrafficEvent) -> str:
    """One event as a line of the file (without the newline); only the fields its type uses."""
    data: dict[str, Any] = {"type": event.type, "offset_ms": event.offset_ms, "conversation": event.conversation,
                            "user": event.user, "turn": event.turn}
    if event.type == ASK:
        data["text"] = event.text
        if event.page_product_id:
            data["page_product_id"] = event.page_product_id
    else:
        data["kind"] = event.kind
        data["value"] = event.value
    return json.dumps(data, ensure_ascii=False)

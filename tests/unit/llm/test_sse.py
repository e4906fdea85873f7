"""The SSE decoder: events survive any way the network splits the bytes."""

from __future__ import annotations

from pipeline.llm._sse import SseDecoder, SseEvent

STREAM = (
    ": keep-alive comment\r\n"
    "data: {\"a\": \"héllo €\"}\r\n"
    "\r\n"
    "event: note\n"
    "data: line one\n"
    "data: line two\n"
    "id: 7\n"
    "\n"
    "data:no-space\r"
    "\r"
    "data: [DONE]\n\n"
).encode()

EXPECTED = [
    SseEvent(data='{"a": "héllo €"}'),
    SseEvent(data="line one\nline two", event="note"),
    SseEvent(data="no-space"),
    SseEvent(data="[DONE]"),
]


def _decode(chunks: list[bytes]) -> list[SseEvent]:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def test_whole_stream_in_one_chunk() -> None:
    assert _decode([STREAM]) == EXPECTED


def test_split_at_every_position() -> None:
    # Covers splits inside a line, between "\r" and "\n", and inside multi-byte UTF-8 characters.
    for cut in range(1, len(STREAM)):
        assert _decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_one_byte_at_a_time() -> None:
    assert _decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_event_is_dispatched_only_at_the_blank_line() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\n") == [SseEvent(data="x")]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert _decode([b"\n\n: ping\n\nevent: lonely\n\n"]) == []


def test_unterminated_trailing_event_is_not_dispatched() -> None:
    assert _decode([b"data: complete\n\ndata: partial"]) == [SseEvent(data="complete")]

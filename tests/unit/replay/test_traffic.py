"""The traffic file parser: good lines parse, bad lines are reported by number and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.messages import Feedback, UserTurn
from pipeline.replay.recorder import TrafficRecorder
from pipeline.replay.traffic import (
    ASK,
    FEEDBACK,
    TrafficEvent,
    TrafficFileError,
    event_line,
    parse_traffic,
    read_traffic,
)


def ask(offset_ms: int, conversation: str = "c1", **extra: object) -> str:
    return json.dumps({"type": "ask", "offset_ms": offset_ms, "conversation": conversation, "user": "u1",
                       "text": "is it waterproof?", **extra})


def test_asks_and_feedback_parse_in_time_order_with_turns_filled_in() -> None:
    lines = [
        '{"type": "recording", "version": 1, "started_at_ms": 1700000000000}',
        ask(2000, page_product_id="B01"),
        ask(500, conversation="c2"),
        ask(9000),
        json.dumps({"type": "feedback", "offset_ms": 4000, "conversation": "c1", "user": "u1", "turn": 0,
                    "kind": "thumbs_up"}),
    ]
    traffic = parse_traffic(lines)
    assert traffic.bad_lines == []
    assert traffic.started_at_ms == 1700000000000
    assert [(e.type, e.conversation, e.turn, e.offset_ms) for e in traffic.events] == [
        (ASK, "c2", 0, 500), (ASK, "c1", 0, 2000), (FEEDBACK, "c1", 0, 4000), (ASK, "c1", 1, 9000)]
    assert traffic.events[1].page_product_id == "B01"
    assert traffic.events[1].line_no == 2
    assert traffic.conversations == ["c2", "c1"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"type": "ask", "offset_ms": 1, "conv', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (ask(1, colour="red"), "unknown field(s): colour"),
        (json.dumps({"type": "ask", "conversation": "c1", "user": "u", "text": "hi"}), "missing offset_ms"),
        (ask(-5), "offset_ms must not be negative"),
        (json.dumps({"type": "ask", "offset_ms": "soon", "conversation": "c", "user": "u", "text": "x"}),
         "offset_ms must be an integer"),
        (json.dumps({"type": "ask", "offset_ms": 1, "conversation": "c", "user": "u"}), "missing text"),
        (json.dumps({"type": "ask", "offset_ms": 1, "conversation": "c", "user": "u", "text": "  "}), "empty text"),
        (json.dumps({"type": "shout", "offset_ms": 1}), "unknown type 'shout'"),
        (json.dumps({"type": "feedback", "offset_ms": 1, "conversation": "c", "user": "u", "kind": "thumbs_up"}),
         "missing turn"),
        (json.dumps({"type": "feedback", "offset_ms": 1, "conversation": "c", "user": "u", "turn": 0,
                     "kind": "love"}), "unknown feedback kind 'love'"),
    ],
)
def test_a_bad_line_is_reported_by_number_and_the_rest_is_kept(line: str, reason: str) -> None:
    traffic = parse_traffic([ask(0), line, ask(100, conversation="c2")])
    assert [b.line_no for b in traffic.bad_lines] == [2]
    assert reason in traffic.bad_lines[0].reason
    assert [e.conversation for e in traffic.events] == ["c1", "c2"]


def test_a_turn_that_goes_backwards_is_a_bad_line() -> None:
    traffic = parse_traffic([ask(0, turn=3), ask(10, turn=2), ask(20)])
    assert [b.line_no for b in traffic.bad_lines] == [2]
    assert [e.turn for e in traffic.events] == [3, 4]


def test_nothing_usable_is_refused_with_the_bad_lines_named() -> None:
    with pytest.raises(TrafficFileError, match=r"no usable ask.*line 1: not JSON.*line 2: missing offset_ms"):
        parse_traffic(["{oops", json.dumps({"type": "ask", "conversation": "c", "user": "u", "text": "x"})])
    with pytest.raises(TrafficFileError, match="empty"):
        parse_traffic(["", "  "])


def test_a_truncated_file_keeps_its_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(ask(0) + "\n" + ask(10, conversation="c2") + "\n" + ask(20)[:25])
    traffic = read_traffic(path)
    assert len(traffic.events) == 2 and [b.line_no for b in traffic.bad_lines] == [3]
    with pytest.raises(TrafficFileError, match="cannot read"):
        read_traffic(tmp_path / "missing.jsonl")


def test_event_lines_round_trip() -> None:
    events = [TrafficEvent(ASK, 10, "c1", "u1", 0, "hi there", "B01"),
              TrafficEvent(FEEDBACK, 20, "c1", "u1", 0, kind="action_clicked", value='{"type":"add_to_cart"}')]
    parsed = parse_traffic(event_line(e) for e in events)
    assert [(e.type, e.offset_ms, e.text, e.page_product_id, e.kind, e.value) for e in parsed.events] == [
        (e.type, e.offset_ms, e.text, e.page_product_id, e.kind, e.value) for e in events]


def test_the_recorder_writes_a_header_and_keeps_the_start_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "traffic.jsonl"
    clock = iter([1_000_000, 9_999_999]).__next__
    recorder = TrafficRecorder(path, clock_ms=clock)
    recorder.record_turn(UserTurn("c1", 0, 0, "u1", "how big is it?", "B01", sent_at_ms=1_001_500))
    again = TrafficRecorder(path, clock_ms=clock)  # a restarted gateway appends to the same recording
    assert again.started_at_ms == 1_000_000
    again.record_feedback(Feedback("c1", 0, 7, "u1", "thumbs_down", "", sent_at_ms=1_004_000))
    traffic = read_traffic(path)
    assert traffic.bad_lines == [] and traffic.started_at_ms == 1_000_000
    assert [(e.type, e.offset_ms, e.text, e.kind) for e in traffic.events] == [
        (ASK, 1_500, "how big is it?", ""), (FEEDBACK, 4_000, "", "thumbs_down")]

"""The terminal client's transcript (dedupe, resume map) and typed-line commands."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.chat.client import http_base
from pipeline.chat.render import Action, Suggestion
from pipeline.chat.state import Ask, Help, Quit, SendFeedback, SetProduct, Transcript, parse_line
from pipeline.errors import ConfigError


def frame(turn: int, seq: int, kind: str = "text", text: str = "") -> dict[str, Any]:
    return {"type": kind, "conversation_id": "c1", "turn": turn, "seq": seq, "text": text, "payload": {}}


def test_transcript_drops_redelivered_frames_and_keeps_order() -> None:
    t = Transcript()
    assert t.accept({"type": "accepted", "turn": 0}) is None
    for seq in (0, 1, 1, 0, 2):
        t.accept(frame(0, seq, text=f"w{seq} "))
    assert [f["text"] for f in t.frames(0)] == ["w0 ", "w1 ", "w2 "]
    assert not t.is_done(0)
    assert t.accept(frame(0, 3, "done")) == 0
    assert t.is_done(0)


def test_resume_hello_lists_each_turns_last_seq_and_the_highest_turn() -> None:
    t = Transcript()
    assert t.resume_hello("tok") == {"type": "hello", "token": "tok", "after_seq": {}, "last_turn": -1}
    t.accept(frame(0, 0))
    t.accept(frame(0, 1))
    t.accept({"type": "accepted", "turn": 1})  # asked, nothing arrived yet
    assert t.resume_hello("tok") == {"type": "hello", "token": "tok", "after_seq": {"0": 1}, "last_turn": 1}


def test_gateway_replies_without_seq_are_not_frames() -> None:
    t = Transcript()
    for reply in ({"type": "welcome"}, {"type": "pong"}, {"type": "error", "code": "x", "turn": 0},
                  {"type": "text", "turn": True, "seq": 0}):
        assert t.accept(reply) is None
    assert t.frames(0) == []


def test_suggestions_collects_every_suggestions_frame_of_the_turn_in_order() -> None:
    t = Transcript()
    t.accept({**frame(2, 0, "suggestions"), "payload": {"items": ["a", "b"]}})
    t.accept({**frame(2, 1, "suggestions"), "payload": {"items": ["c"]}})
    assert t.suggestions(2) == [Suggestion(1, "a"), Suggestion(2, "b"), Suggestion(3, "c")]
    assert t.suggestions(5) == []


SUGGESTIONS = [Suggestion(1, "Is it dishwasher safe?"), Suggestion(2, "Cheaper ones?")]
ACTIONS = [Action(1, 0, "add_to_cart", "B0A", {"quantity": 1})]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        ("   ", None),
        ("a kettle under $40?", Ask("a kettle under $40?")),
        ("2", Ask("Cheaper ones?")),
        (" 1 ", Ask("Is it dishwasher safe?")),
        ("3", Help("no follow-up numbered 3")),
        ("/quit", Quit()),
        ("/feedback up", SendFeedback("thumbs_up")),
        ("/feedback DOWN", SendFeedback("thumbs_down")),
        ("/feedback meh", Help("usage: /feedback up|down")),
        ("/product B07XJ8C8F5", SetProduct("B07XJ8C8F5")),
        ("/product", SetProduct(None)),
        ("/action 2", Help("no action numbered 2")),
        ("/frobnicate", Help("unknown command /frobnicate")),
        ("/help", Help()),
    ],
)
def test_parse_line(line: str, expected: object) -> None:
    assert parse_line(line, SUGGESTIONS, ACTIONS) == expected


def test_action_command_sends_the_action_as_feedback_json_like_the_web_chat() -> None:
    command = parse_line("/action 1", SUGGESTIONS, ACTIONS)
    assert isinstance(command, SendFeedback) and command.kind == "action_clicked"
    assert json.loads(command.value) == {"type": "add_to_cart", "product_id": "B0A", "params": {"quantity": 1}}


def test_http_base_from_the_websocket_url() -> None:
    assert http_base("ws://127.0.0.1:8080/ws") == "http://127.0.0.1:8080"
    assert http_base("wss://shop.example/chat/ws") == "https://shop.example"
    with pytest.raises(ConfigError):
        http_base("http://127.0.0.1:8080/ws")

"""Rate limits, turns in flight and the socket bound: the core (limits.py) on a fake clock, then each
bound through the app, answered with its error frame while the socket stays open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.websockets import WebSocketDisconnect

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.gateway.limits import AskGate, AskLimits
from pipeline.messages import Frame
from tests.unit.gateway.test_gateway_app import Client, _gateway, hello, receive, session

OFF = {"gateway_socket_asks_per_s": 0.0, "gateway_user_asks_per_s": 0.0, "gateway_turns_in_flight_max": 0}
"""Every bound off, so each test turns on only the one it checks."""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_socket_bucket_refills_at_its_rate_and_refusals_take_nothing() -> None:
    clock = Clock()
    gate = AskGate(AskLimits(socket_asks_per_s=2.0, socket_ask_burst=3, user_asks_per_s=0, turns_in_flight_max=0),
                   clock)
    bucket = gate.socket_bucket()
    assert [gate.admit(bucket, "u", "c", turn=True) for _ in range(3)] == [None, None, None]
    refusal = gate.admit(bucket, "u", "c", turn=True)
    assert refusal is not None and refusal.code == "rate_limited"
    assert refusal.fields == {"scope": "connection", "retry_after_s": 0.5}
    clock.now += 0.5  # one token back, and the refusal above did not spend it in advance
    assert gate.admit(bucket, "u", "c", turn=True) is None
    assert gate.admit(bucket, "u", "c", turn=True) is not None


def test_a_user_bucket_spans_sockets_and_a_refused_socket_keeps_its_tokens() -> None:
    clock = Clock()
    gate = AskGate(AskLimits(socket_asks_per_s=1.0, socket_ask_burst=2, user_asks_per_s=1.0, user_ask_burst=3,
                             turns_in_flight_max=0), clock)
    first, second = gate.socket_bucket(), gate.socket_bucket()
    assert gate.admit(first, "u", "c1", turn=True) is None
    assert gate.admit(first, "u", "c1", turn=True) is None
    assert gate.admit(second, "u", "c2", turn=True) is None
    refusal = gate.admit(second, "u", "c2", turn=True)
    assert refusal is not None and refusal.fields["scope"] == "user"
    assert gate.admit(gate.socket_bucket(), "other", "c3", turn=True) is None  # another user is not affected


def test_turns_in_flight_are_capped_per_conversation_until_done_or_too_old() -> None:
    clock = Clock()
    gate = AskGate(AskLimits(socket_asks_per_s=0, user_asks_per_s=0, turns_in_flight_max=2,
                             turn_in_flight_max_s=60.0), clock)
    gate.started("c", 0)
    gate.started("c", 1)
    refusal = gate.admit(None, "u", "c", turn=True)
    assert refusal is not None and refusal.code == "too_many_turns"
    assert gate.admit(None, "u", "c", turn=False) is None  # feedback starts no turn
    assert gate.admit(None, "u", "other", turn=True) is None
    gate.ended("c", 0)
    assert gate.admit(None, "u", "c", turn=True) is None
    gate.started("c", 2)
    clock.now += 61  # no done ever came: the turns stop counting
    gate.sweep()
    assert gate.in_flight("c") == 0


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        AskLimits(socket_ask_burst=-1)


def _limited(**fields: object) -> Iterator[Client]:
    yield from _gateway(Settings(session_secret="x" * 32, **{**OFF, **fields}))  # type: ignore[arg-type]


def test_a_socket_over_its_rate_gets_rate_limited_and_stays_open() -> None:
    for client, bus in _limited(gateway_socket_asks_per_s=0.001, gateway_socket_ask_burst=2):
        s = session(client)
        with client.websocket_connect("/ws") as ws:
            hello(ws, s["token"])
            for text in ("one", "two", "three"):
                ws.send_json({"type": "ask", "text": text})
            assert [receive(ws)["type"] for _ in range(2)] == ["accepted", "accepted"]
            refused = receive(ws)
            assert (refused["type"], refused["code"], refused["scope"]) == ("error", "rate_limited", "connection")
            assert refused["retry_after_s"] > 0
            ws.send_json({"type": "feedback", "turn": 0, "kind": "thumbs_up"})
            assert receive(ws)["code"] == "rate_limited"
            ws.send_json({"type": "ping"})
            assert receive(ws)["type"] == "pong"
        assert [r.text for r in bus.requests] == ["one", "two"] and bus.feedback == []
        assert 'aisle_gateway_errors_total{kind="rate_limited"} 2.0' in client.get("/metrics").text


def test_a_user_over_its_rate_is_limited_across_sockets() -> None:
    for client, bus in _limited(gateway_user_asks_per_s=0.001, gateway_user_ask_burst=2):
        s = session(client)
        other = session(client, token=s["token"], new_conversation=True)
        with client.websocket_connect("/ws") as one, client.websocket_connect("/ws") as two:
            hello(one, s["token"])
            hello(two, other["token"])
            one.send_json({"type": "ask", "text": "one"})
            assert receive(one)["type"] == "accepted"
            two.send_json({"type": "ask", "text": "two"})
            assert receive(two)["type"] == "accepted"
            two.send_json({"type": "ask", "text": "three"})
            refused = receive(two)
            assert (refused["code"], refused["scope"]) == ("rate_limited", "user")
        assert len(bus.requests) == 2


def test_a_conversation_with_too_many_turns_in_flight_waits_for_a_done() -> None:
    for client, bus in _limited(gateway_turns_in_flight_max=2):
        s = session(client)
        with client.websocket_connect("/ws") as ws:
            hello(ws, s["token"])
            for text in ("one", "two", "three"):
                ws.send_json({"type": "ask", "text": text})
            assert [receive(ws).get("turn") for _ in range(2)] == [0, 1]
            refused = receive(ws)
            assert (refused["code"], refused["limit"]) == ("too_many_turns", 2)
            bus.frames.put(Frame(s["conversation_id"], 0, 0, "done"))
            assert [receive(ws)["type"] for _ in range(2)] == ["done", "account_changed"]
            ws.send_json({"type": "ask", "text": "four"})
            assert receive(ws) == {"type": "accepted", "turn": 2}
        assert [r.text for r in bus.requests] == ["one", "two", "four"]


def test_sockets_past_the_process_bound_are_told_busy_and_closed_1013() -> None:
    for client, _bus in _limited(gateway_sockets_max=1):
        s = session(client)
        with client.websocket_connect("/ws") as first:
            hello(first, s["token"])
            with client.websocket_connect("/ws") as second:
                assert receive(second)["code"] == "busy"
                with pytest.raises(WebSocketDisconnect) as info:
                    receive(second)
                assert info.value.code == 1013
            first.send_json({"type": "ping"})
            assert receive(first)["type"] == "pong"
        with client.websocket_connect("/ws") as again:  # the first one closed: room again
            assert hello(again, s["token"])["type"] == "welcome"

"""The app over a fake bus: sessions, the socket protocol, routing, resume, slow clients."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError
from pipeline.gateway import create_app
from pipeline.gateway.tokens import SessionSigner
from pipeline.messages import Alert, Feedback, Frame, UserTurn

T = TypeVar("T")


class FakeBus:
    """Records what the gateway produces; frames and alerts pushed from the test thread reach the hub
    in order (as GatewayBus and AlertSource)."""

    def __init__(self) -> None:
        self.requests: list[UserTurn] = []
        self.feedback: list[Feedback] = []
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.alerts: queue.Queue[Alert] = queue.Queue()
        self.fail = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        if self.fail:
            raise BrokerUnavailableError("down")
        self.requests.append(turn)

    async def send_feedback(self, feedback: Feedback) -> None:
        self.feedback.append(feedback)

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        await _pump(self.frames, on_frame)

    async def run_alerts(self, on_alert: Callable[[Alert], None], on_bad_alert: Callable[[Exception], None]) -> None:
        await _pump(self.alerts, on_alert)


async def _pump(source: queue.Queue[T], deliver: Callable[[T], None]) -> None:
    while True:
        # Everything pushed so far goes to the hub without yielding, like one fetched batch.
        while not source.empty():
            deliver(source.get_nowait())
        await asyncio.sleep(0.002)


Client = tuple[TestClient, FakeBus]


@pytest.fixture
def gateway() -> Iterator[Client]:
    yield from _gateway(Settings(session_secret="x" * 32))


def _gateway(settings: Settings) -> Iterator[Client]:
    bus = FakeBus()
    with TestClient(create_app(settings, bus=bus)) as client:
        yield client, bus


def session(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/session", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def receive(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = ws.receive_json()
    return message


def hello(ws: Any, token: str, **fields: Any) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, **fields})
    return receive(ws)


def card(conversation_id: str, turn: int, seq: int) -> Frame:
    return Frame(conversation_id, turn, seq, "text", text=f"{turn}.{seq}")


def test_ask_produces_a_user_turn_and_is_accepted(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        welcome = hello(ws, s["token"])
        assert welcome == {"type": "welcome", "conversation_id": s["conversation_id"], "user_id": s["user_id"],
                           "turn_timeout_s": 60.0}
        ws.send_json({"type": "ask", "text": "a quiet kettle?", "page_product_id": "B0TEST"})
        assert receive(ws) == {"type": "accepted", "turn": 0}
        ws.send_json({"type": "ask", "text": "cheaper?"})
        assert receive(ws) == {"type": "accepted", "turn": 1}
    first, second = bus.requests
    assert (first.conversation_id, first.user_id, first.turn, first.seq) == (s["conversation_id"], s["user_id"], 0, 0)
    assert (first.text, first.page_product_id, first.client) == ("a quiet kettle?", "B0TEST", "web")
    assert (second.turn, second.page_product_id) == (1, None)


def test_malformed_messages_get_an_error_and_the_socket_stays_open(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        assert receive(ws)["code"] == "bad_json"  # before hello too
        hello(ws, s["token"])
        for bad in ["{not json", '{"type":"ask","text":""}', json.dumps({"type": "ask", "text": "x" * 5000}),
                    "x" * 20_000, '{"type":"hello","token":"t"}']:
            ws.send_text(bad)
            assert receive(ws)["type"] == "error"
        ws.send_json({"type": "ask", "text": "still there?"})
        assert receive(ws) == {"type": "accepted", "turn": 0}
    assert [r.text for r in bus.requests] == ["still there?"]


def test_a_bad_token_closes_the_socket(gateway: Client) -> None:
    client, _ = gateway
    token = session(client)["token"]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with client.websocket_connect("/ws") as ws:
        reply = hello(ws, tampered)
        assert (reply["type"], reply["code"]) == ("error", "auth")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1008


def test_frames_reach_only_their_conversation(gateway: Client) -> None:
    client, bus = gateway
    a, b = session(client), session(client)
    with client.websocket_connect("/ws") as ws_a, client.websocket_connect("/ws") as ws_b:
        hello(ws_a, a["token"])
        hello(ws_b, b["token"])
        for seq in range(3):
            bus.frames.put(card(a["conversation_id"], 0, seq))
        got = [receive(ws_a) for _ in range(3)]
        assert [(f["turn"], f["seq"], f["text"]) for f in got] == [(0, 0, "0.0"), (0, 1, "0.1"), (0, 2, "0.2")]
        assert got[0]["conversation_id"] == a["conversation_id"]
        # B's first message is the reply to its ping: none of A's frames were queued before it.
        ws_b.send_json({"type": "ping"})
        assert receive(ws_b) == {"type": "pong"}


def test_an_alert_reaches_every_socket_of_its_user_once(gateway: Client) -> None:
    client, bus = gateway
    home = session(client)
    elsewhere = session(client, token=home["token"], new_conversation=True)
    stranger = session(client)
    alert = Alert("al-1", home["conversation_id"], 0, 0, home["user_id"], "B01", "price_below", 4000, 3899, "USD",
                  fired_at_ms=1_700_000_000_000)
    with (
        client.websocket_connect("/ws") as ws_home,
        client.websocket_connect("/ws") as ws_elsewhere,
        client.websocket_connect("/ws") as ws_stranger,
    ):
        hello(ws_home, home["token"])
        hello(ws_elsewhere, elsewhere["token"])
        hello(ws_stranger, stranger["token"])
        # As the alerts stage writes it: the frame on the alert's conversation, the Alert on `alerts`,
        # and the Alert once more (an at-least-once redelivery).
        bus.frames.put(Frame(home["conversation_id"], 0, 1_700_000_000_000, "alert", text="Price alert: Kettle"))
        bus.alerts.put(alert)
        bus.alerts.put(alert)
        got = receive(ws_home)
        assert (got["type"], got["seq"], got["text"]) == ("alert", 1_700_000_000_000, "Price alert: Kettle")
        other = receive(ws_elsewhere)
        assert (other["type"], other["conversation_id"], other["turn"]) == ("alert", home["conversation_id"], 0)
        assert "seq" not in other  # outside that socket's own resume and dedupe
        assert other["text"] == "Price alert: B01 is now $38.99 (you asked for $40.00 or less)."
        assert (other["payload"]["alert_id"], other["payload"]["firing"]) == ("al-1", 0)
        for ws in (ws_home, ws_elsewhere, ws_stranger):  # nothing more for anyone
            ws.send_json({"type": "ping"})
            assert receive(ws) == {"type": "pong"}
    metrics = client.get("/metrics").text
    for line in ["aisle_gateway_alerts_received_total 2", "aisle_gateway_alerts_delivered_total 1",
                 "aisle_gateway_alerts_duplicate_total 1"]:
        assert line in metrics


def test_reconnect_with_resume_gets_the_rest_exactly_once(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    conv = s["conversation_id"]
    with client.websocket_connect("/ws") as ws:
        hello(ws, s["token"], after_seq={})
        for seq in range(3):
            bus.frames.put(card(conv, 0, seq))
        seen = [(f["turn"], f["seq"]) for f in (receive(ws) for _ in range(3))]
    for seq in range(3, 6):
        bus.frames.put(card(conv, 0, seq))
    bus.frames.put(card(conv, 0, 4))  # a redelivery
    with client.websocket_connect("/ws") as ws:
        # Wait until the fake bus has handed everything to the hub.
        while not bus.frames.empty():
            pass
        hello(ws, s["token"], after_seq={"0": seen[-1][1]})
        bus.frames.put(card(conv, 0, 6))
        seen += [(f["turn"], f["seq"]) for f in (receive(ws) for _ in range(4))]
        ws.send_json({"type": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert seen == [(0, s) for s in range(7)]


def test_turn_numbers_continue_from_the_clients_last_turn(gateway: Client) -> None:
    client, _ = gateway
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        hello(ws, s["token"], last_turn=4, after_seq={"3": 9})
        ws.send_json({"type": "ask", "text": "next"})
        assert receive(ws) == {"type": "accepted", "turn": 5}


def test_feedback_is_produced(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        hello(ws, s["token"])
        ws.send_json({"type": "feedback", "turn": 0, "kind": "thumbs_up"})
        ws.send_json({"type": "feedback", "turn": 0, "kind": "action_clicked", "value": '{"type":"add_to_cart"}'})
        assert receive(ws)["type"] == "feedback_ok"
        assert receive(ws)["type"] == "feedback_ok"
    up, click = bus.feedback
    assert (up.kind, click.kind, click.value) == ("thumbs_up", "action_clicked", '{"type":"add_to_cart"}')
    assert up.conversation_id == s["conversation_id"] and up.user_id == s["user_id"]
    assert up.seq < click.seq  # two clicks on one turn are not duplicates of each other


def test_an_unavailable_broker_is_reported_and_the_socket_stays_open(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    bus.fail = True
    with client.websocket_connect("/ws") as ws:
        hello(ws, s["token"])
        ws.send_json({"type": "ask", "text": "hello?"})
        assert receive(ws)["code"] == "unavailable"
        bus.fail = False
        ws.send_json({"type": "ask", "text": "hello?"})
        assert receive(ws)["type"] == "accepted"


def test_a_slow_socket_is_closed_with_1013() -> None:
    for client, bus in _gateway(Settings(session_secret="x" * 32, gateway_send_queue_frames=8,
                                         gateway_resume_frames=8)):
        s = session(client)
        with client.websocket_connect("/ws") as ws:
            hello(ws, s["token"])
            for seq in range(20):  # one batch, larger than the queue
                bus.frames.put(card(s["conversation_id"], 0, seq))
            with pytest.raises(WebSocketDisconnect) as info:
                while True:
                    receive(ws)
            assert info.value.code == 1013
        assert "aisle_gateway_queue_overflows_total 1" in client.get("/metrics").text


def test_sessions_renew_but_never_for_a_named_conversation(gateway: Client) -> None:
    client, _ = gateway
    s = session(client)
    renewed = session(client, token=s["token"])
    assert (renewed["user_id"], renewed["conversation_id"]) == (s["user_id"], s["conversation_id"])
    fresh = session(client, token=s["token"], new_conversation=True)
    assert fresh["user_id"] == s["user_id"] and fresh["conversation_id"] != s["conversation_id"]
    other = session(client, conversation_id=s["conversation_id"])
    assert other["conversation_id"] != s["conversation_id"]
    assert client.post("/session", json={"token": "forged.token"}).status_code == 401
    assert client.post("/session", content=b"[").status_code == 400
    deep = client.post("/session", content=b"[" * 4000 + b"]" * 90)  # RecursionError inside the 4 KiB limit
    assert deep.status_code == 400 and deep.json() == {"error": "body is nested too deeply"}


def test_deeply_nested_messages_get_an_error_frame_and_the_socket_stays_open(gateway: Client) -> None:
    client, bus = gateway
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        ws.send_text("[" * 8000 + "]" * 8000)
        assert receive(ws)["code"] == "bad_json"  # before hello
        assert hello(ws, s["token"], after_seq={"\u00b2": 3})["code"] == "bad_field"  # "²".isdigit()
        assert hello(ws, s["token"])["type"] == "welcome"
        ws.send_json({"type": "feedback", "turn": 0, "kind": "action_done", "value": "add_to_cart"})
        assert receive(ws)["code"] == "not_allowed"
        ws.send_json({"type": "ask", "text": "still here?"})
        assert receive(ws)["type"] == "accepted"
    assert bus.feedback == []


def test_an_expired_token_renews_for_the_same_user_never_a_new_one() -> None:
    secret = "x" * 32
    settings = Settings(session_secret=secret, session_ttl_s=60, session_renew_grace_s=3600)
    # Tokens the same secret issued in the past: one expired ten minutes ago, one two hours ago.
    recent, _ = SessionSigner(secret, 60, clock=lambda: time.time() - 660).issue("u-back", "c-back")
    old, _ = SessionSigner(secret, 60, clock=lambda: time.time() - 7260).issue("u-gone", "c-gone")
    for client, _bus in _gateway(settings):
        with client.websocket_connect("/ws") as ws:
            assert hello(ws, recent)["code"] == "auth"  # a socket never takes an expired token
        renewed = session(client, token=recent)
        assert (renewed["user_id"], renewed["conversation_id"]) == ("u-back", "c-back")
        refused = client.post("/session", json={"token": old})
        assert refused.status_code == 401 and "too long ago" in refused.json()["error"]


def test_health_metrics_and_the_chat_page(gateway: Client) -> None:
    client, _ = gateway
    assert client.get("/healthz").json()["status"] == "ok"
    page = client.get("/metrics")
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in ["sockets_open", "frames_delivered_total", "frames_dropped_total", "queue_overflows_total",
                 "requests_produced_total", "errors_total"]:
        assert f"aisle_gateway_{name}" in page.text
    index = client.get("/")
    assert index.status_code == 200 and "script-src 'self'" in index.headers["content-security-policy"]
    assert client.get("/static/chat.js").status_code == 200


class FramesOnlyBus:
    """A bus that is no AlertSource (as the replay and terminal-client tests' fakes): frames still flow."""

    def __init__(self) -> None:
        self.inner = FakeBus()
        self.start, self.stop = self.inner.start, self.inner.stop
        self.send_request, self.send_feedback = self.inner.send_request, self.inner.send_feedback
        self.run_frames = self.inner.run_frames


def test_a_bus_without_alerts_still_serves_frames() -> None:
    bus = FramesOnlyBus()
    with TestClient(create_app(Settings(session_secret="x" * 32), bus=bus)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        s = session(client)
        with client.websocket_connect("/ws") as ws:
            hello(ws, s["token"])
            bus.inner.frames.put(card(s["conversation_id"], 0, 0))
            assert receive(ws)["text"] == "0.0"


class DeadAlertsBus(FakeBus):
    async def run_alerts(self, on_alert: Callable[[Alert], None], on_bad_alert: Callable[[Exception], None]) -> None:
        raise BrokerUnavailableError("alerts consumer gone")


def test_health_says_when_the_alerts_consumer_stopped() -> None:
    with TestClient(create_app(Settings(session_secret="x" * 32), bus=DeadAlertsBus())) as client:
        response = client.get("/healthz")
        assert (response.status_code, response.json()["status"]) == (503, "alerts consumer stopped")

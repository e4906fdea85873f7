"""AISLE_RECORD: the gateway appends each ask and client event it produced to a traffic file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError
from pipeline.gateway import create_app
from pipeline.messages import Feedback, Frame, UserTurn
from pipeline.replay.traffic import ASK, FEEDBACK, read_traffic


class FakeBus:
    def __init__(self) -> None:
        self.requests: list[UserTurn] = []
        self.fail = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        if self.fail:
            raise BrokerUnavailableError("down")
        self.requests.append(turn)

    async def send_feedback(self, feedback: Feedback) -> None: ...

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        await asyncio.Event().wait()


def test_the_gateway_records_produced_asks_and_feedback(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    bus = FakeBus()
    with TestClient(create_app(Settings(session_secret="x" * 32, record_path=str(path)), bus=bus)) as client:
        s = client.post("/session", json={}).json()
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "hello", "token": s["token"]})
            assert ws.receive_json()["type"] == "welcome"
            ws.send_json({"type": "ask", "text": "is it quiet?", "page_product_id": "B0TEST"})
            assert ws.receive_json() == {"type": "accepted", "turn": 0}
            bus.fail = True  # not produced, so not recorded
            ws.send_json({"type": "ask", "text": "lost"})
            assert ws.receive_json()["type"] == "error"
            ws.send_json({"type": "feedback", "turn": 0, "kind": "thumbs_up"})
            assert ws.receive_json()["type"] == "feedback_ok"
    traffic = read_traffic(path)
    assert traffic.bad_lines == [] and traffic.started_at_ms is not None
    assert [(e.type, e.conversation, e.user, e.turn, e.text, e.page_product_id, e.kind) for e in traffic.events] == [
        (ASK, s["conversation_id"], s["user_id"], 0, "is it quiet?", "B0TEST", ""),
        (FEEDBACK, s["conversation_id"], s["user_id"], 0, "", None, "thumbs_up"),
    ]
    assert traffic.events[0].offset_ms <= traffic.events[1].offset_ms


def test_aisle_record_names_the_file() -> None:
    assert Settings.from_env({"AISLE_RECORD": "/tmp/t.jsonl"}).record_path == "/tmp/t.jsonl"
    assert Settings.from_env({}).record_path == ""

"""The gateway's /metrics from prometheus-client: the same names as the hand-written page had, one
registry per app, values read from the hub and the sockets at scrape time."""

from __future__ import annotations

import sys

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.gateway.hub import Hub, HubLimits, WireFrame
from pipeline.gateway.metrics import ERROR_KINDS, GatewayCounters, GatewayMetrics
from tests.unit.gateway.test_gateway_app import FakeBus, card, hello, receive, session

NAMES = [
    "sockets_open", "conversations_buffered", "sockets_opened", "frames_received", "frames_delivered",
    "frames_duplicate", "frames_dropped", "queue_overflows", "resume_gaps", "alerts_received", "alerts_delivered",
    "alerts_duplicate", "requests_produced", "feedback_produced", "errors",
]


def families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {labels: value} for every sample of the page (counters under their _total name)."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_a_frame_through_a_socket_is_counted_on_the_page() -> None:
    bus = FakeBus()
    with TestClient(create_app(Settings(session_secret="x" * 32), bus=bus)) as client:
        s = session(client)
        with client.websocket_connect("/ws") as ws:
            hello(ws, s["token"])
            ws.send_json({"type": "ask", "text": "a kettle?"})
            assert receive(ws)["type"] == "accepted"
            bus.frames.put(card(s["conversation_id"], 0, 0))
            assert receive(ws)["seq"] == 0
            ws.send_text("{not json")
            assert receive(ws)["type"] == "error"
            page = families(client.get("/metrics").text)
            assert page["aisle_gateway_sockets_open"] == {(): 1.0}
        assert page["aisle_gateway_sockets_opened_total"] == {(): 1.0}
        assert page["aisle_gateway_requests_produced_total"] == {(): 1.0}
        assert page["aisle_gateway_frames_received_total"] == {(): 1.0}
        assert page["aisle_gateway_frames_delivered_total"] == {(): 1.0}
        assert page["aisle_gateway_errors_total"][(("kind", "protocol"),)] == 1.0
        if sys.platform.startswith("linux"):
            assert page["process_resident_memory_bytes"][()] > 0


def test_every_name_is_exported_before_anything_happens_and_apps_do_not_share_counts() -> None:
    counters = GatewayCounters()
    limits = HubLimits(send_queue_frames=8, resume_frames=8, resume_age_s=60.0, resume_conversations=8)
    hub = Hub(limits)
    first = GatewayMetrics(hub, counters, process=False)
    second = GatewayMetrics(Hub(limits), GatewayCounters(), process=False)
    hub.publish(WireFrame("c1", 0, 0, "{}"))
    counters.errors["auth"] += 2
    page = families(first.page().decode())
    names = {name.removesuffix("_total") for name in page}
    assert {f"aisle_gateway_{name}" for name in NAMES} <= names
    assert page["aisle_gateway_frames_received_total"] == {(): 1.0}
    assert page["aisle_gateway_conversations_buffered"] == {(): 1.0}
    assert {labels[0][1] for labels in page["aisle_gateway_errors_total"]} == set(ERROR_KINDS)
    assert page["aisle_gateway_errors_total"][(("kind", "auth"),)] == 2.0
    assert families(second.page().decode())["aisle_gateway_frames_received_total"] == {(): 0.0}

"""The gateway's counters, in the Prometheus text exposition format (version 0.0.4), hand-written.

Counters only grow for the life of the process; gauges are read at scrape time from the hub.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.gateway.hub import Hub

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class GatewayCounters:
    """What the socket layer counts (the hub counts the routing)."""

    requests_produced: int = 0
    feedback_produced: int = 0
    sockets_opened: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """By kind: protocol, auth, broker, bad_frame, bad_alert."""


def render(hub: Hub, counters: GatewayCounters) -> str:
    """The /metrics page."""
    stats = hub.stats
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, value: int | float, labels: str = "") -> None:
        if not any(line.startswith(f"# TYPE {name} ") for line in lines):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{labels} {value}")

    metric("aisle_gateway_sockets_open", "gauge", "Websockets subscribed to a conversation.", hub.sockets_open)
    metric("aisle_gateway_conversations_buffered", "gauge", "Conversations with a resume buffer.",
           hub.conversations_buffered)
    metric("aisle_gateway_sockets_opened_total", "counter", "Websockets that said hello.", counters.sockets_opened)
    metric("aisle_gateway_frames_received_total", "counter", "Frames read from the frames topic.",
           stats.frames_published)
    metric("aisle_gateway_frames_delivered_total", "counter", "Frames queued for a socket.", stats.frames_delivered)
    metric("aisle_gateway_frames_duplicate_total", "counter", "Frames dropped as already seen (turn, seq).",
           stats.frames_duplicate)
    metric("aisle_gateway_frames_dropped_total", "counter", "Frames not queued because a socket's queue was full.",
           stats.frames_dropped)
    metric("aisle_gateway_queue_overflows_total", "counter", "Sockets closed with 1013 for being too slow.",
           stats.queue_overflows)
    metric("aisle_gateway_resume_gaps_total", "counter", "Resumes that asked for frames no longer buffered.",
           stats.resume_gaps)
    metric("aisle_gateway_alerts_received_total", "counter", "Fired alerts read from the alerts topic.",
           stats.alerts_published)
    metric("aisle_gateway_alerts_delivered_total", "counter",
           "Alert frames queued for the user's sockets on other conversations.", stats.alerts_delivered)
    metric("aisle_gateway_alerts_duplicate_total", "counter", "Alerts dropped as already seen (alert, firing).",
           stats.alerts_duplicate)
    metric("aisle_gateway_requests_produced_total", "counter", "UserTurn records produced to requests.",
           counters.requests_produced)
    metric("aisle_gateway_feedback_produced_total", "counter", "Feedback records produced to feedback.",
           counters.feedback_produced)
    for kind in sorted(counters.errors) or ["protocol"]:
        metric("aisle_gateway_errors_total", "counter", "Errors by kind.", counters.errors[kind],
               f'{{kind="{kind}"}}')
    return "\n".join(lines) + "\n"

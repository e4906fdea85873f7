"""The gateway's /metrics: one prometheus-client registry per app, read from the hub and the socket layer.

The hub (`HubStats`) and the sockets (`GatewayCounters`) keep plain counters as they route; a
collector reads them, and the hub's gauges, each time the page is rendered. The names are the ones the
hand-written page had, so dashboards and alerts built on them keep working; the registry adds the
`process_*` families (CPU, memory, open files).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from pipeline.gateway.hub import Hub
from pipeline.runtime.metrics_http import CONTENT_TYPE

__all__ = ["CONTENT_TYPE", "ERROR_KINDS", "GatewayCounters", "GatewayMetrics"]

ERROR_KINDS = ("protocol", "auth", "broker", "bad_frame", "bad_alert")


@dataclass
class GatewayCounters:
    """What the socket layer counts (the hub counts the routing)."""

    requests_produced: int = 0
    feedback_produced: int = 0
    sockets_opened: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """By kind: protocol, auth, broker, bad_frame, bad_alert."""


class _GatewayCollector(Collector):
    def __init__(self, hub: Hub, counters: GatewayCounters) -> None:
        self._hub, self._counters = hub, counters

    def collect(self) -> Iterable[Metric]:
        hub, stats, counters = self._hub, self._hub.stats, self._counters
        yield GaugeMetricFamily("aisle_gateway_sockets_open", "Websockets subscribed to a conversation.",
                                value=hub.sockets_open)
        yield GaugeMetricFamily("aisle_gateway_conversations_buffered", "Conversations with a resume buffer.",
                                value=hub.conversations_buffered)
        for name, help_text, value in (
            ("sockets_opened", "Websockets that said hello.", counters.sockets_opened),
            ("frames_received", "Frames read from the frames topic.", stats.frames_published),
            ("frames_delivered", "Frames queued for a socket.", stats.frames_delivered),
            ("frames_duplicate", "Frames dropped as already seen (turn, seq).", stats.frames_duplicate),
            ("frames_dropped", "Frames not queued because a socket's queue was full.", stats.frames_dropped),
            ("queue_overflows", "Sockets closed with 1013 for being too slow.", stats.queue_overflows),
            ("resume_gaps", "Resumes that asked for frames no longer buffered.", stats.resume_gaps),
            ("alerts_received", "Fired alerts read from the alerts topic.", stats.alerts_published),
            ("alerts_delivered", "Alert frames queued for the user's sockets on other conversations.",
             stats.alerts_delivered),
            ("alerts_duplicate", "Alerts dropped as already seen (alert, firing).", stats.alerts_duplicate),
            ("requests_produced", "UserTurn records produced to requests.", counters.requests_produced),
            ("feedback_produced", "Feedback records produced to feedback.", counters.feedback_produced),
        ):
            yield CounterMetricFamily(f"aisle_gateway_{name}", help_text, value=value)
        errors = CounterMetricFamily("aisle_gateway_errors", "Errors by kind.", labels=["kind"])
        for kind in sorted({*ERROR_KINDS, *counters.errors}):
            errors.add_metric([kind], counters.errors[kind])
        yield errors


class GatewayMetrics:
    """The registry behind one gateway app's /metrics."""

    def __init__(self, hub: Hub, counters: GatewayCounters, *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process:
            ProcessCollector(registry=self.registry)
        self.registry.register(_GatewayCollector(hub, counters))

    def page(self) -> bytes:
        """The /metrics page, in the Prometheus text format (CONTENT_TYPE)."""
        return generate_latest(self.registry)

"""Record, replay and report: recorded traffic against the pipeline (docs/replay.md)."""

from pipeline.replay.replayer import ReplayOptions, Replayer, ReplayResult
from pipeline.replay.report import build_report
from pipeline.replay.traffic import Traffic, TrafficEvent, TrafficFileError, parse_traffic, read_traffic

__all__ = [
    "ReplayOptions",
    "ReplayResult",
    "Replayer",
    "Traffic",
    "TrafficEvent",
    "TrafficFileError",
    "build_report",
    "parse_traffic",
    "read_traffic",
]

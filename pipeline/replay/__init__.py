"""Record, replay and report: recorded traffic against the pipeline (docs/replay.md).

traffic.py (the file format), recorder.py (AISLE_RECORD and `aisle record`), replayer.py (`aisle replay`),
report.py and html.py (the report), compare.py (`aisle replay compare`), run.py (replay and write).
Kept import-light: the gateway imports the recorder.
"""

from pipeline.replay.traffic import Traffic, TrafficEvent, TrafficFileError, parse_traffic, read_traffic

__all__ = ["Traffic", "TrafficEvent", "TrafficFileError", "parse_traffic", "read_traffic"]

"""Hop timestamps in Kafka headers, so every turn's latency can be broken down per stage.

Each stage adds `aisle-hop:<stage>:in` (when it received the input) and `aisle-hop:<stage>:out` (when
it produced the output), in epoch milliseconds as ASCII, and carries every earlier hop forward. The
gateway adds `aisle-hop:gateway:out` to requests, so a frame's headers describe the whole path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Headers = Sequence[tuple[str, bytes]]

HOP_PREFIX = "aisle-hop:"


def hop_name(stage: str, edge: str) -> str:
    return f"{HOP_PREFIX}{stage}:{edge}"


def carry(headers: Iterable[tuple[str, bytes]] | None, stage: str, *, in_ms: int, out_ms: int) -> list[tuple[str, bytes]]:
    """Headers for an output: the input's hops plus this stage's in and out times."""
    kept = [(k, v) for k, v in (headers or ()) if k.startswith(HOP_PREFIX)]
    kept.append((hop_name(stage, "in"), str(in_ms).encode()))
    kept.append((hop_name(stage, "out"), str(out_ms).encode()))
    return kept


def hops(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, int]:
    """Every hop timestamp in the headers: {"plan:in": 1732..., ...}. Malformed values are skipped."""
    found: dict[str, int] = {}
    for key, value in headers or ():
        if key.startswith(HOP_PREFIX):
            try:
                found[key[len(HOP_PREFIX):]] = int(value)
            except ValueError:
                continue
    return found


def stage_durations_ms(hop_times: dict[str, int]) -> dict[str, float]:
    """Per stage, time spent inside it (out - in) and waiting before it (in - previous out)."""
    durations: dict[str, float] = {}
    edges = sorted(hop_times.items(), key=lambda item: item[1])
    previous_out: int | None = None
    for name, at_ms in edges:
        stage, _, edge = name.rpartition(":")
        if edge == "in":
            if previous_out is not None:
                durations[f"{stage}.wait"] = float(at_ms - previous_out)
            start = at_ms
            end = hop_times.get(f"{stage}:out")
            if end is not None:
                durations[stage] = float(end - start)
        elif edge == "out":
            previous_out = at_ms
    return durations

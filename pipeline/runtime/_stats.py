"""The counters a stage worker keeps (runtime/worker.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    """Counters a worker keeps; logged on exit and shown by `aisle status`."""

    received: int = 0
    processed: int = 0
    outputs: int = 0
    duplicates: int = 0
    gaps: int = 0
    dead_lettered: int = 0
    turns_ended_with_error: int = 0
    retries: int = 0
    revoked: int = 0
    turns_released: int = 0
    commits: int = 0
    paused_partitions: set[str] = field(default_factory=set)

"""The counters a stage worker keeps (runtime/worker.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    """Counters a worker keeps; logged on exit and exported at /metrics (runtime/metrics.py)."""

    received: int = 0
    processed: int = 0
    outputs: int = 0
    duplicates: int = 0
    gaps: int = 0
    dead_lettered: int = 0
    dead_letters_by_reason: Counter[str] = field(default_factory=Counter)
    """By the error's type (ContractError, ValueError, ...) or `unfinished_turn`; sums to dead_lettered."""
    turns_ended_with_error: int = 0
    retries: int = 0
    revoked: int = 0
    turns_released: int = 0
    commits: int = 0
    commit_failures: int = 0
    paused_partitions: set[str] = field(default_factory=set)

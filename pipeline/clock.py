"""The clocks, in milliseconds: one place that reads the time, so every stamp agrees on how.

`now_ms` is the wall clock every record's `*_ms` field holds: it is comparable across processes and
machines, which the broker hops and the store's timestamps need. Cores take a `Clock` argument
defaulting to `now_ms`, so tests pass a fixed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""Returns epoch milliseconds; `now_ms` in production, a fixed or stepping one in tests."""


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000

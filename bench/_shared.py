"""What several benchmarks use; none of it is a benchmark (bench/__main__.py runs the modules that are).

    fresh_topics   settings with a topic prefix of their own and those topics created: every run
                   starts on empty topics, and never touches another run's or the live system's
    cpu_seconds    a process's CPU time from /proc, to count work per CPU-second beside wall time
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.topics import load_topics


def fresh_topics(base: Settings, names: Iterable[str], *, prefix: str = "bench") -> Settings:
    """`base` with the topic prefix `<prefix>-<8 hex>.`, and the named topics (as topics/topics.toml
    declares them) created under it on the broker. Raises what `apply_topics` raises."""
    settings = dataclasses.replace(base, topic_prefix=f"{prefix}-{uuid.uuid4().hex[:8]}.")
    wanted = set(names)
    apply_topics(settings, [spec for spec in load_topics(settings.default_partitions) if spec.name in wanted])
    return settings


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc; raises OSError once it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

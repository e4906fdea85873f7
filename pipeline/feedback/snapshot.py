"""The feedback aggregate's snapshot file, `<AISLE_HOME>/feedback/aggregate.json`: written by the
feedback stage (pipeline/stages/feedback.py), read by the eval report and replays.

Writes are atomic (a temporary file, then a rename), so a reader sees the old snapshot or the new
one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.config import Settings


def snapshot_path(settings: Settings) -> Path:
    """Where the aggregate is written: <AISLE_HOME>/feedback/aggregate.json."""
    return settings.home / "feedback" / "aggregate.json"


def read_snapshot(path: Path) -> dict[str, Any]:
    """The last snapshot, or an empty one when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"groups": []}
    return data if isinstance(data, dict) else {"groups": []}


def write_snapshot(path: Path, snapshot: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(snapshot, indent=1, sort_keys=True))
    os.replace(partial, path)  # readers see the old file or the new one, never half of one

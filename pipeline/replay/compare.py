"""`aisle replay compare RUN_A RUN_B`: two replay reports side by side, with the differences that matter.

Rows: TTFT p50/p99, whole-turn p50/p99, every stage's p50 (in either run), turns answered and timed out,
error count and each error kind, answer length p50. `delta` is B - A; `change` is relative to A. A row is
flagged `worse` when B is worse by more than `threshold` (relative, default 10%) and by more than a
small absolute floor (so 2 ms -> 3 ms is not news); higher is worse for latencies and errors, lower is
worse for answered turns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

REPORT_NAME = "report.json"
DEFAULT_THRESHOLD = 0.10
_FLOORS = {"ms": 20.0, "count": 1.0, "chars": 10.0}


@dataclass(frozen=True)
class CompareRow:
    metric: str
    unit: str
    a: float | None
    b: float | None
    higher_is_worse: bool = True

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def change(self) -> float | None:
        """Relative change from A; None when A is zero or missing."""
        if self.delta is None or not self.a:
            return None
        return self.delta / abs(self.a)

    def verdict(self, threshold: float = DEFAULT_THRESHOLD) -> str:
        """"worse", "better" or "" (within the threshold, or not comparable)."""
        delta = self.delta
        if delta is None or abs(delta) < _FLOORS.get(self.unit, 0.0):
            return ""
        change = self.change
        if change is not None and abs(change) < threshold:
            return ""
        worse = delta > 0 if self.higher_is_worse else delta < 0
        return "worse" if worse else "better"


def resolve_report(name: str, replays_dir: Path) -> Path:
    """A report path from a run id (under replays_dir), a run folder or a report.json; raises ConfigError."""
    candidates = [Path(name), Path(name) / REPORT_NAME, replays_dir / name / REPORT_NAME]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"no replay report for {name!r} (looked at {', '.join(str(c) for c in candidates)})")


def load_report(path: Path) -> dict[str, Any]:
    """Read a report.json; raises ConfigError when it is not a replay report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read replay report {path}: {exc}") from exc
    if not isinstance(data, dict) or "run" not in data or "stages" not in data:
        raise ConfigError(f"{path} is not a replay report")
    return data


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[CompareRow]:
    """The rows that matter, in reading order."""
    rows = [
        CompareRow("TTFT p50", "ms", _get(a, "ttft_ms", "p50"), _get(b, "ttft_ms", "p50")),
        CompareRow("TTFT p99", "ms", _get(a, "ttft_ms", "p99"), _get(b, "ttft_ms", "p99")),
        CompareRow("turn p50", "ms", _get(a, "total_ms", "p50"), _get(b, "total_ms", "p50")),
        CompareRow("turn p99", "ms", _get(a, "total_ms", "p99"), _get(b, "total_ms", "p99")),
    ]
    stages = list(dict.fromkeys([*a.get("stages", {}), *b.get("stages", {})]))
    rows += [CompareRow(f"{stage} p50", "ms", _get(a, "stages", stage, "p50"), _get(b, "stages", stage, "p50"))
             for stage in stages]
    rows += [
        CompareRow("turns sent", "count", _get(a, "turns", "sent"), _get(b, "turns", "sent"), higher_is_worse=False),
        CompareRow("turns answered", "count", _get(a, "turns", "answered"), _get(b, "turns", "answered"),
                   higher_is_worse=False),
        CompareRow("turns timed out", "count", _get(a, "turns", "timed_out"), _get(b, "turns", "timed_out")),
        CompareRow("errors", "count", _get(a, "errors", "total"), _get(b, "errors", "total")),
    ]
    kinds = list(dict.fromkeys([*_kinds(a), *_kinds(b)]))
    rows += [CompareRow(f"  {kind}", "count", float(_kinds(a).get(kind, 0)), float(_kinds(b).get(kind, 0)))
             for kind in kinds]
    rows.append(CompareRow("answer chars p50", "chars", _get(a, "answer_chars", "p50"), _get(b, "answer_chars", "p50"),
                           higher_is_worse=False))
    return rows


def _kinds(report: Mapping[str, Any]) -> Mapping[str, int]:
    found = report.get("errors", {}).get("by_kind", {})
    return found if isinstance(found, Mapping) else {}


def _get(report: Mapping[str, Any], *path: str) -> float | None:
    node: Any = report
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None

"""The "Shopper feedback" section of the eval and replay reports, from the feedback worker's snapshot.

The feedback worker (`aisle worker feedback`, pipeline/stages/feedback.py) keeps thumbs and action
outcomes per (intent, model, prompt version) in `<AISLE_HOME>/feedback/aggregate.json`. A report
reads that file as it is when the report is written: it is live shopper feedback up to the snapshot's
`updated_at_ms`, not feedback on the run being reported (replayed feedback is left out of it).

The section is a JSON-able dict:

    status: "ok" | "missing" | "unreadable";  detail: why not ok ("" when ok);  source: the file
    updated_at_ms, age_s: when the worker last wrote it (None unless ok)
    pending_turns, replayed_skipped: from the snapshot
    rows: [{intent, model, prompt_version, thumbs_up, thumbs_down, thumbs_up_rate,
            action_clicked, action_done, action_failed, action_success_rate}]
    total: the same counts over every row (intent, model and version "all")

`read_section` is the only function here that touches the file system.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.feedback.aggregate import KINDS

HOW_TO_GET_ONE = (
    "Run the feedback worker (`aisle worker feedback`, started by `make run`) with the same AISLE_HOME and "
    "topic prefix; it writes the snapshot every 2 s while feedback arrives, and on stop."
)


def read_section(path: Path, now_ms: int) -> dict[str, Any]:
    """The section for the snapshot at `path` (missing or unreadable files give a section saying so)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return feedback_section(None, str(path), now_ms, status="missing", detail="no feedback snapshot yet")
    except OSError as exc:
        return feedback_section(None, str(path), now_ms, status="unreadable", detail=str(exc))
    try:
        data = json.loads(text)
    except ValueError as exc:
        return feedback_section(None, str(path), now_ms, status="unreadable", detail=f"not JSON: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        return feedback_section(None, str(path), now_ms, status="unreadable", detail="not a feedback snapshot")
    return feedback_section(data, str(path), now_ms)


def feedback_section(snapshot: Mapping[str, Any] | None, source: str, now_ms: int, *, status: str = "ok",
                     detail: str = "") -> dict[str, Any]:
    """The section for a snapshot dict (FeedbackAggregate.snapshot), or for none (status says why)."""
    if snapshot is None and status == "ok":
        status = "missing"
    groups: Sequence[Mapping[str, Any]] = snapshot.get("groups", []) if snapshot is not None else []
    rows = [_row(str(g.get("intent")), str(g.get("model")), str(g.get("prompt_version")), g)
            for g in groups if isinstance(g, Mapping)]
    updated = snapshot.get("updated_at_ms") if snapshot is not None else None
    totals = {kind: sum(int(r[kind]) for r in rows) for kind in KINDS}
    return {
        "status": status,
        "detail": detail,
        "source": source,
        "updated_at_ms": updated if isinstance(updated, int) else None,
        "age_s": round((now_ms - updated) / 1000, 1) if isinstance(updated, int) else None,
        "pending_turns": _count(snapshot, "pending_turns"),
        "replayed_skipped": _count(snapshot, "replayed_skipped"),
        "rows": rows,
        "total": _row("all", "all", "all", totals),
    }


def _count(snapshot: Mapping[str, Any] | None, name: str) -> int:
    value = snapshot.get(name, 0) if snapshot is not None else 0
    return value if isinstance(value, int) else 0


def _row(intent: str, model: str, version: str, counts: Mapping[str, Any]) -> dict[str, Any]:
    def number(kind: str) -> int:
        value = counts.get(kind, 0)
        return value if isinstance(value, int) else 0

    up, down, done, failed = (number(k) for k in ("thumbs_up", "thumbs_down", "action_done", "action_failed"))
    return {
        "intent": intent, "model": model, "prompt_version": version,
        "thumbs_up": up, "thumbs_down": down,
        "thumbs_up_rate": round(up / (up + down), 4) if up + down else None,
        "action_clicked": number("action_clicked"), "action_done": done, "action_failed": failed,
        "action_success_rate": round(done / (done + failed), 4) if done + failed else None,
    }


HEADER = ("intent", "model", "prompt version", "thumbs up", "thumbs down", "up-rate", "actions done", "actions failed")


def table_rows(section: Mapping[str, Any]) -> list[list[Any]]:
    """One list of cells per row (HEADER's columns), the total last; [] when nothing was counted."""
    rows: list[Mapping[str, Any]] = list(section["rows"])
    if not rows:
        return []
    return [[r["intent"], r["model"], r["prompt_version"], r["thumbs_up"], r["thumbs_down"],
             r["thumbs_up_rate"], r["action_done"], r["action_failed"]] for r in [*rows, section["total"]]]


def summary_line(section: Mapping[str, Any]) -> str:
    """One sentence under the heading: where the counts come from, or why there are none."""
    if section["status"] != "ok":
        return f"No feedback aggregate ({section['detail']}: {section['source']}). {HOW_TO_GET_ONE}"
    line = (f"From {section['source']}, written {section['age_s']} s before this report; "
            f"{section['replayed_skipped']} replayed records left out, {section['pending_turns']} turns "
            "still waiting for their response.")
    if not section["rows"]:
        line += " The worker has counted no feedback yet."
    return line


def render_markdown(section: Mapping[str, Any]) -> str:
    """`## Shopper feedback`, a sentence, and the table (when there is anything to show)."""
    lines = ["## Shopper feedback", "", summary_line(section)]
    rows = table_rows(section)
    if rows:
        lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0%}"
    return str(value).replace("|", "\\|")

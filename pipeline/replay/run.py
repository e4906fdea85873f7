"""Replay a traffic file and write its report (report.json and report.html) into one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.feedback.report import read_section
from pipeline.feedback.snapshot import snapshot_path
from pipeline.generated import mark_html, mark_json
from pipeline.replay.html import render_html
from pipeline.replay.replayer import ReplayOptions, ReplayProgress, Replayer, ReplayResult
from pipeline.replay.report import build_report
from pipeline.replay.traffic import Traffic


@dataclass(frozen=True)
class ReplayOutcome:
    result: ReplayResult
    report: dict[str, Any]
    json_path: Path
    html_path: Path


def replays_dir(settings: Settings) -> Path:
    """Where reports go by default: <AISLE_HOME>/replays/<run id>/."""
    return settings.home / "replays"


async def replay_traffic(settings: Settings, traffic: Traffic, options: ReplayOptions, *, traffic_file: str,
                         out_dir: Path | None = None, progress: ReplayProgress | None = None) -> ReplayOutcome:
    """Run the replay and write its report; raises BrokerUnavailableError when Kafka fails."""
    replayer = Replayer(settings, traffic, options, traffic_file=traffic_file, progress=progress)
    result = await replayer.run()
    report = build_report(result.facts, result.turns, result.lag, result.dead_letters)
    report["feedback"] = read_section(snapshot_path(settings), now_ms())
    folder = out_dir if out_dir is not None else replays_dir(settings) / replayer.run_id
    json_path, html_path = write_report(report, folder)
    return ReplayOutcome(result, report, json_path, html_path)


COMMAND = "aisle replay"
"""What the reports' generated mark names (pipeline/generated.py)."""


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(mark_json(report, COMMAND), indent=2) + "\n", encoding="utf-8")
    html_path.write_text(mark_html(render_html(report), COMMAND), encoding="utf-8")
    return json_path, html_path

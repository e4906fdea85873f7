"""What every `aisle` command shares: the settings it runs with, the console, and how an evaluation
shows its progress and writes its report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from pipeline.config import Settings
from pipeline.generated import mark_json, mark_markdown

T = TypeVar("T")

console = Console()


class Context:
    """One Settings, built from the environment once per command and passed down."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def with_phase_bars(start: Callable[[Callable[[str, int, int], None]], Coroutine[Any, Any, T]]) -> T:
    """Run an evaluation with one progress bar per phase it reports (phase, done, total)."""
    from rich.progress import Progress

    with Progress(console=console) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            known = total if total > 0 else None  # -1: a phase of unknown length (optimize)
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=known)
            bar.update(tasks[phase], completed=done, total=known)

        return asyncio.run(start(progress))


def write_report(out: Path, report: Any, markdown: str) -> None:
    """Write `report` to `out` (JSON) and `markdown` beside it (.md), each marked with the command
    that wrote them (pipeline/generated.py), e.g. `aisle eval search`."""
    command = " ".join(["aisle", *click.get_current_context().command_path.split()[1:]])
    out.parent.mkdir(parents=True, exist_ok=True)
    record = mark_json(report, command) if isinstance(report, Mapping) else report
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(mark_markdown(markdown, command) + "\n")
    console.print(markdown)
    console.print(f"wrote {out} and {out.with_suffix('.md')}")

"""`aisle record` and `aisle replay`: recording traffic, replaying it, comparing runs (docs/replay.md)."""

from __future__ import annotations

import asyncio
import faulthandler
from pathlib import Path

import click
from rich.table import Table

from pipeline.cli._common import Context, console, pass_ctx
from pipeline.clock import now_ms


@click.command()
@click.option("--from", "from_iso", required=True, help="Start time, ISO 8601 (e.g. 2025-11-25T20:00:00Z; no zone: local).")
@click.option("--to", "to_iso", help="End time, ISO 8601 (default: now).")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def record(ctx: Context, from_iso: str, to_iso: str | None, out: Path) -> None:
    """Write the asks and feedback on the requests and feedback topics between two times to OUT (JSONL)."""
    from pipeline.replay.recorder import record_from_topics

    from_ms = _iso_ms(from_iso)
    to_ms = _iso_ms(to_iso) if to_iso else now_ms()
    if to_ms <= from_ms:
        raise click.BadParameter("--to must be after --from")
    summary = asyncio.run(record_from_topics(ctx.settings, from_ms, to_ms, out))
    console.print(f"wrote {out}: {summary.asks} asks and {summary.feedback} client events in "
                  f"{summary.conversations} conversations ({summary.skipped_replays} replayed turns left out, "
                  f"{summary.undecodable} undecodable records)")


def _iso_ms(text: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time") from exc


class _ReplayGroup(click.Group):
    """`aisle replay FILE ...` runs a replay; `aisle replay compare A B` compares two."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ReplayGroup)
def replay() -> None:
    """Replay a traffic file against the running pipeline (`aisle replay FILE`), or compare two runs."""


@replay.command("run")
@click.argument("traffic_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--speed", default=1.0, show_default=True, help="Time factor: 2 replays twice as fast; 0 as fast as allowed.")
@click.option("--concurrency", default=8, show_default=True, help="Turns in flight at once, at most.")
@click.option("--run-id", default="", help="Run id (default: a fresh r-<time>-<random>).")
@click.option("--turn-timeout", "turn_timeout_s", default=180.0, show_default=True, help="Seconds to wait for a turn's done frame.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Report folder (default: $AISLE_HOME/replays/<run id>).")
@click.option("--broker-wait", "broker_wait_s", default=60.0, show_default=True,
              help="Seconds the broker may stay unreachable mid-run before the replay stops with an error.")
@pass_ctx
def replay_run(ctx: Context, traffic_file: Path, speed: float, concurrency: int, run_id: str,
               turn_timeout_s: float, out: Path | None, broker_wait_s: float) -> None:
    """Produce TRAFFIC_FILE's turns under a run id, collect frames and responses, write the report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.replay.replayer import ReplayOptions
    from pipeline.replay.run import replay_traffic
    from pipeline.replay.traffic import read_traffic

    if speed < 0 or concurrency < 1:
        raise click.BadParameter("--speed must be >= 0 and --concurrency >= 1")
    # A replay once died of a segmentation fault during a broker restart: should native code crash
    # again, leave the Python stacks of every thread behind (issue 16).
    faulthandler.enable()
    traffic = read_traffic(traffic_file)
    for bad in traffic.bad_lines[:20]:
        console.print(f"[yellow]line {bad.line_no} skipped:[/] {bad.reason}")
    if len(traffic.bad_lines) > 20:
        console.print(f"[yellow]... and {len(traffic.bad_lines) - 20} more bad lines[/]")
    options = ReplayOptions(speed=speed, concurrency=concurrency, run_id=run_id, turn_timeout_s=turn_timeout_s,
                            broker_wait_s=broker_wait_s)
    with Progress(TextColumn("turns"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("turns", total=len(traffic.asks))
        outcome = asyncio.run(replay_traffic(ctx.settings, traffic, options, traffic_file=str(traffic_file),
                                             out_dir=out, progress=lambda done, total: bar.update(task, completed=done)))
    r = outcome.report
    ends = r["turns"]["outcomes"]
    console.print(f"run {r['run']['run_id']}: {r['turns']['sent']} turns: {ends['answered']} answered, "
                  f"{ends['error']} ended with an error, {ends['lost']} lost (no answer or error in {turn_timeout_s:g} s); "
                  f"{r['errors']['total']} errors; TTFT p50 {r['ttft_ms']['p50']} ms, p99 {r['ttft_ms']['p99']} ms")
    if outcome.result.outages:
        console.print(f"[yellow]Kafka was unreachable {outcome.result.outages} times, {outcome.result.down_s:.1f} s in all[/]")
    console.print(f"wrote {outcome.json_path} and {outcome.html_path}")


@replay.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--threshold", default=0.10, show_default=True, help="Relative change that counts as a difference.")
@pass_ctx
def replay_compare(ctx: Context, run_a: str, run_b: str, threshold: float) -> None:
    """Show two replay reports (run ids, run folders or report.json files) side by side."""
    from pipeline.replay.compare import compare_reports, load_report, resolve_report
    from pipeline.replay.run import replays_dir

    a = load_report(resolve_report(run_a, replays_dir(ctx.settings)))
    b = load_report(resolve_report(run_b, replays_dir(ctx.settings)))
    table = Table("metric", a["run"]["run_id"], b["run"]["run_id"], "delta", "change", "")
    for row in compare_reports(a, b):
        verdict = row.verdict(threshold)
        colour = {"worse": "red", "better": "green"}.get(verdict, "")
        change = f"{row.change:+.0%}" if row.change is not None else ""
        cells = [_num(row.a), _num(row.b), _num(row.delta, signed=True), change]
        table.add_row(row.metric, *cells, f"[{colour}]{verdict}[/]" if colour else "")
    console.print(table)


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+,.0f}" if signed else f"{value:,.0f}"


COMMANDS: tuple[click.Command, ...] = (record, replay)

"""`aisle` commands that build data: the catalog into the store and the index, simulated store
events, and training data (docs/training.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from pipeline.cli._common import Context, console, pass_ctx


@click.command()
@click.option("--force-index", is_flag=True, help="Re-embed and rewrite the index even if it is current.")
@pass_ctx
def ingest(ctx: Context, force_index: bool) -> None:
    """Load the shared catalog into the store and the passage index (idempotent)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.ingest import ingest as run_ingest

    with Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total if total > 0 else None)
            bar.update(tasks[phase], completed=done, total=total if total > 0 else None)

        report = asyncio.run(run_ingest(ctx.settings, force_index=force_index, progress=progress))
    store = report.store
    console.print(f"store: {store.products} products ({store.added} added, {store.updated} updated, "
                  f"{store.unchanged} unchanged); prices, stock and ratings are simulated")
    if report.malformed:
        console.print(f"[yellow]{len(report.malformed)} malformed catalog lines skipped:[/]")
        for file, line in report.malformed[:20]:
            console.print(f"  {file} line {line.line_no}: {line.reason}")
    if report.index_skipped:
        console.print("index: already current (use --force-index to rebuild)")
    else:
        console.print(f"index: {report.passages_indexed} passages written")


@click.group()
def store() -> None:
    """The store: simulated offers, prices and stock over the real catalog."""


@store.command("simulate")
@click.option("--rate", default=5.0, show_default=True, help="Price or stock changes per second.")
@click.option("--count", default=0, show_default=True, help="Stop after this many events (0: run until Ctrl-C).")
@click.option("--seed", default=1, show_default=True, help="Seed of the event generator.")
@pass_ctx
def store_simulate(ctx: Context, rate: float, count: int, seed: int) -> None:
    """Publish simulated price and stock changes to the store-events topic (keyed by product)."""
    from pipeline.store_events import publish_store_events

    sent = asyncio.run(publish_store_events(ctx.settings, rate_per_s=rate, count=count, seed=seed,
                                            report=lambda line: console.print(line)))
    console.print(f"published {sent} store events")


@click.group("train")
def train_group() -> None:
    """Aisle's own answer model: training data (fine-tuning itself: `make train`)."""


@train_group.command("data")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: AISLE_HOME/training/data).")
@click.option("--seed", default=1234, show_default=True, help="Seed of every sample and shuffle.")
@pass_ctx
def train_data(ctx: Context, out: Path | None, seed: int) -> None:
    """Build the chat-formatted training examples and their manifest from the shared data."""
    from rich.progress import Progress

    from pipeline.training.data import BuildOptions, build_dataset, write_dataset

    with Progress(console=console) as bar:
        task = bar.add_task("building", total=None)
        dataset = build_dataset(ctx.settings.shared_data, BuildOptions(seed=seed),
                                lambda phase, done, total: bar.update(task, completed=done, total=total))
    data_path, manifest_path = write_dataset(dataset, out or ctx.settings.home / "training" / "data")
    table = Table("source", "kind", "examples")
    for source, kinds in dataset.manifest["counts"].items():
        for kind, n in kinds.items():
            table.add_row(source, kind, str(n))
    console.print(table)
    console.print(f"{len(dataset.examples)} examples: {data_path}; manifest: {manifest_path}")


COMMANDS: tuple[click.Command, ...] = (ingest, store, train_group)

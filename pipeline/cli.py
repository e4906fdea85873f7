"""The `aisle` command. It builds one Settings from the environment and passes it down."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings, env_var_name
from pipeline.errors import AisleError

console = Console()


class _Context:
    def __init__(self) -> None:
        self.settings = Settings.from_env()


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def cli(verbose: bool) -> None:
    """Aisle: a conversational shopping assistant on a Kafka dataflow."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiokafka logs every failed connection attempt at ERROR; our retry loop says it once, clearly.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if not verbose else logging.DEBUG)


@cli.command("config")
@pass_ctx
def config_cmd(ctx: _Context) -> None:
    """Show the effective settings and the environment variable for each."""
    import dataclasses

    table = Table("variable", "value")
    for f in dataclasses.fields(ctx.settings):
        if f.name != "extra":
            table.add_row(env_var_name(f.name), str(getattr(ctx.settings, f.name)))
    console.print(table)
    for name in ctx.settings.extra:
        console.print(f"[yellow]warning:[/] {name} is set but is not a setting Aisle knows")


# ---- topics ---------------------------------------------------------------------------------------

@cli.group()
def topics() -> None:
    """Create, update and inspect the declared topics."""


@topics.command("apply")
@pass_ctx
def topics_apply(ctx: _Context) -> None:
    """Create or update every topic in topics/topics.toml (idempotent)."""
    from pipeline.admin import apply_topics
    from pipeline.topics import load_topics

    for change in apply_topics(ctx.settings, load_topics(ctx.settings.default_partitions)):
        detail = f"  {change.detail}" if change.detail else ""
        console.print(f"{change.action:>10}  {change.topic}{detail}")


@topics.command("list")
@pass_ctx
def topics_list(ctx: _Context) -> None:
    """Show every declared topic with its live partition count and offsets (purposes: docs/topics.md)."""
    from pipeline.admin import describe_topics
    from pipeline.topics import load_topics

    specs = load_topics(ctx.settings.default_partitions)
    table = Table("topic", "partitions", "messages", "latest offsets", "cleanup", "value")
    for spec, status in zip(specs, describe_topics(ctx.settings, specs)):
        table.add_row(
            status.topic,
            str(status.partitions) if status.exists else "[red]missing[/]",
            str(status.messages),
            str(status.latest_total),
            spec.cleanup,
            spec.value,
        )
    console.print(table)


@cli.command()
@click.argument("topic")
@click.option("--conversation", help="Only messages of this conversation (or product, for store-events).")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest retained message.")
@pass_ctx
def tail(ctx: _Context, topic: str, conversation: str | None, from_beginning: bool) -> None:
    """Print decoded messages of TOPIC (e.g. responses) as JSON lines as they arrive."""
    from pipeline.admin import tail as tail_topic

    for item in tail_topic(ctx.settings, topic, conversation=conversation, from_beginning=from_beginning):
        click.echo(json.dumps(item, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---- workers --------------------------------------------------------------------------------------

@cli.command()
@click.argument("stage")
@click.option("--group", help="Consumer group id (default: <topic prefix><stage name>).")
@pass_ctx
def worker(ctx: _Context, stage: str, group: str | None) -> None:
    """Run STAGE (plan, retrieve, generate, hydrate, render, or module:factory) as this process."""
    from pipeline.runtime.service import load_stage_factory, serve_stage

    built = load_stage_factory(stage)(ctx.settings)
    asyncio.run(serve_stage(built, ctx.settings, group_id=group))


# ---- data -----------------------------------------------------------------------------------------

@cli.command()
@click.option("--force-index", is_flag=True, help="Re-embed and rewrite the index even if it is current.")
@pass_ctx
def ingest(ctx: _Context, force_index: bool) -> None:
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


@cli.group()
def store() -> None:
    """The store: simulated offers, prices and stock over the real catalog."""


@store.command("simulate")
@click.option("--rate", default=5.0, show_default=True, help="Price or stock changes per second.")
@click.option("--count", default=0, show_default=True, help="Stop after this many events (0: run until Ctrl-C).")
@click.option("--seed", default=1, show_default=True, help="Seed of the event generator.")
@pass_ctx
def store_simulate(ctx: _Context, rate: float, count: int, seed: int) -> None:
    """Publish simulated price and stock changes to the store-events topic (keyed by product)."""
    from pipeline.simulate import publish_store_events

    sent = asyncio.run(publish_store_events(ctx.settings, rate_per_s=rate, count=count, seed=seed,
                                            report=lambda line: console.print(line)))
    console.print(f"published {sent} store events")


@cli.group("eval")
def eval_group() -> None:
    """Quality evaluations on the visible eval sets (results as JSON and markdown)."""


@eval_group.command("retrieval")
@click.option("--mode", type=click.Choice(["all", "dense", "bm25", "hybrid"]), default="all", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/retrieval.json"), show_default=True)
@pass_ctx
def eval_retrieval(ctx: _Context, mode: str, out: Path) -> None:
    """nDCG@5/10, MRR and recall@5 on ePQA questions, per mode and evidence source."""
    from rich.progress import Progress

    from pipeline.eval.retrieval import render_markdown, run_retrieval_eval

    with Progress(console=console) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        report = asyncio.run(run_retrieval_eval(ctx.settings, mode, progress))
    _write_report(out, report, render_markdown(report))


def _write_report(out: Path, report: Any, markdown: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown + "\n")
    console.print(markdown)
    console.print(f"wrote {out} and {out.with_suffix('.md')}")


# ---- processes ------------------------------------------------------------------------------------

@cli.command()
@pass_ctx
def gateway(ctx: _Context) -> None:
    """Run the websocket gateway and web chat in this process."""
    from pipeline.gateway import run

    run(ctx.settings)


@cli.command()
@click.option("--product", help="Ask about this item (product-page context), e.g. B07XJ8C8F5.")
@click.option("--url", help="Gateway websocket URL (default: ws://AISLE_GATEWAY_HOST:AISLE_GATEWAY_PORT/ws).")
@pass_ctx
def chat(ctx: _Context, product: str | None, url: str | None) -> None:
    """Chat in the terminal: streamed answers, cards, tables, follow-ups (docs/clients.md)."""
    from pipeline.chat import chat as run_chat

    s = ctx.settings
    try:
        asyncio.run(run_chat(url or f"ws://{s.gateway_host}:{s.gateway_port}/ws", product, console))
    except KeyboardInterrupt:
        pass


@cli.command()
@pass_ctx
def up(ctx: _Context) -> None:
    """Start every stage worker and the gateway (broker and LLM are started by `make run`)."""
    from pipeline.admin import apply_topics
    from pipeline.launcher import up as start_all
    from pipeline.topics import load_topics

    for change in apply_topics(ctx.settings, load_topics(ctx.settings.default_partitions)):
        if change.action != "unchanged":
            console.print(f"topic {change.topic}: {change.action} {change.detail}")
    if not start_all(ctx.settings, report=console.print):
        raise click.ClickException("not every component started; `aisle status` and the logs say more")
    s = ctx.settings
    console.print(f"\n[bold green]Aisle is up.[/] Open http://{s.gateway_host}:{s.gateway_port}/ "
                  f"(terminal: `aisle chat`; stop: `make stop`)")


@cli.command()
@pass_ctx
def down(ctx: _Context) -> None:
    """Stop the stage workers and the gateway (gracefully: in-flight work finishes first)."""
    from pipeline.launcher import down as stop_all

    stop_all(ctx.settings, report=console.print)


@cli.command()
@pass_ctx
def status(ctx: _Context) -> None:
    """Health of every part, and each stage's consumer lag."""
    import httpx

    from pipeline.admin import consumer_lag
    from pipeline.launcher import COMPONENTS, GATEWAY, process_status
    from pipeline.runtime.service import STAGE_INPUTS

    s = ctx.settings
    table = Table("part", "state", "detail")
    try:
        from pipeline.admin import describe_topics
        from pipeline.topics import load_topics

        statuses = describe_topics(s, load_topics(s.default_partitions))
        missing = [t.topic for t in statuses if not t.exists]
        table.add_row("kafka", "[green]up[/]", f"{s.kafka_bootstrap_servers}; "
                      + (f"missing topics: {', '.join(missing)}" if missing else "all topics present"))
        kafka_up = True
    except AisleError as exc:
        table.add_row("kafka", "[red]down[/]", str(exc))
        kafka_up = False
    try:
        models = httpx.get(f"{s.llm_url}/models", timeout=2.0).json()
        names = ", ".join(m.get("id", "?") for m in models.get("data", []))
        table.add_row("llm", "[green]up[/]", f"{s.llm_url}: {names}")
    except (httpx.HTTPError, ValueError) as exc:
        table.add_row("llm", "[red]down[/]", f"{s.llm_url}: {type(exc).__name__}")
    for name in COMPONENTS:
        proc = process_status(s, name)
        state = "[green]running[/]" if proc.alive else "[red]stopped[/]"
        detail = f"pid {proc.pid}" if proc.alive else f"log {proc.log}"
        if name in STAGE_INPUTS and kafka_up:
            topic = STAGE_INPUTS[name]
            lag = consumer_lag(s, f"{s.topic_prefix}{name}", topic)
            detail += f"; lag {lag if lag is not None else '?'} on {topic}"
        table.add_row(name, state, detail)
    console.print(table)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except AisleError as exc:
        # Known failures get one clear line, not a traceback.
        click.echo(f"aisle: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

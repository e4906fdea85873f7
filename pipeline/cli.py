"""The `aisle` command. It builds one Settings from the environment and passes it down."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
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


def main() -> None:
    try:
        cli(standalone_mode=True)
    except AisleError as exc:
        # Known failures get one clear line, not a traceback.
        click.echo(f"aisle: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

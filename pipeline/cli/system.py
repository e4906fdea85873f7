"""`aisle` commands that run and inspect the system: settings, topics, workers, the gateway, the
terminal clients, and `up`, `down`, `status`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.table import Table

from pipeline.cli._common import Context, console, pass_ctx
from pipeline.errors import AisleError


@click.command("config")
@pass_ctx
def config_cmd(ctx: Context) -> None:
    """Show the effective settings and the environment variable for each (secrets masked)."""
    table = Table("variable", "value")
    for variable, value in ctx.settings.display():
        table.add_row(variable, value)
    console.print(table)
    for name in ctx.settings.extra:
        console.print(f"[yellow]warning:[/] {name} is set but is not a setting Aisle knows")


@click.group()
def topics() -> None:
    """Create, update and inspect the declared topics."""


@topics.command("apply")
@pass_ctx
def topics_apply(ctx: Context) -> None:
    """Create or update every topic in topics/topics.toml (idempotent)."""
    from pipeline.admin import apply_topics
    from pipeline.topics import load_topics

    for change in apply_topics(ctx.settings, load_topics(ctx.settings.default_partitions)):
        detail = f"  {change.detail}" if change.detail else ""
        console.print(f"{change.action:>10}  {change.topic}{detail}")


@topics.command("list")
@pass_ctx
def topics_list(ctx: Context) -> None:
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


@click.command()
@click.argument("topic")
@click.option("--conversation", help="Only messages of this conversation (or product, for store-events).")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest retained message.")
@pass_ctx
def tail(ctx: Context, topic: str, conversation: str | None, from_beginning: bool) -> None:
    """Print decoded messages of TOPIC (e.g. responses) as JSON lines as they arrive.

    On dead-letters, each letter's original record is decoded with its schema too (a hex and text
    preview when it does not decode).
    """
    from pipeline.admin import tail as tail_topic

    for item in tail_topic(ctx.settings, topic, conversation=conversation, from_beginning=from_beginning):
        click.echo(json.dumps(item, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@click.command()
@click.argument("stage")
@click.option("--group", help="Consumer group id (default: <topic prefix><stage name>).")
@click.option("--metrics-port", type=int, help="Serve /metrics here (default: AISLE_METRICS_PORT + the stage's slot; "
              "0: any free port). A second process of one stage needs its own.")
@pass_ctx
def worker(ctx: Context, stage: str, group: str | None, metrics_port: int | None) -> None:
    """Run STAGE (plan, retrieve, generate, hydrate, render, or module:factory) as this process."""
    from pipeline.runtime.affinity import pin_this_process
    from pipeline.runtime.metrics import worker_metrics_port
    from pipeline.runtime.service import load_stage_factory, serve_stage

    pin_this_process(ctx.settings)
    built = load_stage_factory(stage)(ctx.settings)
    port = metrics_port if metrics_port is not None else worker_metrics_port(ctx.settings, stage)
    asyncio.run(serve_stage(built, ctx.settings, group_id=group, metrics_port=port))


@click.command()
@pass_ctx
def gateway(ctx: Context) -> None:
    """Run the websocket gateway and web chat in this process."""
    from pipeline.gateway import run

    run(ctx.settings)


@click.command()
@click.option("--product", help="Ask about this item (product-page context), e.g. B07XJ8C8F5.")
@click.option("--url", help="Gateway websocket URL (default: ws://AISLE_GATEWAY_HOST:AISLE_GATEWAY_PORT/ws).")
@pass_ctx
def chat(ctx: Context, product: str | None, url: str | None) -> None:
    """Chat in the terminal: streamed answers, cards, tables, follow-ups (docs/clients.md)."""
    from pipeline.chat import chat as run_chat

    s = ctx.settings
    try:
        asyncio.run(run_chat(url or f"ws://{s.gateway_host}:{s.gateway_port}/ws", product, console,
                             s.chat_turn_timeout_s, s.home))
    except KeyboardInterrupt:
        pass


@click.command()
@click.argument("change", required=False, type=click.Choice(["less", "more", "remove", "cancel", "forget"]))
@click.argument("target", required=False)
@click.option("--url", help="Gateway websocket URL (default: ws://AISLE_GATEWAY_HOST:AISLE_GATEWAY_PORT/ws).")
@pass_ctx
def me(ctx: Context, change: str | None, target: str | None, url: str | None) -> None:
    """Your cart, orders, alerts and memory (the web chat's You panel); or change one:
    `less|more|remove PRODUCT`, `cancel ALERT_ID`, `forget KEY|all` (docs/clients.md)."""
    from pipeline.chat import me as panel

    s = ctx.settings
    ws_url = url or f"ws://{s.gateway_host}:{s.gateway_port}/ws"
    if change is not None and not target:
        raise click.UsageError(f"`aisle me {change}` needs what to change")
    try:
        if change is None:
            asyncio.run(panel.show(ws_url, s.home, console))
        else:
            asyncio.run(panel.change(ws_url, s.home, change, str(target), console))
    except AisleError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@pass_ctx
def up(ctx: Context) -> None:
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


@click.command(hidden=True)
@pass_ctx
def supervise(ctx: Context) -> None:
    """Run every component as a child, restarting one that exits (started by `aisle up`)."""
    from pipeline.launcher import supervise as run_supervisor

    run_supervisor(ctx.settings)


@click.command()
@pass_ctx
def down(ctx: Context) -> None:
    """Stop the stage workers and the gateway (gracefully: in-flight work finishes first)."""
    from pipeline.launcher import down as stop_all

    stop_all(ctx.settings, report=console.print)


@click.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Health of every part, each stage's consumer lag, and headline figures from every /metrics."""
    import httpx

    from pipeline import scrape
    from pipeline.admin import admin_client, consumer_lag
    from pipeline.launcher import COMPONENTS, process_status, supervisor_state
    from pipeline.runtime.service import stage_inputs

    s = ctx.settings
    inputs = stage_inputs()
    http = httpx.Client()
    table = Table("part", "state", "detail", "/metrics")
    try:
        from pipeline.admin import describe_topics
        from pipeline.topics import load_topics

        statuses = describe_topics(s, load_topics(s.default_partitions))
        missing = [t.topic for t in statuses if not t.exists]
        table.add_row("kafka", "[green]up[/]", f"{s.kafka_bootstrap_servers}; "
                      + (f"missing topics: {', '.join(missing)}" if missing else "all topics present"))
        kafka_up = True
        admin = admin_client(s)
    except AisleError as exc:
        table.add_row("kafka", "[red]down[/]", str(exc))
        kafka_up = False
    try:
        models = httpx.get(f"{s.llm_url}/models", timeout=2.0).json()
        names = ", ".join(m.get("id", "?") for m in models.get("data", []))
        table.add_row("llm", "[green]up[/]", f"{s.llm_url}: {names}", scrape.llm_detail(s, http))
    except (httpx.HTTPError, ValueError) as exc:
        table.add_row("llm", "[red]down[/]", f"{s.llm_url}: {type(exc).__name__}")
    supervised = supervisor_state(s)
    for name in COMPONENTS:
        proc = process_status(s, name)
        state = "[green]running[/]" if proc.alive else "[red]stopped[/]"
        detail = f"pid {proc.pid}" if proc.alive else f"log {proc.log}"
        if name in supervised:
            detail += f"; restarts {supervised[name].get('restarts', 0)}"
            if supervised[name].get("last_exit"):
                detail += f" (last: {supervised[name]['last_exit']})"
        if name in inputs and kafka_up:
            topic = inputs[name]
            lag = consumer_lag(s, f"{s.topic_prefix}{name}", topic, admin)
            detail += f"; lag {lag if lag is not None else '?'} on {topic}"
        table.add_row(name, state, detail, scrape.component_detail(s, name, http) if proc.alive else "")
    http.close()
    console.print(table)


COMMANDS: tuple[click.Command, ...] = (config_cmd, topics, tail, worker, gateway, chat, me, up, supervise, down, status)

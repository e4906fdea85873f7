"""The `aisle` command. It builds one Settings from the environment and passes it down."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import AisleError

T = TypeVar("T")

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
    # httpx logs every request at INFO; `aisle status` and `aisle up` make several.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


@cli.command("config")
@pass_ctx
def config_cmd(ctx: _Context) -> None:
    """Show the effective settings and the environment variable for each (secrets masked)."""
    table = Table("variable", "value")
    for variable, value in ctx.settings.display():
        table.add_row(variable, value)
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
@click.option("--metrics-port", type=int, help="Serve /metrics here (default: AISLE_METRICS_PORT + the stage's slot; "
              "0: any free port). A second process of one stage needs its own.")
@pass_ctx
def worker(ctx: _Context, stage: str, group: str | None, metrics_port: int | None) -> None:
    """Run STAGE (plan, retrieve, generate, hydrate, render, or module:factory) as this process."""
    from pipeline.runtime.affinity import pin_this_process
    from pipeline.runtime.metrics import worker_metrics_port
    from pipeline.runtime.service import load_stage_factory, serve_stage

    pin_this_process(ctx.settings)
    built = load_stage_factory(stage)(ctx.settings)
    port = metrics_port if metrics_port is not None else worker_metrics_port(ctx.settings, stage)
    asyncio.run(serve_stage(built, ctx.settings, group_id=group, metrics_port=port))


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
    from pipeline.eval.retrieval import render_markdown, run_retrieval_eval

    report = _with_phase_bars(lambda progress: run_retrieval_eval(ctx.settings, mode, progress))
    _write_report(out, report, render_markdown(report))


@eval_group.command("guard")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/guard.json"), show_default=True)
@pass_ctx
def eval_guard(ctx: _Context, out: Path) -> None:
    """The grounding guard's judge against word overlap on labelled hetPQA pairs (no model needed)."""
    from pipeline.eval.guard import render_markdown, run_guard_eval

    report = run_guard_eval(ctx.settings.shared_data)
    _write_report(out, report, render_markdown(report))


@eval_group.command("search")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/search.json"), show_default=True)
@pass_ctx
def eval_search(ctx: _Context, out: Path) -> None:
    """recall@3 and nDCG@10 of shoppers' needs through the rules planner and the retrieve stage."""
    from pipeline.eval.search import render_markdown, run_search_eval

    report = _with_phase_bars(lambda progress: run_search_eval(ctx.settings, progress))
    _write_report(out, report, render_markdown(report))


@eval_group.command("scenarios")
@click.option("--concurrency", default=2, show_default=True, help="Conversations in flight at once.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/scenarios.json"), show_default=True)
@pass_ctx
def eval_scenarios(ctx: _Context, concurrency: int, out: Path) -> None:
    """The shopper-scenario suite against the running system (make run); exits 1 when one fails."""
    from pipeline.eval.scenarios import SCENARIOS, render_markdown, run_scenarios

    total = sum(len(s.turns) for s in SCENARIOS)
    report = _with_phase_bars(lambda progress: run_scenarios(
        ctx.settings, concurrency=concurrency, progress=lambda done, _: progress("turns", done, total)))
    _write_report(out, report, render_markdown(report))
    if report["passed"] < report["scenarios"]:
        raise SystemExit(1)


def _with_phase_bars(start: Callable[[Callable[[str, int, int], None]], Coroutine[Any, Any, T]]) -> T:
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


def _write_report(out: Path, report: Any, markdown: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown + "\n")
    console.print(markdown)
    console.print(f"wrote {out} and {out.with_suffix('.md')}")


# ---- record, replay, evaluate answers (docs/replay.md) --------------------------------------------

@cli.command()
@click.option("--from", "from_iso", required=True, help="Start time, ISO 8601 (e.g. 2025-11-25T20:00:00Z; no zone: local).")
@click.option("--to", "to_iso", help="End time, ISO 8601 (default: now).")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def record(ctx: _Context, from_iso: str, to_iso: str | None, out: Path) -> None:
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


@cli.group(cls=_ReplayGroup)
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
def replay_run(ctx: _Context, traffic_file: Path, speed: float, concurrency: int, run_id: str,
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
def replay_compare(ctx: _Context, run_a: str, run_b: str, threshold: float) -> None:
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


@eval_group.command("answers")
@click.option("--set", "which", type=click.Choice(["epqa", "reviews", "all"]), default="all", show_default=True)
@click.option("--limit", default=0, show_default=True, help="Questions per set (0: all).")
@click.option("--direct", is_flag=True, help="Run the stage cores in this process (no Kafka, no workers).")
@click.option("--concurrency", default=2, show_default=True, help="Turns in flight at once (through the pipeline).")
@click.option("--llm-url", help="An OpenAI-compatible endpoint to measure (AISLE_LLM_URL). --direct only: "
              "running workers use their own settings.")
@click.option("--model", help="Served model name (AISLE_LLM_MODEL_SMALL and _LARGE).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/answers.json"), show_default=True)
@pass_ctx
def eval_answers(ctx: _Context, which: str, limit: int, direct: bool, concurrency: int, llm_url: str | None,
                 model: str | None, out: Path) -> None:
    """Answer quality on ePQA (similarity, ROUGE-L, grounding, per intent) and review summaries."""
    import dataclasses

    from pipeline.eval.answers import AnswerEvalOptions, render_markdown, run_answer_eval

    settings = ctx.settings
    if llm_url:
        settings = dataclasses.replace(settings, llm_url=llm_url)
    if model:
        settings = dataclasses.replace(settings, llm_model_small=model, llm_model_large=model)
    options = AnswerEvalOptions(sets=("epqa", "reviews") if which == "all" else (which,), limit=limit,
                                direct=direct, concurrency=concurrency)
    report = _with_phase_bars(lambda progress: run_answer_eval(settings, options, progress))
    _write_report(out, report, render_markdown(report))


@eval_group.command("compare")
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", "names", multiple=True, help="A column name per report, in order (default: file stems).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/compare.json"), show_default=True)
def eval_compare(reports: tuple[Path, ...], names: tuple[str, ...], out: Path) -> None:
    """`aisle eval answers` reports side by side, on the turns every one answered without an error."""
    from pipeline.eval.compare import render_markdown, run_compare

    if names and len(names) != len(reports):
        raise click.UsageError(f"{len(names)} --name for {len(reports)} reports: give one per report or none")
    result = run_compare(reports, names or [path.stem for path in reports])
    _write_report(out, result, render_markdown(result))


@eval_group.command("reviews")
@click.option("--limit", default=0, show_default=True, help="Products (0: all).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/reviews.json"), show_default=True)
@pass_ctx
def eval_reviews(ctx: _Context, limit: int, out: Path) -> None:
    """The review summariser alone, offline (no LLM, no broker): ROUGE-L of its `reviews` frames."""
    from pipeline.eval.reviews import render_markdown, run_reviews_eval

    report = run_reviews_eval(ctx.settings, limit)
    _write_report(out, report, render_markdown(report))


@eval_group.command("markup")
@click.option("--limit", default=10, show_default=True, help="Requests per intent (0: all).")
@click.option("--intent", "intents", multiple=True, help="Only this intent (repeatable).")
@click.option("--concurrency", default=2, show_default=True, help="Turns answered at once.")
@click.option("--grammar/--no-grammar", default=None,
              help="Grammar-constrained decoding (default: AISLE_GENERATE_GRAMMAR).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/markup.json"), show_default=True)
@pass_ctx
def eval_markup(ctx: _Context, limit: int, intents: tuple[str, ...], concurrency: int, grammar: bool | None,
                out: Path) -> None:
    """How often the default model writes valid, useful display markup, per intent (docs/markup.md)."""
    import dataclasses

    from pipeline.eval.markup import MarkupEvalOptions, render_markdown, run_markup_eval

    settings = ctx.settings
    if grammar is not None:
        settings = dataclasses.replace(settings, generate_grammar=grammar)
    options = MarkupEvalOptions(limit=limit, intents=intents, concurrency=concurrency)
    report = _with_phase_bars(lambda progress: run_markup_eval(settings, options, progress))
    _write_report(out, report, render_markdown(report))


@eval_group.command("memory")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/memory.json"), show_default=True)
@pass_ctx
def eval_memory(ctx: _Context, out: Path) -> None:
    """What account memory learns from a shopper's words: precision and recall per key (docs/memory.md)."""
    from pipeline.eval.memory import render_markdown, run_memory_eval

    report = run_memory_eval(ctx.settings)
    _write_report(out, report, render_markdown(report))


# ---- training (docs/training.md) -------------------------------------------------------------------

@cli.group("train")
def train_group() -> None:
    """Aisle's own answer model: training data (fine-tuning itself: `make train`)."""


@train_group.command("data")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: AISLE_HOME/training/data).")
@click.option("--seed", default=1234, show_default=True, help="Seed of every sample and shuffle.")
@pass_ctx
def train_data(ctx: _Context, out: Path | None, seed: int) -> None:
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
        asyncio.run(run_chat(url or f"ws://{s.gateway_host}:{s.gateway_port}/ws", product, console,
                             s.chat_turn_timeout_s, s.home))
    except KeyboardInterrupt:
        pass


@cli.command()
@click.argument("change", required=False, type=click.Choice(["less", "more", "remove", "cancel", "forget"]))
@click.argument("target", required=False)
@click.option("--url", help="Gateway websocket URL (default: ws://AISLE_GATEWAY_HOST:AISLE_GATEWAY_PORT/ws).")
@pass_ctx
def me(ctx: _Context, change: str | None, target: str | None, url: str | None) -> None:
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


@cli.command(hidden=True)
@pass_ctx
def supervise(ctx: _Context) -> None:
    """Run every component as a child, restarting one that exits (started by `aisle up`)."""
    from pipeline.launcher import supervise as run_supervisor

    run_supervisor(ctx.settings)


@cli.command()
@pass_ctx
def down(ctx: _Context) -> None:
    """Stop the stage workers and the gateway (gracefully: in-flight work finishes first)."""
    from pipeline.launcher import down as stop_all

    stop_all(ctx.settings, report=console.print)


@cli.command()
@pass_ctx
def status(ctx: _Context) -> None:
    """Health of every part, each stage's consumer lag, and headline figures from every /metrics."""
    import httpx

    from pipeline import scrape
    from pipeline.admin import admin_client, consumer_lag
    from pipeline.launcher import COMPONENTS, process_status, supervisor_state
    from pipeline.runtime.service import STAGE_INPUTS

    s = ctx.settings
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
        if name in STAGE_INPUTS and kafka_up:
            topic = STAGE_INPUTS[name]
            lag = consumer_lag(s, f"{s.topic_prefix}{name}", topic, admin)
            detail += f"; lag {lag if lag is not None else '?'} on {topic}"
        table.add_row(name, state, detail, scrape.component_detail(s, name, http) if proc.alive else "")
    http.close()
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

"""`aisle eval`: quality evaluations on the visible eval sets, each written as JSON and markdown."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli._common import Context, pass_ctx, with_phase_bars, write_report


@click.group("eval")
def eval_group() -> None:
    """Quality evaluations on the visible eval sets (results as JSON and markdown)."""


@eval_group.command("retrieval")
@click.option("--mode", type=click.Choice(["all", "dense", "bm25", "hybrid"]), default="all", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/retrieval.json"), show_default=True)
@pass_ctx
def eval_retrieval(ctx: Context, mode: str, out: Path) -> None:
    """nDCG@5/10, MRR and recall@5 on ePQA questions, per mode and evidence source."""
    from pipeline.eval.retrieval import render_markdown, run_retrieval_eval

    report = with_phase_bars(lambda progress: run_retrieval_eval(ctx.settings, mode, progress))
    write_report(out, report, render_markdown(report))


@eval_group.command("guard")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/guard.json"), show_default=True)
@pass_ctx
def eval_guard(ctx: Context, out: Path) -> None:
    """The grounding guard's judge against word overlap on labelled hetPQA pairs (no model needed)."""
    from pipeline.eval.guard import render_markdown, run_guard_eval

    report = run_guard_eval(ctx.settings.shared_data)
    write_report(out, report, render_markdown(report))


@eval_group.command("search")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/search.json"), show_default=True)
@pass_ctx
def eval_search(ctx: Context, out: Path) -> None:
    """recall@3 and nDCG@10 of shoppers' needs through the rules planner and the retrieve stage."""
    from pipeline.eval.search import render_markdown, run_search_eval

    report = with_phase_bars(lambda progress: run_search_eval(ctx.settings, progress))
    write_report(out, report, render_markdown(report))


@eval_group.command("scenarios")
@click.option("--concurrency", default=2, show_default=True, help="Conversations in flight at once.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/scenarios.json"), show_default=True)
@pass_ctx
def eval_scenarios(ctx: Context, concurrency: int, out: Path) -> None:
    """The shopper-scenario suite against the running system (make run); exits 1 when one fails."""
    from pipeline.eval.scenarios import SCENARIOS, render_markdown, run_scenarios

    total = sum(len(s.turns) for s in SCENARIOS)
    report = with_phase_bars(lambda progress: run_scenarios(
        ctx.settings, concurrency=concurrency, progress=lambda done, _: progress("turns", done, total)))
    write_report(out, report, render_markdown(report))
    if report["passed"] < report["scenarios"]:
        raise SystemExit(1)


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
def eval_answers(ctx: Context, which: str, limit: int, direct: bool, concurrency: int, llm_url: str | None,
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
    report = with_phase_bars(lambda progress: run_answer_eval(settings, options, progress))
    write_report(out, report, render_markdown(report))


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
    write_report(out, result, render_markdown(result))


@eval_group.command("reviews")
@click.option("--limit", default=0, show_default=True, help="Products (0: all).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/reviews.json"), show_default=True)
@pass_ctx
def eval_reviews(ctx: Context, limit: int, out: Path) -> None:
    """The review summariser alone, offline (no LLM, no broker): ROUGE-L of its `reviews` frames."""
    from pipeline.eval.reviews import render_markdown, run_reviews_eval

    report = run_reviews_eval(ctx.settings, limit)
    write_report(out, report, render_markdown(report))


@eval_group.command("markup")
@click.option("--limit", default=10, show_default=True, help="Requests per intent (0: all).")
@click.option("--intent", "intents", multiple=True, help="Only this intent (repeatable).")
@click.option("--concurrency", default=2, show_default=True, help="Turns answered at once.")
@click.option("--grammar/--no-grammar", default=None,
              help="Grammar-constrained decoding (default: AISLE_GENERATE_GRAMMAR).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/markup.json"), show_default=True)
@pass_ctx
def eval_markup(ctx: Context, limit: int, intents: tuple[str, ...], concurrency: int, grammar: bool | None,
                out: Path) -> None:
    """How often the default model writes valid, useful display markup, per intent (docs/markup.md)."""
    import dataclasses

    from pipeline.eval.markup import MarkupEvalOptions, run_markup_eval
    from pipeline.eval.markup_scoring import render_markdown

    settings = ctx.settings
    if grammar is not None:
        settings = dataclasses.replace(settings, generate_grammar=grammar)
    options = MarkupEvalOptions(limit=limit, intents=intents, concurrency=concurrency)
    report = with_phase_bars(lambda progress: run_markup_eval(settings, options, progress))
    write_report(out, report, render_markdown(report))


@eval_group.command("memory")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/eval/memory.json"), show_default=True)
@pass_ctx
def eval_memory(ctx: Context, out: Path) -> None:
    """What account memory learns from a shopper's words: precision and recall per key (docs/memory.md)."""
    from pipeline.eval.memory import render_markdown, run_memory_eval

    report = run_memory_eval(ctx.settings)
    write_report(out, report, render_markdown(report))


COMMANDS: tuple[click.Command, ...] = (eval_group,)

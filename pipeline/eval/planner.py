"""`aisle eval planner`: intent accuracy, product resolution and latency of the query planner.

The labelled set (docs/planner.md, "The labelled set"):
- eval/epqa_visible.jsonl: every question, intent product_question, asked on its product's page
  (page_product_id = asin; expected products = [asin]);
- eval/wands_queries.jsonl: every query, intent product_search, no page;
- eval/review_summaries.jsonl: one request per product from REVIEW_TEMPLATES (rotated by row), intent
  review_summary, asked on the product's page;
- tests/data/planner/hand_written.jsonl: comparison, cart, order, price-history, out-of-scope,
  general-advice requests (and a few follow-ups and other languages), each with its intent, page
  product, history (products shown per earlier turn, oldest first) and expected products.

Per mode, per intent: accuracy (intent right), and over the whole set: accuracy, macro accuracy, the
products-resolved rate (items with expected products whose resolved_product_ids equal them), the
LLM fallback rate and planner latency p50/p99 in milliseconds (`plan_turn` wall time, embedding and
LLM call included). Mode `llm` runs only when the LLM server answers.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.messages import ConversationState, TurnMemory, UserTurn
from pipeline.planner import intents as I
from pipeline.planner.embedding import EmbedFn, IntentEmbeddings
from pipeline.planner.llm_planner import JsonLlm
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.stats import percentile

HAND_WRITTEN = Path(__file__).resolve().parents[2] / "tests" / "data" / "planner" / "hand_written.jsonl"
REVIEW_TEMPLATES = (
    "what do customers say about this?",
    "summarize the reviews",
    "what are the main complaints?",
    "what do people like and dislike about this product?",
    "pros and cons according to buyers?",
    "do owners regret buying it?",
    "how do users rate it overall?",
    "is the feedback on this mostly positive?",
)
EVAL_MODES = ("rules", "rules+embed", "auto", "llm")
LLM_PER_INTENT = 5
"""Requests per intent the LLM modes plan by default."""

PlannerProgress = Callable[[str, int, int], None]
"""progress(mode, done, total)."""


@dataclass(frozen=True)
class Item:
    source: str
    """epqa | wands | review_summaries | hand_written"""
    text: str
    intent: str
    page_product_id: str | None = None
    history: tuple[tuple[str, ...], ...] = ()
    """Products shown per earlier turn, oldest first."""
    products: tuple[str, ...] | None = None
    """Expected resolved products, when labelled."""


@dataclass
class _Tally:
    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    resolved_total: int = 0
    resolved_right: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


def load_items(shared_data: Path, hand_written: Path = HAND_WRITTEN) -> list[Item]:
    """The labelled planner set. Raises ConfigError when a file is missing."""
    items: list[Item] = []
    for row in _rows(shared_data / "eval" / "epqa_visible.jsonl"):
        items.append(Item("epqa", row["question"], I.PRODUCT_QUESTION, row["asin"], (), (row["asin"],)))
    for row in _rows(shared_data / "eval" / "wands_queries.jsonl"):
        items.append(Item("wands", row["query"], I.PRODUCT_SEARCH))
    for index, row in enumerate(_rows(shared_data / "eval" / "review_summaries.jsonl")):
        text = REVIEW_TEMPLATES[index % len(REVIEW_TEMPLATES)]
        items.append(Item("review_summaries", text, I.REVIEW_SUMMARY, row["asin"], (), (row["asin"],)))
    for row in _rows(hand_written):
        history = tuple(tuple(turn) for turn in row.get("history", []))
        products = tuple(row["products"]) if "products" in row else None
        items.append(Item("hand_written", row["text"], row["intent"], row.get("page"), history, products))
    return items


def counts(items: Sequence[Item]) -> dict[str, dict[str, int]]:
    """Items per intent and source."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        table[item.intent][item.source] += 1
    return {intent: dict(table[intent]) for intent in I.INTENTS if intent in table}


async def evaluate(items: Sequence[Item], options: PlannerOptions, *, llm: JsonLlm | None = None,
                   embeddings: IntentEmbeddings | None = None, label: str = "",
                   progress: PlannerProgress | None = None) -> dict[str, Any]:
    """Plan every item; the report for one planner configuration."""
    tally = _Tally()
    for index, item in enumerate(items):
        request = UserTurn(f"eval-{index}", len(item.history), 0, "eval", item.text, item.page_product_id, client="replay")
        started = time.perf_counter()
        outcome = await plan_turn(request, _state(request.conversation_id, item.history), llm=llm,
                                  embeddings=embeddings, options=options)
        tally.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        got = outcome.plan.intent
        tally.total[item.intent] += 1
        tally.right[item.intent] += got == item.intent
        tally.confusion[item.intent][got] += 1
        tally.paths[outcome.plan.path] += 1
        if outcome.fallback is not None:
            tally.fallbacks[outcome.fallback.split(":")[0]] += 1
        if item.products is not None:
            tally.resolved_total += 1
            tally.resolved_right += tuple(outcome.plan.resolved_product_ids) == item.products
        if progress is not None:
            progress(label or options.mode, index + 1, len(items))
    return _report(tally, label or options.mode)


def sample(items: Sequence[Item], per_intent: int) -> list[Item]:
    """The first `per_intent` items of each intent, in set order (a deterministic subset)."""
    taken: Counter[str] = Counter()
    out: list[Item] = []
    for item in items:
        if taken[item.intent] < per_intent:
            taken[item.intent] += 1
            out.append(item)
    return out


async def run_planner_eval(settings: Settings, mode: str = "all", progress: PlannerProgress | None = None,
                           *, llm: JsonLlm | None = None, embed: EmbedFn | None = None,
                           llm_per_intent: int | None = LLM_PER_INTENT) -> dict[str, Any]:
    """The planner report for `mode` (one of EVAL_MODES, or "all": every mode that can run here).

    The modes that call the LLM run on `sample(items, llm_per_intent)` (None: every item), since a
    CPU-served model takes seconds per plan; their `n` says how many.

    `llm` and `embed` default to the LLM at Settings.llm_url (used only when it answers) and the MiniLM
    embedder (used only when `make models` has run). Raises ConfigError for an unknown mode or missing data.
    """
    if mode != "all" and mode not in EVAL_MODES:
        raise ConfigError(f"planner eval mode {mode!r} is not one of: all, {', '.join(EVAL_MODES)}")
    items = load_items(settings.shared_data)
    wanted = EVAL_MODES if mode == "all" else (mode,)
    base = PlannerOptions(deadline_ms=settings.planner_deadline_ms, model=settings.llm_model_small)
    report: dict[str, Any] = {"items": len(items), "counts": counts(items), "deadline_ms": base.deadline_ms,
                              "model": base.model, "runs": [], "skipped": {}}
    async with contextlib.AsyncExitStack() as stack:
        embeddings = None
        if any(m != "rules" for m in wanted):
            embed = embed or default_embed(settings, stack)
            embeddings = await IntentEmbeddings.load(embed) if embed is not None else None
        client = llm
        if client is None and any(m in ("auto", "llm") for m in wanted):
            client = await default_llm(settings, stack)
        for name in wanted:
            if name == "rules+embed" and embeddings is None:
                report["skipped"][name] = "no embedding models (run `make models`)"
                continue
            if name in ("auto", "llm") and client is None:
                report["skipped"][name] = f"no LLM answering at {settings.llm_url}"
                continue
            options = _with_mode(base, "rules" if name == "rules+embed" else name)
            asks_llm = name in ("auto", "llm")
            subset = sample(items, llm_per_intent) if asks_llm and llm_per_intent is not None else items
            run = await evaluate(subset, options, llm=client if asks_llm else None,
                                 embeddings=None if name == "rules" else embeddings, label=name, progress=progress)
            report["runs"].append(run)
    return report


def render_markdown(report: dict[str, Any]) -> str:
    """The report as a markdown section: one table per run plus the set's composition."""
    lines = [f"## Planner: {report['items']} labelled requests, deadline {report['deadline_ms']} ms", ""]
    lines += ["| intent | requests | sources |", "|---|---:|---|"]
    for intent, sources in report["counts"].items():
        lines.append(f"| {intent} | {sum(sources.values())} | " + ", ".join(f"{k} {v}" for k, v in sources.items()) + " |")
    runs = report["runs"]
    if runs:
        lines += ["", "| intent | " + " | ".join(f"{run['label']} (n={run['n']})" for run in runs) + " |",
                  "|---|" + "---:|" * len(runs)]
        for intent in report["counts"]:
            cells = [_pct(run["per_intent"].get(intent, {}).get("accuracy")) for run in runs]
            lines.append(f"| {intent} | " + " | ".join(cells) + " |")
        for name, key in (("**accuracy**", "accuracy"), ("macro accuracy", "macro_accuracy"),
                          ("products resolved", "resolved_rate")):
            lines.append(f"| {name} | " + " | ".join(_pct(run[key]) for run in runs) + " |")
        lines.append("| latency p50 ms | " + " | ".join(f"{run['latency_ms']['p50']:.2f}" for run in runs) + " |")
        lines.append("| latency p99 ms | " + " | ".join(f"{run['latency_ms']['p99']:.2f}" for run in runs) + " |")
        lines.append("| LLM answers used | " + " | ".join(str(run["paths"].get("llm", 0)) for run in runs) + " |")
    for name, why in report.get("skipped", {}).items():
        lines.append(f"\n- {name}: skipped ({why})")
    for run in runs:
        if run["fallbacks"]:
            lines.append(f"\n- {run['label']} fallbacks to rules: " + ", ".join(f"{k} {v}" for k, v in run["fallbacks"].items()))
    return "\n".join(lines) + "\n"


def _report(tally: _Tally, label: str) -> dict[str, Any]:
    per_intent: dict[str, dict[str, Any]] = {
        intent: {
            "n": tally.total[intent],
            "accuracy": tally.right[intent] / tally.total[intent],
            "confused_with": {k: v for k, v in tally.confusion[intent].most_common() if k != intent},
        }
        for intent in I.INTENTS if tally.total[intent]
    }
    n = sum(tally.total.values())
    return {
        "label": label,
        "n": n,
        "accuracy": sum(tally.right.values()) / n if n else None,
        "macro_accuracy": sum(v["accuracy"] for v in per_intent.values()) / len(per_intent) if per_intent else None,
        "resolved_rate": tally.resolved_right / tally.resolved_total if tally.resolved_total else None,
        "per_intent": per_intent,
        "paths": dict(tally.paths),
        "fallbacks": dict(tally.fallbacks),
        "latency_ms": {"p50": percentile(tally.latencies_ms, 50), "p99": percentile(tally.latencies_ms, 99),
                       "max": max(tally.latencies_ms)} if tally.latencies_ms else {},
    }


def _state(conversation_id: str, history: tuple[tuple[str, ...], ...]) -> ConversationState | None:
    if not history:
        return None
    turns = [TurnMemory(turn, "", "", list(ids)) for turn, ids in enumerate(history)]
    return ConversationState(conversation_id, len(history), 0, "eval", turns)


def _with_mode(options: PlannerOptions, mode: str) -> PlannerOptions:
    return PlannerOptions(mode, options.deadline_ms, options.model)


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except OSError as exc:
        raise ConfigError(f"planner eval data missing: {path}") from exc


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def default_embed(settings: Settings, stack: contextlib.AsyncExitStack) -> EmbedFn | None:
    """The planner's intent embedder when `make models` has installed the models, else None; `stack`
    closes it. Shared with the markup evaluation (pipeline/eval/markup.py)."""
    from pipeline.retrieval.embedder import Embedder
    from pipeline.retrieval.model_files import ModelPaths

    models_dir = settings.home / "models"
    if not ModelPaths.under(models_dir).is_complete():
        return None
    embedder = Embedder(models_dir)
    stack.callback(embedder.close)
    return embedder.adense


async def default_llm(settings: Settings, stack: contextlib.AsyncExitStack) -> JsonLlm | None:
    """An LlmClient when the server lists models within 2 s, else None."""
    import httpx

    from pipeline.llm.client import LlmClient

    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            response = await http.get(settings.llm_url.rstrip("/") + "/models")
            if response.status_code != 200:
                return None
    except httpx.HTTPError:
        return None
    client = LlmClient(settings)
    stack.push_async_callback(client.aclose)
    return client


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.eval.planner [MODE [LLM_PER_INTENT]]`: print the markdown report (MODE: all)."""
    import asyncio
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    per_intent = int(args[1]) if len(args) > 1 else LLM_PER_INTENT
    report = asyncio.run(run_planner_eval(Settings.from_env(), args[0] if args else "all", llm_per_intent=per_intent))
    print(render_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

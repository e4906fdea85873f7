"""`aisle eval search`: do shoppers' needs, in their own words, find the fitting products?

The set is pipeline/eval/data/search_needs.jsonl: one shopper need per line ("a mat for my office
chair on a hard floor"), written as a shopper would say it, not in the product title's words, with
every catalog product that satisfies it (`acceptable`, by topic alone), a `split` (dev: tune on it;
test: measure only) and an optional `note`. Needs with `acceptable: []` ask for what the catalog
does not have: the right answer shows nothing.

Each need runs through what serves a shopper: the rules planner (`plan_turn`, mode rules, the plan
stage's default) and the retrieve stage (`RetrieveStage`: store filters, the passage index, fusion
and the evidence budget), on the embedded index under AISLE_HOME. The products *shown* are the
product ids of the evidence bundle in order, each once: the answer can show nothing else.

Budgets are part of the plan, not of the label: a need's `eligible` products are its acceptable ones
that pass the plan's store filters (price, rating, stock) at the store's simulated prices. A need
whose acceptable products all fail the filters is counted apart (`filtered_out`), like an
unsatisfiable one: showing nothing is right.

Metrics per split: recall@3 (any eligible product among the first 3 shown), nDCG@10 (binary gains,
ideal = the eligible products), MRR, the products shown per satisfiable need and how many of them are
off-topic (not acceptable), the share of satisfiable needs that show nothing; for needs the catalog
cannot satisfy, the mean number of products shown and the share that show none; and the
latency of planning plus retrieval, p50/p99 ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.eval.retrieval import ensure_indexed
from pipeline.messages import EvidenceBundle, Plan, UserTurn
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import PassageIndex
from pipeline.retrieval.indexing import catalog_products
from pipeline.retrieval.ranking_metrics import ndcg, reciprocal_rank
from pipeline.stages import retrieve
from pipeline.stages.retrieve import store_filters
from pipeline.stats import mean, percentile
from pipeline.store.base import Store
from pipeline.store.loader import load_shared_catalog
from pipeline.store.sqlite import open_store

NEEDS_FILE = Path(__file__).parent / "data" / "search_needs.jsonl"
SPLITS = ("dev", "test")
RECALL_K = 3
NDCG_K = 10
_ALL_PRODUCTS = 1_000_000
"""A store search limit that keeps every product passing the filters (eligibility, not serving)."""

EvalProgress = Callable[[str, int, int], None]
"""progress(phase, done, total): phases "store", "index", "optimize", "search"."""


@dataclass(frozen=True)
class Need:
    need: str
    acceptable: tuple[str, ...]
    split: str
    note: str | None = None


def load_needs(path: Path = NEEDS_FILE) -> list[Need]:
    """Read the labelled needs; raises ConfigError if the file is missing or a line is malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the search needs at {path}: {exc}") from exc
    needs: list[Need] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            need = Need(str(row["need"]), tuple(str(a) for a in row["acceptable"]), str(row["split"]), row.get("note"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: not a need record: {exc}") from exc
        if need.split not in SPLITS:
            raise ConfigError(f"{path}:{number}: split {need.split!r} is not one of {', '.join(SPLITS)}")
        needs.append(need)
    return needs


def shown_products(bundle: EvidenceBundle) -> list[str]:
    """The products a bundle lets the answer show, in evidence order, each once."""
    return list(dict.fromkeys(item.product_id for item in bundle.items if item.product_id))


def score_need(eligible: Sequence[str], shown: Sequence[str]) -> dict[str, float | None]:
    """recall@3, nDCG@10 and reciprocal rank of one ranked list; None values when nothing is eligible."""
    if not eligible:
        return {"recall@3": None, "ndcg@10": None, "mrr": None}
    wanted = set(eligible)
    gains = [1.0 if pid in wanted else 0.0 for pid in shown]
    return {
        "recall@3": 1.0 if any(gains[:RECALL_K]) else 0.0,
        "ndcg@10": ndcg(gains, [1.0] * len(wanted), NDCG_K),
        "mrr": reciprocal_rank(gains, 1.0),
    }


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The metrics over per-need rows (see `_row`)."""
    scored = [r for r in rows if r["eligible"]]
    unsat = [r for r in rows if not r["acceptable"]]
    filtered = [r for r in rows if r["acceptable"] and not r["eligible"]]

    def avg(name: str, among: Sequence[Mapping[str, Any]]) -> float | None:
        value = mean([r[name] for r in among])
        return None if value is None else round(value, 4)

    def none_shown(among: Sequence[Mapping[str, Any]]) -> float | None:
        return round(sum(1 for r in among if not r["shown"]) / len(among), 4) if among else None

    def shown_mean(among: Sequence[Mapping[str, Any]]) -> float | None:
        return round(sum(len(r["shown"]) for r in among) / len(among), 2) if among else None

    def off_topic_mean(among: Sequence[Mapping[str, Any]]) -> float | None:
        if not among:
            return None
        return round(sum(len(set(r["shown"]) - set(r["acceptable"])) for r in among) / len(among), 2)

    latencies = [r["latency_ms"] for r in rows]
    return {
        "needs": len(rows),
        "scored": len(scored),
        "recall@3": avg("recall@3", scored),
        "ndcg@10": avg("ndcg@10", scored),
        "mrr": avg("mrr", scored),
        "scored_none_shown": none_shown(scored),
        "scored_shown_mean": shown_mean(scored),
        "scored_off_topic_mean": off_topic_mean(scored),
        "unsatisfiable": len(unsat),
        "unsatisfiable_shown_mean": shown_mean(unsat),
        "unsatisfiable_none_shown": none_shown(unsat),
        "filtered_out": len(filtered),
        "filtered_out_shown_mean": shown_mean(filtered),
        "latency_ms_p50": round(percentile(latencies, 50), 1) if latencies else None,
        "latency_ms_p99": round(percentile(latencies, 99), 1) if latencies else None,
    }


async def run_search_eval(settings: Settings, progress: EvalProgress | None = None,
                          needs_file: Path = NEEDS_FILE) -> dict[str, Any]:
    """Plan and retrieve every need; returns the report as a dict.

    Loads the catalog into the store and indexes missing products first (both idempotent, as
    `aisle ingest` does). Raises ConfigError for missing data, DependencyError if the store, Qdrant
    or the models fail.
    """
    needs = load_needs(needs_file)
    store = await open_store(settings)
    try:
        await load_shared_catalog(store, settings,
                                  progress=(lambda d, t: progress("store", d, t)) if progress else None)
        embedder = Embedder(settings.home / "models")
        index = PassageIndex.open(settings, embedder)
        try:
            await ensure_indexed(index, catalog_products(settings), progress)
        finally:
            index.close()
            embedder.close()
        stage = retrieve.build(settings, follow_registry=False)
        await stage.start()
        rows = []
        try:
            options = PlannerOptions(mode="rules")
            for number, need in enumerate(needs, start=1):
                turn = UserTurn(f"search-eval-{number}", 1, 0, "search-eval", need.need, client="backend")
                started = time.perf_counter()
                plan = (await plan_turn(turn, None, options=options)).plan
                bundles = [out.value async for out in stage.process(plan) if isinstance(out.value, EvidenceBundle)]
                latency_ms = (time.perf_counter() - started) * 1000
                shown = shown_products(bundles[0]) if bundles else []
                rows.append(_row(need, plan, shown, await _eligible(store, plan, need.acceptable), latency_ms))
                if progress is not None:
                    progress("search", number, len(needs))
        finally:
            await stage.stop()
    finally:
        await store.close()
    return {
        "dataset": _display(needs_file),
        "planner": "rules",
        "recall_k": RECALL_K,
        "ndcg_k": NDCG_K,
        "splits": {split: summarise([r for r in rows if r["split"] == split]) for split in SPLITS},
        "all": summarise(rows),
        "needs": rows,
    }


async def _eligible(store: Store, plan: Plan, acceptable: Sequence[str]) -> list[str]:
    """The acceptable products that pass the plan's store filters (all of them when it has none)."""
    step = next((s for s in plan.steps if s.source == "products" and not s.product_ids), None)
    wanted = store_filters(step.filters) if step is not None else None
    if wanted is None or not acceptable:
        return list(acceptable)
    passing = set(await store.search_products(replace(wanted, limit=_ALL_PRODUCTS)))
    return [pid for pid in acceptable if pid in passing]


def _row(need: Need, plan: Plan, shown: list[str], eligible: list[str], latency_ms: float) -> dict[str, Any]:
    step = next((s for s in plan.steps if s.source == "products"), None)
    return {
        "need": need.need,
        "split": need.split,
        "intent": plan.intent,
        "query": step.query if step is not None else None,
        "filters": dict(step.filters) if step is not None else {},
        "acceptable": list(need.acceptable),
        "eligible": eligible,
        "shown": shown[:NDCG_K],
        **score_need(eligible, shown),
        "latency_ms": round(latency_ms, 2),
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The metrics per split, then the scored needs whose first three products missed."""
    parts: list[tuple[str, Mapping[str, Any]]] = [*((s, report["splits"][s]) for s in SPLITS), ("all", report["all"])]
    lines = [
        f"Search needs ({report['dataset']}): {report['all']['needs']} needs, planner {report['planner']}, "
        f"products shown = the evidence bundle's products in order.",
        "",
        "| split | needs | scored | recall@3 | nDCG@10 | MRR | shown, mean | off-topic shown, mean | none shown "
        "| p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in parts:
        lines.append(f"| {name} | {m['needs']} | {m['scored']} | {_fmt(m['recall@3'])} | {_fmt(m['ndcg@10'])} | "
                     f"{_fmt(m['mrr'])} | {_fmt(m['scored_shown_mean'], 2)} | {_fmt(m['scored_off_topic_mean'], 2)} | "
                     f"{_fmt(m['scored_none_shown'])} | {_ms(m['latency_ms_p50'])} | {_ms(m['latency_ms_p99'])} |")
    lines += ["", "Off-topic: a shown product that is not among the need's acceptable products (the labels list "
              "every product in the catalog that fits)."]
    lines += ["", "Needs the catalog cannot satisfy (the right answer shows nothing), and needs whose acceptable "
              "products all fail the plan's filters at the store's simulated prices:", "",
              "| split | unsatisfiable | products shown, mean | none shown | filtered out | products shown, mean |",
              "|---|---|---|---|---|---|"]
    for name, m in parts:
        lines.append(f"| {name} | {m['unsatisfiable']} | {_fmt(m['unsatisfiable_shown_mean'], 2)} | "
                     f"{_fmt(m['unsatisfiable_none_shown'])} | {m['filtered_out']} | "
                     f"{_fmt(m['filtered_out_shown_mean'], 2)} |")
    misses = [r for r in report["needs"] if r["recall@3"] == 0.0]
    lines += ["", f"Scored needs with no eligible product in the first {RECALL_K} shown: {len(misses)}.", ""]
    if misses:
        lines += ["| split | need | query | first shown |", "|---|---|---|---|"]
        for r in misses:
            lines.append(f"| {r['split']} | {r['need']} | {r['query'] or ''} | {', '.join(r['shown'][:RECALL_K])} |")
    return "\n".join(lines) + "\n"


def _display(path: Path) -> str:
    """The needs file as the report names it: relative to the repository when it lies inside."""
    root = Path(__file__).resolve().parents[2]
    return str(path.resolve().relative_to(root)) if path.resolve().is_relative_to(root) else str(path)


def _fmt(value: float | None, places: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{places}f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"

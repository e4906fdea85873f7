"""`aisle eval retrieval`: how well each search mode finds the evidence that answers ePQA questions.

For every question of eval/epqa_visible.jsonl, search that product's passages (filter product_id =
asin, evidence kinds only: the product summary is not an ePQA candidate) and grade the top 10 by the
annotators' labels of the matching candidates: 2 fully answers, 1 helps, 0 irrelevant. Passages the
annotators never saw count as 0, which understates every mode alike (a product page holds more
sentences than the ~10 judged candidates per question).

Matching a passage to a judged candidate: the same kind and the same text after normalize();
attributes match by attribute name (the candidate is the raw "name: { ... }" string), Q&A pairs by
question and answer. `match_rate` is the share of judged candidates that have a passage in the index.

Metrics per mode: nDCG@5 and nDCG@10 (linear gains 0/1/2, questions with a judged gain > 0), MRR and
recall@5 of label-2 evidence (questions with label-2 evidence), recall@5 per evidence source, and the
end-to-end search latency (query embedding + index) p50/p99 in milliseconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.catalog import Product
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import DEFAULT_MODE, SEARCH_MODES, Hit, PassageIndex, SearchFilter, SearchMode
from pipeline.retrieval.indexing import catalog_passages, catalog_products
from pipeline.retrieval.ranking_metrics import ndcg, recall, reciprocal_rank
from pipeline.stats import mean, percentile
from pipeline.retrieval.passages import ATTRIBUTE, EVIDENCE_KINDS, QA, normalize, qa_text

EPQA_FILE = Path("eval") / "epqa_visible.jsonl"
TOP_K = 10
_SOURCE_KIND = {"cqa": QA, "attribute": ATTRIBUTE, "review": "review", "bullet": "bullet", "description": "description"}

EvalProgress = Callable[[str, int, int], None]
"""progress(phase, done, total): phase is "index" or "search"."""

MatchKey = tuple[str, str]


@dataclass(frozen=True)
class Question:
    qid: int
    asin: str
    question: str
    labels: Mapping[MatchKey, int]
    """The best label of each judged candidate, by match key."""
    sources: Mapping[MatchKey, str]
    """The ePQA source (review, attribute, cqa, description, bullet) of each judged candidate."""


def evidence_key(source: str, text: str) -> MatchKey:
    """The match key of a judged ePQA candidate."""
    kind = _SOURCE_KIND.get(source, source)
    if kind == ATTRIBUTE:
        return kind, text.split(":", 1)[0].strip()
    if kind == QA:
        answer, _, question = text.partition(" Question: ")
        return kind, normalize(qa_text(question, answer))
    return kind, normalize(text)


def hit_key(hit: Hit) -> MatchKey:
    """The match key of a retrieved passage."""
    if hit.kind == ATTRIBUTE:
        return hit.kind, str(hit.payload.get("attr_name", ""))
    return hit.kind, normalize(hit.text)


def load_questions(path: Path) -> list[Question]:
    """Read the ePQA file; raises ConfigError if it is missing or not JSON lines."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read ePQA questions at {path}: {exc}") from exc
    questions = []
    for rec in records:
        labels: dict[MatchKey, int] = {}
        sources: dict[MatchKey, str] = {}
        for ev in rec["evidence"]:
            key = evidence_key(ev["source"], ev["text"])
            labels[key] = max(labels.get(key, 0), int(ev["label"]))
            sources[key] = ev["source"]
        questions.append(Question(int(rec["qid"]), rec["asin"], rec["question"], labels, sources))
    return questions


def score_question(question: Question, hits: Sequence[Hit]) -> dict[str, Any]:
    """Metrics of one ranked result list against one question's labels."""
    keys = [hit_key(h) for h in hits]
    gains = [question.labels.get(key, 0) for key in keys]
    ideal = list(question.labels.values())
    answering = [key for key, label in question.labels.items() if label == 2]
    found_at = [keys.index(key) + 1 if key in keys else None for key in answering]
    has_answer = bool(answering)
    return {
        "ndcg@5": ndcg(gains, ideal, 5),
        "ndcg@10": ndcg(gains, ideal, 10),
        "mrr": reciprocal_rank(gains, 2) if has_answer else None,
        "recall@5": recall(found_at, 5),
        "by_source": {
            key: (question.sources[key], rank) for key, rank in zip(answering, found_at)
        },
    }


async def ensure_indexed(index: PassageIndex, products: Sequence[Product], progress: EvalProgress | None) -> None:
    """Write the evaluated products' passages unless all are there, then optimise as `aisle ingest`
    does, so the searches run on the index shape the pipeline runs on."""
    passages = list(catalog_passages(products))
    wanted = SearchFilter(product_ids=tuple(p.asin for p in products))
    if await index.count(wanted) == len(passages):
        return
    await index.upsert(passages, progress=(lambda d, t: progress("index", d, t)) if progress else None)
    if progress is not None:
        progress("optimize", 0, -1)
    await index.optimize()
    if progress is not None:
        progress("optimize", 1, 1)


async def run_retrieval_eval(settings: Settings, mode: str = "all", progress: EvalProgress | None = None) -> dict[str, Any]:
    """Evaluate one search mode (or "all") on the visible ePQA set; returns the report as a dict.

    Indexes the evaluated products into the main index first if they are not all there. Raises
    ConfigError for an unknown mode or missing data, DependencyError if Qdrant or the models fail.
    """
    modes: tuple[SearchMode, ...] = SEARCH_MODES if mode == "all" else tuple(m for m in SEARCH_MODES if m == mode)
    if not modes:
        raise ConfigError(f"unknown retrieval mode {mode!r}; expected one of {', '.join(SEARCH_MODES)} or all")
    questions = load_questions(settings.shared_data / EPQA_FILE)
    asins = {q.asin for q in questions}
    products = [p for p in catalog_products(settings) if p.asin in asins]
    embedder = Embedder(settings.home / "models")
    index = PassageIndex.open(settings, embedder)
    try:
        await ensure_indexed(index, products, progress)
        await index.search("warm up", mode=modes[0], where=SearchFilter(product_ids=(questions[0].asin,)))
        per_mode: dict[str, Any] = {}
        for m in modes:
            scores, latencies_ms = [], []
            for done, question in enumerate(questions, start=1):
                where = SearchFilter(product_ids=(question.asin,), kinds=EVIDENCE_KINDS)
                started = time.perf_counter()
                result = await index.search(question.question, mode=m, where=where, limit=TOP_K)
                latencies_ms.append((time.perf_counter() - started) * 1000)
                scores.append(score_question(question, result.hits))
                if progress is not None:
                    progress(f"search {m}", done, len(questions))
            per_mode[m] = _summarise(scores, latencies_ms)
    finally:
        index.close()
        embedder.close()
    indexed: dict[str, set[MatchKey]] = {}
    for passage in catalog_passages(products):
        indexed.setdefault(passage.product_id, set()).add(hit_key(Hit(passage.point_id, 0.0, passage.kind,
                                                                      passage.product_id, passage.text, passage.payload)))
    judged = sum(len(q.labels) for q in questions)
    matched = sum(1 for q in questions for key in q.labels if key in indexed.get(q.asin, set()))
    best = max(per_mode, key=lambda m: per_mode[m]["ndcg@10"] or 0.0)
    return {
        "dataset": str(EPQA_FILE),
        "questions": len(questions),
        "products": len(products),
        "top_k": TOP_K,
        "match_rate": round(matched / judged, 4) if judged else None,
        "default_mode": DEFAULT_MODE,
        "best_mode": best,
        "modes": per_mode,
    }


def _summarise(scores: list[dict[str, Any]], latencies_ms: list[float]) -> dict[str, Any]:
    def avg(name: str) -> float | None:
        value = mean([s[name] for s in scores])
        return None if value is None else round(value, 4)

    by_source: dict[str, list[int | None]] = {}
    for s in scores:
        for source, rank in s["by_source"].values():
            by_source.setdefault(source, []).append(rank)
    return {
        "ndcg@5": avg("ndcg@5"),
        "ndcg@10": avg("ndcg@10"),
        "mrr": avg("mrr"),
        "recall@5": avg("recall@5"),
        "latency_ms_p50": round(percentile(latencies_ms, 50), 2),
        "latency_ms_p99": round(percentile(latencies_ms, 99), 2),
        "by_source": {
            source: {"label2_evidence": len(ranks), "recall@5": round(recall(ranks, 5) or 0.0, 4)}
            for source, ranks in sorted(by_source.items())
        },
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """Two markdown tables: overall metrics per mode, and recall@5 of label-2 evidence per source."""
    modes: Mapping[str, Any] = report["modes"]
    lines = [
        f"ePQA visible: {report['questions']} questions over {report['products']} products, top {report['top_k']}.",
        "",
        "| mode | nDCG@5 | nDCG@10 | MRR (label 2) | recall@5 (label 2) | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in modes.items():
        lines.append(f"| {name} | {_fmt(m['ndcg@5'])} | {_fmt(m['ndcg@10'])} | {_fmt(m['mrr'])} | "
                     f"{_fmt(m['recall@5'])} | {m['latency_ms_p50']:.1f} | {m['latency_ms_p99']:.1f} |")
    sources = sorted({s for m in modes.values() for s in m["by_source"]})
    lines += ["", "recall@5 of label-2 evidence by source:", "",
              "| source | label-2 evidence | " + " | ".join(modes) + " |",
              "|---|---|" + "---|" * len(modes)]
    for source in sources:
        first = next(iter(modes.values()))["by_source"].get(source, {})
        cells = [_fmt(m["by_source"].get(source, {}).get("recall@5")) for m in modes.values()]
        lines.append(f"| {source} | {first.get('label2_evidence', 0)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

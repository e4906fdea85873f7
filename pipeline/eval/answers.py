"""`aisle eval answers`: answer quality of the whole pipeline on the visible eval sets.

ePQA (eval/epqa_visible.jsonl): each question is asked as a UserTurn on its product's page
(page_product_id = asin). The answer text (the turn's TurnResponse) is compared with the annotators'
reference answers: semantic similarity (cosine of MiniLM vectors, the packaged embedder, best over the
references) and ROUGE-L F1 (text_metrics.py, best over the references). Questions without a reference
(nothing on the page fully answers) are scored by whether the answer says so (`abstained`).

Grounding: every product the turn showed (cards, carousels, comparisons, links: TurnResponse
.products_shown) should come from the turn's evidence (EvidenceBundle items and the plan's resolved
products); `grounded_share` is the share that does. `invented` counts shown ids that are not products
of the catalog at all, and must be 0.

Review summaries (eval/review_summaries.jsonl): "summarize the reviews" on each product's page. The
`reviews` frame's text (`frame_text`: summary line, pros, cons), or the answer text when the turn
showed no such frame, is compared with the human summaries (FewSum and Copycat references, best of
each measure). `aisle eval reviews` (reviews.py) scores the same frame text offline, without an LLM.

The report also carries the "Shopper feedback" section (pipeline/feedback/report.py): live thumbs and
action outcomes per intent, model and prompt version, from the feedback worker's snapshot.

Two ways to run the pipeline: through Kafka (default: the running workers; the questions are replayed
as one turn per conversation with the replay engine, so they carry a run id) or `direct` (the five
stages' cores chained in this process: plan -> retrieve -> generate -> hydrate -> render, no broker).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.catalog import read_catalog
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.eval import text_quality
from pipeline.eval._runners import TurnOutcome, run_direct, run_through_kafka
from pipeline.eval.text_metrics import cosine, rouge_l_max
from pipeline.feedback import report as feedback_report
from pipeline.feedback.snapshot import snapshot_path
from pipeline.generation.support import ABSTENTION
from pipeline.markup import opinions
from pipeline.messages import UserTurn
from pipeline.retrieval.embedder import Embedder
from pipeline.stats import mean, percentile

EPQA_FILE = Path("eval") / "epqa_visible.jsonl"
REVIEWS_FILE = Path("eval") / "review_summaries.jsonl"
REVIEW_QUESTION = "summarize the reviews"

EvalProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AnswerEvalOptions:
    sets: tuple[str, ...] = ("epqa", "reviews")
    limit: int = 0
    """Questions per set; 0: all."""
    direct: bool = False
    concurrency: int = 2
    turn_timeout_s: float = 180.0


@dataclass(frozen=True)
class EvalItem:
    set: str
    item_id: str
    asin: str
    question: str
    references: list[str] = field(default_factory=list)


def load_epqa(shared_data: Path, limit: int = 0) -> list[EvalItem]:
    items = [EvalItem("epqa", str(r["qid"]), r["asin"], r["question"], list(r["reference_answers"]))
             for r in _read_jsonl(shared_data / EPQA_FILE)]
    return items[:limit] if limit > 0 else items


def load_review_summaries(shared_data: Path, limit: int = 0) -> list[EvalItem]:
    items = [EvalItem("reviews", r["asin"], r["asin"], REVIEW_QUESTION,
                      list(dict.fromkeys([*r["references_fewsum"], *r["references_copycat"]])))
             for r in _read_jsonl(shared_data / REVIEWS_FILE)]
    return items[:limit] if limit > 0 else items


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read eval set {path}: {exc}") from exc


def abstains(answer: str) -> bool:
    """Whether an answer says the information is not there."""
    return bool(ABSTENTION.search(answer.lower()))


def frame_text(payload: Mapping[str, Any]) -> str:
    """What a shopper reads in a `reviews` payload, as one text: the summary line, pros, then cons."""
    return opinions.shown_text(str(payload.get("summary") or ""), [str(p) for p in payload.get("pros", [])],
                               [str(c) for c in payload.get("cons", [])])


def summary_text(outcome: TurnOutcome) -> tuple[str, bool]:
    """The text a review-summary turn is judged on, and whether it came from a `reviews` frame."""
    for frame in outcome.frames:
        if frame.type == "reviews":
            text = frame_text(json.loads(frame.payload or "{}"))
            if text:
                return text, True
    return outcome.answer_text, False


async def run_answer_eval(settings: Settings, options: AnswerEvalOptions,
                          progress: EvalProgress | None = None) -> dict[str, Any]:
    """Ask every question, score the answers; the report dict (see render_markdown)."""
    items: list[EvalItem] = []
    if "epqa" in options.sets:
        items += load_epqa(settings.shared_data, options.limit)
    if "reviews" in options.sets:
        items += load_review_summaries(settings.shared_data, options.limit)
    if not items:
        raise ConfigError("no eval questions selected")
    turns = [UserTurn(f"eval-{item.set}-{item.item_id}", 0, 0, "eval", item.question, page_product_id=item.asin,
                      client="backend") for item in items]
    tick = (lambda done, total: progress("answers", done, total)) if progress else None
    started = time.time()
    if options.direct:
        outcomes = await run_direct(settings, turns, tick)
    else:
        outcomes = await run_through_kafka(settings, turns, options.concurrency, options.turn_timeout_s, tick)
    catalog = read_catalog(settings.shared_data)
    known = {p.asin for p in catalog.products} | {r.asin for r in catalog.review_sets}
    embedder = Embedder(settings.home / "models", threads=1)
    try:
        rows = [score_item(item, outcomes.get(turn.conversation_id), known, embedder) for item, turn in zip(items, turns)]
    finally:
        embedder.close()
    return {
        "mode": "direct" if options.direct else "pipeline",
        "llm_url": settings.llm_url,
        "model_small": settings.llm_model_small,
        "model_large": settings.llm_model_large,
        "limit": options.limit,
        "seconds": round(time.time() - started, 1),
        "epqa": summarise_rows([r for r in rows if r["set"] == "epqa"]),
        "reviews": summarise_rows([r for r in rows if r["set"] == "reviews"]),
        "feedback": feedback_report.read_section(snapshot_path(settings), now_ms()),
        "rows": rows,
    }


def score_item(item: EvalItem, outcome: TurnOutcome | None, known: set[str], embedder: Embedder) -> dict[str, Any]:
    row: dict[str, Any] = {"set": item.set, "id": item.item_id, "asin": item.asin, "question": item.question,
                           "answered": outcome is not None and outcome.response is not None}
    if outcome is None or outcome.response is None:
        return row
    text, from_frame = summary_text(outcome) if item.set == "reviews" else (outcome.answer_text, False)
    shown = list(outcome.response.products_shown)
    evidence_ids = outcome.evidence_product_ids
    row.update({
        "intent": outcome.response.intent or "?",
        "answer": text[:1_000],
        "seconds": round(outcome.seconds, 2),
        "ttft_s": None if outcome.ttft_s is None else round(outcome.ttft_s, 2),
        "shown": shown,
        "grounded": sum(pid in evidence_ids for pid in shown),
        "invented": sorted(pid for pid in shown if pid not in known),
        "errors": outcome.errors,
        "from_reviews_frame": from_frame,
        "has_reference": bool(item.references),
    })
    if item.set == "epqa":
        row.update(text_quality.row_fields(outcome, item.references))
    if item.references and text.strip():
        vectors = embedder.dense([text, *item.references])
        row["similarity"] = round(max(cosine(vectors[0], v) for v in vectors[1:]), 4)
        row["rouge_l"] = round(rouge_l_max(text, item.references), 4)
    elif item.references:
        row["similarity"] = row["rouge_l"] = 0.0
    else:
        row["abstained"] = abstains(text)
    return row


def summarise_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The headline, per-intent and text-quality measures over one set's rows (also used by compare.py)."""
    answered = [r for r in rows if r["answered"]]
    summary = {"questions": len(rows), **_block(answered)}
    intents = sorted({str(r["intent"]) for r in answered})
    summary["per_intent"] = {intent: _block([r for r in answered if r["intent"] == intent]) for intent in intents}
    summary["text_quality"] = text_quality.block(answered)
    return summary


def _block(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if "similarity" in r]
    no_ref = [r for r in rows if "abstained" in r]
    shown = sum(len(r["shown"]) for r in rows)
    seconds = [float(r["seconds"]) for r in rows]
    ttfts = [float(r["ttft_s"]) for r in rows if r.get("ttft_s") is not None]
    return {
        "answered": len(rows),
        "with_reference": len(scored),
        "similarity": _round(mean([float(r["similarity"]) for r in scored])),
        "rouge_l": _round(mean([float(r["rouge_l"]) for r in scored])),
        "no_reference": len(no_ref),
        "abstained": sum(bool(r["abstained"]) for r in no_ref),
        "products_shown": shown,
        "grounded_share": _round(sum(int(r["grounded"]) for r in rows) / shown) if shown else None,
        "invented": sum(len(r["invented"]) for r in rows),
        "with_errors": sum(bool(r["errors"]) for r in rows),
        "from_reviews_frame": sum(bool(r.get("from_reviews_frame")) for r in rows),
        "seconds_p50": percentile(seconds, 50) if seconds else None,
        "ttft_s_p50": percentile(ttfts, 50) if ttfts else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as markdown tables: ePQA per intent, review summaries, shopper feedback."""
    lines = [f"# Answer quality ({report['mode']}, model {report['model_small']} at {report['llm_url']})", "",
             f"limit {report['limit'] or 'none'} per set; {report['seconds']} s in all.", ""]
    head = ("| | answered | with ref | similarity | ROUGE-L | no ref (abstained) | shown | grounded | invented "
            "| errors | turn s p50 |")
    rule = "|---|---|---|---|---|---|---|---|---|---|---|"

    def row(name: str, b: Mapping[str, Any]) -> str:
        return (f"| {name} | {b['answered']} | {b['with_reference']} | {_fmt(b['similarity'])} | {_fmt(b['rouge_l'])} "
                f"| {b['no_reference']} ({b['abstained']}) | {b['products_shown']} | {_fmt(b['grounded_share'])} "
                f"| {b['invented']} | {b['with_errors']} | {_fmt(b['seconds_p50'])} |")

    for name, title in (("epqa", "ePQA questions"), ("reviews", "Review summaries")):
        block = report[name]
        if not block["questions"]:
            continue
        lines += [f"## {title} ({block['questions']} asked)", "", head, rule, row("**all**", block)]
        lines += [row(intent, b) for intent, b in block["per_intent"].items()]
        if name == "epqa" and "text_quality" in block:  # reports before the guard have none
            lines += ["", *text_quality.render_markdown(block["text_quality"], block["rouge_l"],
                                                        block["no_reference"], block["abstained"])]
        if name == "reviews":
            lines += ["", f"{block['from_reviews_frame']} of {block['answered']} judged on a `reviews` frame's "
                          "summary, pros and cons; the rest on the answer text."]
        lines.append("")
    if "feedback" in report:  # reports written before the feedback section have none
        lines += [feedback_report.render_markdown(report["feedback"]), ""]
    return "\n".join(lines).rstrip()


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)

"""`aisle eval markup`'s scores: one answer's markup, the rates per intent, and the report.

The model is scored on what the LLM itself streamed (recorded at the client, so what generate adds
around it, such as a stated price-history lead or the closing of a directive cut by the token limit,
is not the model's), parsed with the same parser and hydrated on its own. Per intent:

- wrote: answers with at least one well-formed directive;
- valid: answers with at least one directive the shopper saw (a frame made from the model's markup:
  card, carousel, compare, reviews, price_history, action, a product link, or a `<suggest>` item that
  survived the answerability filter);
- useful: answers with the directive the intent calls for (USEFUL below), for the product asked about
  when the request names one;
- counters summed over the answers: directives written, malformed, other dropped (unknown tag, stray
  closing tag, truncated, over-long), ungrounded ids blocked by the grounding guard, model suggestions
  written and kept;
- useful as shown: `useful` over the whole answer the shopper saw, generate's additions included;
- the suggestions frame: answers showing a product that end with two or three follow-ups.

Answers not written by a model (TokenChunk.model "direct": the system states an action's outcome) are
counted apart and left out of the rates.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.eval.planner import Item
from pipeline.markup.parser import Directive, MarkupParser
from pipeline.markup.suggestions import MAX_SUGGESTIONS
from pipeline.messages import Frame, Plan
from pipeline.planner import intents as I
from pipeline.stats import percentile

SYSTEM_MODEL = "direct"
"""TokenChunk.model of answers the system stated itself (pipeline/generation/direct.py)."""

USEFUL: Mapping[str, str] = {
    I.PRODUCT_QUESTION: "a card (or carousel) showing the product asked about",
    I.PRODUCT_SEARCH: "two or more products shown (a carousel, or cards)",
    I.COMPARISON: "a comparison table of two or more products",
    I.REVIEW_SUMMARY: "a review summary of the product asked about",
    I.PRICE_HISTORY: "a price-history chart of the product asked about",
    I.CART_ACTION: "an add-to-cart button for the product asked about",
}
"""The directive each intent calls for. Order status, advice and out-of-scope answers call for none."""
_MODEL_FRAMES = frozenset({"card", "carousel", "compare", "reviews", "price_history", "action"})
_DROPPED = ("unknown_tag", "stray_closing", "truncated", "overlong")


@dataclass(frozen=True)
class MarkupAnswer:
    plan: Plan | None
    raw: str
    """The whole answer text, markup included."""
    frames: list[Frame]
    """What the shopper saw: the whole answer hydrated."""
    model: str | None
    seconds: float
    error: str | None = None
    model_text: str = ""
    """What the LLM streamed, as it streamed it: `raw` without what generate adds around it (a stated
    lead, the closing of a directive the token limit cut, a fallback after an answer with no words)."""
    model_frames: list[Frame] = field(default_factory=list)
    """`model_text` hydrated on its own: what the model's markup made."""


@dataclass
class TurnScore:
    """What one answer's markup did."""

    wrote: int = 0
    """Well-formed directives the model wrote (`<suggest>` included)."""
    shown: list[str] = field(default_factory=list)
    """Frames made from the model's markup: frame type, or "link", or "suggest" (kept items)."""
    malformed: int = 0
    dropped: int = 0
    ungrounded: int = 0
    suggest_written: int = 0
    suggest_kept: int = 0
    useful: bool = False
    suggestions_frame: int = 0
    """Items in the turn's suggestions frame (0: none)."""
    products_shown: int = 0


def score_answer(intent: str, asked: Sequence[str], raw: str, frames: Sequence[Frame]) -> TurnScore:
    """Score one answer from its raw text (as the model wrote it) and the frames hydrate made of it.

    `asked`: the products the request is about (empty: any product will do for `useful`).
    """
    parser = MarkupParser()
    directives = [e for e in parser.feed(raw) + parser.finish() if isinstance(e, Directive)]
    written_items = [q.strip().lower() for d in directives if d.name == "suggest" for q in (d.body or "").split("|")
                     if q.strip()]
    done = _payload(frames[-1]) if frames and frames[-1].type == "done" else {}
    counts: Mapping[str, int] = done.get("counts", {})
    score = TurnScore(wrote=len(directives), malformed=int(counts.get("malformed", 0)),
                      dropped=sum(int(counts.get(k, 0)) for k in _DROPPED),
                      ungrounded=int(counts.get("ungrounded", 0)), suggest_written=len(set(written_items)),
                      products_shown=len(done.get("products_shown", [])))
    for frame in frames:
        data = _payload(frame)
        if frame.type in _MODEL_FRAMES:
            score.shown.append(frame.type)
        elif frame.type == "text" and data.get("product_id"):
            score.shown.append("link")
        elif frame.type == "suggestions":
            items = [str(q) for q in data.get("items", [])]
            score.suggestions_frame = len(items)
            score.suggest_kept = sum(q.strip().lower() in written_items for q in items)
    if score.suggest_kept:
        score.shown.append("suggest")
    score.useful = is_useful(intent, asked, frames)
    return score


def is_useful(intent: str, asked: Sequence[str], frames: Sequence[Frame]) -> bool:
    """Whether the frames hold the directive `intent` calls for (USEFUL), about `asked` if given."""
    def about(pids: Sequence[str]) -> bool:
        return not asked or any(pid in asked for pid in pids)

    for frame in frames:
        data = _payload(frame)
        ids = [str(p) for p in data.get("product_ids", [])]
        if not ids and data.get("product_id"):
            ids = [str(data["product_id"])]
        if intent == I.PRODUCT_QUESTION and frame.type in ("card", "carousel") and about(ids):
            return True
        if intent == I.PRODUCT_SEARCH and frame.type == "carousel" and len(ids) >= 2:
            return True
        if intent == I.COMPARISON and frame.type == "compare" and len(ids) >= 2:
            return True
        if intent == I.REVIEW_SUMMARY and frame.type == "reviews" and about(ids):
            return True
        if intent == I.PRICE_HISTORY and frame.type == "price_history" and about(ids):
            return True
        if intent == I.CART_ACTION and frame.type == "action" and data.get("type") == "add_to_cart" and about(ids):
            return True
    if intent == I.PRODUCT_SEARCH:
        return len({_payload(f).get("product_id") for f in frames if f.type == "card"}) >= 2
    return False


def _payload(frame: Frame) -> dict[str, Any]:
    try:
        value = json.loads(frame.payload or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def answer_row(item: Item, answer: MarkupAnswer) -> dict[str, Any]:
    asked = list(item.products or ()) or ([item.page_product_id] if item.page_product_id else [])
    # The model is scored on its own markup; the suggestions frame and `useful_shown` on what was shown.
    score = score_answer(item.intent, asked, answer.model_text, answer.model_frames)
    shown = score_answer(item.intent, asked, answer.raw, answer.frames)
    score.suggestions_frame, score.products_shown = shown.suggestions_frame, shown.products_shown
    return {
        "source": item.source,
        "text": item.text,
        "intent": item.intent,
        "planned_intent": answer.plan.intent if answer.plan else None,
        "asked": asked,
        "model": answer.model,
        "seconds": round(answer.seconds, 2),
        "error": answer.error,
        "raw": answer.raw[:2_000],
        "model_text": answer.model_text[:2_000],
        "system_added": len(answer.raw) != len(answer.model_text),
        "useful_shown": shown.useful,
        "frames": dict(Counter(f.type for f in answer.frames)),
        **asdict(score),
    }


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per intent (in INTENTS order) and overall, over the answers a model wrote."""
    by_intent = {intent: [r for r in rows if r["intent"] == intent] for intent in I.INTENTS}
    return {"all": _block(rows), **{intent: _block(rs) for intent, rs in by_intent.items() if rs}}


def _block(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    modelled = [r for r in rows if r["model"] != SYSTEM_MODEL and not (r["error"] and not r["raw"])]
    n = len(modelled)
    calling = [r for r in modelled if r["intent"] in USEFUL]  # intents that call for a directive
    showing = [r for r in modelled if r["products_shown"]]
    seconds = [float(r["seconds"]) for r in modelled]

    def share(count: int, of: int) -> float | None:
        return round(count / of, 4) if of else None

    return {
        "requests": len(rows),
        "answers": n,
        "stated_by_system": sum(r["model"] == SYSTEM_MODEL for r in rows),
        "failed": sum(bool(r["error"]) and not r["raw"] for r in rows),
        "wrote": share(sum(r["wrote"] > 0 for r in modelled), n),
        "valid": share(sum(bool(r["shown"]) for r in modelled), n),
        "useful": share(sum(bool(r["useful"]) for r in calling), len(calling)),
        "useful_shown": share(sum(bool(r.get("useful_shown")) for r in calling), len(calling)),
        "system_added": sum(bool(r.get("system_added")) for r in modelled),
        "directives": sum(int(r["wrote"]) for r in modelled),
        "malformed": sum(int(r["malformed"]) for r in modelled),
        "dropped": sum(int(r["dropped"]) for r in modelled),
        "ungrounded": sum(int(r["ungrounded"]) for r in modelled),
        "suggest_written": sum(int(r["suggest_written"]) for r in modelled),
        "suggest_kept": sum(int(r["suggest_kept"]) for r in modelled),
        "showing_product": len(showing),
        "suggestions_2_3": share(sum(2 <= r["suggestions_frame"] <= MAX_SUGGESTIONS for r in showing), len(showing)),
        "seconds_p50": percentile(seconds, 50) if seconds else None,
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown table, one row per intent, then the definitions of `useful`."""
    lines = [f"Model {report['model']} at {report['llm_url']}, grammar {'on' if report['grammar'] else 'off'}, "
             f"planner {report['planner_mode']}; {report['limit'] or 'all'} requests per intent, "
             f"{report['concurrency']} at a time, {report['seconds']} s in all{_machine(report)}", "",
             "| intent | model answers | wrote markup | valid directive | useful directive | useful as shown "
             "| directives | malformed | other dropped | ungrounded blocked | model suggestions kept/written "
             "| 2-3 follow-ups (answers showing a product) | s p50 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for intent, b in report["summary"].items():
        name = "**all**" if intent == "all" else intent
        has_useful = b["useful"] is not None
        answers = str(b["answers"]) + (f" (+{b['stated_by_system']} stated)" if b["stated_by_system"] else "")
        lines.append(
            f"| {name} | {answers} | {_pct(b['wrote'])} | {_pct(b['valid'])} "
            f"| {_pct(b['useful']) if has_useful else '–'} | {_pct(b['useful_shown']) if has_useful else '–'} "
            f"| {b['directives']} | {b['malformed']} | {b['dropped']} | {b['ungrounded']} "
            f"| {b['suggest_kept']}/{b['suggest_written']} "
            f"| {_pct(b['suggestions_2_3'])} ({b['showing_product']}) | {_num(b['seconds_p50'])} |")
    total = report["summary"]["all"]
    lines += ["", "Rates are over the answers a model wrote, scored on what the model streamed; the useful rates "
              "only over the intents that call for a directive (listed below). Left out: "
              f"{total['stated_by_system']} answers the system stated in full (no model), {total['failed']} that "
              f"failed. In {total['system_added']} answers generate added to the model's text (a stated "
              "lead (price history, review summary or comparison), the closing of a directive cut by the token limit, a fallback after an answer "
              "without words); \"useful as shown\" counts what the shopper saw, additions included."]
    lines += ["", "Useful directive, per intent:"]
    lines += [f"- {intent}: {what}" for intent, what in report["useful_definitions"].items()]
    return "\n".join(lines)


def _machine(report: Mapping[str, Any]) -> str:
    if not report.get("load_1m"):
        return "."
    before, after = report["load_1m"]
    return f" on {report['cpus']} CPUs, 1-minute load {before} before and {after} after."


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"

"""`aisle eval markup`: how often the default model's answers carry valid, useful display markup.

Requests: the planner's labelled set (pipeline/eval/planner.py `load_items`: ePQA questions on their
product pages, WANDS searches, review-summary requests, hand-written comparison / cart / order /
price-history / advice / out-of-scope requests with their conversation history), the first `limit` of
each intent. Each is answered by the real cores, in this process, one conversation per request:

    plan_turn (the plan stage's planner and settings) -> the retrieve stage (the embedded index the
    `aisle ingest` run built) -> the generate stage (prompt, grammar, the LLM server at Settings.llm_url,
    streamed) -> TurnHydrator (incremental parser, grounding guard, store lookups, suggestions)

Requests go out as replayed traffic (client "replay", a run id), so no cart, order or alert is changed.
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

import asyncio
import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.catalog import read_catalog
from pipeline.config import Settings
from pipeline.errors import AisleError, ConfigError, StageError
from pipeline.llm.client import ChatMessage, Constraint, LlmClient, StreamChunk
from pipeline.eval.planner import Item, default_embed, default_llm, load_items, sample
from pipeline.markup.parser import Directive, MarkupParser
from pipeline.markup.resolve import CatalogReader
from pipeline.markup.suggestions import MAX_SUGGESTIONS
from pipeline.messages import ConversationState, EvidenceBundle, Frame, Plan, TokenChunk, TurnMemory, UserTurn
from pipeline.planner import intents as I
from pipeline.planner.embedding import IntentEmbeddings
from pipeline.planner.llm_planner import JsonLlm
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.stats import percentile
from pipeline.stages.base import Stage
from pipeline.stages.generate import GenerateStage
from pipeline.stages.hydrate import TurnHydrator
from pipeline.stages.retrieve import RetrieveStage
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.sqlite import open_store

RUN_ID = "eval-markup"
DEFAULT_LIMIT = 10
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

MarkupProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MarkupEvalOptions:
    limit: int = DEFAULT_LIMIT
    """Requests per intent (0: all)."""
    intents: tuple[str, ...] = ()
    """Only these intents (empty: all)."""
    concurrency: int = 2


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


# ---- running the requests ------------------------------------------------------------------------

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


def select(items: Sequence[Item], options: MarkupEvalOptions) -> list[Item]:
    """The first `limit` requests of each intent (all with limit 0), in set order."""
    chosen = [item for item in items if not options.intents or item.intent in options.intents]
    return sample(chosen, options.limit) if options.limit > 0 else list(chosen)


async def run_markup_eval(settings: Settings, options: MarkupEvalOptions,
                          progress: MarkupProgress | None = None) -> dict[str, Any]:
    """Answer the selected requests with the real cores and the LLM server; the report dict.

    Raises ConfigError for an unknown intent or missing data; the stages raise theirs when the index,
    the store or the models are missing.
    """
    unknown = [i for i in options.intents if i not in I.INTENTS]
    if unknown:
        raise ConfigError(f"unknown intent(s) {', '.join(unknown)}; one of {', '.join(I.INTENTS)}")
    items = select(load_items(settings.shared_data), options)
    if not items:
        raise ConfigError("no requests selected")
    started = time.time()
    load_before = os.getloadavg()[0]
    async with contextlib.AsyncExitStack() as stack:
        planner_options = PlannerOptions.from_settings(settings)
        llm = await default_llm(settings, stack) if planner_options.mode != "rules" else None
        embed = default_embed(settings, stack) if settings.planner_embeddings else None
        embeddings = await IntentEmbeddings.load(embed) if embed is not None else None
        stages: list[Stage] = []
        # Built without the alert registry the retrieve worker follows on Kafka: replayed turns never
        # act, so no broker is needed.
        client = _RecordingClient(settings)
        stack.push_async_callback(client.aclose)
        for stage in (RetrieveStage(settings), GenerateStage(settings, client)):
            await stage.start()
            stack.push_async_callback(stage.stop)
            stages.append(stage)
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        reader: CatalogReader = StoreWithPages(store, CatalogPages.from_catalog(read_catalog(settings.shared_data)))
        gate = asyncio.Semaphore(max(1, options.concurrency))
        finished = 0

        async def one(index: int, item: Item) -> MarkupAnswer:
            nonlocal finished
            async with gate:
                answer = await _answer(index, item, settings, planner_options, llm, embeddings, stages, reader)
            finished += 1
            if progress is not None:
                progress("markup", finished, len(items))
            return answer

        answers = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    rows = [answer_row(item, answer) for item, answer in zip(items, answers)]
    return {
        "llm_url": settings.llm_url,
        "model": settings.llm_model_small,
        "grammar": settings.generate_grammar,
        "planner_mode": settings.planner_mode,
        "limit": options.limit,
        "concurrency": options.concurrency,
        "seconds": round(time.time() - started, 1),
        "cpus": os.cpu_count(),
        "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "useful_definitions": dict(USEFUL),
        "summary": summarise(rows),
        "rows": rows,
    }


_streamed: ContextVar[list[str] | None] = ContextVar("markup_eval_streamed", default=None)
"""The running turn's list of LLM pieces (generate's reader task inherits the context, so the list)."""


class _RecordingClient(LlmClient):
    """The LLM client generate uses, also keeping what the model streamed for the turn being asked."""

    async def stream_chat(self, messages: Sequence[ChatMessage], *, model: str, max_tokens: int = 256,
                          temperature: float = 0.0, constraint: Constraint | None = None, stop: Sequence[str] = (),
                          seed: int | None = None) -> AsyncGenerator[StreamChunk, None]:
        pieces = _streamed.get()
        async with contextlib.aclosing(super().stream_chat(
                messages, model=model, max_tokens=max_tokens, temperature=temperature, constraint=constraint,
                stop=stop, seed=seed)) as chunks:
            async for chunk in chunks:
                if pieces is not None:
                    pieces.append(chunk.text)
                yield chunk


async def _answer(index: int, item: Item, settings: Settings, planner_options: PlannerOptions, llm: JsonLlm | None,
                  embeddings: IntentEmbeddings | None, stages: Sequence[Stage], reader: CatalogReader) -> MarkupAnswer:
    retrieve, generate = stages
    conversation = f"{RUN_ID}-{index}"
    turn_no = len(item.history)
    request = UserTurn(conversation, turn_no, 0, RUN_ID, item.text, item.page_product_id, client="replay",
                       run_id=RUN_ID)
    history = None
    if item.history:
        history = ConversationState(conversation, turn_no, 0, RUN_ID,
                                    [TurnMemory(t, "", "", list(ids)) for t, ids in enumerate(item.history)])
    started = time.monotonic()
    plan: Plan | None = None
    raw: list[str] = []
    frames: list[Frame] = []
    model: str | None = None
    timeout_s = settings.hydrate_lookup_timeout_ms / 1000
    try:
        plan = (await plan_turn(request, history, llm=llm, embeddings=embeddings, options=planner_options)).plan
        bundle = None
        async for out in retrieve.process(plan):
            if isinstance(out.value, EvidenceBundle):
                bundle = out.value
        if bundle is None:
            raise StageError("the retrieve stage gave no evidence bundle")
        hydrator = TurnHydrator(conversation, turn_no)
        last: TokenChunk | None = None
        streamed: list[str] = []
        _streamed.set(streamed)
        async for out in generate.process(bundle):
            chunk = out.value
            if isinstance(chunk, TokenChunk):
                raw.append(chunk.text)
                model = chunk.model or model
                frames += await hydrator.on_chunk(chunk, reader, timeout_s)
                last = chunk
    except AisleError as exc:
        return MarkupAnswer(plan, "".join(raw), frames, model, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    model_text = "".join(streamed)
    model_frames = await _hydrate_alone(model_text, last, reader, timeout_s) if last is not None else []
    errors = [f.payload for f in frames if f.type == "error"]
    return MarkupAnswer(plan, "".join(raw), frames, model, seconds, errors[0] if errors else None, model_text,
                   model_frames)


async def _hydrate_alone(text: str, final: TokenChunk, reader: CatalogReader, timeout_s: float) -> list[Frame]:
    """`text` hydrated as a whole answer of its own (same turn, grounding and context as `final`)."""
    hydrator = TurnHydrator(final.conversation_id, final.turn)
    grounded = list(final.grounded_product_ids)
    frames = await hydrator.on_chunk(TokenChunk(final.conversation_id, final.turn, 0, text, 0,
                                                grounded_product_ids=grounded), reader, timeout_s)
    end = TokenChunk(final.conversation_id, final.turn, 1, "", len(text), final=True, grounded_product_ids=grounded,
                     error=final.error, model=final.model, context=dict(final.context))
    return frames + await hydrator.on_chunk(end, reader, timeout_s)


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

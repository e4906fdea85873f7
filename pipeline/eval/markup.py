"""`aisle eval markup`: how often the default model's answers carry valid, useful display markup.

Requests: the planner's labelled set (pipeline/eval/planner.py `load_items`: ePQA questions on their
product pages, WANDS searches, review-summary requests, hand-written comparison / cart / order /
price-history / advice / out-of-scope requests with their conversation history), the first `limit` of
each intent. Each is answered by the real cores, in this process, one conversation per request:

    plan_turn (the plan stage's planner and settings, with the request's history) -> then chained
    (pipeline/runtime/chain.py): the retrieve stage (the embedded index the `aisle ingest` run built)
    -> the generate stage (prompt, grammar, the LLM server at Settings.llm_url, streamed) -> the
    hydrate stage (incremental parser, grounding guard, store lookups, suggestions)

Requests go out as replayed traffic (client "replay", a run id), so no cart, order or alert is changed.
The model is scored on what the LLM itself streamed; pipeline/eval/markup_scoring.py has the rates
and the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pipeline.catalog import read_catalog
from pipeline.config import Settings
from pipeline.errors import AisleError, ConfigError, StageError
from pipeline.llm.client import ChatMessage, Constraint, LlmClient, StreamChunk
from pipeline.eval.markup_scoring import USEFUL, MarkupAnswer, answer_row, summarise
from pipeline.eval.planner import Item, default_embed, default_llm, load_items, sample
from pipeline.markup.resolve import CatalogReader
from pipeline.messages import ConversationState, EvidenceBundle, Frame, Plan, TokenChunk, TurnMemory, UserTurn
from pipeline.planner import intents as I
from pipeline.planner.embedding import IntentEmbeddings
from pipeline.planner.llm_planner import JsonLlm
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.runtime.chain import chain, running
from pipeline.stages.base import Stage
from pipeline.stages.generate import GenerateStage
from pipeline.stages import retrieve as retrieve_stage
from pipeline.stages.hydrate import HydrateStage, TurnHydration
from pipeline.topics import HYDRATED
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.sqlite import open_store

RUN_ID = "eval-markup"
DEFAULT_LIMIT = 10

MarkupProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MarkupEvalOptions:
    limit: int = DEFAULT_LIMIT
    """Requests per intent (0: all)."""
    intents: tuple[str, ...] = ()
    """Only these intents (empty: all)."""
    concurrency: int = 2


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
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        reader: CatalogReader = StoreWithPages(store, CatalogPages.from_catalog(read_catalog(settings.shared_data)))
        client = _RecordingClient(settings)
        stack.push_async_callback(client.aclose)
        # Retrieve is built without the alert registry its worker follows on Kafka: replayed turns never
        # act, so no broker is needed. Hydrate opens the same store file, as the answers re-hydrated alone
        # below read it.
        stages = await stack.enter_async_context(running([
            retrieve_stage.build(settings, follow_registry=False), GenerateStage(settings, client), HydrateStage(settings)]))
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
    last: TokenChunk | None = None
    streamed: list[str] = []
    _streamed.set(streamed)
    try:
        plan = (await plan_turn(request, history, llm=llm, embeddings=embeddings, options=planner_options)).plan
        bundle = None
        async for out in chain(stages, plan):
            if isinstance(out.value, EvidenceBundle):
                bundle = out.value
            elif isinstance(out.value, TokenChunk):
                raw.append(out.value.text)
                model = out.value.model or model
                last = out.value
            elif out.topic == HYDRATED and isinstance(out.value, Frame):
                frames.append(out.value)
        if bundle is None:
            raise StageError("the retrieve stage gave no evidence bundle")
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
    hydration = TurnHydration(final.conversation_id, final.turn, reader, timeout_s)
    grounded = list(final.grounded_product_ids)
    frames = await hydration.on_chunk(TokenChunk(final.conversation_id, final.turn, 0, text, 0,
                                                 grounded_product_ids=grounded))
    end = TokenChunk(final.conversation_id, final.turn, 1, "", len(text), final=True, grounded_product_ids=grounded,
                     error=final.error, model=final.model, context=dict(final.context))
    return frames + await hydration.on_chunk(end)

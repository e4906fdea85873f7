"""`plan_turn`: one request in, one Plan out, within the planner's deadline.

    outcome = await plan_turn(request, history, llm=client, embeddings=vectors, options=options)
    outcome.plan       # intent, resolved products, the whole retrieval plan, path, planner_ms
    outcome.reason     # why this intent (for logs and the eval)
    outcome.fallback   # why the LLM's answer was not used, when it was asked and not used

Modes (Settings.planner_mode): `auto` asks the LLM and waits at most `deadline_ms` from the start of
planning; `llm` waits for the LLM as long as its client allows (for measuring the model); `rules`
never asks it. The deterministic plan is computed while the LLM request is in flight, so a missed
deadline, an error, invalid JSON, an unknown intent, an invented product id or an action the shopper
did not ask for costs nothing extra: the rules' plan answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.errors import AisleError, ConfigError, DependencyError
from pipeline.messages import ConversationState, Plan, UserTurn
from pipeline.planner import intents as I
from pipeline.planner import llm_planner, rules
from pipeline.planner.embedding import IntentEmbeddings
from pipeline.planner.filters import Filters, extract
from pipeline.planner.history import Context, resolve
from pipeline.planner.steps import build_steps
from pipeline.store.choose import asked_quality

MODES = ("auto", "rules", "llm")
MAX_RULES_CHARS = 1000
"""Characters of a request the rules read: a 20,000-character paste is planned from its start, and
the regexes stay within a few ms on this much text."""

PATH_LLM = "llm"
PATH_RULES = "rules"
PATH_RULES_EMBED = "rules+embed"
"""The rules were silent and embedding similarity chose the intent."""


@dataclass(frozen=True)
class PlannerOptions:
    mode: str = "auto"
    """auto | rules | llm (see the module docstring)."""
    deadline_ms: int = 300
    model: str = "aisle-shop-135m"
    """The served model that plans (ModelRouter.for_planning; from_settings sets it)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PlannerOptions:
        """Raises ConfigError for an unknown AISLE_PLANNER_MODE."""
        if settings.planner_mode not in MODES:
            raise ConfigError(f"AISLE_PLANNER_MODE={settings.planner_mode!r} is not one of {', '.join(MODES)}")
        return cls(settings.planner_mode, settings.planner_deadline_ms, settings.llm_model_small)


@dataclass(frozen=True)
class PlanOutcome:
    plan: Plan
    reason: str
    fallback: str | None = None
    """Why the LLM's answer was not used (None when it was, or when it was not asked)."""


@dataclass(frozen=True)
class _Draft:
    intent: str
    product_ids: list[str]
    query: str
    filters: Filters
    cart: rules.CartRequest | None
    reason: str
    path: str
    account: rules.AccountRequest | None = None


async def plan_turn(
    request: UserTurn,
    history: ConversationState | None,
    *,
    llm: llm_planner.JsonLlm | None = None,
    embeddings: IntentEmbeddings | None = None,
    options: PlannerOptions = PlannerOptions(),
    clock: Callable[[], float] = time.perf_counter,
) -> PlanOutcome:
    """Plan one request. Never raises for a bad request or a failing LLM or embedder (any AisleError):
    those give an out-of-scope plan or the rules' plan. `history` is the conversation so far (None for
    a new one)."""
    started = clock()
    text = request.text
    if not text.strip():
        return _outcome(request, started, clock, _empty("empty request"), None, None)
    head = text[:MAX_RULES_CHARS]
    lowered = head.lower()
    context = resolve(head, request.page_product_id, history)
    llm_task: asyncio.Task[object] | None = None
    if llm is not None and options.mode != "rules":
        llm_task = asyncio.create_task(
            llm.complete_json(
                llm_planner.messages(text, context),
                llm_planner.schema(context),
                model=options.model,
                max_tokens=llm_planner.MAX_OUTPUT_TOKENS,
            )
        )
    try:
        fallback_draft = await _rules_draft(head, lowered, context, embeddings)
        if llm_task is None:
            return _outcome(request, started, clock, fallback_draft, None, None)
        try:
            if options.mode == "auto":
                remaining_s = options.deadline_ms / 1000 - (clock() - started)
                async with asyncio.timeout(max(0.0, remaining_s)):
                    answer = await llm_task
            else:
                answer = await llm_task
            draft = _llm_draft(llm_planner.validate(answer, context), lowered, context, fallback_draft)
        except TimeoutError:
            return _outcome(request, started, clock, fallback_draft, f"LLM missed the {options.deadline_ms} ms deadline", None)
        except AisleError as exc:  # DependencyError from the client, InvalidDraft from validation
            return _outcome(request, started, clock, fallback_draft, str(exc), None)
        return _outcome(request, started, clock, draft, None, options.model)
    finally:
        if llm_task is not None and not llm_task.done():
            llm_task.cancel()  # closes the HTTP stream, so the server frees the request


async def _rules_draft(head: str, lowered: str, context: Context, embeddings: IntentEmbeddings | None) -> _Draft:
    filters, rest = extract(lowered)
    verdict = rules.classify(lowered, context)
    if verdict.intent in (None, I.PRODUCT_SEARCH) and verdict.cart is None and not verdict.injection and not context.resolved:
        # "my budget is usually under $30" is something to remember, not a search for "my budget".
        verdict = rules.preference_statement(head) or verdict
    intent, reason, path = verdict.intent, verdict.reason, PATH_RULES
    if intent is None and embeddings is not None:
        try:
            match = await embeddings.nearest(lowered)
        except DependencyError:
            match = None
        if match is not None:
            intent, path = match.intent, PATH_RULES_EMBED
            reason = f"nearest example {match.example!r} ({match.similarity:.2f})"
    if intent is None:
        intent = I.PRODUCT_QUESTION if context.resolved else I.PRODUCT_SEARCH
        reason = "default: a known product" if context.resolved else "default: search"
    if intent == I.OUT_OF_SCOPE:
        return _Draft(intent, [], "", Filters(), None, reason, path)
    return _Draft(intent, list(context.resolved), rest, filters, verdict.cart, reason, path, verdict.account)


def _llm_draft(answer: llm_planner.LlmDraft, lowered: str, context: Context, rules_draft: _Draft) -> _Draft:
    """The validated LLM answer as a draft. Raises InvalidDraft for a cart action the shopper's own
    words do not ask for (rules.cart_request decides, whatever the model says). Alerts and account
    memory are the rules' alone: their draft stands whatever the model says."""
    if rules_draft.account is not None:
        return rules_draft
    if answer.intent in (I.PRICE_ALERT, I.ACCOUNT_MEMORY):
        raise llm_planner.InvalidDraft(f"{answer.intent} the shopper's words do not ask for")
    cart = None
    if answer.intent == I.CART_ACTION:
        cart = rules.cart_request(lowered, context)
        if cart is None:
            raise llm_planner.InvalidDraft("cart action the shopper did not ask for")
    ids = answer.product_ids or list(context.resolved)
    filters = rules_draft.filters
    if filters.max_price_cents is None and answer.max_price_cents is not None and any(c.isdigit() for c in lowered):
        filters = Filters(answer.max_price_cents, filters.min_price_cents, filters.min_rating, filters.in_stock)
    query = answer.query or rules_draft.query
    if answer.intent in (I.PRODUCT_QUESTION, I.REVIEW_SUMMARY):
        query = rules_draft.query  # the shopper's own question retrieves evidence best
    if answer.intent == I.OUT_OF_SCOPE:
        return _Draft(answer.intent, [], "", Filters(), None, "llm", PATH_LLM)
    return _Draft(answer.intent, ids, query, filters, cart, "llm", PATH_LLM)


def _empty(reason: str) -> _Draft:
    return _Draft(I.OUT_OF_SCOPE, [], "", Filters(), None, reason, PATH_RULES)


def _outcome(request: UserTurn, started: float, clock: Callable[[], float], draft: _Draft, fallback: str | None,
             model: str | None) -> PlanOutcome:
    steps = build_steps(draft.intent, draft.query, draft.product_ids, draft.filters, draft.cart,
                        rules.order_id(draft.query) if draft.intent == I.ORDER_STATUS else None, draft.account,
                        asked_quality(request.text))
    plan = Plan(
        conversation_id=request.conversation_id,
        turn=request.turn,
        seq=0,
        request=request,
        intent=draft.intent,
        steps=steps,
        resolved_product_ids=list(draft.product_ids),
        path=draft.path,
        planner_ms=(clock() - started) * 1000.0,
        model=model,
    )
    return PlanOutcome(plan, draft.reason, fallback)

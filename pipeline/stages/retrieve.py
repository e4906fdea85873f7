"""The retrieve stage: a plan in, a bounded, ranked, deduplicated evidence bundle out.

    gather_evidence(plan, fetchers)      pure orchestration: steps run concurrently, each under a
                                          timeout; a failed step is reported, the others still count
    PassageFetcher / StoreFetcher        what a step reads: the passage index, or the store (what
                                          the store's facts say: pipeline/retrieval/store_evidence.py)
    LanguageActions                      a planned cart, order or alert action, performed first;
                                          its outcome leads the evidence (pipeline/actions/language.py)
    RetrieveStage                        the thin adapter over `RetrieveParts` (the fetchers and the
                                          actions), which `open_parts` opens at start: `build` wires it

Ranking across steps uses reciprocal rank fusion (scores of different sources are not comparable;
ranks are), then duplicates are dropped by passage id or text, and the bundle is cut to a character
budget so the prompt stays small.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from cachetools import FIFOCache

from pipeline import topics
from pipeline.actions.language import LanguageActions, outcome_evidence, without_action_steps
from pipeline.alerts.registry import AlertRegistry
from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.errors import AisleError, StageError
from pipeline.memory.answer import memory_evidence
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, RetrievalStep, StepFailure
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.fusion import rrf_fuse
from pipeline.retrieval.index import Hit, PassageIndex, SearchFilter
from pipeline.retrieval.products import find_products
from pipeline.retrieval.store_evidence import (
    HISTORY_DAYS,
    HISTORY_PRODUCTS,
    ORDERS_READ,
    STORE_SOURCES,
    StoreFacts,
    step_product_ids,
    store_evidence,
)
from pipeline.stages.base import FollowedTable, OpenTable, Output
from pipeline.store.base import Store
from pipeline.store.records import SearchFilters
from pipeline.store.sqlite import open_store

Fetch = Callable[[RetrievalStep, Plan], Awaitable[list[EvidenceItem]]]

STORE_FILTER_MAX_PRODUCTS = 10_000
"""Products a store filter (budget, rating, stock) may narrow a catalog search to; when more match,
the best-rated are searched. Far above the catalog, so a budget never hides a fitting product."""
_PASSAGE_KINDS = {
    "products": ("product", "attribute", "bullet", "description"),
    "reviews": ("review",),
    "qa": ("qa",),
}


@dataclass(frozen=True)
class EvidenceLimits:
    step_timeout_s: float = 1.0
    budget_chars: int = 4_000
    """Total characters of evidence text in a bundle (roughly 1,000 tokens)."""
    max_items: int = 20


async def gather_evidence(plan: Plan, fetchers: Mapping[str, Fetch], limits: EvidenceLimits = EvidenceLimits()) -> EvidenceBundle:
    """Run the plan's steps concurrently and fuse their results. Never raises for a failing step."""

    async def run(step: RetrievalStep) -> list[EvidenceItem] | StepFailure:
        fetch = fetchers.get(step.source)
        if fetch is None:
            return StepFailure(step.source, f"unknown source {step.source!r}")
        try:
            return await asyncio.wait_for(fetch(step, plan), limits.step_timeout_s)
        except asyncio.TimeoutError:
            return StepFailure(step.source, f"timed out after {limits.step_timeout_s:.1f} s")
        except AisleError as exc:
            return StepFailure(step.source, f"{type(exc).__name__}: {exc}")

    results = await asyncio.gather(*(run(step) for step in plan.steps))
    failures = [r for r in results if isinstance(r, StepFailure)]
    ranked = [r for r in results if not isinstance(r, StepFailure)]
    items = fuse(ranked, limits)
    empty_reason = None
    if not items:
        if not plan.steps:
            empty_reason = "the plan has no retrieval steps"
        elif failures:
            empty_reason = "; ".join(f"{f.source}: {f.reason}" for f in failures)
        else:
            empty_reason = "nothing in the catalog or store matched"
    return EvidenceBundle(plan.conversation_id, plan.turn, 0, plan, items, failures, empty_reason)


def fuse(ranked_lists: Sequence[Sequence[EvidenceItem]], limits: EvidenceLimits) -> list[EvidenceItem]:
    """Reciprocal-rank fusion (pipeline/retrieval/fusion.py) over the steps' lists, deduplicated by
    passage id or text, cut to the budget. An item found by several steps keeps the first one's."""
    best: dict[str, EvidenceItem] = {}
    rankings: list[list[str]] = []
    for ranked in ranked_lists:
        keys = [item.ref or " ".join(item.text.lower().split()) for item in ranked]
        for key, item in zip(keys, ranked):
            best.setdefault(key, item)
        rankings.append(keys)
    kept: list[EvidenceItem] = []
    used = 0
    for key, score in rrf_fuse(rankings):
        item = best[key]
        if len(kept) >= limits.max_items or (kept and used + len(item.text) > limits.budget_chars):
            break
        kept.append(EvidenceItem(item.source, item.text, round(score, 6), item.product_id, item.ref))
        used += len(item.text)
    return kept


class PassageFetcher:
    """Products, reviews and Q&A from the passage index; store filters narrow the products first.

    A products step without product ids searches the catalog for the products that fit
    (pipeline/retrieval/products.py): one item per product, its summary, and none below the
    relevance floor. The other steps of a plan usually ask for several passage sources about the same
    products with the same query (products, reviews, qa). Each index search costs a query embedding
    and a Qdrant call, so those steps share one search over all kinds, split afterwards.
    """

    def __init__(self, index: PassageIndex, store: Store, remembered: int = 256) -> None:
        self.index = index
        self.store = store
        # First in, first out: a turn's steps ask within moments of each other, so the oldest searches
        # are the ones no step will share again.
        self._shared: FIFOCache[tuple[object, ...], asyncio.Task[list[Hit]]] = FIFOCache(maxsize=remembered)

    async def __call__(self, step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
        product_ids = list(step.product_ids)
        filters = store_filters(step.filters)
        if filters is not None and not product_ids:
            product_ids = await self.store.search_products(dataclasses.replace(filters, limit=STORE_FILTER_MAX_PRODUCTS))
            if not product_ids:
                return []
        query = step.query or plan.request.text
        category = step.filters.get("category")
        categories = (category,) if category and filters is None else ()
        if step.source == "products" and not step.product_ids:
            # Which products fit: one item per product (its summary), none below the relevance floor.
            where = SearchFilter(product_ids=tuple(product_ids), categories=categories)
            found = await find_products(self.index, query, where, step.limit)
            return [EvidenceItem(m.summary.kind, m.summary.text, m.score, m.product_id, m.summary.point_id) for m in found]
        kinds = _PASSAGE_KINDS.get(step.source, ())
        key = (plan.conversation_id, plan.turn, query, tuple(product_ids), categories)
        search = self._shared.get(key)
        if search is None:
            where = SearchFilter(product_ids=tuple(product_ids), categories=categories)
            limit = sum(s.limit for s in plan.steps if s.source in _PASSAGE_KINDS)
            search = asyncio.ensure_future(self._search(query, where, max(limit, step.limit)))
            self._shared[key] = search
        hits = [hit for hit in await asyncio.shield(search) if not kinds or hit.kind in kinds]
        return [EvidenceItem(hit.kind, hit.text, hit.score, hit.product_id, hit.point_id) for hit in hits[: step.limit]]

    async def _search(self, query: str, where: SearchFilter, limit: int) -> list[Hit]:
        return list((await self.index.search(query, where=where, limit=limit)).hits)


def store_filters(filters: Mapping[str, str]) -> SearchFilters | None:
    """Store-side filters (price, rating, stock) from a step's filters; None when there are none."""
    def cents(name: str) -> int | None:
        value = filters.get(name)
        return int(value) if value and value.isdigit() else None

    def rating() -> float | None:
        try:
            return float(filters["min_rating"])
        except (KeyError, ValueError):
            return None

    wanted = SearchFilters(
        category=filters.get("category") or None,
        min_price_cents=cents("min_price_cents"),
        max_price_cents=cents("max_price_cents"),
        min_rating=rating(),
        in_stock_only=filters.get("in_stock") == "true",
        on_sale_only=filters.get("on_sale") == "true",
    )
    if wanted.min_price_cents is None and wanted.max_price_cents is None and wanted.min_rating is None \
            and not wanted.in_stock_only and not wanted.on_sale_only:
        return None
    return wanted


class StoreFetcher:
    """A store step's reads (the adapter); what they say is pipeline/retrieval/store_evidence.py's."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
        return store_evidence(await self.read(step, plan))

    async def read(self, step: RetrievalStep, plan: Plan) -> StoreFacts:
        """What the step's source needs from the store. Raises StageError for a source it lacks."""
        source, user_id = step.source, plan.request.user_id
        ids = step_product_ids(step, plan)
        if source == "offers":
            offers = await self.store.get_offers(ids)
            return StoreFacts(source, tuple(ids), offers=offers, products=await self.store.get_products(ids))
        if source == "choice":
            offers, products, ratings = await asyncio.gather(
                self.store.get_offers(ids), self.store.get_products(ids), self.store.get_ratings(ids))
            return StoreFacts(source, tuple(ids), quality=step.filters.get("quality", ""), offers=offers,
                              products=products, ratings=ratings)
        if source == "price_history":
            read = ids[:HISTORY_PRODUCTS]
            return StoreFacts(source, tuple(read), histories={
                pid: await self.store.get_price_history(pid, HISTORY_DAYS) for pid in read})
        if source == "cart":
            return StoreFacts(source, user_id=user_id, cart=await self.store.get_cart(user_id))
        if source == "orders":
            return StoreFacts(source, user_id=user_id, orders=await self.store.get_orders(user_id, limit=ORDERS_READ))
        raise StageError(f"the store has no source {source!r}")


async def _memory(step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
    return [memory_evidence(step, plan)]


async def _not_acted(step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
    """An alerts step that no action answered: replayed traffic, which never acts."""
    return [EvidenceItem("action", "This turn is replayed traffic, so no alert was changed.", 1.0, None,
                         f"action:{plan.conversation_id}:{plan.turn}")]


@dataclass(frozen=True)
class RetrieveParts:
    """What the retrieve stage runs on: a fetch per step source, and the performer of planned cart,
    order and alert actions (None: nothing is performed, the action steps are fetched as the rest)."""

    fetchers: Mapping[str, Fetch]
    actions: LanguageActions | None = None


OpenParts = Callable[[AsyncExitStack], Awaitable[RetrieveParts]]
"""Opens the parts when the stage starts, pushing onto the stack whatever the stage's stop must close."""


async def open_parts(settings: Settings, stack: AsyncExitStack, *, open_registry: OpenTable | None = None,
                     clock_ms: Clock = now_ms) -> RetrieveParts:
    """The production parts: the store, the embedder and the passage index (warmed up), the fetchers
    over them and the actions. With `open_registry` the alert registry is followed, so "list my
    alerts" and "cancel my alert" see every alert, wherever set; without it, it starts empty.

    Raises DependencyError when the store, the models or the index cannot be opened.
    """
    store = await open_store(settings)
    stack.push_async_callback(store.close)
    embedder = Embedder(settings.home / "models")
    stack.callback(embedder.close)
    index = PassageIndex.open(settings, embedder)
    stack.callback(index.close)
    # Load the models and the index (and its product map) now, not on the first shopper's question.
    await index.search("warm up", limit=1, where=SearchFilter(product_ids=("warm-up",)))
    passages = PassageFetcher(index, store)
    stored = StoreFetcher(store)
    fetchers: dict[str, Fetch] = {"products": passages, "reviews": passages, "qa": passages,
                                  **{source: stored for source in STORE_SOURCES},
                                  "memory": _memory, "alerts": _not_acted}
    registry = AlertRegistry()
    if open_registry is not None:
        table = open_registry(registry.follow)
        await table.start()
        stack.push_async_callback(table.stop)
    return RetrieveParts(fetchers, LanguageActions(store, registry, clock_ms))


class RetrieveStage:
    """The thin adapter: opens its parts at `start` (`open_parts` by default, through `build`), closes
    them at `stop`, and runs each plan's actions and `gather_evidence` over them."""

    name = "retrieve"
    input_topic = topics.PLANS
    output_topics = (topics.EVIDENCE, topics.ALERT_REGISTRY)
    input_type = Plan

    def __init__(self, open_parts: OpenParts, limits: EvidenceLimits = EvidenceLimits()) -> None:
        self.limits = limits
        self._open_parts = open_parts
        self._parts: RetrieveParts | None = None
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        stack = AsyncExitStack()
        try:
            self._parts = await self._open_parts(stack)
        except BaseException:
            await stack.aclose()  # what was opened before the failure
            raise
        self._stack = stack

    async def stop(self) -> None:
        self._parts = None
        await self._stack.aclose()

    async def process(self, message: Plan) -> AsyncIterator[Output]:
        if self._parts is None:
            raise StageError("the retrieve stage was not started")
        fetchers, actions = self._parts.fetchers, self._parts.actions
        outcome = await actions.act(message) if actions is not None else None
        if outcome is None:
            bundle = await gather_evidence(message, fetchers, self.limits)
        else:
            for key, rule in outcome.registry:
                yield Output(topics.ALERT_REGISTRY, key, rule)
            rest = await gather_evidence(without_action_steps(message), fetchers, self.limits)
            bundle = dataclasses.replace(rest, plan=message, items=[outcome_evidence(message, outcome), *rest.items],
                                         empty_reason=None)
        yield Output(topics.EVIDENCE, message.conversation_id, bundle)


def build(settings: Settings, *, follow_registry: bool = True) -> RetrieveStage:
    """The stage over the production parts. `follow_registry=False` for runs without a broker (the
    evaluations, the pipeline benchmark): replayed turns never act, so no alert registry is needed."""
    from pipeline.runtime.table import ChangelogTable

    def open_registry(apply: Callable[[str, Any], None]) -> FollowedTable:
        return ChangelogTable(settings, topics.ALERT_REGISTRY, apply, what="retrieve's alert registry")

    return RetrieveStage(functools.partial(open_parts, settings,
                                           open_registry=open_registry if follow_registry else None))

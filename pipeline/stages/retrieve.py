"""The retrieve stage: a plan in, a bounded, ranked, deduplicated evidence bundle out.

    gather_evidence(plan, fetchers)      pure orchestration: steps run concurrently, each under a
                                          timeout; a failed step is reported, the others still count
    PassageFetcher / StoreFetcher        what a step reads: the passage index, or the store
    LanguageActions                      a planned cart, order or alert action, performed first;
                                          its outcome leads the evidence (pipeline/actions/language.py)

Ranking across steps uses reciprocal rank fusion (scores of different sources are not comparable;
ranks are), then duplicates are dropped by passage id or text, and the bundle is cut to a character
budget so the prompt stays small.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import FIFOCache

from pipeline import topics
from pipeline.actions.language import LanguageActions, outcome_evidence, without_action_steps
from pipeline.alerts.registry import AlertRegistry
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import AisleError, StageError
from pipeline.memory.answer import memory_evidence
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, RetrievalStep, StepFailure
from pipeline.money import format_money
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.fusion import rrf_fuse
from pipeline.retrieval.index import Hit, PassageIndex, SearchFilter
from pipeline.retrieval.products import find_products
from pipeline.stages.base import FollowedTable, OpenTable, Output
from pipeline.store.base import Store
from pipeline.store.choose import ProductFacts, choose
from pipeline.store.records import Offer, RatingSummary, SearchFilters, StoreProduct
from pipeline.store.sentences import offer_sentence, price_history_sentence
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


def _choice_facts(pid: str, product: StoreProduct | None, offer: Offer | None,
                  rating: RatingSummary | None) -> ProductFacts:
    return ProductFacts(
        pid, product.title if product is not None else pid,
        price_cents=offer.price_cents if offer else None, currency=offer.currency if offer else "USD",
        in_stock=offer.in_stock if offer else None, price_simulated=offer.simulated if offer else True,
        rating=rating.average if rating else None, rating_count=rating.count if rating else 0,
        rating_simulated=rating.simulated if rating else True)


class StoreFetcher:
    """Offers, price history, cart and orders from the store, written as short evidence sentences.
    Simulated values say so, since the prompt must not pass them off as real."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
        ids = list(step.product_ids) or list(plan.resolved_product_ids) or (
            [plan.request.page_product_id] if plan.request.page_product_id else [])
        if step.source == "offers":
            return await self._offers(ids)
        if step.source == "choice":
            return await self._choice(ids, step.filters.get("quality", ""))
        if step.source == "price_history":
            return await self._history(ids)
        if step.source == "cart":
            return await self._cart(plan.request.user_id)
        if step.source == "orders":
            return await self._orders(plan.request.user_id)
        raise StageError(f"the store has no source {step.source!r}")

    async def _offers(self, ids: list[str]) -> list[EvidenceItem]:
        offers = await self.store.get_offers(ids)
        products = await self.store.get_products(ids)
        items = []
        for pid in ids:
            offer = offers.get(pid)
            if offer is None:
                continue
            title = products[pid].title if pid in products else pid
            items.append(EvidenceItem("offer", offer_sentence(title, offer), 1.0, pid, f"offer:{pid}"))
        return items

    async def _choice(self, ids: list[str], quality: str) -> list[EvidenceItem]:
        """The pick among `ids` by the store's live values, stated as one sentence (choose.py); one item
        per chosen product so each gets a card, the sentence on the first. [] when the store lacks them."""
        offers, products, ratings = await asyncio.gather(
            self.store.get_offers(ids), self.store.get_products(ids), self.store.get_ratings(ids))
        facts = [_choice_facts(pid, products.get(pid), offers.get(pid), ratings.get(pid)) for pid in ids if pid in products]
        choice = choose(quality, facts)
        if choice is None:
            return []
        if not choice.product_ids:
            return [EvidenceItem("choice", choice.sentence, 1.0, None, f"choice:{quality}")]
        return [EvidenceItem("choice", choice.sentence if n == 0 else "", 1.0, pid, f"choice:{quality}:{pid}")
                for n, pid in enumerate(choice.product_ids)]

    async def _history(self, ids: list[str]) -> list[EvidenceItem]:
        items = []
        for pid in ids[:3]:
            text = price_history_sentence(await self.store.get_price_history(pid, 90))
            if text is not None:
                items.append(EvidenceItem("price_history", text, 1.0, pid, f"history:{pid}"))
        return items

    async def _cart(self, user_id: str) -> list[EvidenceItem]:
        cart = await self.store.get_cart(user_id)
        if not cart.lines:
            return [EvidenceItem("cart", "the cart is empty", 1.0, None, f"cart:{user_id}")]
        lines = ", ".join(f"{line.quantity} x {line.product_id}" for line in cart.lines)
        text = f"cart: {lines}; total {format_money(cart.total_cents, cart.currency)}"
        return [EvidenceItem("cart", text, 1.0, None, f"cart:{user_id}")]

    async def _orders(self, user_id: str) -> list[EvidenceItem]:
        orders = await self.store.get_orders(user_id, limit=5)
        if not orders:
            return [EvidenceItem("order", "no orders found for this account", 1.0, None, f"orders:{user_id}")]
        return [
            EvidenceItem("order", f"order {o.order_id}: {o.status}, {len(o.lines)} item(s), total "
                         f"{format_money(o.total_cents, o.currency)}, delivery in {o.delivery_days} days",
                         1.0, o.lines[0].product_id if o.lines else None, f"order:{o.order_id}")
            for o in orders
        ]


async def _memory(step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
    return [memory_evidence(step, plan)]


async def _not_acted(step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
    """An alerts step that no action answered: replayed traffic, which never acts."""
    return [EvidenceItem("action", "This turn is replayed traffic, so no alert was changed.", 1.0, None,
                         f"action:{plan.conversation_id}:{plan.turn}")]


class RetrieveStage:
    name = "retrieve"
    input_topic = topics.PLANS
    output_topics = (topics.EVIDENCE, topics.ALERT_REGISTRY)
    input_type = Plan

    def __init__(self, settings: Settings, fetchers: Mapping[str, Fetch] | None = None,
                 limits: EvidenceLimits = EvidenceLimits(), *, actions: LanguageActions | None = None,
                 open_registry: OpenTable | None = None) -> None:
        self.settings = settings
        self.limits = limits
        self._fetchers = dict(fetchers) if fetchers is not None else None
        self._actions = actions
        self._open_registry = open_registry
        self._registry_table: FollowedTable | None = None
        self._store: Store | None = None
        self._index: PassageIndex | None = None
        self._embedder: Embedder | None = None

    async def start(self) -> None:
        if self._fetchers is not None:
            return
        self._store = await open_store(self.settings)
        self._embedder = Embedder(self.settings.home / "models")
        self._index = PassageIndex.open(self.settings, self._embedder)
        # Load the models and the index (and its product map) now, not on the first shopper's question.
        await self._index.search("warm up", limit=1, where=SearchFilter(product_ids=("warm-up",)))
        passages = PassageFetcher(self._index, self._store)
        stored = StoreFetcher(self._store)
        self._fetchers = {"products": passages, "reviews": passages, "qa": passages,
                          "offers": stored, "choice": stored, "price_history": stored, "cart": stored, "orders": stored,
                          "memory": _memory, "alerts": _not_acted}
        registry = AlertRegistry()
        if self._open_registry is not None:
            # Followed so that "list my alerts" and "cancel my alert" see every alert, wherever set.
            self._registry_table = self._open_registry(registry.follow)
            await self._registry_table.start()
        self._actions = LanguageActions(self._store, registry, now_ms)

    async def stop(self) -> None:
        if self._registry_table is not None:
            await self._registry_table.stop()
        if self._index is not None:
            self._index.close()
        if self._embedder is not None:
            self._embedder.close()
        if self._store is not None:
            await self._store.close()

    async def process(self, message: Plan) -> AsyncIterator[Output]:
        if self._fetchers is None:
            raise StageError("the retrieve stage was not started")
        outcome = await self._actions.act(message) if self._actions is not None else None
        if outcome is None:
            bundle = await gather_evidence(message, self._fetchers, self.limits)
        else:
            for key, rule in outcome.registry:
                yield Output(topics.ALERT_REGISTRY, key, rule)
            rest = await gather_evidence(without_action_steps(message), self._fetchers, self.limits)
            bundle = dataclasses.replace(rest, plan=message, items=[outcome_evidence(message, outcome), *rest.items],
                                         empty_reason=None)
        yield Output(topics.EVIDENCE, message.conversation_id, bundle)


def build(settings: Settings) -> RetrieveStage:
    from pipeline.runtime.table import ChangelogTable

    def open_registry(apply: Callable[[str, Any], None]) -> FollowedTable:
        return ChangelogTable(settings, topics.ALERT_REGISTRY, apply, what="retrieve's alert registry")

    return RetrieveStage(settings, open_registry=open_registry)

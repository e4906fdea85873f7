import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from pipeline.messages import EvidenceItem, Plan, RetrievalStep, UserTurn
from pipeline.errors import DependencyError, StageError
from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.index import Hit, SearchFilter, SearchResult
from pipeline.stages.retrieve import (
    EvidenceLimits,
    PassageFetcher,
    RetrieveParts,
    RetrieveStage,
    StoreFetcher,
    gather_evidence,
)
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import make_products


def plan(*steps: RetrievalStep, page: str | None = None, user: str = "u1") -> Plan:
    return Plan("c1", 3, 0, UserTurn("c1", 3, 0, user, "is it good?", page_product_id=page), "product_question", list(steps))


def items(source: str, *texts: str) -> list[EvidenceItem]:
    return [EvidenceItem(source, t, 1.0, "B1", f"{source}:{t}") for t in texts]


async def test_steps_run_concurrently_and_failures_are_reported_not_raised() -> None:
    started: list[str] = []

    async def reviews(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        started.append("reviews")
        await asyncio.sleep(0.05)
        return items("review", "great", "loud")

    async def slow(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        started.append("slow")
        await asyncio.sleep(5)
        return []

    async def broken(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        raise DependencyError("index down")

    bundle = await gather_evidence(
        plan(RetrievalStep("reviews"), RetrievalStep("offers"), RetrievalStep("qa"), RetrievalStep("nope")),
        {"reviews": reviews, "offers": slow, "qa": broken},
        EvidenceLimits(step_timeout_s=0.2),
    )
    assert [i.text for i in bundle.items] == ["great", "loud"]
    assert {(f.source, f.reason.split(":")[0]) for f in bundle.failures} == {
        ("offers", "timed out after 0.2 s"), ("qa", "DependencyError"), ("nope", "unknown source 'nope'")}
    assert bundle.empty_reason is None and bundle.turn == 3 and bundle.plan.intent == "product_question"


async def test_results_are_fused_by_rank_deduplicated_and_cut_to_budget() -> None:
    async def a(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        return items("review", "shared", "only a") + [EvidenceItem("review", "x" * 500, 1.0, "B1", "long")]

    async def b(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        return items("review", "shared", "only b")

    bundle = await gather_evidence(plan(RetrievalStep("a"), RetrievalStep("b")), {"a": a, "b": b},
                                   EvidenceLimits(budget_chars=100))
    assert [i.text for i in bundle.items][:1] == ["shared"], "found by both steps, so ranked first"
    assert [i.text for i in bundle.items].count("shared") == 1
    assert "x" * 500 not in [i.text for i in bundle.items], "over the character budget"
    assert bundle.items[0].score > bundle.items[1].score


async def test_an_empty_bundle_says_why() -> None:
    assert (await gather_evidence(plan(), {})).empty_reason == "the plan has no retrieval steps"

    async def none(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
        return []

    bundle = await gather_evidence(plan(RetrievalStep("reviews")), {"reviews": none})
    assert bundle.items == [] and bundle.empty_reason == "nothing in the catalog or store matched"


async def test_store_fetcher_states_prices_as_simulated_and_handles_unknown_ids(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        products = make_products(3)
        await load_catalog(store, products)
        fetch = StoreFetcher(store)
        pid = products[0].asin
        offers = await fetch(RetrievalStep("offers", product_ids=[pid, "B-UNKNOWN"]), plan())
        offer = await store.get_offer(pid)
        assert offer is not None and len(offers) == 1
        assert f"${offer.price_cents / 100:,.2f} (simulated price)" in offers[0].text
        history = await fetch(RetrievalStep("price_history"), plan(page=pid))
        assert history[0].product_id == pid and "lowest in 30 days" in history[0].text
        assert (await fetch(RetrievalStep("cart"), plan()))[0].text == "the cart is empty"
        assert "no orders" in (await fetch(RetrievalStep("orders"), plan()))[0].text
    finally:
        await store.close()


async def test_store_fetcher_chooses_the_cheapest_by_the_live_offers(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        products = make_products(3)
        await load_catalog(store, products)
        ids = [p.asin for p in products]
        offers = await store.get_offers(ids)
        cheapest = min(ids, key=lambda pid: (offers[pid].price_cents, pid))
        items = await StoreFetcher(store)(RetrievalStep("choice", "", ids, {"quality": "cheapest"}), plan())
        assert [i.product_id for i in items] == [cheapest] and items[0].source == "choice"
        price = offers[cheapest].price_cents / 100
        assert items[0].text.endswith(f"is the cheapest of the three at ${price:,.2f} (simulated price).")
    finally:
        await store.close()


class ProductsIndex:
    """A fake index for catalog product searches: every product allowed by the filter is a candidate,
    scored by its position in `ranking` (missing products are never found)."""

    def __init__(self, ranking: list[str]) -> None:
        self.ranking = ranking
        self.searched: list[tuple[str, ...]] = []

    async def query_vectors(self, query: str) -> tuple[list[float], SparseVector]:
        return [1.0], SparseVector((1,), (1.0,))

    async def search_vectors(self, dense: object, sparse: object, mode: str = "dense",
                             where: SearchFilter = SearchFilter(), limit: int = 10) -> SearchResult:
        allowed = [p for p in self.ranking if not where.product_ids or p in where.product_ids]
        if where.kinds == ("product",):
            self.searched.append(where.product_ids)
            hits = [Hit(f"s-{p}", 0.6 - 0.001 * n, "product", p, f"summary of {p}") for n, p in enumerate(allowed)]
        elif mode == "bm25":
            hits = [Hit(f"r-{p}", 3.0, "review", p, f"review of {p}") for p in allowed]
        else:
            hits = []
        return SearchResult(tuple(hits[:limit]), "dense")


async def test_a_budget_search_reads_every_product_in_budget_and_shows_each_once(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        products = make_products(30)
        await load_catalog(store, products)
        ids = [p.asin for p in products]
        offers = await store.get_offers(ids)
        budget = max(o.price_cents for o in offers.values())
        wanted = ids[-1]  # the store's 20 best-rated used to be all a budget search could find
        index = ProductsIndex([wanted, *ids[:-1]])
        fetch = PassageFetcher(index, store)  # type: ignore[arg-type]
        step = RetrievalStep("products", "a dog toy", [], {"max_price_cents": str(budget)}, 10)
        found = await fetch(step, plan(step))
        assert len(index.searched[0]) == 30
        assert [i.product_id for i in found][:1] == [wanted]
        assert len({i.product_id for i in found}) == len(found) == 10
        assert {i.source for i in found} == {"product"} and found[0].text == f"summary of {wanted}"
    finally:
        await store.close()


async def test_the_stage_closes_its_parts_in_reverse_and_what_a_failed_start_opened() -> None:
    closed: list[str] = []

    async def opens(stack: AsyncExitStack) -> RetrieveParts:
        stack.callback(closed.append, "store")
        stack.callback(closed.append, "index")

        async def offers(step: RetrievalStep, p: Plan) -> list[EvidenceItem]:
            return items("offer", "$19.99")
        return RetrieveParts({"offers": offers})

    stage = RetrieveStage(opens)
    with pytest.raises(StageError, match="not started"):
        [out async for out in stage.process(plan(RetrievalStep("offers")))]
    await stage.start()
    [out] = [out async for out in stage.process(plan(RetrievalStep("offers")))]
    assert out.topic == "evidence" and [i.text for i in out.value.items] == ["$19.99"]
    await stage.stop()
    assert closed == ["index", "store"]

    async def fails(stack: AsyncExitStack) -> RetrieveParts:
        stack.callback(closed.append, "opened before the failure")
        raise DependencyError("index down")

    with pytest.raises(DependencyError):
        await RetrieveStage(fails).start()
    assert closed[-1] == "opened before the failure"


async def test_store_fetcher_reads_only_what_the_source_needs(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        products = make_products(5)
        await load_catalog(store, products)
        ids = [p.asin for p in products]
        facts = await StoreFetcher(store).read(RetrievalStep("price_history", product_ids=ids), plan())
        assert facts.product_ids == tuple(ids[:3]) and set(facts.histories) == set(ids[:3])
        assert not facts.offers and facts.cart is None
        with pytest.raises(StageError, match="no source 'qa'"):
            await StoreFetcher(store).read(RetrievalStep("qa"), plan())
    finally:
        await store.close()

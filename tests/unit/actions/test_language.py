"""Actions in words, through the retrieve stage: performed once per turn, stated as evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from pipeline.actions.language import LanguageActions
from pipeline.alerts.registry import AlertRegistry
from pipeline.generation.direct import direct_answer
from pipeline.messages import AlertRule, EvidenceBundle, EvidenceItem, Plan, RetrievalStep, UserTurn
from pipeline.planner.planner import plan_turn
from pipeline.stages.retrieve import RetrieveParts, RetrieveStage
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import START_MS, make_products

PRODUCT = "B000000001"


async def planned(text: str, turn: int = 1, **fields: Any) -> Plan:
    request = UserTurn("c1", turn, 0, "u1", text, page_product_id=fields.pop("page", PRODUCT), **fields)
    return (await plan_turn(request, None)).plan


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.sqlite", clock_ms=lambda: START_MS)
    await load_catalog(opened, make_products(4))
    yield opened
    await opened.close()


async def stage_for(store: SqliteStore, registry: AlertRegistry) -> RetrieveStage:
    async def product(step: RetrievalStep, plan: Plan) -> list[EvidenceItem]:
        return [EvidenceItem("product", f"product {pid}", 1.0, pid, f"p:{pid}") for pid in step.product_ids]

    async def open_parts(stack: AsyncExitStack) -> RetrieveParts:
        fetchers = {"products": product, "offers": product}
        return RetrieveParts(fetchers, LanguageActions(store, registry, lambda: START_MS))

    stage = RetrieveStage(open_parts)
    await stage.start()
    return stage


async def run(stage: RetrieveStage, plan: Plan) -> list[tuple[str, Any]]:
    return [(out.topic, out.value) async for out in stage.process(plan)]


async def test_add_to_cart_in_words_happens_once_however_often_the_plan_is_delivered(store: SqliteStore) -> None:
    stage = await stage_for(store, AlertRegistry())
    plan = (await planned("add 2 of these to my cart"))
    for _ in range(3):
        [(topic, bundle)] = await run(stage, plan)
    assert topic == "evidence" and isinstance(bundle, EvidenceBundle)
    cart = await store.get_cart("u1")
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(PRODUCT, 2)]
    first = bundle.items[0]
    assert (first.source, first.product_id) == ("action", PRODUCT) and "Added 2" in first.text
    assert bundle.plan == plan and not bundle.failures
    answer = direct_answer(bundle, [PRODUCT])
    assert answer is not None and answer.startswith("Added 2") and f'<product id="{PRODUCT}"/>' in answer
    # A later turn with the same words is a new request, so it adds again.
    await run(stage, (await planned("add 2 of these to my cart", turn=2)))
    assert (await store.get_cart("u1")).lines[0].quantity == 4


async def test_alerts_in_words_are_registered_listed_and_cancelled(store: SqliteStore) -> None:
    registry = AlertRegistry()
    stage = await stage_for(store, registry)
    out = await run(stage, (await planned("tell me when it drops below $5")))
    assert [topic for topic, _ in out] == ["alert-registry", "evidence"]
    rule = out[0][1]
    assert isinstance(rule, AlertRule) and (rule.product_id, rule.threshold_cents, rule.user_id) == (PRODUCT, 500, "u1")
    again = await run(stage, (await planned("tell me when it drops below $5")))
    assert again[0][1].alert_id == rule.alert_id, "a redelivered turn registers the same alert"
    [(_, listed)] = await run(stage, (await planned("list my alerts", turn=2, page=None)))
    assert PRODUCT in listed.items[0].text
    out = await run(stage, (await planned("cancel the alert on this", turn=3)))
    assert out[0][1].status == "cancelled" and "Cancelled 1 alert" in out[1][1].items[0].text
    [(_, none_left)] = await run(stage, (await planned("list my alerts", turn=4, page=None)))
    assert "no price alerts" in none_left.items[0].text


async def test_an_action_without_a_product_asks_and_replays_never_act(store: SqliteStore) -> None:
    stage = await stage_for(store, AlertRegistry())
    [(_, bundle)] = await run(stage, (await planned("tell me when it drops below $5", page=None)))
    assert "Which product" in bundle.items[0].text
    [(_, replayed)] = await run(stage, (await planned("add it to my cart", client="replay", run_id="r1")))
    assert (await store.get_cart("u1")).lines == ()
    assert all(item.source != "action" for item in replayed.items)

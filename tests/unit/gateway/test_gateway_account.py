"""The "You" panel at the gateway: GET /me (owner-only reads) and `account` changes (the records the
words and buttons make), over a fake bus and an in-memory store; the forget words plan as forgetting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pipeline.catalog import Catalog, Product
from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.gateway.account_actions import FORGET_ALL, FORGET_WORDS, Click, Words, panel_change
from pipeline.gateway.account_tables import AccountTables
from pipeline.memory.planning import updated_preferences
from pipeline.memory.preferences import KEYS
from pipeline.messages import AlertRule, Frame, UserMemory, UserTurn
from pipeline.planner.planner import PlannerOptions, plan_turn
from pipeline.store.loader import load_catalog
from pipeline.store.pages import CatalogPages, StoreWithPages
from pipeline.store.simulator import SimulationConfig
from pipeline.store.sqlite import SqliteStore
from tests.unit.gateway.test_gateway_app import FakeBus, hello, receive, session

KETTLE = "B0KETTLE01"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[tuple[TestClient, FakeBus, AccountTables, SqliteStore]]:
    bus = FakeBus()
    tables = AccountTables(None)
    tables.alerts_ready = tables.memory_ready = True
    products = (Product(KETTLE, "Steel Kettle 1.7 L"),)

    async def open_shop() -> SqliteStore:
        store = await SqliteStore.open(tmp_path / "store.sqlite")
        await load_catalog(store, products, config=SimulationConfig(seed=7))
        return store

    store = asyncio.run(open_shop())
    reader = StoreWithPages(store, CatalogPages.from_catalog(Catalog(products, (), ())))
    app = create_app(Settings(session_secret="x" * 32), bus=bus, reader=reader, tables=tables)
    with TestClient(app) as client:
        yield client, bus, tables, store


def test_me_is_owner_only(panel: Any) -> None:
    client, _, _, _ = panel
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer nonsense.token"}).status_code == 401


def test_me_shows_the_cart_alerts_and_memory_of_the_token_user_only(panel: Any) -> None:
    client, _, tables, store = panel
    mine, theirs = session(client), session(client)
    # The store's own event loop is the test client's; add to the cart through the app's store.
    client.portal.call(store.add_to_cart, mine["user_id"], KETTLE, 2)
    client.portal.call(store.add_to_cart, theirs["user_id"], KETTLE, 5)
    tables.registry.apply("al-1", AlertRule("al-1", mine["user_id"], mine["conversation_id"], 0, KETTLE, "auto_buy",
                                            2000, "USD", max_price_cents=2200, created_at_ms=now_ms(),
                                            expires_at_ms=now_ms() + 60_000, fired_count=0))
    tables.remember(UserMemory(mine["conversation_id"], 0, 0, mine["user_id"], {"budget_cents": "3000", "pets": "dog"}, 1))
    body = client.get("/me", headers={"Authorization": f"Bearer {mine['token']}"}).json()
    assert body["user_id"] == mine["user_id"]
    assert body["cart"]["lines"][0] | {"unit_price_cents": 0} == {
        "product_id": KETTLE, "title": "Steel Kettle 1.7 L", "quantity": 2, "unit_price_cents": 0,
        "in_stock": body["cart"]["lines"][0]["in_stock"]}
    assert body["orders"] == []
    [alert] = body["alerts"]
    assert (alert["alert_id"], alert["spends_money"], alert["fired_count"], alert["title"]) == \
        ("al-1", True, 0, "Steel Kettle 1.7 L")
    assert body["memory"] == [
        {"key": "budget_cents", "label": "budget", "value": "3000", "shown": "$30.00"},
        {"key": "pets", "label": "pets", "value": "dog", "shown": "dog"},
    ]
    other = client.get("/me", headers={"Authorization": f"Bearer {theirs['token']}"}).json()
    assert other["alerts"] == [] and other["memory"] == [] and other["cart"]["lines"][0]["quantity"] == 5


def test_unrestored_tables_read_as_unavailable(panel: Any) -> None:
    client, _, tables, _ = panel
    tables.alerts_ready = tables.memory_ready = False
    s = session(client)
    body = client.get("/me", headers={"Authorization": f"Bearer {s['token']}"}).json()
    assert body["alerts"] is None and body["memory"] is None and body["cart"] is not None


def test_panel_changes_are_the_records_of_buttons_and_words(panel: Any) -> None:
    client, bus, _, _ = panel
    s = session(client)
    with client.websocket_connect("/ws") as ws:
        hello(ws, s["token"])
        ws.send_json({"type": "account", "action": f"remove_from_cart:{KETTLE}:quantity=1"})
        assert receive(ws) == {"type": "accepted", "turn": 0, "account": True,
                               "action": f"remove_from_cart:{KETTLE}:quantity=1"}
        ws.send_json({"type": "account", "action": "forget:budget_cents"})
        assert receive(ws) == {"type": "accepted", "turn": 1, "account": True, "text": "forget my budget"}
        ws.send_json({"type": "account", "action": f"price_alert:{KETTLE}:below=10"})  # not a panel action
        assert receive(ws)["code"] == "bad_field"
    [click] = bus.feedback
    assert (click.kind, click.value, click.turn, click.user_id) == (
        "action_clicked", f"remove_from_cart:{KETTLE}:quantity=1", 0, s["user_id"])
    [words] = bus.requests
    assert (words.text, words.turn, words.user_id, words.client) == ("forget my budget", 1, s["user_id"], "web")


def test_a_confirmed_change_is_announced_to_every_conversation_of_the_shopper(panel: Any) -> None:
    client, bus, _, _ = panel
    first = session(client)
    second = session(client, token=first["token"], new_conversation=True)
    stranger = session(client)
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b, \
            client.websocket_connect("/ws") as c:
        hello(a, first["token"])
        hello(b, second["token"])
        hello(c, stranger["token"])
        bus.frames.put(Frame(first["conversation_id"], 0, now_ms(), "text", "\nRemoved.",
                             '{"action":"remove_from_cart","ok":true}'))
        notice = {"type": "account_changed", "conversation_id": first["conversation_id"], "turn": 0}
        assert receive(a)["type"] == "text" and receive(a) == notice
        assert receive(b) == notice
        c.send_json({"type": "ping"})
        assert receive(c) == {"type": "pong"}  # the stranger got nothing before it


def test_panel_change_values() -> None:
    assert panel_change(f"add_to_cart:{KETTLE}:quantity=2") == Click(f"add_to_cart:{KETTLE}:quantity=2")
    assert panel_change("cancel_alert:al-123") == Click("cancel_alert:al-123")
    assert panel_change("forget:all") == Words("forget everything about me")
    for refused in ["forget:password", "view_cart", "auto_buy:B0X:below=3", "", "remove_from_cart:../x"]:
        assert panel_change(refused) is None, refused


@pytest.mark.parametrize("key", [*KEYS, FORGET_ALL])
async def test_the_forget_words_forget_exactly_that(key: str) -> None:
    everything = {k: "3000" if k == "budget_cents" else "x" for k in KEYS}
    turn = UserTurn("c-1", 3, 0, "u-1", FORGET_WORDS[key], client="web")
    plan = (await plan_turn(turn, None, options=PlannerOptions(mode="rules"))).plan
    assert plan.intent == "account_memory"
    left = updated_preferences(plan, everything)
    assert left == ({} if key == FORGET_ALL else {k: v for k, v in everything.items() if k != key})

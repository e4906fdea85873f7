"""The "You" panel in headless Chromium on the real gateway, broker, store and stages.

Two tabs of one shopper in two conversations (the second pressed "New chat"). The real actions stage
(a StageWorker over `feedback`) and the real plan stage in rules mode (over `requests`, writing
`user-memory`) do the changes; a scripted answerer only ends the forget turn with a text and `done`.
The cart, an auto-buy and a remembered budget are set up as their stages would (the store, an
`alert-registry` definition, a `user-memory` record). A click in the first tab's panel takes one off
the cart line: the store changes once (one click on `feedback`) and the second tab's open panel shows
it; cancelling the auto-buy and forgetting the budget show there too. axe-core runs on the open panel,
and a 360-pixel-wide screenshot of it goes to test-artifacts/you-panel-phone.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline import codec
from pipeline.admin import apply_topics
from pipeline.alerts.registry import DEFAULT_TTL_MS
from pipeline.config import Settings
from pipeline.messages import AlertRule, Feedback, UserMemory, UserTurn
from pipeline.planner.planner import PlannerOptions
from pipeline.runtime.table import ChangelogTable
from pipeline.runtime.worker import StageWorker
from pipeline.stages.actions import ActionsStage
from pipeline.stages.plan import PlanStage
from pipeline.store.sqlite import SqliteStore
from pipeline.topics import load_topics
from tests.browser.conftest import ARTIFACTS, running_gateway
from tests.browser.shop import KETTLE, open_shop
from tests.browser.test_product_view import axe
from tests.browser.test_web_chat import HOLD, TIMEOUT_S, ScriptedAnswerer, Step

pytestmark = pytest.mark.kafka
TIMEOUT_MS = TIMEOUT_S * 1000
NO_SPEECH = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@contextlib.asynccontextmanager
async def running(settings: Settings, *workers: StageWorker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    deadline = time.monotonic() + TIMEOUT_S
    while not all(w.ready for w in workers):
        for task in tasks:
            if task.done():
                task.result()  # a worker that died says why
        assert time.monotonic() < deadline, "the stage workers were not assigned their partitions"
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait(tasks)


async def produce(settings: Settings, topic: str, key: str, value: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), codec.encode(value), key=key.encode())
    finally:
        await producer.stop()


async def clicks_on_feedback(settings: Settings, user_id: str) -> list[str]:
    """Every action_clicked value of the user on `feedback`, from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.topic("feedback")
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0, 1})]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        values: list[str] = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in parts])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    feedback = codec.decode_as(record.value or b"", Feedback)
                    if feedback.user_id == user_id and feedback.kind == "action_clicked":
                        values.append(feedback.value)
        return values
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not await check():
        assert time.monotonic() < deadline, f"not within {TIMEOUT_S} s: {what}"
        await asyncio.sleep(0.1)


async def open_tab(context: Any, port: int) -> Any:
    page = await context.new_page()
    await page.add_init_script(NO_SPEECH)
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.locator("#status", has_text="connected").wait_for(timeout=TIMEOUT_MS)
    return page


async def test_the_you_panel_changes_the_store_once_and_shows_in_another_conversation(
    browser_settings: Settings, chromium: Any, axe_js: Path, tmp_path: Path
) -> None:
    settings = browser_settings
    extra = [dataclasses.replace(s, partitions=2) for s in load_topics(2)
             if s.name in {"plans", "alert-registry", "user-memory"}]
    await asyncio.to_thread(apply_topics, settings, extra)

    async def actions_store() -> SqliteStore:
        return await SqliteStore.open(tmp_path / "store.sqlite")

    actions = ActionsStage(actions_store, lambda apply: ChangelogTable(settings, "alert-registry", apply))
    plan = PlanStage(PlannerOptions(mode="rules"),
                     open_memory=lambda apply: ChangelogTable(settings, "user-memory", apply))
    answerer = ScriptedAnswerer(settings, lambda turn: [HOLD, Step("text", "Done: I have forgotten your budget."),
                                                        Step("done", payload={"frames": 1})])
    answerer.redeliver_after_release = False
    async with open_shop(tmp_path) as shop, running_gateway(settings, reader=shop.reader) as port, \
            running(settings, StageWorker(actions, settings), StageWorker(plan, settings)):
        answering = asyncio.create_task(answerer.run())
        # CSP bypassed only so the test can inject axe-core; the page itself never needs it.
        context = await chromium.new_context(viewport={"width": 1000, "height": 900}, bypass_csp=True)
        try:
            first = await open_tab(context, port)
            second = await open_tab(context, port)  # the same shopper (the token is in localStorage) ...
            await second.locator("#new-chat").click()  # ... in a conversation of its own
            await second.locator("#status", has_text="connected").wait_for(timeout=TIMEOUT_MS)
            me = await second.evaluate("JSON.parse(atob(localStorage.getItem('aisle.session').split('.')[0]"
                                       ".replace(/-/g, '+').replace(/_/g, '/')))")
            user_id, conversation_id = me["u"], me["c"]

            # What the shopper did earlier, as the stages that do it write it.
            await shop.store.add_to_cart(user_id, KETTLE, 3)
            rule = AlertRule("al-browser-1", user_id, conversation_id, 0, KETTLE, "auto_buy", 2000, "USD",
                             max_price_cents=2200, created_at_ms=now_ms(), expires_at_ms=now_ms() + DEFAULT_TTL_MS)
            await produce(settings, "alert-registry", rule.alert_id, rule)
            await produce(settings, "user-memory", user_id,
                          UserMemory(conversation_id, 0, 0, user_id, {"budget_cents": "3000", "pets": "dog"}, now_ms()))

            async def gateway_has_read_them() -> bool:
                body = await second.evaluate(
                    "fetch('/me', {headers: {Authorization: 'Bearer ' + localStorage.getItem('aisle.session')}})"
                    ".then(r => r.json())")
                return bool(body["alerts"]) and bool(body["memory"])

            await eventually(gateway_has_read_them, "the gateway read alert-registry and user-memory")

            # The second tab's panel, open: the cart, the auto-buy that spends money, the memory.
            await second.locator("#you").click()
            panel2 = second.locator("#you-panel")
            await panel2.locator(".you-qty", has_text="Quantity 3").wait_for(timeout=TIMEOUT_MS)
            await panel2.locator(".spends-money").wait_for(timeout=TIMEOUT_MS)
            await panel2.locator(".you-pref", has_text="budget: $30.00").wait_for(timeout=TIMEOUT_MS)

            # A phone: the open panel fits 360 pixels, passes axe, and is photographed.
            await second.set_viewport_size({"width": 360, "height": 740})
            assert await second.evaluate("document.querySelector('#you-panel').scrollWidth") <= 360
            assert await axe(second, axe_js, "you-panel-phone") == []
            ARTIFACTS.mkdir(exist_ok=True)
            await second.screenshot(path=str(ARTIFACTS / "you-panel-phone.png"))

            # The first tab takes one kettle off the cart: one click on `feedback`, one change in the store.
            await first.locator("#you").click()
            panel1 = first.locator("#you-panel")
            await panel1.locator(".you-qty", has_text="Quantity 3").wait_for(timeout=TIMEOUT_MS)
            assert await axe(first, axe_js, "you-panel") == []
            await panel1.get_by_role("button", name="One fewer Steel Kettle 1.7 L").click()
            await panel2.locator(".you-qty", has_text="Quantity 2").wait_for(timeout=TIMEOUT_MS)  # the other conversation
            await panel1.locator(".you-qty", has_text="Quantity 2").wait_for(timeout=TIMEOUT_MS)
            cart = await shop.store.get_cart(user_id)
            assert [(line.product_id, line.quantity) for line in cart.lines] == [(KETTLE, 2)]
            assert await clicks_on_feedback(settings, user_id) == [f"remove_from_cart:{KETTLE}:quantity=1"]
            await first.locator(".user.account", has_text="One fewer").wait_for(timeout=TIMEOUT_MS)
            assert "Removed" in await first.locator("section.turn").last.inner_text()

            # Cancelling the auto-buy (actions stage, alert-registry) shows in the other conversation.
            await panel1.get_by_role("button", name="Cancel the auto-buy on Steel Kettle 1.7 L").click()
            await panel2.locator(".spends-money").wait_for(state="detached", timeout=TIMEOUT_MS)

            # Forgetting the budget is the shopper's words: the plan stage writes user-memory.
            await panel1.get_by_role("button", name="Delete your budget").click()
            turn: UserTurn = await asyncio.wait_for(answerer.requests.get(), TIMEOUT_S)
            assert (turn.text, turn.user_id) == ("forget my budget", user_id)
            answerer.release.set()
            await panel2.locator(".you-pref", has_text="budget").wait_for(state="detached", timeout=TIMEOUT_MS)
            await panel2.locator(".you-pref", has_text="pets: dog").wait_for(timeout=TIMEOUT_MS)

        finally:
            answering.cancel()
            await asyncio.wait([answering])
            await context.close()


async def test_a_turn_without_frames_times_out_and_the_input_comes_back(browser_settings: Settings, chromium: Any) -> None:
    settings = dataclasses.replace(browser_settings, gateway_turn_timeout_s=1.0)
    async with running_gateway(settings) as port:  # nothing answers
        context = await chromium.new_context(viewport={"width": 800, "height": 600})
        try:
            page = await open_tab(context, port)
            await page.fill("#question", "Is anyone there?")
            await page.press("#question", "Enter")
            assert await page.locator("#send").is_disabled()
            alert = page.get_by_role("alert")
            await alert.wait_for(timeout=TIMEOUT_MS)
            assert "No answer for 1 second:" in await alert.inner_text()
            assert await page.locator("#send").is_enabled()
            assert await page.locator("section.turn.pending").count() == 0
        finally:
            await context.close()

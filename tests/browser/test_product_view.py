"""The shopper's side of the web chat in headless Chromium, on the real gateway, broker and a real store.

A scripted answerer answers with every frame kind, its card, carousel, comparison, review summary and
price chart built by hydrate's resolvers over a SqliteStore (tests/browser/shop.py). The test drives
the page with the keyboard alone, runs axe-core on it (the answer, the product view, a phone width) and
fails on a serious or critical violation, opens the product view from a card, a carousel item, a
comparison column and a link and checks it shows the store's price (and a changed price on reopening),
asks about the product in page mode, and saves screenshots to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.messages import UserTurn
from tests.browser.conftest import ARTIFACTS, running_gateway
from tests.browser.shop import KETTLE, KETTLE_PRICE_CENTS, answer_payloads, open_shop, set_price
from tests.browser.test_web_chat import TIMEOUT_S, ScriptedAnswerer, Step, next_request

pytestmark = pytest.mark.kafka
TIMEOUT_MS = TIMEOUT_S * 1000
QUESTION = "Which kettle boils fastest?"
NO_SPEECH = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"
"""An init script: the page as a browser without the Web Speech API sees it."""
BLOCKING = ("serious", "critical")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
"""The rules run: WCAG 2.0-2.2 A and AA, and Deque's best practices."""


def every_kind(frames: dict[str, dict[str, Any]]) -> Callable[[UserTurn], list[Step | str]]:
    """An answer with every frame kind the web chat shows."""
    def script(turn: UserTurn) -> list[Step | str]:
        return [
            Step("text", "The "),
            Step("text", "Steel Kettle", {"product_id": KETTLE}),
            Step("text", " boils a litre in three minutes. "),
            Step("card", payload=frames["card"]),
            Step("text", "Here are two to compare."),
            Step("carousel", payload=frames["carousel"]),
            Step("compare", payload=frames["compare"]),
            Step("reviews", payload=frames["reviews"]),
            Step("price_history", payload=frames["price_history"]),
            Step("suggestions", payload={"items": ["Is it dishwasher safe?", "Any cheaper kettles?"]}),
            Step("action", payload={"type": "add_to_cart", "product_id": KETTLE, "params": {"quantity": 1}}),
            Step("action", payload={"type": "price_alert", "product_id": KETTLE, "params": {"below_cents": 2500}}),
            Step("alert", "Price alert: Steel Kettle 1.7 L is now $24.99.", {"alert_id": "al-1", "firing": 0}),
            Step("error", "Part of this answer could not be checked against the store.",
                 {"reason": "timeout", "stage": "hydrate", "retriable": True}),
            Step("done", payload={"frames": 14}),
        ]
    return script


@contextlib.asynccontextmanager
async def answering(settings: Settings, script: Callable[[UserTurn], list[Step | str]]) -> AsyncIterator[ScriptedAnswerer]:
    answerer = ScriptedAnswerer(settings, script)
    answerer.redeliver_after_release = False
    task = asyncio.create_task(answerer.run())
    try:
        yield answerer
    finally:
        task.cancel()
        await asyncio.wait([task])


async def axe(page: Any, axe_js: Path, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; write what it found to test-artifacts/axe-<name>.json and
    return the serious and critical violations."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(axe_js))
    result = await page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps({
        "axe": result["testEngine"]["version"], "tags": AXE_TAGS, "rules_passed": len(result["passes"]),
        "rules_incomplete": {v["id"]: [n["target"] for n in v["nodes"]][:5] for v in result["incomplete"]}, "violations": violations}, indent=1))
    return [v for v in violations if v["impact"] in BLOCKING]


async def focused(page: Any) -> str:
    """What has the keyboard focus: '#id', or 'tag.class', or the element's text."""
    return str(await page.evaluate(
        "(() => { const e = document.activeElement; if (!e) return ''; if (e.id) return '#' + e.id;"
        " return e.tagName.toLowerCase() + '.' + e.className + ':' + e.textContent.trim().slice(0, 30); })()"))


def money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


async def test_product_view_keyboard_and_accessibility(
    browser_settings: Settings, chromium: Any, axe_js: Path, tmp_path: Path
) -> None:
    async with open_shop(tmp_path) as shop:
        frames = await answer_payloads(shop.reader)
        assert frames["card"]["price_cents"] == KETTLE_PRICE_CENTS  # the answer's card is the store's
        async with running_gateway(browser_settings, reader=shop.reader) as port, \
                answering(browser_settings, every_kind(frames)) as answerer:
            context = await chromium.new_context(viewport={"width": 1000, "height": 900}, bypass_csp=True)
            page = await context.new_page()
            await page.add_init_script(NO_SPEECH)
            page_errors: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_function("document.getElementById('status').textContent === 'connected'",
                                         timeout=TIMEOUT_MS)

            # Keyboard only: the tab order reaches the question box, Enter sends it.
            order = []
            for _ in range(5):
                await page.keyboard.press("Tab")
                order.append(await focused(page))
            assert order == ["a.skip:Skip to the question box", "#page-product", "#new-chat", "#you", "#question"]
            assert not await page.locator("#mic").is_visible()  # no Web Speech API here
            await page.keyboard.type(QUESTION)
            await page.keyboard.press("Enter")
            request = await next_request(answerer)
            assert (request.text, request.turn) == (QUESTION, 0)
            turn = page.locator("section.turn").first
            await turn.locator(".thumbs").wait_for(timeout=TIMEOUT_MS)

            # Every frame kind is on the page; the live region got the answer's sentences.
            for selector in [".answer .product-link", ".card", ".compare", ".reviews", ".chart polyline",
                             ".chips .chip", ".actions .action", ".alert", ".error"]:
                assert await turn.locator(selector).count() >= 1, selector
            announced = await page.locator("#announcer").inner_text()
            assert "The Steel Kettle boils a litre in three minutes." in announced
            assert "Answer finished." in announced
            assert await axe(page, axe_js, "answer") == []

            # The product view from a card's title, by keyboard: the store's price, stock, chart,
            # details, reviews and Q&A; Escape closes it and gives the focus back.
            dialog = page.locator("#product-view")
            title = turn.locator(".cards").first.locator(".card .title").first
            await title.focus()
            await page.keyboard.press("Enter")
            await dialog.locator(".pv-offer .price").wait_for(timeout=TIMEOUT_MS)
            assert await dialog.locator("#pv-title").inner_text() == "Steel Kettle 1.7 L"
            offer = await dialog.locator(".pv-offer").inner_text()
            assert money(KETTLE_PRICE_CENTS) in offer and "In stock" in offer
            assert await dialog.locator(".chart polyline").count() == 1
            details = await dialog.locator("table.attrs").inner_text()
            assert "Capacity" in details and "1.7 liters" in details and "Binding" not in details
            assert "What customers say" in await dialog.locator(".reviews").inner_text()
            assert "Q: is the lid dishwasher safe?" in await dialog.locator("dl.qa").inner_text()
            assert await axe(page, axe_js, "product-view") == []
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "product-view.png"))
            await page.keyboard.press("Escape")
            await dialog.wait_for(state="hidden", timeout=TIMEOUT_MS)
            assert await page.evaluate("document.activeElement.classList.contains('title')")

            # A carousel item, a comparison column and a link open their products' views too.
            for opener, product_title in [
                (turn.locator(".cards").nth(1).locator(".card .title").nth(1), "Burr Coffee Grinder"),
                (turn.locator("table.compare button.column").first, "Steel Kettle 1.7 L"),
                (turn.locator(".answer .product-link").first, "Steel Kettle 1.7 L"),
            ]:
                await opener.click()
                await dialog.locator(".pv-offer").wait_for(timeout=TIMEOUT_MS)
                assert await dialog.locator("#pv-title").inner_text() == product_title
                await dialog.locator(".pv-close").click()
                await dialog.wait_for(state="hidden", timeout=TIMEOUT_MS)

            # The price is live: a change in the store shows on the next opening.
            await set_price(shop.store, KETTLE, KETTLE_PRICE_CENTS - 250)
            await title.click()
            await dialog.locator(".pv-offer", has_text=money(KETTLE_PRICE_CENTS - 250)).wait_for(timeout=TIMEOUT_MS)

            # "Ask about this product": product-page mode, its starter questions, and an ask on the page.
            await dialog.locator(".pv-ask").click()
            await dialog.wait_for(state="hidden", timeout=TIMEOUT_MS)
            assert await page.input_value("#page-product") == KETTLE
            assert await focused(page) == "#question"
            await page.locator(".starters .chip").first.wait_for(timeout=TIMEOUT_MS)
            await page.keyboard.type("Is it loud?")
            await page.keyboard.press("Enter")
            on_page = await next_request(answerer)
            assert (on_page.text, on_page.page_product_id, on_page.turn) == ("Is it loud?", KETTLE, 1)
            await page.locator("section.turn").nth(1).locator(".thumbs").wait_for(timeout=TIMEOUT_MS)

            # A 360-pixel phone: nothing wider than the screen, no violation, and a screenshot.
            await page.set_viewport_size({"width": 360, "height": 740})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
            assert await page.evaluate("document.getElementById('log').scrollWidth") <= 360
            assert await axe(page, axe_js, "phone") == []
            await page.locator("section.turn").first.locator(".card .title").first.scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / "web-chat-phone.png"))
            await page.locator("section.turn").first.locator(".card .title").first.click()
            await dialog.locator(".pv-offer .price").wait_for(timeout=TIMEOUT_MS)
            assert await page.evaluate("document.querySelector('#product-view').scrollWidth") <= 360
            await page.screenshot(path=str(ARTIFACTS / "product-view-phone.png"))
            assert page_errors == []
            await context.close()

"""Voice input in headless Chromium: the microphone button is hidden without the Web Speech API, and
with it (a scripted SpeechRecognition, as no recognition service is reachable here) fills the question
box and shows what it heard, and nothing is sent until the shopper sends it; a browser that has the
API but no service behind it ("network") hides the button and says why."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.messages import UserTurn
from tests.browser.conftest import running_gateway
from tests.browser.test_web_chat import TIMEOUT_S, ScriptedAnswerer, Step, next_request

pytestmark = pytest.mark.kafka
TIMEOUT_MS = TIMEOUT_S * 1000
HEARD = "steel kettle under 30 dollars"
NO_SPEECH = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"
# A recognizer that hears HEARD in two interim steps, as Chrome's does, then ends.
SPEECH = NO_SPEECH + """
window.__recognitions = 0;
window.SpeechRecognition = class {
  start() {
    window.__recognitions += 1;
    const say = (text) => this.onresult({ results: [[{ transcript: text }]] });
    setTimeout(() => { say("steel kettle"); setTimeout(() => { say("%s"); this.onend(); }, 50); }, 50);
  }
  stop() { this.onend(); }
};
""" % HEARD
# The API is there but no service answers it: Chromium without Google's keys, for one.
NO_SERVICE = NO_SPEECH + """
window.webkitSpeechRecognition = class {
  start() { setTimeout(() => { this.onerror({ error: "network" }); this.onend(); }, 20); }
  stop() {}
};
"""


@contextlib.asynccontextmanager
async def answering(settings: Settings) -> AsyncIterator[ScriptedAnswerer]:
    def script(turn: UserTurn) -> list[Step | str]:
        return [Step("text", "Two kettles are under $30."), Step("done", payload={"frames": 1})]

    answerer = ScriptedAnswerer(settings, script)
    task = asyncio.create_task(answerer.run())
    try:
        yield answerer
    finally:
        task.cancel()
        await asyncio.wait([task])


async def open_page(browser: Any, port: int, init_script: str) -> Any:
    """The page under its own CSP (no evaluated script from the test waits on it)."""
    context = await browser.new_context(viewport={"width": 800, "height": 600})
    page = await context.new_page()
    await page.add_init_script(init_script)
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.locator("#status", has_text="connected").wait_for(timeout=TIMEOUT_MS)
    return page


async def test_voice_fills_the_box_shows_what_it_heard_and_hides_without_the_api(
    browser_settings: Settings, chromium: Any
) -> None:
    async with running_gateway(browser_settings) as port, answering(browser_settings) as answerer:
        without = await open_page(chromium, port, NO_SPEECH)
        assert await without.locator("#mic").is_hidden()

        page = await open_page(chromium, port, SPEECH)
        mic = page.locator("#mic")
        assert await mic.is_visible() and await mic.get_attribute("aria-label") == "Ask by voice"
        await mic.focus()
        await page.keyboard.press("Enter")  # the keyboard reaches it like any button
        await page.locator("#heard", has_text="Press Enter to send it").wait_for(timeout=TIMEOUT_MS)
        assert await page.input_value("#question") == HEARD
        assert HEARD in await page.locator("#heard").inner_text()
        assert await mic.get_attribute("aria-pressed") == "false"
        assert await page.locator("#question").evaluate("box => box === document.activeElement")  # ready to send
        assert await page.locator(".user").count() == 0  # shown, not sent
        await page.keyboard.press("Enter")
        request = await next_request(answerer)
        assert (request.text, request.turn) == (HEARD, 0)  # the first ask of the conversation is it
        await page.locator(".turn .thumbs").wait_for(timeout=TIMEOUT_MS)

        broken = await open_page(chromium, port, NO_SERVICE)
        await broken.locator("#mic").click()
        await broken.locator("#heard", has_text="not available in this browser").wait_for(timeout=TIMEOUT_MS)
        assert await broken.locator("#mic").is_hidden()
        for opened in (without, page, broken):
            await opened.context.close()

"""The web chat in headless Chromium: a real gateway on the real broker, a real browser.

The LLM pipeline is not the subject here: a scripted answerer reads each UserTurn from `requests` and
produces a fixed stream of frames to `frames` (text chunks, a card, reviews with hostile strings,
follow-ups, done). The test asks, watches the text stream in, drops the socket mid-answer, checks the
answer ends up complete exactly once, checks hostile review text renders as text, clicks a follow-up
chip (a new UserTurn must reach `requests`), and saves a screenshot to test-artifacts/web-chat.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline import codec
from pipeline.config import Settings
from pipeline.messages import Frame, UserTurn
from tests.browser.conftest import ARTIFACTS, running_gateway

pytestmark = pytest.mark.kafka
TIMEOUT_S = 20.0
CHUNK_DELAY_S = 0.08
"""Between frames of a scripted answer: slow enough to watch it stream, fast enough for a test."""

QUESTION = "Which kettle boils fastest?"
FOLLOW_UP = "Is it dishwasher safe?"
FIRST_HALF = ["The Steel Kettle ", "boils a litre ", "in about ", "three minutes. "]
SECOND_HALF = ["It has ", "auto shut-off ", "and a ", "steel lid."]
HOSTILE_PRO = '<script>window.__pwned = 1</script> Boils fast.'
HOSTILE_CON = '<img src=x onerror="window.__pwned = 2"> The lid sticks.'
CARD = {
    "product_id": "B0KETTLE01", "title": "Steel Kettle 1.7 L", "image": None, "price_cents": 3499,
    "currency": "USD", "availability": "in_stock", "delivery_days": 2,
    "rating": {"average": 4.4, "count": 812, "distribution": [20, 30, 60, 200, 502], "simulated": True},
    "deal": {"list_price_cents": 4999, "discount_pct": 30}, "simulated": True, "live": True,
}
HOLD = "hold"
"""A script step: wait for `ScriptedAnswerer.release` before the rest."""
# Records every WebSocket the page opens, so the test can drop the live one like a flaky network would.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.__sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""


@dataclass(frozen=True)
class Step:
    type: str
    text: str = ""
    payload: dict[str, Any] | None = None


def first_answer() -> list[Step | str]:
    steps: list[Step | str] = [Step("text", t) for t in FIRST_HALF]
    steps += [Step("card", payload=CARD), HOLD]
    steps += [Step("text", t) for t in SECOND_HALF]
    steps += [
        Step("reviews", payload={"product_id": "B0KETTLE01", "pros": [HOSTILE_PRO], "cons": [HOSTILE_CON],
                                 "sentiment": {"positive": 1, "negative": 1, "neutral": 0}, "sentences": 2,
                                 "rating": CARD["rating"], "method": "lexicon-v1"}),
        Step("suggestions", payload={"items": [FOLLOW_UP, "Any cheaper kettles?"]}),
        Step("done", payload={"chars": 120, "frames": 11}),
    ]
    return steps


def follow_up_answer() -> list[Step | str]:
    return [Step("text", "Yes: the lid and the filter are."), Step("done", payload={"frames": 1})]


class ScriptedAnswerer:
    """Answers every UserTurn on `requests` with a scripted frame stream on `frames`."""

    def __init__(self, settings: Settings, script: Callable[[UserTurn], list[Step | str]]) -> None:
        self.settings = settings
        self.script = script
        self.requests: asyncio.Queue[UserTurn] = asyncio.Queue()
        self.release = asyncio.Event()
        self.redeliver_after_release = True
        """Send one frame twice after the hold, as an at-least-once bus may."""

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, fetch_max_wait_ms=20)
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, linger_ms=0)
        await consumer.start()
        await producer.start()
        answers: list[asyncio.Task[None]] = []
        try:
            partitions = await producer.partitions_for(s.topic("requests"))
            assigned = [TopicPartition(s.topic("requests"), p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        turn = codec.decode_as(record.value or b"", UserTurn)
                        self.requests.put_nowait(turn)
                        answers.append(asyncio.create_task(self._answer(producer, turn)))
        finally:
            for task in answers:
                task.cancel()
            await asyncio.gather(*answers, return_exceptions=True)
            await consumer.stop()
            await producer.stop()

    async def _answer(self, producer: AIOKafkaProducer, turn: UserTurn) -> None:
        seq = 0
        sent: list[Frame] = []
        for step in self.script(turn):
            if step == HOLD:
                await self.release.wait()
                continue
            assert isinstance(step, Step)
            await asyncio.sleep(CHUNK_DELAY_S)
            frame = Frame(turn.conversation_id, turn.turn, seq, step.type, text=step.text,
                          payload=json.dumps(step.payload or {}, sort_keys=True, separators=(",", ":")))
            await self._send(producer, frame)
            sent.append(frame)
            seq += 1
            if self.release.is_set() and self.redeliver_after_release and step.type == "text" and len(sent) > 6:
                self.redeliver_after_release = False
                await self._send(producer, sent[-2])

    async def _send(self, producer: AIOKafkaProducer, frame: Frame) -> None:
        await producer.send_and_wait(self.settings.topic("frames"), codec.encode(frame),
                                     key=frame.conversation_id.encode())


@contextlib.asynccontextmanager
async def answering(settings: Settings) -> AsyncIterator[ScriptedAnswerer]:
    answerer = ScriptedAnswerer(settings, lambda turn: first_answer() if turn.turn == 0 else follow_up_answer())
    task = asyncio.create_task(answerer.run())
    try:
        yield answerer
    finally:
        task.cancel()
        await asyncio.wait([task])


async def next_request(answerer: ScriptedAnswerer) -> UserTurn:
    return await asyncio.wait_for(answerer.requests.get(), TIMEOUT_S)


async def test_web_chat_streams_survives_a_drop_escapes_reviews_and_asks_follow_ups(
    browser_settings: Settings, chromium: Any
) -> None:
    timeout_ms = TIMEOUT_S * 1000
    async with running_gateway(browser_settings) as port, answering(browser_settings) as answerer:
        # CSP bypassed: the test's own probes are evaluated script, and the escaping must hold on its
        # own (the CSP is the second line of defence, docs/gateway.md), so a hostile string that got into
        # the DOM as markup would run here and fail the test.
        context = await chromium.new_context(viewport={"width": 1000, "height": 1400}, bypass_csp=True)
        page = await context.new_page()
        await page.add_init_script(TRACK_SOCKETS)
        page_errors: list[str] = []
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.wait_for_function("document.getElementById('status').textContent === 'connected'",
                                     timeout=timeout_ms)

        # Ask: the question reaches `requests` as turn 0.
        await page.fill("#question", QUESTION)
        await page.press("#question", "Enter")
        request = await next_request(answerer)
        assert (request.text, request.turn) == (QUESTION, 0)

        # Text streams in, and the hydrated card appears; the rest is held back by the answerer.
        turn = page.locator("section.turn").first
        await turn.locator(".card .title").wait_for(timeout=timeout_ms)
        assert await turn.locator(".card .title").text_content() == CARD["title"]
        card_text = await turn.locator(".card").inner_text()
        assert "$34.99" in card_text and "simulated price" in card_text and "In stock" in card_text
        answers = await turn.locator(".answer").all_text_contents()
        assert answers == ["".join(FIRST_HALF)]  # streamed: the first half, nothing of the second yet

        # Drop the socket mid-answer; the rest is produced while the page reconnects (backoff 250 ms).
        await page.evaluate("window.__sockets[window.__sockets.length - 1].close()")
        answerer.release.set()
        await turn.locator(".thumbs").wait_for(timeout=timeout_ms)  # the turn's done frame arrived

        # Complete exactly once: every chunk once, in order, one card, one review box, one chip row.
        answers = await turn.locator(".answer").all_text_contents()
        assert answers == ["".join(FIRST_HALF), "".join(SECOND_HALF)]
        assert await turn.locator(".card").count() == 1
        assert await turn.locator(".reviews").count() == 1
        assert await turn.locator(".chips").count() == 1
        assert await page.evaluate("window.__sockets.length") >= 2  # it did reconnect

        # Hostile review text is shown as text and never runs.
        assert await turn.locator(".reviews ul.pros li").all_text_contents() == [HOSTILE_PRO]
        assert await turn.locator(".reviews ul.cons li").all_text_contents() == [HOSTILE_CON]
        assert await page.locator("#log script, #log img").count() == 0
        assert await page.evaluate("window.__pwned === undefined")

        # A follow-up chip asks its question: a new UserTurn (turn 1) on `requests`.
        await turn.locator(".chip", has_text=FOLLOW_UP).click()
        follow_up = await next_request(answerer)
        assert (follow_up.text, follow_up.turn, follow_up.conversation_id) == (FOLLOW_UP, 1, request.conversation_id)
        second = page.locator("section.turn").nth(1)
        await second.locator(".thumbs").wait_for(timeout=timeout_ms)
        assert await second.locator(".answer").all_text_contents() == ["Yes: the lid and the filter are."]

        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "web-chat.png"), full_page=True)
        assert page_errors == []
        await context.close()

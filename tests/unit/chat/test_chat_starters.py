"""`aisle chat` on a product page: the starter questions from the real gateway app (uvicorn on
localhost, a fake store and catalog) are printed numbered, and a typed 1, 2 or 3 asks one."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date

import pytest
import uvicorn
from rich.console import Console

from pipeline.catalog import Attribute, Product, QAPair
from pipeline.chat.app import show_starters
from pipeline.chat.client import ChatLink
from pipeline.chat.render import Suggestion, render_starters, starters
from pipeline.chat.state import Ask, Help, Transcript, parse_line
from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.messages import Feedback, Frame, UserTurn
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct

KETTLE = "B07KETTLE1"
QUESTIONS = ["What is its weight?", "Is it dishwasher safe?", "Has it been cheaper before?"]


class IdleBus:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        pass

    async def send_feedback(self, feedback: Feedback) -> None:
        pass

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        await asyncio.Event().wait()


class KettleReader:
    """One kettle: a weight, one community question, a price history, no reviews."""

    page = Product(KETTLE, "Steel Kettle [red]1.7 L", attributes=(Attribute("item_weight", "1.2 kilograms"),),
                   community_qa=(QAPair("is it dishwasher safe?", "the lid is."),))

    async def get_product(self, product_id: str) -> StoreProduct | None:
        return StoreProduct(KETTLE, self.page.title, "kitchen", "inferred", "page") if product_id == KETTLE else None

    async def get_offer(self, product_id: str) -> Offer | None:
        return None

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return None

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        return [PricePoint(date(2026, 1, 1), 3000, True, True)] if product_id == KETTLE else []

    async def get_page(self, product_id: str) -> Product | None:
        return self.page if product_id == KETTLE else None

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        return ()


@pytest.fixture
async def link() -> AsyncIterator[ChatLink]:
    app = create_app(Settings(session_secret="chat-starters-test-secret-012345"), bus=IdleBus(), reader=KettleReader())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield ChatLink(f"ws://127.0.0.1:{port}/ws", Transcript())
    finally:
        server.should_exit = True
        await task


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, color_system=None), out


async def test_a_product_page_prints_its_starters_and_a_number_asks_one(link: ChatLink) -> None:
    screen, out = console()
    offered = await show_starters(link, KETTLE, screen)
    assert [s.text for s in offered] == QUESTIONS
    printed = out.getvalue()
    assert "Ask about Steel Kettle [red]1.7 L (type the number):" in printed  # the title printed as itself
    assert "  1. What is its weight?\n  2. Is it dishwasher safe?\n  3. Has it been cheaper before?" in printed
    assert parse_line("2", offered, []) == Ask("Is it dishwasher safe?")
    assert parse_line(" 3 ", offered, []) == Ask("Has it been cheaper before?")
    assert parse_line("4", offered, []) == Help("no follow-up numbered 4")


async def test_an_unknown_product_says_so_and_offers_nothing(link: ChatLink) -> None:
    screen, out = console()
    assert await show_starters(link, "B0NOTHERE1", screen) == []
    assert "B0NOTHERE1 is not a product the store knows" in out.getvalue()
    assert await link.starters("bad id!") == (400, {"error": "product id must be 1-64 letters, digits, '-' or '_'"})


async def test_an_unreachable_gateway_prints_no_starters() -> None:
    screen, out = console()
    assert await show_starters(ChatLink("ws://127.0.0.1:9/ws", Transcript()), KETTLE, screen) == []
    assert "no starter questions for this product" in out.getvalue()


def test_the_answer_is_read_defensively() -> None:
    assert starters({"questions": ["a?", 7, None, " ", "b?"]}) == [Suggestion(1, "a?"), Suggestion(2, "b?")]
    assert starters({"questions": "not a list"}) == []
    assert starters({}) == []
    assert render_starters({"product_id": KETTLE}, []) is None

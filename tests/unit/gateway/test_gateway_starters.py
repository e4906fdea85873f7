"""GET /products/{id}/starters over a fake reader: the answer, bad and unknown ids, a failing store,
and the default reader opened from the settings on first use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipeline.catalog import Attribute, Product, QAPair
from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.gateway import create_app
from pipeline.markup.resolve import CatalogReader
from pipeline.messages import Alert, Feedback, Frame, UserTurn
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct

KETTLE = "B07KETTLE1"
EVIL = '<img src=x onerror="alert(1)">'


class IdleBus:
    """A bus with no traffic: the endpoint never touches it."""

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

    async def run_alerts(self, on_alert: Callable[[Alert], None], on_bad_alert: Callable[[Exception], None]) -> None:
        await asyncio.Event().wait()


class FakeReader:
    """One kettle with a page, reviews and a price history; `fail` makes every store read raise."""

    def __init__(self) -> None:
        self.fail = False
        self.reads: list[str] = []
        self.page = Product(KETTLE, f"Steel Kettle {EVIL}", attributes=(Attribute("item_weight", "1.2 kilograms"),),
                            community_qa=(QAPair("is it dishwasher safe?", "the lid is."),))

    async def get_product(self, product_id: str) -> StoreProduct | None:
        self.reads.append(product_id)
        if self.fail:
            raise DependencyError("store down")
        return StoreProduct(KETTLE, self.page.title, "kitchen", "inferred", "page") if product_id == KETTLE else None

    async def get_offer(self, product_id: str) -> Offer | None:
        return None

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return None

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        return [PricePoint(date(2026, 1, d), 3000 + d, True, True) for d in range(1, 4)] if product_id == KETTLE else []

    async def get_page(self, product_id: str) -> Product | None:
        return self.page if product_id == KETTLE else None

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        return ["the whistle is loud.", "loud but fine.", "works."] if product_id == KETTLE else ()


@pytest.fixture
def reader() -> FakeReader:
    return FakeReader()


@pytest.fixture
def client(reader: FakeReader) -> Iterator[TestClient]:
    fake: CatalogReader = reader
    with TestClient(create_app(Settings(session_secret="x" * 32), bus=IdleBus(), reader=fake)) as client:
        yield client


def test_a_known_product_gets_its_title_and_three_questions(client: TestClient) -> None:
    response = client.get(f"/products/{KETTLE}/starters")
    assert response.status_code == 200
    assert response.json() == {
        "product_id": KETTLE,
        "title": f"Steel Kettle {EVIL}",  # JSON as is: the clients show it as text
        "questions": ["What is its weight?", "What do customers say about the noise?", "Is it dishwasher safe?"],
    }
    assert response.headers["cache-control"] == "max-age=300"


def test_an_unknown_product_is_404_and_a_bad_id_400_without_a_read(client: TestClient, reader: FakeReader) -> None:
    response = client.get("/products/B0NOTHERE1/starters")
    assert (response.status_code, response.json()) == (404, {"error": "unknown product", "product_id": "B0NOTHERE1"})
    for bad in ["B07%20KETTLE", "a" * 65, "B07;drop", "%3Cscript%3E"]:
        response = client.get(f"/products/{bad}/starters")
        assert response.status_code == 400, bad
        assert "product id" in response.json()["error"]
    assert reader.reads == ["B0NOTHERE1"]


def test_a_failing_store_is_503(client: TestClient, reader: FakeReader) -> None:
    reader.fail = True
    response = client.get(f"/products/{KETTLE}/starters")
    assert (response.status_code, response.json()) == (503, {"error": "store unavailable"})


def test_the_default_reader_opens_on_first_use_and_a_missing_catalog_is_503(tmp_path: Path) -> None:
    settings = Settings(session_secret="x" * 32, home=tmp_path / "home", shared_data=tmp_path / "no-data")
    (tmp_path / "home").mkdir()
    with TestClient(create_app(settings, bus=IdleBus())) as client:
        assert client.get("/healthz").status_code == 200
        assert not settings.store_path.exists()  # nothing is opened until a product page asks
        response = client.get(f"/products/{KETTLE}/starters")
        assert (response.status_code, response.json()) == (503, {"error": "catalog unavailable"})


def test_the_default_reader_reads_the_store_and_catalog_of_the_settings(tmp_path: Path) -> None:
    data = tmp_path / "data" / "catalog"
    data.mkdir(parents=True)
    (data / "products.jsonl").write_text("")
    (data / "review_sets.jsonl").write_text("")
    (tmp_path / "home").mkdir()
    settings = Settings(session_secret="x" * 32, home=tmp_path / "home", shared_data=tmp_path / "data")
    with TestClient(create_app(settings, bus=IdleBus())) as client:
        response = client.get(f"/products/{KETTLE}/starters")  # an empty store knows no product
        assert (response.status_code, response.json()["error"]) == (404, "unknown product")
        assert settings.store_path.exists()

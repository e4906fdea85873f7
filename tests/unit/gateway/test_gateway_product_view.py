"""GET /products/{id}: the product view from the store and catalog, the same payloads as an answer's
frames; bad, unknown and failing reads; and the pure builder's choices (labels, hidden attributes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from pipeline.catalog import Attribute, Product, QAPair
from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.gateway._product_view import MAX_QA, attribute_label, product_view
from pipeline.markup.payloads import CardPayload
from pipeline.markup.resolve import CatalogReader
from pipeline.store.records import Offer, RatingSummary
from tests.unit.gateway.test_gateway_starters import EVIL, KETTLE, FakeReader, IdleBus


class PricedReader(FakeReader):
    """The starters' kettle with an offer on sale and a rating."""

    def __init__(self) -> None:
        super().__init__()
        self.price_cents = 3499

    async def get_offer(self, product_id: str) -> Offer | None:
        if product_id != KETTLE:
            return None
        return Offer(KETTLE, self.price_cents, 4999, "USD", True, 2, simulated=True)

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        if product_id != KETTLE:
            return None
        return RatingSummary.from_distribution(KETTLE, (1, 0, 1, 3, 5), simulated=True)


@pytest.fixture
def reader() -> PricedReader:
    return PricedReader()


@pytest.fixture
def client(reader: PricedReader) -> Iterator[TestClient]:
    fake: CatalogReader = reader
    with TestClient(create_app(Settings(session_secret="x" * 32), bus=IdleBus(), reader=fake)) as client:
        yield client


def test_the_view_has_the_store_price_stock_chart_attributes_reviews_and_qa(client: TestClient) -> None:
    response = client.get(f"/products/{KETTLE}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"  # a live price: never reused
    view = response.json()
    assert (view["product_id"], view["title"]) == (KETTLE, f"Steel Kettle {EVIL}")
    card = view["card"]
    assert (card["price_cents"], card["currency"], card["availability"], card["delivery_days"]) == (3499, "USD", "in_stock", 2)
    assert card["deal"] == {"list_price_cents": 4999, "discount_pct": 30}
    assert card["simulated"] and card["live"]
    assert card["rating"]["count"] == 10
    assert [p["price_cents"] for p in view["price_history"]["series"]] == [3001, 3002, 3003]
    assert view["attributes"] == [{"name": "item_weight", "label": "Item weight", "value": "1.2 kilograms"}]
    assert view["qa"] == [{"question": "is it dishwasher safe?", "answer": "the lid is."}]
    assert view["reviews"]["reviews"] == 3 and view["reviews"]["product_id"] == KETTLE


def test_the_view_reads_the_store_on_every_request(client: TestClient, reader: PricedReader) -> None:
    assert client.get(f"/products/{KETTLE}").json()["card"]["price_cents"] == 3499
    reader.price_cents = 2999
    assert client.get(f"/products/{KETTLE}").json()["card"]["price_cents"] == 2999


def test_unknown_bad_and_failing(client: TestClient, reader: PricedReader) -> None:
    response = client.get("/products/B0NOTHERE1")
    assert (response.status_code, response.json()) == (404, {"error": "unknown product", "product_id": "B0NOTHERE1"})
    for bad in ["B07%20KETTLE", "a" * 65, "B07;drop"]:
        assert client.get(f"/products/{bad}").status_code == 400, bad
    reader.fail = True
    response = client.get(f"/products/{KETTLE}")
    assert (response.status_code, response.json()) == (503, {"error": "store unavailable"})


def _card() -> CardPayload:
    return CardPayload(KETTLE, "Kettle", None, None, None, None, None, None, None, False, False)


def test_the_builder_leaves_out_empty_and_bookkeeping_attributes_and_caps_the_qa() -> None:
    page = Product(KETTLE, "Kettle",
                   attributes=(Attribute("binding", "kitchen"), Attribute("color", ""), Attribute("item-model_number", "K1")),
                   community_qa=tuple(QAPair(f"q{i}?", "" if i == 0 else "yes") for i in range(MAX_QA + 3)))
    view = product_view(_card(), page, None, None)
    assert view["attributes"] == [{"name": "item-model_number", "label": "Item model number", "value": "K1"}]
    assert [pair["question"] for pair in view["qa"]] == [f"q{i}?" for i in range(1, MAX_QA + 1)]
    assert (view["reviews"], view["price_history"]) == (None, None)
    assert product_view(_card(), None, None, None)["attributes"] == []
    assert attribute_label("battery_life") == "Battery life"

"""The whole dataflow on real parts: Kafka, the vLLM server, the SQLite store, the Qdrant index.

plan -> retrieve -> generate -> hydrate -> render run as workers in this process (each its own
consumer group, as in production); a question asked on a product page must come back as frames in
seq order, grounded in the store. Needs `make llm-up` (skips with the reason when the server is not
reachable) and `make models`.
"""

from __future__ import annotations

import json

import pytest

from pipeline.config import Settings
from pipeline.messages import UserTurn
from pipeline.store.sqlite import open_store
from pipeline.catalog import read_products, PRODUCTS_FILE
from tests.integration.dataflow import ask, turn_of

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_a_question_on_a_product_page_streams_grounded_frames(pipeline_system: Settings) -> None:
    settings = pipeline_system
    page = next(iter(read_products(settings.shared_data / PRODUCTS_FILE)))
    await ask(settings, UserTurn("e2e-1", 0, 0, "shopper-1", "how much is this and is it any good?",
                                 page_product_id=page.asin))
    frames, response = await turn_of(settings, "e2e-1", 0, timeout_s=240)

    assert [f.seq for f in frames] == list(range(len(frames))), "in seq order, no gaps, no duplicates"
    assert frames[-1].type == "done"
    assert any(f.type == "text" and f.text.strip() for f in frames)
    assert response.question == "how much is this and is it any good?" and response.user_id == "shopper-1"
    assert response.intent and response.text.strip()
    assert {"plan", "retrieve", "generate", "hydrate"} <= set(response.hop_ms), response.hop_ms

    store = await open_store(settings)
    try:
        for frame in frames:
            if frame.type != "card":
                continue
            card = json.loads(frame.payload)
            assert card["product_id"] in response.products_shown
            offer = await store.get_offer(card["product_id"])
            assert offer is not None
            if card.get("live", True):
                assert card["price_cents"] == offer.price_cents, "the card shows the store's current price"
            assert card["simulated"] is True
        known = set(await store.list_product_ids())
    finally:
        await store.close()
    assert set(response.products_shown) <= known, "nothing shown is invented"

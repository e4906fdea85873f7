"""Starter questions for a product page: one per kind, each answerable from that product's records,
on real catalog records (../shared/data/catalog) and on small made-up pages for the edge cases."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.catalog import Attribute, Catalog, Product, QAPair, read_catalog
from pipeline.config import Settings
from pipeline.markup.starters import (
    MAX_STARTERS,
    aspect_question,
    community_questions,
    normalize_question,
    starters,
)
from pipeline.markup.suggestions import ProductFacts, TurnFacts, answerable
from pipeline.store.records import StoreProduct

SHARED_DATA = Settings().shared_data
MICROPHONE = "B00029MTMQ"  # Zalman Zm-Mic1: reviews, an audio_sensitivity attribute, personal Q&A only
PUMP = "B005A1DO4I"  # a fuel transfer pump: no reviews, no attribute worth asking, general Q&A
SHOCK = "B00BYNJ93Q"  # Bilstein shock absorber: no reviews, item_dimensions all zeros


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    if not (SHARED_DATA / "catalog" / "products.jsonl").exists():
        pytest.skip(f"the shared catalog is not at {SHARED_DATA}")
    return read_catalog(SHARED_DATA)


@pytest.fixture(scope="module")
def pages(catalog: Catalog) -> dict[str, Product]:
    return {product.asin: product for product in catalog.products}


def store_product(page: Product) -> StoreProduct:
    return StoreProduct(page.asin, page.title, "electronics", "inferred", "page")


def of(page: Product, price_points: int = 90, reviews: Sequence[str] | None = None) -> list[str]:
    texts = page.reviews if reviews is None else reviews
    return starters(page.asin, store_product(page), page, texts, price_points)


def test_a_microphone_gets_an_attribute_an_aspect_of_its_reviews_and_its_price(pages: dict[str, Product]) -> None:
    assert of(pages[MICROPHONE]) == [
        "What is its audio sensitivity?",  # its "false" attributes (batteries, assembly) are not asked about
        "What do customers say about the sound?",  # most of its reviews talk about the sound
        "Has it been cheaper before?",
    ]


def test_no_reviews_no_review_question_and_the_page_qa_fills_in(pages: dict[str, Product]) -> None:
    pump = pages[PUMP]
    assert pump.reviews == ()
    assert of(pump) == ["Does this pump have an inlet screen?", "Has it been cheaper before?",
                        "Does the pump have a reverse mode?"]  # "pump" is the product, not a shared topic
    assert of(pump, price_points=0) == ["Does this pump have an inlet screen?", "Does the pump have a reverse mode?"]


def test_an_attribute_of_zeros_is_not_asked_about(pages: dict[str, Product]) -> None:
    shock = pages[SHOCK]
    assert shock.attribute("item_dimensions") == "width: 0 inches; length: 0 inches; height: 0 inches"
    assert "What are its dimensions?" not in of(shock)


def test_unknown_to_the_store_gives_nothing(pages: dict[str, Product]) -> None:
    page = pages[MICROPHONE]
    assert starters(page.asin, None, page, page.reviews, 90) == []


def test_every_real_product_gets_distinct_answerable_questions(catalog: Catalog) -> None:
    counts = [0] * (MAX_STARTERS + 1)
    for page in catalog.products:
        questions = of(page)
        facts = {page.asin: ProductFacts.from_records(page.asin, store_product(page), page, page.reviews, 90)}
        turn = TurnFacts(shown=(), page_product_id=page.asin, page_known=True)
        assert len(questions) == len({q.lower() for q in questions}) <= MAX_STARTERS
        assert all(answerable(q, turn, facts) for q in questions), (page.asin, questions)
        assert questions == of(page)  # deterministic
        counts[len(questions)] += 1
    assert counts[0] == 0  # every product has a price history here, so at least that
    assert counts[MAX_STARTERS] > 0.8 * len(catalog.products)


# ---- the kinds, on made-up pages ----------------------------------------------------------------------

def page(attrs: Sequence[tuple[str, str]] = (), qa: Sequence[str] = (), answer: str = "yes, it does.") -> Product:
    return Product("B0TEST0001", "Steel Kettle 1.7 L", attributes=tuple(Attribute(n, v) for n, v in attrs),
                   community_qa=tuple(QAPair(q, answer) for q in qa))


def test_one_of_each_kind_in_order_and_the_fourth_left_out() -> None:
    kettle = page([("item_weight", "1.2 kilograms")], ["is it dishwasher safe?"])
    questions = of(kettle, reviews=["the lid is loud.", "very loud whistle.", "fine"])
    assert questions == ["What is its weight?", "What do customers say about the noise?", "Is it dishwasher safe?"]


def test_a_question_on_a_topic_already_chosen_is_skipped() -> None:
    kettle = page([("item_weight", "1.2 kilograms")], ["how much does it weigh?", "does it whistle?"])
    assert of(kettle, reviews=[]) == ["What is its weight?", "Does it whistle?", "Has it been cheaper before?"]


def test_aspects_need_two_reviews_and_specific_ones_come_first() -> None:
    assert aspect_question(["great sound.", "the sound is clear."]) == "What do customers say about the sound?"
    assert aspect_question(["great sound.", "nice."]) is None
    assert aspect_question(["worth the price.", "good value", "the sound is fine", "sound ok"]) == (
        "What do customers say about the sound?")
    assert aspect_question(["worth the price.", "good value"]) == "What do customers say about the price?"
    assert aspect_question([]) is None


def test_only_short_general_community_questions_are_offered() -> None:
    kept = ["is it dishwasher safe?", "what  are the dimensions ??", "does the lid lock"]
    dropped = [
        "can i use it on my induction stove?",            # personal
        "will this fit a model 614?",                      # a number: the asker's own model
        "is it bpa free? if so, where is that stated?",    # two questions
        "do you sell replacement lids?",                   # to the seller
        "does the whistle work with the extra long spout attachment sold separately?",  # long
        "kettle color options",                            # not a question
    ]
    assert community_questions(page(qa=kept + dropped)) == [
        "Is it dishwasher safe?", "What are the dimensions?", "Does the lid lock?"]
    assert community_questions(page(qa=["is it dishwasher safe?"], answer="not sure, sorry")) == []
    assert community_questions(None) == []


def test_normalized_questions_keep_the_shoppers_words() -> None:
    assert normalize_question("  is it   bpa free ?? ") == "Is it bpa free?"
    assert normalize_question("does it come in red") == "Does it come in red?"
    assert normalize_question(" ?? ") == ""

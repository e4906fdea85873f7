"""Passages: deterministic ids, one passage per distinct text, payload fields."""

from __future__ import annotations

import uuid

from pipeline.catalog import Attribute, Product, QAPair
from pipeline.retrieval.passages import (
    ATTRIBUTE,
    PRODUCT,
    QA,
    REVIEW,
    attribute_text,
    passages_for,
    point_id,
    product_summary,
)


def _product(asin: str = "B000TEST01") -> Product:
    return Product(
        asin=asin,
        title="Acme Kettle 1.7 L",
        attributes=(Attribute("item_weight", "1.2 kilograms"), Attribute("part_number", "ak-17"), Attribute("color", "")),
        bullets=("boils in three minutes.",),
        description=("a stainless steel kettle.",),
        reviews=("works great.", "works great.", "a bit loud."),
        community_qa=(QAPair("is it cordless?", "yes, it sits on a base."),),
    )


def test_point_id_is_a_stable_uuid5_that_depends_on_every_part() -> None:
    first = point_id(REVIEW, "B1", "Works  great.")
    assert uuid.UUID(first).version == 5
    assert first == point_id(REVIEW, "B1", "works great.")  # normalised text, same id
    assert first != point_id(REVIEW, "B2", "works great.")
    assert first != point_id(QA, "B1", "works great.")
    assert first != point_id(REVIEW, "B1", "works well.")


def test_passages_cover_each_kind_once_and_skip_empty_and_duplicate_texts() -> None:
    passages = list(passages_for(_product()))
    kinds = [p.kind for p in passages]
    assert kinds.count(PRODUCT) == 1
    assert kinds.count(ATTRIBUTE) == 2  # the empty colour is skipped
    assert kinds.count(REVIEW) == 2  # "works great." twice on the page is one passage
    assert kinds.count(QA) == 1
    assert len({p.point_id for p in passages}) == len(passages)
    assert [p.point_id for p in passages] == [p.point_id for p in passages_for(_product())]


def test_payload_carries_filter_fields_and_extra_store_fields() -> None:
    passages = list(passages_for(_product(), category="home_kitchen", extra_payload={"price_cents": 2599}))
    for passage in passages:
        assert passage.payload["product_id"] == "B000TEST01"
        assert passage.payload["kind"] == passage.kind
        assert passage.payload["category"] == "home_kitchen"
        assert passage.payload["price_cents"] == 2599
        assert passage.payload["text"] == passage.text
    weight = next(p for p in passages if p.kind == ATTRIBUTE)
    assert weight.text == "item weight: 1.2 kilograms"
    assert weight.payload["attr_name"] == "item_weight"


def test_summary_has_title_key_attributes_and_bullets_but_not_part_numbers() -> None:
    summary = product_summary(_product())
    assert summary.startswith("Acme Kettle 1.7 L")
    assert attribute_text("item_weight", "1.2 kilograms") in summary
    assert "boils in three minutes." in summary
    assert "ak-17" not in summary


def test_whole_reviews_are_cut_into_sentence_chunks_with_stable_ids() -> None:
    from pipeline.retrieval.passages import review_chunks, review_set_passages

    review = "Great boots. " * 40 + "They leaked after a week!"
    chunks = review_chunks(review, max_chars=100)
    assert all(len(c) <= 100 for c in chunks) and " ".join(chunks) == review.strip()
    assert chunks[-1].endswith("They leaked after a week!")
    passages = list(review_set_passages("R1", [review, review], category="boots"))
    assert len(passages) == len(set(chunks)), "a repeated chunk is indexed once"
    assert {p.kind for p in passages} == {"review"} and passages[0].payload["category"] == "boots"
    assert [p.point_id for p in review_set_passages("R1", [review])] == [p.point_id for p in passages]

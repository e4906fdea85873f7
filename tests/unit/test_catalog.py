from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.catalog import MalformedLine, read_catalog, read_products, read_review_sets
from pipeline.categories import CATEGORIES, infer_category
from pipeline.config import Settings
from pipeline.errors import ConfigError

SHARED_DATA = Settings().shared_data

GOOD_PRODUCT = {
    "asin": "B000000001",
    "title": "Stainless Steel Wok, 14-inch",
    "attributes": [{"name": "brand", "value": "Lodge", "raw": "brand: { value:lodge }"}],
    "bullets": ["a bullet"],
    "description": ["a sentence"],
    "reviews": [{"text": "works well."}],
    "community_qa": [{"question": "is it heavy?", "answer": "yes."}],
    "source": "epqa",
    "merged_sources": [],
}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_reads_every_record_of_the_real_catalog() -> None:
    if not (SHARED_DATA / "catalog" / "products.jsonl").exists():
        pytest.skip(f"the shared catalog is not at {SHARED_DATA}")
    catalog = read_catalog(SHARED_DATA)
    assert len(catalog.products) == 888
    assert len(catalog.review_sets) == 120
    assert catalog.malformed == ()
    assert sum(len(p.reviews) for p in catalog.products) == 4250
    assert sum(len(p.community_qa) for p in catalog.products) == 1690
    rated = [r for s in catalog.review_sets for r in s.reviews if r.rating is not None]
    assert len(rated) == 60 * 8
    assert {infer_category(p) for p in catalog.products} <= set(CATEGORIES)


def test_a_product_line_becomes_a_frozen_record(tmp_path: Path) -> None:
    (product,) = read_products(_write(tmp_path / "p.jsonl", [json.dumps(GOOD_PRODUCT)]))
    assert product.asin == "B000000001"
    assert product.attribute("brand") == "Lodge" and product.attribute("color") is None
    assert product.reviews == ("works well.",)
    assert product.community_qa[0].question == "is it heavy?"
    with pytest.raises(AttributeError):
        product.title = "changed"  # type: ignore[misc]


def test_malformed_lines_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD_PRODUCT),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({**GOOD_PRODUCT, "asin": ""}),
        json.dumps({**GOOD_PRODUCT, "bullets": "not a list"}),
        json.dumps({k: v for k, v in GOOD_PRODUCT.items() if k != "title"}),
        json.dumps({**GOOD_PRODUCT, "asin": "B000000002"}),
    ]
    malformed: list[MalformedLine] = []
    products = list(read_products(_write(tmp_path / "p.jsonl", lines), malformed))
    assert [p.asin for p in products] == ["B000000001", "B000000002"]
    assert [m.line_no for m in malformed] == [2, 3, 4, 5, 6, 7]
    assert "invalid JSON" in malformed[0].reason
    assert "title" in malformed[5].reason


def test_review_ratings_must_be_one_to_five(tmp_path: Path) -> None:
    def review_set(rating: object) -> str:
        review = {"review_id": "r1", "text": "ok", "rating": rating}
        return json.dumps({"asin": "A1", "category": "Boots", "source": "oposum", "licence": "MIT",
                           "reviews": [review]})

    malformed: list[MalformedLine] = []
    lines = [review_set(4), review_set(6), review_set(True), review_set(None)]
    sets = list(read_review_sets(_write(tmp_path / "r.jsonl", lines), malformed))
    assert [s.reviews[0].rating for s in sets] == [4, None]
    assert [m.line_no for m in malformed] == [2, 3]


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        list(read_products(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError):
        read_catalog(tmp_path)

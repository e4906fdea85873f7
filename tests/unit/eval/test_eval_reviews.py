"""`aisle eval reviews`: hydrate's reviews frame over the catalog's review sets, scored offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.eval.answers import frame_text
from pipeline.eval.reviews import render_markdown, run_reviews_eval, score_product
from pipeline.training.holdout import review_part

REVIEWS = [
    "The sound quality is great and this headset is very comfortable. I use it every day.",
    "Great sound quality for the price. The battery died after a month, which is a shame.",
    "Comfortable to wear for hours. The battery is weak and the case feels cheap.",
    "I love the sound quality of this headset. Easy to pair with my phone.",
]
REFERENCE = "This headset has great sound quality and is comfortable, but the battery is weak."


def write_data(root: Path, asins: tuple[str, ...] = ("H1", "H2")) -> Path:
    """H1 falls in the evaluation part of the review sets' split, H2 in the training part."""
    (root / "catalog").mkdir(parents=True)
    (root / "eval").mkdir()
    (root / "catalog" / "products.jsonl").write_text("")
    (root / "eval" / "oposum_summaries_visible.jsonl").write_text("")
    reviews = [{"review_id": f"r{i}", "text": t, "rating": 5 - i} for i, t in enumerate(REVIEWS)]
    (root / "catalog" / "review_sets.jsonl").write_text("".join(json.dumps({
        "asin": asin, "category": "Electronics", "source": "copycat_fewsum", "licence": "MIT",
        "reviews": reviews}) + "\n" for asin in asins))
    (root / "eval" / "review_summaries.jsonl").write_text("".join(json.dumps({
        "asin": asin, "category": "Electronics", "reviews": reviews,
        "references_fewsum": [REFERENCE], "references_copycat": ["The case is cheap."]}) + "\n" for asin in asins))
    return root


def test_the_frame_text_is_the_summary_then_pros_then_cons() -> None:
    payload: dict[str, Any] = {"summary": "Mostly positive.", "pros": ["Good.", " "], "cons": ["Weak battery."]}
    assert frame_text(payload) == "Mostly positive. Good. Weak battery."
    assert frame_text({"pros": ["Good."], "cons": []}) == "Good."  # frames from before the summary line


def test_the_store_reviews_are_summarised_and_scored_by_part_of_the_split(tmp_path: Path) -> None:
    settings = Settings(shared_data=write_data(tmp_path / "data"))
    report = run_reviews_eval(settings)
    assert (review_part("H1"), review_part("H2")) == ("eval", "train")  # the fixture's premise
    assert [(r["asin"], r["part"]) for r in report["rows"]] == [("H1", "eval"), ("H2", "train")]
    row = report["rows"][0]
    assert row["reviews"] == 4 and row["pros"] >= 1 and row["cons"] >= 1
    assert row["text"].startswith("This headset is well reviewed")
    assert 0.2 < row["rouge_l"] <= 1.0
    assert (report["eval"]["products"], report["train"]["products"], report["all"]["products"]) == (1, 1, 2)
    assert report["eval"]["unfounded_aspects"] == 0 and report["eval"]["cut"] == 0
    assert list(report["per_category"]) == ["Electronics"]
    assert "**evaluation part** | 1 |" in render_markdown(report)


def test_nothing_selected_raises(tmp_path: Path) -> None:
    root = write_data(tmp_path / "data")
    (root / "eval" / "review_summaries.jsonl").write_text("")
    with pytest.raises(ConfigError):
        run_reviews_eval(Settings(shared_data=root))


def test_usability_checks_count_cut_items_copied_quotes_and_unfounded_aspects() -> None:
    payload = {"summary": "", "pros": ["Sound is great.", "It is so comf…"], "cons": ["Made up words here."],
               "aspects": [{"aspect": "sound"}, {"aspect": "teleporter"}]}
    row = score_product("X", payload, ["Sound is great. It is so comfortable."], ["sound is great"], "c")
    assert row["cut"] == 1 and (row["quotes"], row["verbatim"]) == (3, 2)
    assert row["unfounded_aspects"] == ["teleporter"]
    assert score_product("Y", None, [], ["r"], "c")["rouge_l"] == 0.0

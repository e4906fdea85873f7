"""`aisle eval search`: the labelled needs, what counts as shown, and the metrics."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pipeline.catalog import read_products
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.eval.search import NEEDS_FILE, load_needs, render_markdown, score_need, shown_products, summarise
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, UserTurn

SHARED_DATA = Settings().shared_data


def test_the_set_has_enough_needs_of_both_kinds_in_both_splits() -> None:
    needs = load_needs()
    assert len([n for n in needs if n.acceptable]) >= 100
    assert len([n for n in needs if not n.acceptable]) >= 10
    for split in ("dev", "test"):
        assert len([n for n in needs if n.split == split and n.acceptable]) >= 50
        assert len([n for n in needs if n.split == split and not n.acceptable]) >= 5
    assert len({n.need for n in needs}) == len(needs), "a need is listed twice"


def test_every_acceptable_product_is_in_the_catalog() -> None:
    catalog = SHARED_DATA / "catalog" / "products.jsonl"
    if not catalog.exists():
        pytest.skip(f"the shared catalog is not at {SHARED_DATA}")
    asins = {p.asin for p in read_products(catalog)}
    unknown = {a for n in load_needs() for a in n.acceptable if a not in asins}
    assert not unknown


def test_the_set_ships_with_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "eval/data/*.jsonl" in package_data.get("pipeline", []) or "data/*.jsonl" in package_data.get("pipeline.eval", [])
    assert NEEDS_FILE.parent.name == "data" and NEEDS_FILE.suffix == ".jsonl" and NEEDS_FILE.exists()


def test_load_needs_refuses_a_bad_split(tmp_path: Path) -> None:
    path = tmp_path / "needs.jsonl"
    path.write_text(json.dumps({"need": "a kettle", "acceptable": ["B1"], "split": "train"}) + "\n")
    with pytest.raises(ConfigError, match="split"):
        load_needs(path)


def test_load_needs_refuses_a_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "needs.jsonl"
    path.write_text(json.dumps({"need": "a kettle", "split": "dev"}) + "\n")
    with pytest.raises(ConfigError, match="needs.jsonl:1"):
        load_needs(path)


def _bundle(*product_ids: str | None) -> EvidenceBundle:
    plan = Plan("c", 1, 0, UserTurn("c", 1, 0, "u", "a kettle"), "product_search", [], [])
    items = [EvidenceItem("bullet", f"text {n}", 1.0, pid, f"p{n}") for n, pid in enumerate(product_ids)]
    return EvidenceBundle("c", 1, 0, plan, items, [], None)


def test_shown_products_are_the_bundles_products_in_order_each_once() -> None:
    assert shown_products(_bundle("B2", "B1", "B2", None, "B3")) == ["B2", "B1", "B3"]
    assert shown_products(_bundle()) == []


def test_score_need_counts_a_hit_in_the_first_three_and_ranks_it() -> None:
    third = score_need(["B9"], ["B1", "B2", "B9", "B4"])
    assert third["recall@3"] == 1.0 and third["mrr"] == pytest.approx(1 / 3)
    fourth = score_need(["B9"], ["B1", "B2", "B3", "B9"])
    assert fourth["recall@3"] == 0.0 and fourth["mrr"] == pytest.approx(1 / 4)
    assert fourth["ndcg@10"] is not None and 0 < fourth["ndcg@10"] < third["ndcg@10"]
    assert score_need(["B1", "B2"], ["B1", "B2"])["ndcg@10"] == pytest.approx(1.0)
    assert score_need([], ["B1"]) == {"recall@3": None, "ndcg@10": None, "mrr": None}


def _row(split: str, acceptable: list[str], eligible: list[str], shown: list[str]) -> dict[str, object]:
    return {"need": "n", "split": split, "intent": "product_search", "query": "n", "filters": {},
            "acceptable": acceptable, "eligible": eligible, "shown": shown, **score_need(eligible, shown),
            "latency_ms": 5.0}


def test_summarise_keeps_unsatisfiable_and_filtered_out_needs_apart() -> None:
    rows = [
        _row("dev", ["B1"], ["B1"], ["B1", "B2"]),       # hit at 1
        _row("dev", ["B3"], ["B3"], []),                 # satisfiable, nothing shown
        _row("dev", [], [], ["B7", "B8"]),               # unsatisfiable, two shown
        _row("dev", [], [], []),                         # unsatisfiable, none shown: right
        _row("dev", ["B5"], [], ["B6"]),                 # the budget filters out every acceptable product
    ]
    summary = summarise(rows)
    assert summary["scored"] == 2
    assert summary["recall@3"] == 0.5
    assert summary["scored_none_shown"] == 0.5
    assert summary["scored_shown_mean"] == 1.0 and summary["scored_off_topic_mean"] == 0.5  # B2 of ["B1", "B2"]
    assert summary["unsatisfiable"] == 2
    assert summary["unsatisfiable_shown_mean"] == 1.0
    assert summary["unsatisfiable_none_shown"] == 0.5
    assert summary["filtered_out"] == 1 and summary["filtered_out_shown_mean"] == 1.0


def test_render_markdown_lists_the_misses() -> None:
    rows = [_row("dev", ["B1"], ["B1"], ["B1"]), _row("test", ["B2"], ["B2"], ["B4", "B5", "B6", "B2"])]
    report = {"dataset": "needs.jsonl", "planner": "rules", "splits": {"dev": summarise(rows[:1]),
              "test": summarise(rows[1:])}, "all": summarise(rows), "needs": rows}
    text = render_markdown(report)
    assert "| dev | 1 | 1 | 1.000 | 1.000 | 1.000 | 1.00 | 0.00 | 0.000 |" in text
    assert "| test | n | n | B4, B5, B6 |" in text

"""Reciprocal rank fusion, checked against sums computed by hand."""

from __future__ import annotations

import pytest

from pipeline.retrieval.fusion import rrf_fuse


def test_item_ranked_well_by_both_lists_beats_one_list_winner() -> None:
    fused = rrf_fuse([["a", "b", "c"], ["b", "c", "a"]], k=60)
    scores = dict(fused)
    assert [key for key, _ in fused] == ["b", "a", "c"]
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 62)


def test_item_in_one_list_only_gets_that_lists_share() -> None:
    scores = dict(rrf_fuse([["x"], ["y", "x"]], k=1))
    assert scores["x"] == pytest.approx(1 / 2 + 1 / 3)
    assert scores["y"] == pytest.approx(1 / 2)


def test_duplicates_within_a_list_count_once_at_best_rank() -> None:
    scores = dict(rrf_fuse([["a", "a", "b"]], k=10))
    assert scores["a"] == pytest.approx(1 / 11)
    assert scores["b"] == pytest.approx(1 / 13)


def test_ties_keep_first_seen_order_and_limit_cuts() -> None:
    fused = rrf_fuse([["p", "q"], ["q", "p"]], k=60)
    assert [key for key, _ in fused] == ["p", "q"]
    assert rrf_fuse([["p", "q", "r"]], limit=2) == rrf_fuse([["p", "q", "r"]])[:2]


def test_empty_input_and_bad_constant() -> None:
    assert rrf_fuse([]) == []
    assert rrf_fuse([[], []]) == []
    with pytest.raises(ValueError):
        rrf_fuse([["a"]], k=0)

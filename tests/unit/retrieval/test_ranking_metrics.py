"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from pipeline.retrieval.ranking_metrics import dcg, ndcg, recall, reciprocal_rank


def test_dcg_uses_log2_discount_from_rank_one() -> None:
    assert dcg([2, 0, 1], 3) == pytest.approx(2 / 1 + 0 + 1 / 2)
    assert dcg([2, 0, 1], 1) == pytest.approx(2.0)


def test_ndcg_against_hand_computed_ideal() -> None:
    # retrieved gains 1, 2, 0; judged items 2, 1, 0 -> ideal order 2, 1, 0
    got = 1 + 2 / math.log2(3)
    best = 2 + 1 / math.log2(3)
    assert ndcg([1, 2, 0], [0, 1, 2], 3) == pytest.approx(got / best)
    assert ndcg([2, 1, 0], [0, 1, 2], 3) == pytest.approx(1.0)


def test_ndcg_ideal_is_cut_at_k_too() -> None:
    # only 1 slot: ideal takes the single best judged gain
    assert ndcg([1], [2, 2, 1], 1) == pytest.approx(0.5)


def test_ndcg_is_none_without_relevant_judgements() -> None:
    assert ndcg([0, 0], [0, 0, 0], 5) is None
    assert ndcg([], [], 5) is None


def test_reciprocal_rank_finds_first_item_at_threshold() -> None:
    assert reciprocal_rank([1, 0, 2, 2], threshold=2) == pytest.approx(1 / 3)
    assert reciprocal_rank([1, 0, 2], threshold=1) == pytest.approx(1.0)
    assert reciprocal_rank([1, 1], threshold=2) == 0.0


def test_recall_counts_ranks_within_k() -> None:
    assert recall([1, 6, None], 5) == pytest.approx(1 / 3)
    assert recall([1, 6, None], 10) == pytest.approx(2 / 3)
    assert recall([], 5) is None

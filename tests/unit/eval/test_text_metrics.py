"""ROUGE-L and cosine similarity, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from pipeline.eval.text_metrics import cosine, lcs_length, rouge_l, rouge_l_max, tokens


def test_tokens_are_lowercase_words() -> None:
    assert tokens("Wi-Fi 6E, it's GREAT!") == ["wi", "fi", "6e", "it", "s", "great"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("abcbdab", "bdcaba", 4), ("", "abc", 0), ("abc", "abc", 3), ("abc", "xyz", 0), ("axbxc", "abc", 3)],
)
def test_lcs_length(a: str, b: str, expected: int) -> None:
    assert lcs_length(list(a), list(b)) == expected
    assert lcs_length(list(b), list(a)) == expected


def test_rouge_l_by_hand() -> None:
    # LCS "police the gunman" = 3 of 4 tokens on both sides
    score = rouge_l("police kill the gunman", "police killed the gunman")
    assert (score.precision, score.recall) == (0.75, 0.75) and score.f1 == pytest.approx(0.75)
    score = rouge_l("the cat sat on the mat today", "the cat is on the mat")
    # LCS: the cat on the mat = 5; P = 5/7, R = 5/6
    assert score.precision == pytest.approx(5 / 7) and score.recall == pytest.approx(5 / 6)
    assert score.f1 == pytest.approx(2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6))
    assert rouge_l("Yes, it is WATERPROOF.", "yes it is waterproof").f1 == 1.0
    assert rouge_l("", "anything").f1 == 0.0 and rouge_l("no overlap", "at all").f1 == 0.0


def test_rouge_l_max_takes_the_best_reference() -> None:
    assert rouge_l_max("it is blue", ["red it is", "it is blue"]) == 1.0
    assert 0 < rouge_l_max("it is blue", ["it was red"]) < 1.0
    assert rouge_l_max("anything", []) == 0.0


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == 0.0
    assert cosine([1.0, 1.0], [1.0, 0.0]) == pytest.approx(1 / math.sqrt(2))
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError):
        cosine([1.0], [1.0, 2.0])

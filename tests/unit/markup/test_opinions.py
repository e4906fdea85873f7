"""Lexicon pros and cons, and attribute matching for comparison tables."""

from __future__ import annotations

from pipeline.catalog import Attribute, Product
from pipeline.markup.opinions import extract, score, sentences
from pipeline.markup.resolve import match_attribute, split_ids


def test_score_counts_words_and_flips_negated_ones() -> None:
    assert score("Great sound and very comfortable.") == 2
    assert score("It broke and leaks.") == -2
    assert score("Not good, and it isn't sturdy.") == -2
    assert score("It is blue.") == 0


def test_sentences_split_on_end_punctuation() -> None:
    assert sentences(["Love it! Fits well.  ", "", "ok"]) == ["Love it!", "Fits well.", "ok"]


def test_extract_picks_strongest_verbatim_sentences_once() -> None:
    texts = ["Great value, excellent build.", "Good.", "good.", "Terrible battery, broke fast.", "It is red."]
    found = extract(texts, limit=1)
    assert found.pros == ["Great value, excellent build."]
    assert found.cons == ["Terrible battery, broke fast."]
    assert (found.positive, found.negative, found.neutral) == (2, 1, 1)


def test_extract_cuts_long_sentences_at_a_word() -> None:
    long = "great " * 60
    (pro,) = extract([long], limit=1, max_chars=40).pros
    assert len(pro) <= 40 and pro.endswith("…") and long.startswith(pro[:-1])


def test_no_reviews_gives_nothing() -> None:
    found = extract([])
    assert (found.pros, found.cons, found.sentences) == ([], [], 0)


def test_match_attribute_prefers_exact_then_fewest_extra_words() -> None:
    page = Product("B1", "t", attributes=(Attribute("item_package_weight", "2 pounds"),
                                          Attribute("item_weight", "1 pounds"),
                                          Attribute("battery_life", ""),
                                          Attribute("color", "red")))
    assert match_attribute(page, "weight") == ("item_weight", "1 pounds")
    assert match_attribute(page, "Color") == ("color", "red")
    assert match_attribute(page, "battery life") == (None, None)  # empty in the source: missing
    assert match_attribute(page, "warranty") == (None, None)
    assert match_attribute(None, "color") == (None, None)


def test_split_ids() -> None:
    assert split_ids(" A, B,,A ,C ") == ["A", "B", "C"]

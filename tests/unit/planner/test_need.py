"""search_terms: the conversational wrapping of a need goes, the need's own words stay."""

from __future__ import annotations

import pytest

from pipeline.planner import intents as I
from pipeline.planner.filters import Filters
from pipeline.planner.need import search_terms
from pipeline.planner.steps import build_steps


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("hi, i'm looking for something to keep my dog off the couch, any ideas?", "keep my dog off the couch"),
        ("i need a mat for my office chair on a hard floor", "a mat for my office chair on a hard floor"),
        ("i need a dog bed for a large dog,", "a dog bed for a large dog"),
        ("something to keep my dog off the couch", "keep my dog off the couch"),
        ("my dog won't stop barking at the neighbours, what can help", "my dog won't stop barking at the neighbours"),
        ("can you find me a kettle", "a kettle"),
        ("do you sell running shoes?", "running shoes"),
        ("what can i use to clean cast iron", "clean cast iron"),
        ("looking for a gift for my dad", "a gift for my dad"),
        ("i'd like to get new sheets, thanks", "new sheets"),
        ("where can i buy a tent", "a tent"),
        ("anything for a sore back", "a sore back"),
        ("Can you get me a KETTLE?", "a KETTLE"),
    ],
)
def test_the_wrapping_goes(text: str, terms: str) -> None:
    assert search_terms(text) == terms


@pytest.mark.parametrize(
    "text",
    [
        "a gift for a coffee lover",
        "best wireless earbuds for the gym",
        "something like the first one",  # a reference, not a placeholder
        "items that help with sleep",
        "to be or not to be",
        "get rid of steam in the bathroom",  # "get" is the need's own verb here
        "find out why my check engine light is on",
    ],
)
def test_a_plain_need_is_kept_as_it_is(text: str) -> None:
    assert search_terms(text) == text


@pytest.mark.parametrize("text", ["i need", "find", "please", "something"])
def test_nothing_left_means_the_text_stays(text: str) -> None:
    assert search_terms(text) == text


def test_whitespace_is_collapsed() -> None:
    assert search_terms("  i need   a   lamp  ") == "a lamp"


def test_catalog_searches_read_the_need_and_questions_keep_the_shoppers_words() -> None:
    text = "i'm looking for something to keep my dog off the couch"
    search = build_steps(I.PRODUCT_SEARCH, text, [], Filters())
    assert [(s.source, s.query) for s in search] == [("products", "keep my dog off the couch")]
    question = build_steps(I.PRODUCT_QUESTION, text, [], Filters())
    assert [(s.source, s.query) for s in question] == [("products", "keep my dog off the couch"), ("qa", text)]
    on_page = build_steps(I.PRODUCT_QUESTION, text, ["B1"], Filters())
    assert all(s.query in ("", text) for s in on_page)

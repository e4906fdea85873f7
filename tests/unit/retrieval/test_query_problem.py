"""Queries the index refuses, with a reason, before any model or Qdrant work."""

from __future__ import annotations

from pipeline.retrieval.index import MAX_QUERY_CHARS, query_problem


def test_empty_and_blank_queries_are_refused() -> None:
    assert query_problem("") == "empty query"
    assert query_problem("   \n\t") == "empty query"


def test_over_long_query_is_refused_and_the_limit_itself_is_accepted() -> None:
    assert query_problem("a" * (MAX_QUERY_CHARS + 1)) is not None
    assert query_problem("a" * MAX_QUERY_CHARS) is None


def test_non_latin_scripts_are_refused_and_latin_languages_pass() -> None:
    assert query_problem("这个水壶是不锈钢的吗") is not None
    assert query_problem("этот чайник из стали?") is not None
    assert query_problem("¿es de acero inoxidable?") is None
    assert query_problem("is it 1.7 L?") is None
    assert query_problem("12345") is None  # no letters: nothing to judge, let it search


def test_punctuation_only_query_is_refused() -> None:
    assert query_problem("?! ...") == "the query has no searchable words"

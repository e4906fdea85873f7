"""The generation grammar: what it admits, checked with Lark, and agreement with the parser."""

from __future__ import annotations

import lark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.markup.grammar import build_gbnf, build_lark, usable_ids
from pipeline.markup.parser import Directive, MarkupParser, merge_text

IDS = ["B07ABC", "B08XYZ"]


def _parser(ids: list[str]) -> lark.Lark:
    return lark.Lark(build_lark(ids), start="root")


def _accepts(grammar: lark.Lark, text: str) -> bool:
    try:
        grammar.parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


@pytest.fixture(scope="module")
def grammar() -> lark.Lark:
    return _parser(IDS)


@pytest.mark.parametrize(
    "text",
    [
        "Plain answer, no markup.",
        'See <product id="B07ABC"/>.',
        '<carousel ids="B07ABC,B08XYZ"/>',
        '<compare ids="B07ABC,B08XYZ" attrs="battery life,weight"/>',
        '<compare ids="B07ABC,B08XYZ"/>',
        '<reviews id="B08XYZ"/><price-history id="B08XYZ"/>',
        '<action type="add_to_cart" id="B07ABC"/>',
        '<action type="price_alert" id="B07ABC" below="49.99"/>',
        "<suggest>Is it loud?|Does it fold?</suggest>",
        'The <link id="B07ABC">blue one</link> is lighter.',
    ],
)
def test_grammar_admits_canonical_markup_and_parser_reads_it(grammar: lark.Lark, text: str) -> None:
    assert _accepts(grammar, text)
    parser = MarkupParser()
    events = merge_text(parser.feed(text) + parser.finish())
    assert parser.stats.dropped() == 0
    assert sum(isinstance(e, Directive) for e in events) == text.count("<") - text.count("</")


@pytest.mark.parametrize(
    "text",
    [
        '<product id="B09NOPE"/>',  # an id outside the evidence
        '<compare ids="B07ABC" attrs="weight"/>',  # a comparison needs two products
        '<action type="buy_now" id="B07ABC"/>',
        '<action type="price_alert" id="B07ABC" below="cheap"/>',
        "<b>bold</b>",
        "a < b",
        "<suggest>one|two|three|four</suggest>",
    ],
)
def test_grammar_rejects(grammar: lark.Lark, text: str) -> None:
    assert not _accepts(grammar, text)


def test_without_ids_only_text_and_suggestions_remain() -> None:
    gbnf = build_gbnf([])
    assert "pid" not in gbnf
    grammar = _parser([])
    assert _accepts(grammar, "Sorry, nothing matched.<suggest>Show me cheaper ones</suggest>")
    assert not _accepts(grammar, '<product id="B07ABC"/>')


def test_unwritable_ids_are_left_out_and_the_rest_sorted_once() -> None:
    assert usable_ids(["B2", 'B"1', "B 3", "B1", "B2", "a<b"]) == ["B1", "B2"]
    gbnf = build_gbnf(["B2", "B1", "B1"])
    assert 'pid ::= "B1" | "B2"' in gbnf


@settings(max_examples=50, deadline=None)
@given(st.lists(st.from_regex(r"[A-Z0-9]{4,10}", fullmatch=True), min_size=1, max_size=6, unique=True),
       st.data())
def test_every_allowed_id_is_admitted_and_no_other(ids: list[str], data: st.DataObject) -> None:
    grammar = _parser(ids)
    chosen = data.draw(st.sampled_from(ids))
    assert _accepts(grammar, f'<reviews id="{chosen}"/>')
    assert not _accepts(grammar, f'<reviews id="{chosen}Z"/>')

"""closing_suffix: after an answer cut anywhere, text appended to it is text again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.markup.closing import closing_suffix
from pipeline.markup.parser import Directive, MarkupParser, Text

ANSWER = ('It is quiet. <product id="B0AAAAAAAA"/> Compare: <compare ids="B0AAAAAAAA,B0BBBBBBBB"/> '
          'See <link id="B0AAAAAAAA">the kettle</link>. <suggest>Is it loud?|How big is it?</suggest>')


def parse(text: str) -> list[object]:
    parser = MarkupParser()
    return [*parser.feed(text), *parser.finish()]


@given(st.integers(min_value=0, max_value=len(ANSWER)))
def test_text_after_any_cut_survives(cut: int) -> None:
    head = ANSWER[:cut]
    events = parse(head + closing_suffix(head) + " TAIL")
    assert isinstance(events[-1], Text) and events[-1].text.endswith(" TAIL")


@given(st.text(max_size=80))
def test_random_answers_never_swallow_the_tail(head: str) -> None:
    events = parse(head + closing_suffix(head) + " TAIL")
    assert events and isinstance(events[-1], Text) and events[-1].text.endswith(" TAIL")


def test_a_cut_suggestion_keeps_its_questions_and_a_whole_answer_needs_nothing() -> None:
    head = "Yes. <suggest>Is it loud?|How big"
    assert closing_suffix(head) == "</suggest>"
    assert Directive("suggest", {}, "Is it loud?|How big") in parse(head + closing_suffix(head))
    assert closing_suffix(ANSWER) == "" and closing_suffix("a < b") == ""

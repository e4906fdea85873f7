"""The streaming markup parser: events, degradation, bounds and split invariance."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.markup.parser import Directive, Event, MarkupParser, Text, merge_text


def parse_whole(stream: str, limit: int = 512) -> tuple[list[Event], MarkupParser]:
    parser = MarkupParser(limit)
    events = parser.feed(stream) + parser.finish()
    return merge_text(events), parser


def parse_split(pieces: list[str], limit: int = 512) -> tuple[list[Event], MarkupParser]:
    parser = MarkupParser(limit)
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.finish()
    return merge_text(events), parser


def test_text_and_directives_in_order() -> None:
    events, parser = parse_whole(
        'Try <product id="B07X"/> and <compare ids="A,B" attrs="battery life,weight"/>.'
    )
    assert events == [
        Text("Try "),
        Directive("product", {"id": "B07X"}),
        Text(" and "),
        Directive("compare", {"ids": "A,B", "attrs": "battery life,weight"}),
        Text("."),
    ]
    assert parser.stats.directives == 2
    assert parser.stats.dropped() == 0


def test_attribute_order_quotes_and_spacing_are_free() -> None:
    events, _ = parse_whole("<action  below = '49.99' id=\"B1\"\ttype=\"price_alert\" />")
    assert events == [Directive("action", {"below": "49.99", "id": "B1", "type": "price_alert"})]


def test_body_tags() -> None:
    events, _ = parse_whole('<suggest>Is it loud?|Does it fold?</suggest><link id="B1">this one</link>')
    assert events == [
        Directive("suggest", {}, "Is it loud?|Does it fold?"),
        Directive("link", {"id": "B1"}, "this one"),
    ]


def test_empty_tag_without_slash_and_its_stray_closing_tag() -> None:
    events, parser = parse_whole('<reviews id="B1">x</reviews>')
    assert events == [Directive("reviews", {"id": "B1"}), Text("x")]
    assert parser.stats.stray_closing == 1


def test_plain_text_is_released_immediately() -> None:
    parser = MarkupParser()
    assert parser.feed("hello wor") == [Text("hello wor")]
    assert parser.feed("ld <pro") == [Text("ld ")]
    assert parser.buffered == len("<pro")


def test_a_less_than_that_is_not_a_tag_is_released_promptly() -> None:
    parser = MarkupParser()
    assert parser.feed("if a < ") == [Text("if a < ")]
    assert parser.feed("b or x <") == [Text("b or x ")]
    assert parser.feed("3 you") == [Text("<3 you")]
    assert parser.buffered == 0


def test_directive_split_across_many_chunks() -> None:
    stream = 'A <price-history id="B0000"/> B'
    parser = MarkupParser()
    events: list[Event] = []
    for ch in stream:
        events += parser.feed(ch)
    events += parser.finish()
    assert merge_text(events) == [Text("A "), Directive("price-history", {"id": "B0000"}), Text(" B")]


def test_unknown_tags_are_dropped_and_counted() -> None:
    events, parser = parse_whole("I <b>love</b> it")
    assert events == [Text("I love it")]
    assert parser.stats.unknown == 1
    assert parser.stats.stray_closing == 1


def test_malformed_known_tags_are_dropped_without_leaking_markup() -> None:
    events, parser = parse_whole('a <product id=B07/> b <product/> c <product id="B1" id="B2"/> d')
    assert events == [Text("a  b  c  d")]
    assert parser.stats.malformed == 3


def test_broken_tag_recovers_at_the_next_tag() -> None:
    events, parser = parse_whole('<product id="B07<product id="B08"/>')
    assert events == [Directive("product", {"id": "B08"})]
    assert parser.stats.malformed == 1


def test_missing_required_attribute_is_malformed() -> None:
    events, parser = parse_whole('<action id="B1"/><suggest></suggest>')
    assert events == []
    assert parser.stats.malformed == 2


def test_overlong_unknown_candidate_degrades_to_text() -> None:
    stream = '<note id="' + "x" * 100
    events, parser = parse_whole(stream, limit=32)
    assert events == [Text(stream)]
    assert parser.stats.overlong == 1


def test_overlong_known_tag_never_shows_its_markup() -> None:
    # A model looping inside an id list: the window is dropped, what follows is plain text.
    events, parser = parse_whole('<product id="' + "x" * 100, limit=32)
    assert events == [Text("x" * 81)]
    assert parser.stats.overlong == 1
    # A <suggest> that never closes: its opening tag goes, its words stay.
    events, parser = parse_whole("ok <suggest>" + "is it loud? " * 10, limit=32)
    assert events == [Text("ok " + "is it loud? " * 10)]
    assert "<" not in "".join(e.text for e in events if isinstance(e, Text))


def test_truncated_known_tag_at_end_is_dropped_but_other_text_kept() -> None:
    events, parser = parse_whole('done <product id="B0')
    assert events == [Text("done ")]
    assert parser.stats.truncated == 1
    events, _ = parse_whole("x <y")
    assert events == [Text("x <y")]


def test_nothing_after_finish() -> None:
    parser = MarkupParser()
    parser.feed("<pro")
    assert parser.finish() == [Text("<pro")]
    assert parser.feed("more") == []
    assert parser.finish() == []


def test_canonical_markup_round_trips() -> None:
    source = '<compare attrs="weight" ids="A,B"/><suggest>Q1|Q2</suggest>'
    events, _ = parse_whole(source)
    assert "".join(e.markup() for e in events if isinstance(e, Directive)) == source


# --- properties -----------------------------------------------------------------------------------

_IDS = st.sampled_from(["B07ABC", "B08XYZ", "B000001"])
_PLAIN = st.text(alphabet=st.characters(exclude_characters="<", exclude_categories=["Cs"]), max_size=30)


@st.composite
def _directive(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["product", "carousel", "compare", "reviews", "price-history", "suggest",
                                 "action", "link"]))
    if kind == "carousel":
        return f'<carousel ids="{",".join(draw(st.lists(_IDS, min_size=1, max_size=3)))}"/>'
    if kind == "compare":
        return f'<compare attrs="battery life,weight" ids="{draw(_IDS)},{draw(_IDS)}"/>'
    if kind == "suggest":
        return "<suggest>" + "|".join(draw(st.lists(st.sampled_from(["Is it loud?", "Price?"]), min_size=1))) + "</suggest>"
    if kind == "action":
        return f'<action type="price_alert" id="{draw(_IDS)}" below="49.99"/>'
    if kind == "link":
        return f'<link id="{draw(_IDS)}">the {draw(st.sampled_from(["red", "blue"]))} one</link>'
    return f'<{kind} id="{draw(_IDS)}"/>'


_NOISE = st.sampled_from(["a < b", "<3", "<b>", "</i>", "<product id=B/>", "x<y", "<", "<<", "< /product>"])
_STREAM = st.lists(st.one_of(_PLAIN, _directive(), _NOISE), max_size=12).map("".join)


def _split(stream: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=300)
@given(_STREAM, st.lists(st.integers(min_value=0), max_size=20))
def test_every_split_gives_the_same_events(stream: str, cuts: list[int]) -> None:
    whole, whole_parser = parse_whole(stream)
    split, split_parser = parse_split(_split(stream, cuts))
    assert split == whole
    assert split_parser.stats == whole_parser.stats


@settings(max_examples=200)
@given(_STREAM)
def test_char_by_char_equals_whole(stream: str) -> None:
    assert parse_split(list(stream))[0] == parse_whole(stream)[0]


@settings(max_examples=200)
@given(st.lists(_directive(), min_size=1, max_size=5), _PLAIN)
def test_valid_directives_are_all_recognised(directives: list[str], text: str) -> None:
    events, parser = parse_whole(text.join(directives))
    assert sum(isinstance(e, Directive) for e in events) == len(directives)
    assert parser.stats.dropped() == 0


@settings(max_examples=300)
@given(st.lists(st.text(max_size=40), max_size=10), st.integers(min_value=16, max_value=64))
def test_random_text_never_raises_and_buffer_stays_bounded(pieces: list[str], limit: int) -> None:
    parser = MarkupParser(limit)
    for piece in pieces:
        parser.feed(piece)
        assert parser.buffered < limit
    parser.finish()
    assert parser.buffered == 0


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_random_bytes_never_raise(pieces: list[bytes]) -> None:
    parser = MarkupParser(32)
    for piece in pieces:
        parser.feed(piece.decode("utf-8", errors="replace"))
        assert parser.buffered < 32
    parser.finish()


@settings(max_examples=200)
@given(st.lists(st.sampled_from(['<product id="', "B07", '"', "/>", "<", ">", " ", "x", "</", "suggest",
                                 "link", "|", "=", "'"]), max_size=40))
def test_markup_like_noise_never_raises_and_keeps_text(tokens: list[str]) -> None:
    stream = "".join(tokens)
    events, parser = parse_whole(stream, limit=24)
    shown = "".join(e.text for e in events if isinstance(e, Text))
    assert len(shown) == parser.stats.text_chars
    assert len(shown) <= len(stream)

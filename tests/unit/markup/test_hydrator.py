"""The hydrate core with no event loop at all: frames are a function of the chunks and of `Fetched`."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.markup.hydrator import TurnHydrator
from pipeline.markup.resolve import KINDS, Fetched
from pipeline.messages import Frame, TokenChunk
from tests.unit.stages.test_hydrate import A, B, C, FakeReader, chunks

_ATTRS = {"product": "products", "offer": "offers", "rating": "ratings", "history": "history", "page": "pages",
          "reviews": "reviews"}


def everything(reader: FakeReader, missing: dict[tuple[str, str], str] | None = None) -> Fetched:
    """What a reader holds, as if every read of A, B and C completed, except those `missing`."""
    missing = missing or {}
    empty: dict[str, Any] = {"history": [], "reviews": []}
    values = {(kind, pid): getattr(reader, _ATTRS[kind]).get(pid, empty.get(kind))
              for kind in KINDS for pid in (A, B, C) if (kind, pid) not in missing}
    return Fetched(values, missing)


def run(stream: list[TokenChunk], fetched: Fetched) -> list[Frame]:
    hydrator = TurnHydrator("c1", 3)
    frames: list[Frame] = []
    for chunk in stream:
        parsed = hydrator.take(chunk)
        assert parsed is not None
        frames += hydrator.frames(parsed, fetched)
        if parsed.final:
            frames += hydrator.end(parsed, fetched)
    return frames


def test_a_chunk_says_what_its_grounded_directives_need_read() -> None:
    hydrator = TurnHydrator("c1", 3)
    parsed = hydrator.take(TokenChunk("c1", 3, 0, f'Hi <product id="{A}"/><reviews id="{C}"/><link id="{B}">x</link>',
                                      0, grounded_product_ids=[A, B]))
    assert parsed is not None and not parsed.final
    assert parsed.reads == {("product", A), ("offer", A), ("rating", A)}  # C is not grounded; a link reads nothing
    assert hydrator.take(TokenChunk("c1", 4, 0, "other turn", 0)) is None


def test_the_same_fetched_facts_give_the_same_frames_however_the_answer_is_chunked() -> None:
    text = f'Try <product id="{A}"/>, or compare <compare ids="{A},{B}" attrs="price"/>. <price-history id="{A}"/>'
    fetched = everything(FakeReader())
    whole = run(chunks(text, size=1000), fetched)
    assert [f.type for f in whole] == ["text", "card", "text", "compare", "text", "price_history", "suggestions",
                                       "done"]
    for size in (1, 5, 13):
        split = run(chunks(text, size=size), fetched)
        # Text frames split with the chunks (so seq differs); every other frame is the same.
        assert [(f.type, f.payload) for f in split if f.type not in ("text", "done")] \
            == [(f.type, f.payload) for f in whole if f.type not in ("text", "done")]
        assert "".join(f.text for f in split) == "".join(f.text for f in whole)
    assert run(chunks(text, size=1000), fetched) == whole


def test_missing_reads_degrade_the_frames_and_are_counted_in_done() -> None:
    fetched = everything(FakeReader(), missing={("offer", A): "timeout", ("product", B): "failed"})
    frames = run(chunks(f'<product id="{A}"/><product id="{B}"/>'), fetched)
    [card] = [json.loads(f.payload) for f in frames if f.type == "card"]
    assert (card["product_id"], card["live"], card["price_cents"]) == (A, False, None)
    counts = json.loads(frames[-1].payload)["counts"]
    assert (counts["timeout"], counts["lookup_failed"], counts["empty"]) == (1, 1, 1)


def test_the_end_reads_what_the_suggestions_need() -> None:
    hydrator = TurnHydrator("c1", 3)
    final = TokenChunk("c1", 3, 0, f'<product id="{A}"/>', 0, final=True, grounded_product_ids=[A],
                       context={"page_product_id": B})
    parsed = hydrator.take(final)
    assert parsed is not None and parsed.final
    hydrator.frames(parsed, everything(FakeReader()))
    assert hydrator.ending_reads() == {(kind, pid) for pid in (A, B) for kind in ("product", "page", "reviews", "history")}


@settings(max_examples=30, deadline=None)
@given(st.sets(st.tuples(st.sampled_from(KINDS), st.sampled_from([A, B])), max_size=6))
def test_only_what_was_fetched_matters(missing: set[tuple[str, str]]) -> None:
    # The same fetched facts always give the same frames; other facts fetched beside them change nothing.
    text = f'<carousel ids="{A},{B}"/><compare ids="{A},{B}"/><reviews id="{A}"/><price-history id="{B}"/>'
    fetched = everything(FakeReader(), missing=dict.fromkeys(missing, "timeout"))
    frames = run(chunks(text), fetched)
    assert run(chunks(text), fetched) == frames
    extra = Fetched({**fetched.values, ("product", "B00UNSEEN"): None}, fetched.missing)
    assert run(chunks(text), extra) == frames

"""The hydrate core against a fake catalog reader: frames, grounding, timeouts, idempotence."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.catalog import Attribute, Product
from pipeline.messages import Frame, TokenChunk
from pipeline.stages.hydrate import TurnHydration
from pipeline.store.records import Offer, PricePoint, RatingSummary, StoreProduct

A, B, C = "B07AAA", "B08BBB", "B09CCC"


class FakeReader:
    """In-memory catalog; `delay_s[kind]` slows a kind of read, `yields[(kind, pid)]` makes one read
    give the event loop that many turns first (reordering completions without real time), `gates`
    holds a read until its event is set, and `fail` makes every read raise."""

    def __init__(self, delay_s: dict[str, float] | None = None, fail: bool = False) -> None:
        self.delay_s = delay_s or {}
        self.yields: dict[tuple[str, str], int] = {}
        self.gates: dict[tuple[str, str], asyncio.Event] = {}
        self.fail = fail
        self.calls: Counter[str] = Counter()
        self.products = {
            pid: StoreProduct(pid, f"Title {pid}", "electronics", "inferred", "page") for pid in (A, B, C)
        }
        self.offers = {
            A: Offer(A, 3999, 4999, "USD", True, 2, simulated=True),
            B: Offer(B, 2500, 2500, "USD", False, None, simulated=True),
        }
        self.ratings = {A: RatingSummary.from_distribution(A, (1, 0, 2, 3, 4), simulated=True)}
        self.pages = {
            A: Product(A, "Title A", attributes=(Attribute("item_weight", "0.18 kilograms (0.4 pounds)"),
                                                 Attribute("battery_life", "10 hours"),
                                                 Attribute("color", "red"), Attribute("binding", "miscellaneous"))),
            B: Product(B, "Title B", attributes=(Attribute("item_package_weight", "1 pounds"),
                                                 Attribute("color", "blue"), Attribute("binding", "miscellaneous"))),
        }
        self.reviews = {A: ["Works great and the battery is excellent.", "The lid broke after a week.",
                            "It is blue.", "Not good at all, very flimsy."]}
        self.history = {A: [PricePoint(date(2024, 1, d), 4000 + d, True, True) for d in (1, 2, 3)]}

    async def _read(self, kind: str, value: Any, pid: str) -> Any:
        self.calls[kind] += 1
        if self.fail:
            raise RuntimeError("store down")
        if kind in self.delay_s:
            await asyncio.sleep(self.delay_s[kind])
        for _ in range(self.yields.get((kind, pid), 0)):
            await asyncio.sleep(0)
        if (kind, pid) in self.gates:
            await self.gates[kind, pid].wait()
        return value

    async def get_product(self, product_id: str) -> StoreProduct | None:
        return await self._read("product", self.products.get(product_id), product_id)  # type: ignore[no-any-return]

    async def get_offer(self, product_id: str) -> Offer | None:
        return await self._read("offer", self.offers.get(product_id), product_id)  # type: ignore[no-any-return]

    async def get_rating(self, product_id: str) -> RatingSummary | None:
        return await self._read("rating", self.ratings.get(product_id), product_id)  # type: ignore[no-any-return]

    async def get_price_history(self, product_id: str, days: int = 365) -> list[PricePoint]:
        return await self._read("history", self.history.get(product_id, []), product_id)  # type: ignore[no-any-return]

    async def get_page(self, product_id: str) -> Product | None:
        return await self._read("page", self.pages.get(product_id), product_id)  # type: ignore[no-any-return]

    async def get_review_texts(self, product_id: str) -> Sequence[str]:
        return await self._read("reviews", self.reviews.get(product_id, []), product_id)  # type: ignore[no-any-return]


def chunks(text: str, size: int = 7, grounded: Sequence[str] = (A, B), error: str | None = None) -> list[TokenChunk]:
    out = []
    for seq, start in enumerate(range(0, len(text), size)):
        out.append(TokenChunk("c1", 3, seq, text[start : start + size], start, grounded_product_ids=list(grounded)))
    final_seq = len(out)
    out.append(TokenChunk("c1", 3, final_seq, "", len(text), final=True, grounded_product_ids=list(grounded),
                          error=error, model="smol"))
    return out


async def hydrate(
    stream: Sequence[TokenChunk], reader: FakeReader | None = None, timeout_s: float = 1.0
) -> list[Frame]:
    hydration = TurnHydration("c1", 3, reader or FakeReader(), timeout_s)
    frames: list[Frame] = []
    for chunk in stream:
        frames += await hydration.on_chunk(chunk)
    return frames


def payload(frame: Frame) -> dict[str, Any]:
    value = json.loads(frame.payload)
    assert isinstance(value, dict)
    return value


def of_type(frames: list[Frame], kind: str) -> list[Frame]:
    return [f for f in frames if f.type == kind]


async def test_text_and_card_frames_in_order_with_contiguous_seq() -> None:
    frames = await hydrate(chunks(f'Try <product id="{A}"/> today.', size=1000))
    assert [f.type for f in frames] == ["text", "card", "text", "suggestions", "done"]
    assert [f.seq for f in frames] == [0, 1, 2, 3, 4]
    assert all((f.conversation_id, f.turn) == ("c1", 3) for f in frames)
    assert frames[0].text + frames[2].text == "Try  today."
    card = payload(frames[1])
    assert card["title"] == f"Title {A}"
    assert (card["price_cents"], card["currency"], card["availability"]) == (3999, "USD", "in_stock")
    assert card["deal"] == {"list_price_cents": 4999, "discount_pct": 20}
    assert card["rating"]["distribution"] == [1, 0, 2, 3, 4]
    assert card["simulated"] is True and card["live"] is True
    done = payload(frames[-1])
    assert done["products_shown"] == [A]
    assert done["model"] == "smol" and done["error"] is False


async def test_ungrounded_products_are_never_shown() -> None:
    frames = await hydrate(chunks(f'<product id="{C}"/><carousel ids="{C},{A}"/><action type="add_to_cart" id="{C}"/>'))
    assert of_type(frames, "card") == []
    carousel = payload(of_type(frames, "carousel")[0])
    assert carousel["product_ids"] == [A]
    assert of_type(frames, "action") == []
    assert payload(frames[-1])["counts"]["ungrounded"] == 3


async def test_grounding_is_the_union_over_the_turns_chunks() -> None:
    stream = chunks(f'<product id="{C}"/>', grounded=())
    stream[0] = TokenChunk("c1", 3, 0, stream[0].text, 0, grounded_product_ids=[C])
    frames = await hydrate(stream)
    assert [payload(f)["product_id"] for f in of_type(frames, "card")] == [C]


async def test_slow_price_gives_a_card_without_price_marked_not_live() -> None:
    frames = await hydrate(chunks(f'<product id="{A}"/>'), FakeReader(delay_s={"offer": 0.5}), timeout_s=0.05)
    card = payload(of_type(frames, "card")[0])
    assert card["live"] is False
    assert card["price_cents"] is None and card["deal"] is None
    assert card["title"] == f"Title {A}"
    assert payload(frames[-1])["counts"]["timeout"] == 1


async def test_failing_reader_drops_cards_but_the_turn_completes() -> None:
    frames = await hydrate(chunks(f'Hi <product id="{A}"/>'), FakeReader(fail=True))
    assert [f.type for f in frames] == ["text", "done"]
    assert payload(frames[-1])["counts"]["lookup_failed"] >= 1


async def test_lookups_are_cached_per_turn() -> None:
    reader = FakeReader()
    await hydrate(chunks(f'<product id="{A}"/> and again <product id="{A}"/>', size=3), reader)
    assert reader.calls["product"] == 1
    assert reader.calls["offer"] == 1


async def test_compare_reads_real_attributes_and_leaves_missing_ones_null() -> None:
    frames = await hydrate(chunks(f'<compare ids="{A},{B}" attrs="battery life,weight,price,color,warranty"/>'))
    table = payload(of_type(frames, "compare")[0])
    assert table["product_ids"] == [A, B]
    rows = {row["attr"]: row for row in table["rows"]}
    assert rows["battery life"]["values"] == ["10 hours", None]
    assert rows["weight"]["values"] == ["0.18 kilograms (0.4 pounds)", "1 pounds"]
    assert rows["weight"]["sources"] == ["item_weight", "item_package_weight"]
    assert rows["price"]["values"] == ["$39.99", "$25.00"]
    assert rows["color"]["values"] == ["red", "blue"]
    assert rows["warranty"]["values"] == [None, None]
    assert table["simulated"] is True


async def test_compare_without_attrs_shows_price_rating_and_shared_attributes_and_needs_two_products() -> None:
    frames = await hydrate(chunks(f'<compare ids="{A},{B}"/><compare ids="{A},{C}"/>'))
    tables = of_type(frames, "compare")
    assert len(tables) == 1  # C is not grounded: one product left, no table
    table = payload(tables[0])
    assert table["attrs"] == ["price", "rating", "color"]  # "binding", shared too, is catalog bookkeeping
    rows = {row["attr"]: row for row in table["rows"]}
    assert rows["price"]["sources"] == ["store.offer", "store.offer"] and all(rows["price"]["values"])


async def test_reviews_extract_pros_cons_and_carry_the_rating() -> None:
    frames = await hydrate(chunks(f'<reviews id="{A}"/>'))
    reviews = payload(of_type(frames, "reviews")[0])
    assert reviews["pros"] == ["Works great and the battery is excellent."]
    assert set(reviews["cons"]) == {"The lid broke after a week.", "Not good at all, very flimsy."}
    assert reviews["sentiment"] == {"positive": 1, "negative": 2, "neutral": 1}
    assert reviews["summary"] == "This product is poorly reviewed."
    assert (reviews["reviews"], reviews["aspects"]) == (4, [])  # no phrase in two reviews
    assert reviews["rating"]["count"] == 10
    assert reviews["method"] == "aspects-v2"


async def test_reviews_of_a_product_page_are_counted_as_review_excerpts() -> None:
    reader = FakeReader()
    reader.reviews[A] = ["The lid broke.", "The lid is bad.", "Works well."]
    reader.pages[A] = Product(A, "Title A", reviews=tuple(reader.reviews[A]))  # the page's review sentences
    frames = await hydrate(chunks(f'<reviews id="{A}"/>'), reader)
    found = payload(of_type(frames, "reviews")[0])
    assert found["summary"] == "This product is poorly reviewed."
    assert found["cons"][0] == "2 of 3 review excerpts complain about the lid."


async def test_price_history_series() -> None:
    frames = await hydrate(chunks(f'<price-history id="{A}"/><price-history id="{B}"/>'))
    charts = of_type(frames, "price_history")
    assert len(charts) == 1  # B has no history
    chart = payload(charts[0])
    assert [p["day"] for p in chart["series"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert (chart["min_cents"], chart["max_cents"], chart["currency"]) == (4001, 4003, "USD")
    assert payload(frames[-1])["counts"]["empty"] == 1


async def test_a_chart_named_twice_in_a_turn_is_shown_once() -> None:
    # The stated price-history lead and the model's own directive may name the same chart.
    frames = await hydrate(chunks(f'<price-history id="{A}"/> Lowest in 30 days. <price-history id="{A}"/>'))
    assert len(of_type(frames, "price_history")) == 1
    assert payload(frames[-1])["counts"]["repeated"] == 1


async def test_suggestions_actions_and_links() -> None:
    text = (f'<suggest>Is it loud? | Is it loud?|Does it fold?</suggest>'
            f'<action type="price_alert" id="{A}" below="49.99"/><action type="price_alert" id="{A}" below="lots"/>'
            f'<action type="add_to_cart" id="{B}"/>The <link id="{A}">red one</link> or <link id="{C}">that</link>.')
    frames = await hydrate(chunks(text))
    # The model's follow-ups are not on A's page, so the ones shown are generated from A's records.
    assert payload(of_type(frames, "suggestions")[0])["items"] == [
        "What is the weight of the first one?", "What do customers say about the first one?",
        "Has the first one been cheaper before?"]
    assert payload(frames[-1])["counts"]["suggestion_unanswerable"] == 2
    actions = [payload(f) for f in of_type(frames, "action")]
    assert actions == [
        {"type": "price_alert", "product_id": A, "params": {"below_cents": 4999}},
        {"type": "add_to_cart", "product_id": B, "params": {"quantity": 1}},
    ]
    texts = of_type(frames, "text")
    assert "".join(f.text for f in texts) == "The red one or that."
    assert [payload(f) for f in texts if f.text == "red one"] == [{"product_id": A}]
    assert all(payload(f) == {} for f in texts if f.text != "red one")


async def test_every_turn_showing_a_product_ends_with_two_or_three_answerable_suggestions() -> None:
    frames = await hydrate(chunks(f'Here: <product id="{A}"/>', grounded=(A,)))
    assert [f.type for f in frames][-2:] == ["suggestions", "done"]
    items = payload(of_type(frames, "suggestions")[0])["items"]
    assert 2 <= len(items) <= 3
    # A has a weight, reviews and a price history; "it" is safe since A is the only grounded product.
    assert items == ["What is its weight?", "What do customers say about it?", "Has it been cheaper before?"]


async def test_model_suggestions_are_kept_only_when_answerable_and_capped_at_three() -> None:
    text = (f'<product id="{A}"/><suggest>What is its battery life?|Show me cheaper ones|What color is it?'
            f'</suggest><suggest>Does it have a warranty?|What do customers say about it?</suggest>')
    frames = await hydrate(chunks(text, grounded=(A,)))
    suggestion_frames = of_type(frames, "suggestions")
    assert len(suggestion_frames) == 1 and suggestion_frames[-1].seq == frames[-1].seq - 1
    assert payload(suggestion_frames[0])["items"] == [
        "What is its battery life?", "What color is it?", "What do customers say about it?"]
    assert payload(frames[-1])["counts"]["suggestion_unanswerable"] == 2


async def test_no_product_shown_no_suggestion_it_could_not_answer() -> None:
    frames = await hydrate(chunks("Not sure. <suggest>Is it loud?|What do customers say about it?</suggest>"))
    assert of_type(frames, "suggestions") == []
    assert payload(frames[-1])["counts"]["suggestion_unanswerable"] == 2


async def test_product_without_reviews_or_history_gets_no_such_suggestion() -> None:
    frames = await hydrate(chunks(f'<product id="{B}"/>', grounded=(B,)))
    items = payload(of_type(frames, "suggestions")[0])["items"]
    assert items == ["What color is it?", "What is its package weight?"]  # B: two attributes, nothing else


async def test_generation_error_ends_with_error_then_done() -> None:
    frames = await hydrate(chunks("Partial ans", error="llm timed out"))
    assert [f.type for f in frames][-2:] == ["error", "done"]
    assert payload(frames[-2]) == {"reason": "llm timed out", "stage": "generate", "retriable": False}
    assert payload(frames[-1])["error"] is True


async def test_chunks_after_final_or_of_other_turns_produce_nothing() -> None:
    hydration = TurnHydration("c1", 3, FakeReader(), 1.0)
    stream = chunks("Hello")
    for chunk in stream:
        await hydration.on_chunk(chunk)
    assert await hydration.on_chunk(stream[0]) == []
    other = TurnHydration("c1", 4, FakeReader(), 1.0)
    assert await other.on_chunk(stream[0]) == []


async def test_overlapping_redelivery_consumes_only_new_text() -> None:
    hydration = TurnHydration("c1", 3, FakeReader(), 1.0)
    first = await hydration.on_chunk(TokenChunk("c1", 3, 0, "Hello wor", 0))
    again = await hydration.on_chunk(TokenChunk("c1", 3, 1, "world", 6))
    assert [f.text for f in first + again] == ["Hello wor", "ld"]
    assert [f.seq for f in first + again] == [0, 1]
    assert hydration.hydrator.consumed == 11


_STREAM = st.lists(st.sampled_from(["Hello ", "a < b ", f'<product id="{A}"/>', f'<carousel ids="{A},{B}"/>',
                                    "<suggest>Q1|Q2</suggest>", "<b>", f'<reviews id="{A}"/>', "é✓ "]),
                   max_size=8).map("".join)


@settings(max_examples=40, deadline=None)
@given(_STREAM, st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=12), st.data())
async def test_redelivered_and_resplit_streams_give_identical_frames(
    text: str, sizes: list[int], data: st.DataObject
) -> None:
    reference = await hydrate(chunks(text, size=1000))
    stream: list[TokenChunk] = []
    start = 0
    for i, size in enumerate(sizes * (len(text) // max(1, sum(sizes)) + 1)):
        if start >= len(text):
            break
        stream.append(TokenChunk("c1", 3, i, text[start : start + size], start, grounded_product_ids=[A, B]))
        start += size
    # Redeliver some chunks right after they were first seen, as a consumer restart would.
    replayed: list[TokenChunk] = []
    for chunk in stream:
        replayed.append(chunk)
        if data.draw(st.booleans()):
            replayed.extend(stream[max(0, len(replayed) - 3) : stream.index(chunk) + 1])
    replayed.append(TokenChunk("c1", 3, len(stream), "", len(text), final=True, grounded_product_ids=[A, B],
                               model="smol"))
    frames = await hydrate(replayed)

    def canonical(fs: list[Frame]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for f in fs:
            if f.type == "text" and f.payload == "{}" and out and out[-1][0] == "text":
                out[-1] = ("text", out[-1][1] + f.text)
            else:
                out.append((f.type, f.text or f.payload if f.type != "done" else ""))
        return out

    assert canonical(frames) == canonical(reference)
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert await hydrate(replayed) == frames  # the same input stream gives identical frames


async def test_a_card_or_carousel_of_products_already_shown_is_not_repeated() -> None:
    frames = await hydrate(chunks(f'<carousel ids="{A},{B}"/> Both. <product id="{A}"/><carousel ids="{B},{A}"/>'))
    assert [f.type for f in frames if f.type in ("card", "carousel")] == ["carousel"]
    assert json.loads(frames[-1].payload)["counts"]["repeated"] == 2


_KINDS = ("product", "offer", "rating", "history", "page", "reviews")
_TIMED = st.lists(st.sampled_from(["Hi ", f'<product id="{A}"/>', f'<carousel ids="{A},{B}"/>',
                                   f'<compare ids="{A},{B}" attrs="price,color"/>', f'<reviews id="{A}"/>',
                                   f'<price-history id="{A}"/>', f'<product id="{B}"/>']), min_size=1, max_size=6).map("".join)


@settings(max_examples=40, deadline=None)
@given(_TIMED, st.integers(min_value=1, max_value=40),
       st.dictionaries(st.tuples(st.sampled_from(_KINDS), st.sampled_from([A, B])), st.integers(0, 30)))
async def test_frames_do_not_depend_on_the_order_in_which_reads_complete(
    text: str, size: int, yields: dict[tuple[str, str], int]
) -> None:
    # Every read completes in time, but in an order the draw chooses: the frames must not change.
    reference = await hydrate(chunks(text, size=size))
    reader = FakeReader()
    reader.yields = yields
    assert await hydrate(chunks(text, size=size), reader) == reference


async def test_a_read_that_timed_out_stays_missing_for_the_rest_of_the_turn() -> None:
    reader = FakeReader()
    reader.gates[("offer", A)] = gate = asyncio.Event()
    hydration = TurnHydration("c1", 3, reader, 0.05)
    stream = chunks(f'<product id="{A}"/>|<compare ids="{A},{B}" attrs="price"/>', size=len(f'<product id="{A}"/>|'))
    frames = await hydration.on_chunk(stream[0])
    assert payload(of_type(frames, "card")[0])["live"] is False
    gate.set()  # the offer could now be read: the turn still shows what the card showed
    for chunk in stream[1:]:
        frames += await hydration.on_chunk(chunk)
    rows = payload(of_type(frames, "compare")[0])["rows"]
    assert rows[0]["values"] == [None, "$25.00"]
    assert reader.calls["offer"] == 2  # A's once (abandoned), B's once
    assert payload(frames[-1])["counts"]["timeout"] == 1


async def test_text_that_needs_no_read_goes_out_without_waiting() -> None:
    reader = FakeReader()
    reader.gates[("product", A)] = asyncio.Event()  # never set: a read of A would wait out the timeout
    hydration = TurnHydration("c1", 3, reader, 60.0)
    step = hydration.on_chunk(TokenChunk("c1", 3, 0, "Hello there, ", 0, grounded_product_ids=[A]))
    # The coroutine finishes on its first step: it never suspended to wait for anything.
    with pytest.raises(StopIteration) as done:
        step.send(None)
    assert [(f.type, f.text) for f in done.value.value] == [("text", "Hello there, ")]
    assert reader.calls == Counter()

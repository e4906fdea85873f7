"""`aisle eval markup` scoring: raw answers and real hydrate frames (fake catalog reader) in, rates out."""

from __future__ import annotations

from typing import Any

from pipeline.eval.markup import MarkupEvalOptions, select
from pipeline.eval.markup_scoring import (
    SYSTEM_MODEL,
    MarkupAnswer,
    TurnScore,
    answer_row,
    is_useful,
    render_markdown,
    score_answer,
    summarise,
)
from pipeline.eval.planner import Item
from pipeline.messages import Frame, TokenChunk
from pipeline.planner import intents as I
from pipeline.stages.hydrate import TurnHydration
from tests.unit.stages.test_hydrate import A, B, C, FakeReader


async def frames_of(raw: str, grounded: tuple[str, ...] = (A, B)) -> list[Frame]:
    hydration = TurnHydration("c", 0, FakeReader(), 1.0)
    frames = await hydration.on_chunk(TokenChunk("c", 0, 0, raw, 0, grounded_product_ids=list(grounded)))
    frames += await hydration.on_chunk(TokenChunk("c", 0, 1, "", len(raw), final=True,
                                                  grounded_product_ids=list(grounded), model="smol"))
    return frames


async def score(intent: str, asked: list[str], raw: str, grounded: tuple[str, ...] = (A, B)) -> TurnScore:
    return score_answer(intent, asked, raw, await frames_of(raw, grounded))


async def test_a_card_for_the_asked_product_is_valid_and_useful() -> None:
    s = await score(I.PRODUCT_QUESTION, [A], f'It is light. <product id="{A}"/>')
    assert (s.wrote, s.shown, s.useful) == (1, ["card"], True)
    assert s.products_shown == 1 and 2 <= s.suggestions_frame <= 3


async def test_a_card_for_another_product_is_valid_but_not_useful() -> None:
    s = await score(I.PRODUCT_QUESTION, [A], f'See <product id="{B}"/>')
    assert s.shown == ["card"] and not s.useful


async def test_ungrounded_and_malformed_markup_is_counted_not_valid() -> None:
    s = await score(I.PRODUCT_QUESTION, [A], f'<product id="{C}"/> <product id={A}/> <b>x</b> <reviews id="{A}"')
    assert s.wrote == 1 and s.shown == [] and not s.useful
    assert (s.ungrounded, s.malformed, s.dropped) == (1, 1, 3)  # <b>, </b>, the truncated <reviews ...


async def test_model_suggestions_count_as_valid_only_when_kept() -> None:
    kept = await score(I.GENERAL_ADVICE, [], f'<link id="{A}">this</link> <suggest>What color is it?|Is it loud?</suggest>',
                       grounded=(A,))
    assert (kept.suggest_written, kept.suggest_kept) == (2, 1)
    assert kept.shown == ["link", "suggest"]
    dropped = await score(I.GENERAL_ADVICE, [], "Think first. <suggest>Is it loud?</suggest>")
    assert (dropped.suggest_written, dropped.suggest_kept, dropped.shown) == (1, 0, [])


async def test_useful_per_intent() -> None:
    assert (await score(I.COMPARISON, [], f'<compare ids="{A},{B}"/>')).useful
    assert not (await score(I.COMPARISON, [], f'<compare ids="{A},{C}"/>')).useful  # C is not grounded
    assert (await score(I.REVIEW_SUMMARY, [A], f'<reviews id="{A}"/>')).useful
    assert (await score(I.PRICE_HISTORY, [A], f'<price-history id="{A}"/>')).useful
    assert (await score(I.PRODUCT_SEARCH, [], f'<carousel ids="{A},{B}"/>')).useful
    assert (await score(I.PRODUCT_SEARCH, [], f'<product id="{A}"/><product id="{B}"/>')).useful
    assert not (await score(I.PRODUCT_SEARCH, [], f'<product id="{A}"/>')).useful
    assert (await score(I.CART_ACTION, [B], f'<action type="add_to_cart" id="{B}"/>')).useful
    assert not is_useful(I.ORDER_STATUS, [], await frames_of(f'<product id="{A}"/>'))


def test_select_takes_the_first_per_intent() -> None:
    items = [Item("x", f"q{i}", intent) for i, intent in enumerate([I.COMPARISON, I.COMPARISON, I.PRODUCT_SEARCH])]
    assert [i.text for i in select(items, MarkupEvalOptions(limit=1))] == ["q0", "q2"]
    assert [i.text for i in select(items, MarkupEvalOptions(limit=0, intents=(I.COMPARISON,)))] == ["q0", "q1"]


def _row(intent: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"intent": intent, "model": "smol", "error": None, "raw": "x", "seconds": 1.0,
                           "products_shown": 0, "suggestions_frame": 0, **vars(TurnScore())}
    row.update(fields)
    return row


def test_summary_rates_leave_out_system_stated_and_failed_answers() -> None:
    rows = [
        _row(I.COMPARISON, wrote=2, shown=["compare"], useful=True, useful_shown=True, products_shown=2,
             suggestions_frame=3),
        _row(I.COMPARISON, wrote=1, malformed=1, ungrounded=2, products_shown=1, suggestions_frame=1),
        _row(I.COMPARISON, model=SYSTEM_MODEL, wrote=1, shown=["card"]),
        _row(I.COMPARISON, error="DependencyError: down", raw=""),
        _row(I.ORDER_STATUS),
        _row(I.PRICE_HISTORY, system_added=True, useful_shown=True),
    ]
    summary = summarise(rows)
    cmp = summary[I.COMPARISON]
    assert (cmp["requests"], cmp["answers"], cmp["stated_by_system"], cmp["failed"]) == (4, 2, 1, 1)
    assert (cmp["wrote"], cmp["valid"], cmp["useful"]) == (1.0, 0.5, 0.5)
    assert (cmp["directives"], cmp["malformed"], cmp["ungrounded"]) == (3, 1, 2)
    assert (cmp["showing_product"], cmp["suggestions_2_3"]) == (2, 0.5)
    assert summary["all"]["answers"] == 4
    assert summary["all"]["useful"] == round(1 / 3, 4)  # the order-status answer calls for no directive
    assert summary[I.ORDER_STATUS]["useful"] is None
    assert list(summary) == ["all", I.COMPARISON, I.PRICE_HISTORY, I.ORDER_STATUS]
    price = summary[I.PRICE_HISTORY]
    assert (price["useful"], price["useful_shown"], price["system_added"]) == (0.0, 1.0, 1)
    report = {"model": "m", "llm_url": "u", "grammar": True, "planner_mode": "rules", "limit": 2, "concurrency": 1,
              "seconds": 3.0, "summary": summary, "useful_definitions": {I.COMPARISON: "a table"}}
    text = render_markdown(report)
    assert "| comparison | 2 (+1 stated) | 100% | 50% | 50% | 50% |" in text
    assert "| order_status | 1 | 0% | 0% | – | – |" in text
    assert "1 answers the system stated in full (no model), 1 that failed. In 1 answers generate added" in text


async def test_what_generate_adds_counts_as_shown_not_as_the_models() -> None:

    lead = f'<price-history id="{A}"/> Lowest in 30 days: $40.01. '
    model_part = "It is a fair price."
    answer = MarkupAnswer(None, lead + model_part, await frames_of(lead + model_part), "smol", 1.0, None, model_part,
                     await frames_of(model_part))
    row = answer_row(Item("hand_written", "has it been cheaper?", I.PRICE_HISTORY, A, (), (A,)), answer)
    assert (row["wrote"], row["useful"], row["useful_shown"]) == (0, False, True)
    assert row["products_shown"] == 1 and row["suggestions_frame"] >= 2

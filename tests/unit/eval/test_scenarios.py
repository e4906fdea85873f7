"""The scenario suite's checks and judge, on outcomes built by hand (no broker)."""

import json

from pipeline.eval import checks as c
from pipeline.eval._runners import TurnOutcome
from pipeline.eval.scenarios import SCENARIOS, Ask, Scenario, judge, turns_of
from pipeline.messages import Frame, TurnResponse


def outcome(text: str, *, intent: str = "product_question", model: str = "m", shown: list[str] | None = None,
            extra: list[Frame] | None = None) -> TurnOutcome:
    frames = [Frame("c", 0, 0, "text", text, None), *(extra or []), Frame("c", 0, 9, "done", "", "{}")]
    response = TurnResponse("c", 0, 0, "u", "q", text, intent, products_shown=shown or [], model=model)
    return TurnOutcome(frames, response, None, 1.0, 0.5)


def card(pid: str, cents: int) -> Frame:
    return Frame("c", 0, 1, "card", "", json.dumps({"product_id": pid, "price_cents": cents}))


def test_every_turn_catches_raw_markup_loops_errors_and_unfinished_turns() -> None:
    assert c.every_turn(outcome("It is quiet. The page says so."), []) is None
    assert "raw markup" in (c.every_turn(outcome("It is quiet <suggest>a|b"), []) or "")
    assert "repeats" in (c.every_turn(outcome("It is very quiet. It is very quiet."), []) or "")
    failed = outcome("x", extra=[Frame("c", 0, 1, "error", "", '{"code": "llm_unavailable"}')])
    assert "error frames" in (c.every_turn(failed, []) or "")
    assert "did not finish" in (c.every_turn(TurnOutcome([], None, None, 1.0, None, ["timeout"]), []) or "")


def test_cheapest_of_previous_needs_the_cheapest_card_and_its_price() -> None:
    shown = outcome("Two feeders.", shown=["B1", "B2"], extra=[card("B1", 2450), card("B2", 1299)])
    right = outcome("The OurPets is the cheapest of the two at $12.99.", shown=["B2"], extra=[card("B2", 1299)])
    wrong = outcome("The cheapest is the one with the highest price.", shown=["B1", "B2"])
    assert c.cheapest_of_previous(right, [shown]) is None
    assert "cheapest of" in (c.cheapest_of_previous(wrong, [shown]) or "")


def test_a_pick_after_one_card_shows_only_what_was_shown_and_no_table() -> None:
    one = outcome("A blender.", shown=["B1"], extra=[card("B1", 15999)])
    assert c.picks_only_from_previous(outcome("There is only one to choose from.", shown=["B1"]), [one]) is None
    assert "not a pick" in (c.picks_only_from_previous(outcome("Side by side.", shown=["B7", "B8"]), [one]) or "")
    assert "not a pick" in (c.picks_only_from_previous(outcome("Nothing.", shown=[]), [one]) or "")


def test_judge_reports_each_failing_check_and_missing_turns() -> None:
    scenario = Scenario("s", "what", (Ask("hi", (c.intent_is("out_of_scope"), c.stated_by_system)), Ask("again")))
    result = judge(scenario, [outcome("Sunny.", intent="out_of_scope"), None])
    assert not result.passed
    assert result.turns[0]["failures"] == ["the answer came from the model 'm', not the system"]
    assert result.turns[1]["failures"] == ["no answer came back"]


def test_every_scenario_becomes_one_conversation_of_ordered_turns() -> None:
    turns = turns_of(SCENARIOS, "r1")
    assert len({t.conversation_id for t in turns}) == len(SCENARIOS)
    cheapest = [t for t in turns if t.conversation_id == "r1-cheapest_of_shown"]
    assert [t.turn for t in cheapest] == [0, 1] and cheapest[1].text == "which one is the cheapest?"

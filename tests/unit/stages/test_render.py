"""The render core: pass-through, dedupe, and the finished turn's records."""

from __future__ import annotations

import pytest

from pipeline.errors import StageError
from pipeline.messages import ConversationState, Frame, TurnMemory
from pipeline.stages.render import TurnContext, TurnRenderer

CONTEXT = TurnContext(user_id="u1", question="Which is lighter?", intent="compare", plan_path="llm",
                      hop_ms={"plan": 12.5})


def turn_frames(turn: int = 2) -> list[Frame]:
    f = [
        ("text", "The ", "{}"),
        ("card", "", '{"product_id":"B07A","title":"A"}'),
        ("text", "red one", '{"product_id":"B08B"}'),
        ("compare", "", '{"product_ids":["B07A","B08B"],"rows":[]}'),
        ("action", "", '{"type":"add_to_cart","product_id":"B07A","params":{"quantity":1}}'),
        ("suggestions", "", '{"items":["Q1"]}'),
        ("text", " is lighter.", "{}"),
        ("done", "", '{"model":"smol","products_shown":["B07A","B08B"]}'),
    ]
    return [Frame("c1", turn, seq, kind, text, payload) for seq, (kind, text, payload) in enumerate(f)]


def render(frames: list[Frame], turn: int = 2) -> tuple[TurnRenderer, list[Frame]]:
    renderer = TurnRenderer("c1", turn)
    out: list[Frame] = []
    for frame in frames:
        out += renderer.on_frame(frame)
    return renderer, out


def test_frames_pass_through_and_the_turn_is_recorded() -> None:
    frames = turn_frames()
    renderer, out = render(frames)
    assert out == frames
    assert renderer.finished
    done = renderer.finish(CONTEXT, None, now_ms=1_000)
    response = done.response
    assert response.text == "The red one is lighter."
    assert response.products_shown == ["B07A", "B08B"]
    assert response.directives == ["card:B07A", "link:B08B", "compare:B07A,B08B", "action:add_to_cart:B07A",
                                   "suggestions"]
    assert (response.model, response.intent, response.plan_path) == ("smol", "compare", "llm")
    assert response.hop_ms == {"plan": 12.5} and response.finished_at_ms == 1_000
    assert done.state.turns == [TurnMemory(2, "Which is lighter?", "The red one is lighter.", ["B07A", "B08B"])]
    assert (done.state.turn, done.state.user_id, done.state.updated_at_ms) == (2, "u1", 1_000)


def test_duplicates_are_dropped_by_turn_and_seq() -> None:
    frames = turn_frames()
    replay = frames[:3] + frames[1:5] + frames[:2] + frames[5:] + frames[-2:]
    renderer, out = render(replay)
    assert out == frames
    assert renderer.duplicates == len(replay) - len(frames)
    assert renderer.finish(CONTEXT, None, 0).response.text == "The red one is lighter."


def test_other_turns_are_ignored_and_gaps_counted() -> None:
    frames = turn_frames()
    renderer, out = render([turn_frames(turn=1)[0], *frames[:2], *frames[3:]])
    assert out == frames[:2] + frames[3:]
    assert renderer.gaps == 1


def test_finish_before_done_raises() -> None:
    renderer, _ = render(turn_frames()[:3])
    with pytest.raises(StageError):
        renderer.finish(CONTEXT, None, 0)


def test_state_replaces_the_same_turn_keeps_order_and_bounds_history() -> None:
    previous = ConversationState(
        "c1", 5, 0, "u1",
        turns=[TurnMemory(t, f"q{t}", f"a{t}", []) for t in (1, 2, 3, 5)],
        updated_at_ms=10,
    )
    renderer, _ = render(turn_frames(turn=2), turn=2)
    state = renderer.finish(CONTEXT, previous, 99, max_turns=3).state
    assert [t.turn for t in state.turns] == [2, 3, 5]
    assert state.turns[0].answer == "The red one is lighter."
    assert state.turn == 5
    again = renderer.finish(CONTEXT, state, 99, max_turns=3).state
    assert again == state

"""Feedback aggregation: joined with responses per turn, in either order, repeats counted once."""

from __future__ import annotations

from pathlib import Path

from pipeline.feedback.aggregate import FeedbackAggregate
from pipeline.feedback.snapshot import read_snapshot
from pipeline.messages import Feedback, TurnResponse
from pipeline.stages.feedback import FeedbackStage


def response(conversation: str, turn: int, intent: str, model: str | None = "qwen") -> TurnResponse:
    return TurnResponse(conversation, turn, 0, "u1", "q", "a", intent, model=model)


def feedback(conversation: str, turn: int, kind: str, seq: int = 1) -> Feedback:
    return Feedback(conversation, turn, seq, "u1", kind)


def groups(agg: FeedbackAggregate) -> dict[tuple[str, str], dict[str, object]]:
    return {(g["intent"], g["model"]): g for g in agg.snapshot(0)["groups"]}


def test_counts_join_responses_in_either_order_and_drop_repeats() -> None:
    agg = FeedbackAggregate("answer-v1")
    agg.on_response(response("c1", 0, "compare"))
    assert agg.on_feedback(feedback("c1", 0, "thumbs_up"))
    assert not agg.on_feedback(feedback("c1", 0, "thumbs_up")), "a redelivered thumbs counted twice"
    agg.on_feedback(feedback("c2", 5, "thumbs_down"))  # before its response
    agg.on_feedback(feedback("c2", 5, "action_done", seq=2))
    agg.on_response(response("c2", 5, "compare"))
    agg.on_response(response("c3", 1, "cart_action", None))
    agg.on_feedback(feedback("c3", 1, "action_failed"))
    result = groups(agg)
    compare = result[("compare", "qwen")]
    assert (compare["thumbs_up"], compare["thumbs_down"], compare["action_done"]) == (1, 1, 1)
    assert compare["thumbs_up_rate"] == 0.5 and compare["prompt_version"] == "answer-v1"
    assert result[("cart_action", "rules")]["action_success_rate"] == 0.0


def test_feedback_whose_turn_never_comes_is_counted_as_unknown() -> None:
    agg = FeedbackAggregate("v", max_pending=1)
    agg.on_feedback(feedback("c1", 0, "thumbs_up"))
    agg.on_feedback(feedback("c2", 0, "thumbs_up"))
    assert groups(agg)[("unknown", "unknown")]["thumbs_up"] == 1
    assert agg.snapshot(0)["pending_turns"] == 1


async def test_stage_writes_a_snapshot_that_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "feedback" / "aggregate.json"
    stage = FeedbackStage(path, "v1", clock_ms=lambda: 10_000)
    await stage.start()
    stage.aggregate.on_response(response("c1", 0, "search"))
    assert [o async for o in stage.process(feedback("c1", 0, "thumbs_up"))] == []
    await stage.stop()
    again = FeedbackStage(path, "v1", clock_ms=lambda: 20_000)
    await again.start()
    again.aggregate.on_response(response("c1", 1, "search"))
    _ = [o async for o in again.process(feedback("c1", 1, "thumbs_up"))]
    await again.stop()
    [group] = read_snapshot(path)["groups"]
    assert (group["intent"], group["thumbs_up"]) == ("search", 2)


def test_replayed_traffic_is_not_shopper_feedback() -> None:
    agg = FeedbackAggregate("v")
    assert not agg.on_feedback(feedback("replay/r-1/c1", 0, "thumbs_up"))
    agg.on_feedback(feedback("c9", 0, "thumbs_down"))  # waits for its response, which is a replayed one
    agg.on_response(TurnResponse("c9", 0, 0, "u1", "q", "a", "search", run_id="r-1"))
    assert agg.snapshot(0)["groups"] == [] and agg.snapshot(0)["replayed_skipped"] == 2
    again = FeedbackAggregate("v")
    again.load(agg.snapshot(0))
    assert again.replayed_skipped == 2


def test_feedback_pushed_out_of_the_pending_bound_still_counts_as_unknown() -> None:
    agg = FeedbackAggregate("answer-v1", max_pending=2)
    agg.on_feedback(feedback("c1", 0, "thumbs_up"))
    agg.on_feedback(feedback("c1", 0, "action_done", seq=2))
    agg.on_feedback(feedback("c2", 0, "thumbs_down"))
    agg.on_feedback(feedback("c3", 0, "thumbs_down"))  # no room: c1's two wait no longer
    assert agg.snapshot(0)["pending_turns"] == 2
    unknown = groups(agg)[("unknown", "unknown")]
    assert (unknown["thumbs_up"], unknown["action_done"], unknown["thumbs_down"]) == (1, 1, 0)
    agg.on_response(response("c1", 0, "compare"))  # too late: nothing is counted twice
    agg.on_response(response("c2", 0, "compare"))
    assert groups(agg)[("compare", "qwen")]["thumbs_down"] == 1
    assert groups(agg)[("unknown", "unknown")]["thumbs_up"] == 1


def test_a_turn_touched_by_feedback_is_remembered_over_an_idle_one() -> None:
    agg = FeedbackAggregate("answer-v1", max_turns=2)
    agg.on_response(response("c1", 0, "compare"))
    agg.on_response(response("c2", 0, "search"))
    agg.on_feedback(feedback("c1", 0, "thumbs_up"))  # c1 is now the more recently used
    agg.on_response(response("c3", 0, "search"))     # pushes c2 out, not c1
    agg.on_feedback(feedback("c1", 0, "thumbs_down"))
    agg.on_feedback(feedback("c2", 0, "thumbs_up"))  # c2's response is forgotten: waits
    assert groups(agg)[("compare", "qwen")]["thumbs_down"] == 1
    assert agg.snapshot(0)["pending_turns"] == 1

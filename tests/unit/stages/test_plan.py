"""The plan stage: UserTurn in, one Plan out on `plans`, history kept per conversation."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.config import Settings
from pipeline.errors import ConfigError, StageError
from pipeline.messages import ConversationState, Plan, TurnMemory, UserMemory, UserTurn
from pipeline.planner.planner import PlannerOptions
from pipeline.stages.plan import PlanStage, build

SHOWN = ["B00655HJJE", "B000DZFTC6"]


def state(conversation_id: str, turn: int, ids: list[str]) -> ConversationState:
    return ConversationState(conversation_id, turn, 0, "u1", [TurnMemory(turn, "q", "a", ids)])


async def plans(stage: PlanStage, message: object, history: ConversationState | None = None) -> list[Plan]:
    out = [o async for o in stage.process(message, history)]
    assert all((o.topic, o.key) == ("plans", o.value.conversation_id) for o in out)
    return [o.value for o in out]


async def test_one_plan_per_request_keyed_by_conversation() -> None:
    stage = PlanStage(PlannerOptions(mode="rules"))
    [plan] = await plans(stage, UserTurn("c1", 0, 0, "u1", "tents under $100"))
    assert (plan.intent, plan.path, plan.steps[0].filters) == ("product_search", "rules", {"max_price_cents": "10000"})


async def test_history_passed_once_is_remembered_for_the_conversation() -> None:
    stage = PlanStage(PlannerOptions(mode="rules"))
    await plans(stage, UserTurn("c1", 1, 0, "u1", "hello"), state("c1", 1, SHOWN))
    [plan] = await plans(stage, UserTurn("c1", 2, 0, "u1", "add the second one to my cart"))
    assert (plan.intent, plan.resolved_product_ids) == ("cart_action", [SHOWN[1]])
    [other] = await plans(stage, UserTurn("c2", 2, 0, "u1", "add the second one to my cart"))
    assert other.resolved_product_ids == []


def test_an_older_state_does_not_replace_a_newer_one_and_memory_is_bounded() -> None:
    stage = PlanStage(PlannerOptions(mode="rules"), max_conversations=2)
    stage.remember(state("c1", 3, SHOWN))
    stage.remember(state("c1", 2, ["B0OLDOLD01"]))
    kept = stage.history("c1")
    assert kept is not None and kept.turn == 3
    stage.remember(state("c2", 1, SHOWN))
    stage.remember(state("c3", 1, SHOWN))
    assert stage.history("c1") is None and stage.history("c3") is not None


async def test_other_messages_are_refused() -> None:
    with pytest.raises(StageError):
        await plans(PlanStage(PlannerOptions(mode="rules")), "not a turn")


async def test_embeddings_decide_where_rules_are_silent() -> None:
    async def embed(texts: Sequence[str]) -> list[list[float]]:
        # A toy embedder: "gripes" lands on the review example about complaints, nothing else is near.
        return [[1.0, 0.0] if ("complaints" in t or "gripes" in t) else [0.0, 1.0] for t in texts]

    stage = PlanStage(PlannerOptions(mode="rules"), embed=embed)
    await stage.start()
    [plan] = await plans(stage, UserTurn("c1", 0, 0, "u1", "any gripes?", "B0052SUOYC"))
    assert (plan.intent, plan.path) == ("review_summary", "rules+embed")
    [silent] = await plans(PlanStage(PlannerOptions(mode="rules")), UserTurn("c1", 0, 0, "u1", "any gripes?", "B0052SUOYC"))
    assert (silent.intent, silent.path) == ("product_question", "rules")
    await stage.stop()


async def test_a_failing_embedder_leaves_the_rules() -> None:
    async def broken(texts: Sequence[str]) -> list[list[float]]:
        raise ConfigError("model files missing")

    stage = PlanStage(PlannerOptions(mode="rules"), embed=broken)
    await stage.start()
    [plan] = await plans(stage, UserTurn("c1", 0, 0, "u1", "any gripes?", "B0052SUOYC"))
    assert plan.path == "rules"


def test_build_reads_the_mode_and_refuses_a_bad_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stage = build(Settings(home=tmp_path, planner_mode="rules"))
    assert (stage.name, stage.input_topic, stage.input_type, stage.options.mode) == ("plan", "requests", UserTurn, "rules")
    with pytest.raises(ConfigError):
        build(Settings(home=tmp_path, planner_mode="fast"))


async def test_account_memory_is_written_per_user_applied_to_searches_and_forgotten() -> None:
    stage = PlanStage(PlannerOptions(mode="rules"))
    out = [o async for o in stage.process(UserTurn("c1", 0, 0, "u1", "My budget is $30 and I have a cat"))]
    assert [o.topic for o in out] == ["user-memory", "plans"]
    memory = out[0].value
    assert (out[0].key, memory.user_id, memory.preferences) == ("u1", "u1", {"budget_cents": "3000", "pets": "cat"})
    # Another conversation of the same shopper: the budget narrows an open search.
    [plan] = await plans(stage, UserTurn("c2", 0, 0, "u1", "show me scratching posts"))
    assert plan.steps[0].filters["max_price_cents"] == "3000" and plan.preferences["pets"] == "cat"
    [other] = await plans(stage, UserTurn("c3", 0, 0, "u2", "show me scratching posts"))
    assert other.preferences == {} and "max_price_cents" not in other.steps[0].filters
    out = [o async for o in stage.process(UserTurn("c2", 1, 0, "u1", "forget my budget"))]
    assert [o.topic for o in out] == ["user-memory", "plans"]
    assert out[0].value.preferences == {"pets": "cat"} and out[1].value.intent == "account_memory"
    [plan] = await plans(stage, UserTurn("c2", 2, 0, "u1", "show me scratching posts"))
    assert "max_price_cents" not in plan.steps[0].filters


def test_an_older_memory_record_read_back_does_not_replace_a_newer_one() -> None:
    stage = PlanStage(PlannerOptions(mode="rules"))
    stage.remember_user(UserMemory("c2", 1, 0, "u1", {"pets": "cat"}, updated_at_ms=2_000))
    stage.remember_user(UserMemory("c1", 0, 0, "u1", {"budget_cents": "3000"}, updated_at_ms=1_000))
    assert stage.preferences("u1") == {"pets": "cat"}

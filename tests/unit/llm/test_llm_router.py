"""The model router: planning goes small; answers go large only when the plan is complex."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.llm.router import ModelRouter
from pipeline.messages import Plan, RetrievalStep, UserTurn

ROUTER = ModelRouter(small_model="small", large_model="large")


def plan(intent: str, steps: list[RetrievalStep] | None = None, resolved: list[str] | None = None) -> Plan:
    request = UserTurn(conversation_id="c", turn=1, seq=0, user_id="u", text="q")
    return Plan(
        conversation_id="c",
        turn=1,
        seq=0,
        request=request,
        intent=intent,
        steps=steps if steps is not None else [RetrievalStep(source="products", query="q")],
        resolved_product_ids=resolved or [],
    )


def test_planning_uses_the_small_model() -> None:
    assert ROUTER.for_planning() == "small"


def test_simple_intent_gets_the_small_model() -> None:
    assert ROUTER.for_answer(plan("product_question")) == "small"


def test_complex_intent_gets_the_large_model() -> None:
    assert ROUTER.for_answer(plan("comparison")) == "large"


def test_many_steps_make_a_plan_complex() -> None:
    steps = [RetrievalStep(source=s) for s in ("products", "reviews", "qa")]
    assert ROUTER.for_answer(plan("product_question", steps)) == "large"


def test_several_products_make_a_plan_complex() -> None:
    steps = [RetrievalStep(source="products", product_ids=["B1"])]
    assert ROUTER.for_answer(plan("product_question", steps, resolved=["B1"])) == "small"
    assert ROUTER.for_answer(plan("product_question", steps, resolved=["B2"])) == "large"


def test_from_settings_uses_the_configured_names_and_intents() -> None:
    router = ModelRouter.from_settings(
        Settings(llm_model_small="s", llm_model_large="l"), complex_intents={"deals"}
    )
    assert router.for_answer(plan("deals")) == "l"
    assert router.for_answer(plan("compare")) == "s"


def test_default_settings_point_both_at_the_local_model() -> None:
    router = ModelRouter.from_settings(Settings())
    assert router.for_answer(plan("compare")) == router.for_answer(plan("hello")) == router.for_planning()

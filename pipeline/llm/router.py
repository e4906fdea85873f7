"""Which model answers which request.

Planning is on the critical path (no token streams before the plan), so it always goes to the small,
fast model. Answers go to the small model for simple intents and to the large one when the plan needs
more reasoning: a complex intent (comparisons, recommendations, multi-step questions) or a plan that
pulls from many sources. By default both names point at the one local model (Settings), so routing
changes nothing until a deployment serves two models (e.g. on Neuron).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.messages import Plan

COMPLEX_INTENTS: frozenset[str] = frozenset({"comparison", "product_search", "general_advice"})
"""Intents whose answers weigh several products or explain trade-offs."""

MAX_SIMPLE_STEPS = 2
"""A plan with more retrieval steps than this is answered by the large model."""


@dataclass(frozen=True)
class ModelRouter:
    """Picks a served model name per task; pure, so stage cores may call it."""

    small_model: str
    large_model: str
    complex_intents: frozenset[str] = COMPLEX_INTENTS
    max_simple_steps: int = MAX_SIMPLE_STEPS

    @classmethod
    def from_settings(cls, settings: Settings, complex_intents: Iterable[str] | None = None) -> ModelRouter:
        intents = COMPLEX_INTENTS if complex_intents is None else frozenset(complex_intents)
        return cls(settings.llm_model_small, settings.llm_model_large, intents)

    def for_planning(self) -> str:
        """The model that writes retrieval plans (latency-critical, JSON-schema output)."""
        return self.small_model

    def for_answer(self, plan: Plan) -> str:
        """The model that writes the streamed answer to `plan`."""
        if self.is_complex(plan):
            return self.large_model
        return self.small_model

    def is_complex(self, plan: Plan) -> bool:
        if plan.intent in self.complex_intents:
            return True
        distinct_products = set(plan.resolved_product_ids)
        for step in plan.steps:
            distinct_products.update(step.product_ids)
        return len(plan.steps) > self.max_simple_steps or len(distinct_products) > 1

"""Account memory meets the plan: what a turn changes in the memory, and how the memory narrows the
plan. Pure; the plan stage (pipeline/stages/plan.py) owns the per-user records and the topic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pipeline.memory.preferences import extract, merge, without
from pipeline.messages import Plan, RetrievalStep
from pipeline.planner.rules import looks_like_injection

_NOT_LEARNED_FROM = frozenset({"out_of_scope", "account_memory"})
"""Intents whose text is never mined: injected instructions, and the memory requests themselves."""
_BUDGET_INTENTS = frozenset({"product_search", "general_advice", "comparison"})


def updated_preferences(plan: Plan, kept: Mapping[str, str]) -> dict[str, str] | None:
    """The shopper's preferences after this turn, or None when the turn changes nothing.

    "forget ..." (an account_memory plan's memory step) removes the keys it names; any other turn of
    the shopper's own (not replayed, not out of scope, no instructions to the assistant in it) adds
    what it states about them.
    """
    request = plan.request
    if request.run_id is not None or request.client == "replay":
        return None
    step = next((s for s in plan.steps if s.source == "memory"), None)
    if step is not None and step.filters.get("action") == "forget":
        keys = tuple(k for k in step.filters.get("keys", "").split(",") if k)
        changed = without(kept, keys)
    elif plan.intent in _NOT_LEARNED_FROM or looks_like_injection(request.text.lower()):
        return None
    else:
        changed = merge(kept, extract(request.text))
    return changed if changed != dict(kept) else None


def personalise(plan: Plan, preferences: Mapping[str, str]) -> Plan:
    """The plan with the memory applied: a remembered budget caps open searches that name no price of
    their own, and every preference travels in `plan.preferences` for the answer prompt."""
    if not preferences:
        return plan
    budget = preferences.get("budget_cents", "")
    steps = plan.steps
    if budget.isdigit() and plan.intent in _BUDGET_INTENTS:
        steps = [_with_budget(step, budget) for step in steps]
    return dataclasses.replace(plan, steps=steps, preferences=dict(preferences))


def _with_budget(step: RetrievalStep, budget: str) -> RetrievalStep:
    if step.source != "products" or step.product_ids or "max_price_cents" in step.filters or "min_price_cents" in step.filters:
        return step
    return dataclasses.replace(step, filters={**step.filters, "max_price_cents": budget})

"""Account memory meets the plan: what a turn changes in the memory, and how the memory narrows the
plan. Pure; the plan stage (pipeline/stages/plan.py) owns the per-user records and the topic.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from pipeline.memory.preferences import extract, merge, step_keys, without
from pipeline.messages import Plan, RetrievalStep
from pipeline.planner.rules import looks_like_injection
from pipeline.planner.steps import query_text

_NOT_LEARNED_FROM = frozenset({"out_of_scope", "account_memory"})
"""Intents whose text is never mined: injected instructions, and the memory requests themselves
(a bare statement, account_memory with action remember, is mined: that is what it is for)."""
_BUDGET_INTENTS = frozenset({"product_search", "general_advice", "comparison"})
"""Open searches: the intents a remembered budget, diet or food allergy narrows."""
_QUERY_DIETS = frozenset({"vegetarian", "vegan", "plant-based", "pescatarian", "gluten-free", "dairy-free", "lactose-free",
                          "keto", "paleo", "halal", "kosher", "low-carb", "sugar-free", "whole30"})
"""Diets that work as a search word ("no pork" would search for pork)."""
_ALLERGY_FREE = {"peanuts": "peanut-free", "nuts": "nut-free", "tree nuts": "nut-free", "eggs": "egg-free", "soy": "soy-free",
                 "sesame": "sesame-free", "shellfish": "shellfish-free", "gluten": "gluten-free", "wheat": "gluten-free",
                 "dairy": "dairy-free", "milk": "dairy-free"}
_FOOD = re.compile(r"\b(?:food|foods|snacks?|protein|cookbooks?|recipes?|meals?|meal kits?|chocolates?|cand(?:y|ies)|sweets|cookies"
                   r"|pasta|bread|cereal|sauces?|soups?|jerky|supplements?|vitamins|gummies|flour|crackers|granola|noodles|broth"
                   r"|seasoning|baking mix)\b")
"""Words that make a search a search for food (a diet word on "headphones" would only add noise)."""
_DIET_WORD = re.compile(r"\b(?:vegetarian|vegan|plant-based|pescatarian|gluten|dairy|lactose|keto|paleo|halal|kosher|low-carb"
                        r"|sugar-free|whole30|[a-z]+-free)\b")


def updated_preferences(plan: Plan, kept: Mapping[str, str]) -> dict[str, str] | None:
    """The shopper's preferences after this turn, or None when the turn changes nothing.

    "forget ..." (an account_memory plan's memory step) removes the keys it names; any other turn of
    the shopper's own (not replayed, not out of scope, not "what do you remember", no instructions to
    the assistant in it) adds what it states about them.
    """
    request = plan.request
    if request.run_id is not None or request.client == "replay":
        return None
    step = next((s for s in plan.steps if s.source == "memory"), None)
    action = step.filters.get("action") if step is not None else None
    if step is not None and action == "forget":
        changed = without(kept, step_keys(step.filters))
    elif (plan.intent in _NOT_LEARNED_FROM and action != "remember") or looks_like_injection(request.text.lower()):
        return None
    else:
        changed = merge(kept, extract(request.text))
    return changed if changed != dict(kept) else None


def personalise(plan: Plan, preferences: Mapping[str, str]) -> Plan:
    """The plan with the memory applied: a remembered budget caps open searches that name no price of
    their own; a remembered diet or food allergy joins the query of an open search for food ("protein
    powder" -> "vegan protein powder", "snacks" -> "nut-free snacks") unless the query names one; every
    preference travels in `plan.preferences` for the answer prompt."""
    if not preferences:
        return plan
    budget = preferences.get("budget_cents", "")
    steps = plan.steps
    if plan.intent in _BUDGET_INTENTS:
        if budget.isdigit():
            steps = [_with_budget(step, budget) for step in steps]
        if preferences.get("diet") or preferences.get("allergies"):
            steps = [_with_food_terms(step, preferences) for step in steps]
    return dataclasses.replace(plan, steps=steps, preferences=dict(preferences))


def _with_food_terms(step: RetrievalStep, preferences: Mapping[str, str]) -> RetrievalStep:
    """A food search with the remembered diet (unless the query names a diet) and "<allergen>-free"
    for each food allergy (unless the query names that food: "peanut butter cookies" is asked for)."""
    query = step.query.lower()
    if step.source != "products" or step.product_ids or not _FOOD.search(query):
        return step
    terms = [] if _DIET_WORD.search(query) else [d for d in preferences.get("diet", "").split(", ") if d in _QUERY_DIETS]
    for allergen in preferences.get("allergies", "").split(", "):
        free = _ALLERGY_FREE.get(allergen)
        if free is not None and free not in query and free.removesuffix("-free") not in query:
            terms.append(free)
    terms = list(dict.fromkeys(terms))
    return dataclasses.replace(step, query=query_text(" ".join([*terms, step.query]))) if terms else step


def _with_budget(step: RetrievalStep, budget: str) -> RetrievalStep:
    if step.source != "products" or step.product_ids or "max_price_cents" in step.filters or "min_price_cents" in step.filters:
        return step
    return dataclasses.replace(step, filters={**step.filters, "max_price_cents": budget})

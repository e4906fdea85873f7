"""Actions asked for in words ("add it to my cart", "tell me when it drops below $40", "where is my
order?"), carried out by the retrieve stage before it gathers evidence. Pure apart from the store
and the registry it is given.

Why retrieve: it is the first stage that holds the store, it runs before any answer text exists, and
its outcome becomes evidence, so the answer can state what was done (the generate stage states an
action's outcome verbatim; pipeline/generation/direct.py). The command comes from the plan
(`command_from_plan`), which the planner built from the shopper's own request only.

At-least-once: a redelivered plan performs again with the same `Origin`, so the store applies the
cart change once (request key = conversation:turn:seq) and an alert is registered under the same id.
"""

from __future__ import annotations

import dataclasses

from pipeline.actions.commands import command_from_plan
from pipeline.actions.perform import Origin, Outcome, perform
from pipeline.alerts.registry import AlertRegistry
from pipeline.clock import Clock
from pipeline.messages import EvidenceItem, Plan
from pipeline.store.base import Store

ACTION_SOURCES = frozenset({"cart", "orders", "alerts"})
"""Plan steps the action answers in full: its outcome already says what the cart, orders or alerts hold."""


class LanguageActions:
    def __init__(self, store: Store, registry: AlertRegistry, clock_ms: Clock) -> None:
        self.store = store
        self.registry = registry
        self._clock_ms = clock_ms

    async def act(self, plan: Plan) -> Outcome | None:
        """Perform what the plan asks for; None when it asks for nothing (or is replayed traffic)."""
        command = command_from_plan(plan)
        if command is None:
            return None
        request = plan.request
        origin = Origin(request.user_id, plan.conversation_id, plan.turn, plan.seq, self._clock_ms())
        return await perform(command, origin, self.store, self.registry)


def outcome_evidence(plan: Plan, outcome: Outcome) -> EvidenceItem:
    """The outcome as the turn's first evidence item (source `action`), about the product acted on."""
    product_id = outcome.payload.get("product_id")
    if product_id is None:
        step = next((s for s in plan.steps if s.source in ACTION_SOURCES and len(s.product_ids) == 1), None)
        product_id = step.product_ids[0] if step is not None and outcome.ok else None
    return EvidenceItem("action", outcome.text, 1.0, product_id if isinstance(product_id, str) else None,
                        f"action:{plan.conversation_id}:{plan.turn}")


def without_action_steps(plan: Plan) -> Plan:
    """The plan minus the steps the action answered, for the evidence that goes with it (the card)."""
    return dataclasses.replace(plan, steps=[s for s in plan.steps if s.source not in ACTION_SOURCES])

"""What the shopper is told about their account memory, as one evidence item. Pure.

The plan stage owns the memory (it applies "forget ..." before planning), so by the time a plan
reaches retrieve, `plan.preferences` is what is remembered now; the memory step's filters say what
was asked (view, or forget which keys).
"""

from __future__ import annotations

from pipeline.memory.preferences import KEYS, describe
from pipeline.messages import EvidenceItem, Plan, RetrievalStep

_NAMES = {"budget_cents": "budget", "brand": "brand", "size": "size", "use": "hobbies", "pets": "pets",
          "household": "household"}


def memory_evidence(step: RetrievalStep, plan: Plan) -> EvidenceItem:
    remembered = describe(plan.preferences)
    if step.filters.get("action") == "forget":
        keys = tuple(k for k in step.filters.get("keys", "").split(",") if k)
        if not keys:
            text = "Tell me what to forget: your budget, brand, size, hobbies, pets or household, or everything."
        elif set(keys) >= set(KEYS):
            text = "Done: I have forgotten everything you told me about yourself."
        else:
            text = "Done: I have forgotten your " + " and ".join(_NAMES[k] for k in keys) + "."
            if remembered:
                text += f" I still remember: {remembered}."
    elif remembered:
        text = (f"Here is what I remember about you: {remembered}. I use it to narrow searches. "
                "Say \"forget my budget\" (or brand, size, hobbies, pets, household) or \"forget everything\" to delete it.")
    else:
        text = "I don't remember anything about you yet. Tell me things like your budget, size or favourite brand and I will."
    return EvidenceItem("memory", text, 1.0, None, f"memory:{plan.request.user_id}:{plan.turn}")

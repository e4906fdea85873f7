"""What the shopper is told about their account memory, as one evidence item. Pure.

The plan stage owns the memory (it applies "forget ..." and a bare statement before planning), so by
the time a plan reaches retrieve, `plan.preferences` is what is remembered now; the memory step's
filters say what was asked (view, forget which keys, or remember which keys).
"""

from __future__ import annotations

from pipeline.memory.preferences import KEYS, describe, step_keys
from pipeline.messages import EvidenceItem, Plan, RetrievalStep

NAMES = {"budget_cents": "budget", "brand": "brand", "size": "size", "use": "hobbies", "pets": "pets",
          "household": "household", "diet": "diet", "allergies": "allergies", "home": "home", "handedness": "handedness"}
_ALL_NAMES = ", ".join(NAMES[k] for k in KEYS[:-1]) + f" or {NAMES[KEYS[-1]]}"


def memory_evidence(step: RetrievalStep, plan: Plan) -> EvidenceItem:
    remembered = describe(plan.preferences)
    action = step.filters.get("action")
    keys = step_keys(step.filters)
    if action == "forget":
        if not keys:
            text = f"Tell me what to forget: your {_ALL_NAMES}, or everything."
        elif set(keys) >= set(KEYS):
            text = "Done: I have forgotten everything you told me about yourself."
        else:
            text = "Done: I have forgotten your " + " and ".join(NAMES[k] for k in keys) + "."
            if remembered:
                text += f" I still remember: {remembered}."
    elif action == "remember":
        text = _acknowledged(plan, keys)
    elif remembered:
        text = (f"Here is what I remember about you: {remembered}. I use it to narrow searches. "
                f"Say \"forget my budget\" (or {', '.join(NAMES[k] for k in KEYS[1:])}) or \"forget everything\" to delete it.")
    else:
        text = "I don't remember anything about you yet. Tell me things like your budget, size or favourite brand and I will."
    return EvidenceItem("memory", text, 1.0, None, f"memory:{plan.request.user_id}:{plan.turn}")


def _acknowledged(plan: Plan, keys: tuple[str, ...]) -> str:
    """"Got it: I'll keep your budget of $30.00 in mind." for what this turn stated and the plan stage
    kept (a replayed turn changes no memory, so it is acknowledged without a promise)."""
    kept = [(k, plan.preferences[k]) for k in keys if plan.preferences.get(k)]
    if not kept:
        return "Noted."
    parts = []
    for key, value in kept:
        if key == "budget_cents":
            parts.append(f"your budget of {describe({key: value}).removeprefix('budget ')}")
        else:
            parts.append(f"your {NAMES[key]} ({value})")
    named = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    first = NAMES[kept[0][0]]
    return (f"Got it: I'll keep {named} in mind. Ask \"what do you remember about me?\" to see everything, "
            f"or say \"forget my {first}\" to delete it.")

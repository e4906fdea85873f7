"""The "You" panel's changes, as the records the words or buttons that make them today produce. Pure.

The panel has no code path of its own (docs/gateway.md, "The You panel"):

- a cart or alert change is a button click: a `Feedback` of kind action_clicked with the compact value
  the actions stage already reads (`remove_from_cart:ID[:quantity=N]`, `add_to_cart:ID:quantity=N`,
  `cancel_alert:ALERT_ID`), performed by the same `perform` as "remove it from my cart" or
  "cancel the alert on this";
- forgetting a preference is the shopper's own words: a `UserTurn` with the fixed sentence the
  planner's rules read as that request ("forget my budget", "forget everything about me"), so the plan
  stage writes `user-memory` exactly as when the shopper types it, and the answer says what was done.

Each panel change gets a turn of its own in the conversation it was made from, so the audit trail
(requests or feedback, then frames) reads like any other turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.actions.commands import AddToCart, CancelAlert, RemoveFromCart, command_from_feedback
from pipeline.memory.preferences import KEYS
from pipeline.messages import Feedback

FORGET_ALL = "all"
FORGET_WORDS: dict[str, str] = {
    "budget_cents": "forget my budget",
    "brand": "forget my brand",
    "size": "forget my size",
    "use": "forget my hobbies",
    "pets": "forget my pets",
    "household": "forget my household",
    "diet": "forget my diet",
    "allergies": "forget my allergies",
    "home": "forget my home",
    "handedness": "forget my handedness",
    FORGET_ALL: "forget everything about me",
}
"""Per preference key (and "all"), the words that ask to forget it; a unit test plans each with the
rules and checks the plan forgets exactly that key."""
assert set(FORGET_WORDS) == {*KEYS, FORGET_ALL}

PANEL_COMMANDS = (AddToCart, RemoveFromCart, CancelAlert)
"""What the panel may click: change a cart line's quantity, remove it, cancel an alert. Anything else
(setting alerts, placing orders) is not a panel action and is refused at the gateway."""


@dataclass(frozen=True)
class Click:
    """A cart or alert change: the value of an action_clicked Feedback."""

    value: str


@dataclass(frozen=True)
class Words:
    """A memory change: the words of a UserTurn."""

    text: str


PanelChange = Click | Words


def panel_change(action: str) -> PanelChange | None:
    """What a panel action becomes, or None when it is not one the panel may take.

    `action` is `forget:<key>` (a preference key, or "all") or an actions-stage value naming one of
    PANEL_COMMANDS."""
    action = action.strip()
    if action.startswith("forget:"):
        words = FORGET_WORDS.get(action.removeprefix("forget:"))
        return Words(words) if words is not None else None
    probe = Feedback("panel", 0, 0, "panel", "action_clicked", action, 0)
    command = command_from_feedback(probe)
    return Click(action) if isinstance(command, PANEL_COMMANDS) else None

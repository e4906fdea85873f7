"""How long `aisle chat` waits for an answer: the client's own end to a turn. Pure: the caller passes
the clock.

The pipeline ends every turn it has heard of with an answer or an error frame (docs/architecture.md,
"Every turn ends"), but a client cannot count on hearing it: the gateway may be gone, or the ask may
never have reached the broker. So the client gives up on its own, in two ways:

- idle: no frame of the turn for `idle_s` (the answer stalled);
- total: `total_s` after the ask, however many frames trickle in (AISLE_CHAT_TURN_TIMEOUT_S, set above
  the pipeline's own deadlines so its error frame normally comes first).

The message says what happened and what to do, like the pipeline's error frame.
"""

from __future__ import annotations

from dataclasses import dataclass

ASK_AGAIN = "Something went wrong with this answer. Ask again?"


@dataclass
class TurnDeadline:
    """One ask's wait. `heard` on each frame of the turn; `wait_s` bounds the next read."""

    asked_at_s: float
    idle_s: float
    total_s: float
    last_heard_s: float | None = None

    def heard(self, now_s: float) -> None:
        self.last_heard_s = now_s

    def _idle_end_s(self) -> float:
        return (self.asked_at_s if self.last_heard_s is None else self.last_heard_s) + self.idle_s

    def wait_s(self, now_s: float) -> float:
        """Seconds to wait for the next message before the turn expires (0 when it has)."""
        return max(0.0, min(self._idle_end_s(), self.asked_at_s + self.total_s) - now_s)

    def expired(self, now_s: float) -> str | None:
        """The message to show when the turn has expired at `now_s`; None while it has not."""
        if now_s >= self.asked_at_s + self.total_s:
            return f"No complete answer {self.total_s:g} s after asking. {ASK_AGAIN}"
        if now_s >= self._idle_end_s():
            return f"No answer for {self.idle_s:g} s. {ASK_AGAIN}"
        return None

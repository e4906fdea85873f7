"""Recognising duplicates and gaps by (conversation, turn, seq).

Delivery is at-least-once: after a worker restarts, its upstream replays what it had not committed,
so a consumer sees some messages twice. Every message carries (conversation, turn, seq) and one
conversation's messages arrive in order, so remembering the highest (turn, seq) per conversation is
enough to drop replays and to notice a skipped seq.
"""

from __future__ import annotations

import enum

from cachetools import LRUCache


class Verdict(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    GAP = "gap"
    """New, but at least one earlier seq of this turn (or the turn's first message) never arrived."""


class SeenFilter:
    """Highest (turn, seq) per conversation, for the `window` most recently active conversations."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        # Least recently checked first: a conversation that goes quiet is the one forgotten.
        self._highest: LRUCache[str, tuple[int, int]] = LRUCache(maxsize=window)

    def check(self, conversation_id: str, turn: int, seq: int) -> Verdict:
        """Classify a message and, unless it is a duplicate, remember it as the newest seen."""
        last = self._highest.get(conversation_id)
        if last is not None and (turn, seq) <= last:
            return Verdict.DUPLICATE
        if last is None:
            # A conversation we have not seen (or have forgotten): trust whatever comes first.
            verdict = Verdict.NEW
        elif turn == last[0]:
            verdict = Verdict.NEW if seq == last[1] + 1 else Verdict.GAP
        else:
            verdict = Verdict.NEW if seq == 0 else Verdict.GAP
        self._highest[conversation_id] = (turn, seq)
        return verdict

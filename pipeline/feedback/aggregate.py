"""Feedback counts per intent, model and prompt version. Pure.

Feedback records (topic `feedback`) name only (conversation, turn); the turn's intent and model come
from its TurnResponse (topic `responses`). The aggregator joins the two in memory: responses are
remembered for the last `max_turns` turns, and feedback that arrives before its response waits (at
most `max_pending` of it) until the response comes. Feedback whose turn is never seen, or was
forgotten, is counted under intent "unknown", so nothing is silently dropped.

Replayed traffic (`aisle replay`: conversations named `replay/<run id>/...`, responses with a run id)
is not shopper feedback: its thumbs are copies of a recorded shopper's verdict on another answer. It
is left out and counted in the snapshot's `replayed_skipped`, as the recorder leaves it out too.

The prompt version is the response's own `prompt_version` when TurnResponse carries one, else the
version of the generation code running the aggregator (`pipeline.generation.prompt.PROMPT_VERSION`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import FIFOCache, LRUCache

from pipeline.messages import Feedback, TurnResponse
from pipeline.replay.traffic import REPLAY_PREFIX

KINDS = ("thumbs_up", "thumbs_down", "action_clicked", "action_done", "action_failed")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class TurnFacts:
    intent: str
    model: str
    prompt_version: str


GroupKey = tuple[str, str, str]
"""(intent, model, prompt version)."""


class _PendingFeedback(LRUCache[tuple[str, int], list[str]]):
    """Feedback kinds waiting for their turn's response, per (conversation, turn). A turn pushed out
    to make room hands its kinds to `on_evict`, so they are still counted, under an unknown turn."""

    def __init__(self, maxsize: int, on_evict: Callable[[list[str]], None]) -> None:
        super().__init__(maxsize=maxsize)
        self._on_evict = on_evict

    def popitem(self) -> tuple[tuple[str, int], list[str]]:
        key, kinds = super().popitem()
        self._on_evict(kinds)
        return key, kinds


class FeedbackAggregate:
    def __init__(self, prompt_version: str, *, max_turns: int = 100_000, max_pending: int = 10_000,
                 max_seen: int = 100_000) -> None:
        self.prompt_version = prompt_version
        self.counts: dict[GroupKey, Counter[str]] = {}
        self._turns: LRUCache[tuple[str, int], TurnFacts] = LRUCache(maxsize=max_turns)
        self._pending = _PendingFeedback(max_pending, self._count_unknown)
        self._seen: FIFOCache[tuple[str, int, int, str], None] = FIFOCache(maxsize=max_seen)
        self.replayed_skipped = 0

    def on_response(self, response: TurnResponse) -> None:
        key = (response.conversation_id, response.turn)
        if response.run_id or response.conversation_id.startswith(REPLAY_PREFIX):
            self.replayed_skipped += len(self._pending.pop(key, []))
            return
        # Responses written before TurnResponse carried prompt_version count as the running version;
        # answers the system stated itself (model "direct") used no prompt.
        version = response.prompt_version or ("none" if response.model == "direct" else self.prompt_version)
        facts = TurnFacts(response.intent or UNKNOWN, response.model or "rules", str(version))
        self._turns[key] = facts
        for kind in self._pending.pop(key, []):
            self._count(facts, kind)

    def on_feedback(self, feedback: Feedback) -> bool:
        """Count one record; False for a repeat (same conversation, turn, seq and kind), an unknown kind
        or replayed traffic."""
        if feedback.conversation_id.startswith(REPLAY_PREFIX):
            self.replayed_skipped += 1
            return False
        seen = (feedback.conversation_id, feedback.turn, feedback.seq, feedback.kind)
        if feedback.kind not in KINDS or seen in self._seen:
            return False
        self._seen[seen] = None
        key = (feedback.conversation_id, feedback.turn)
        facts = self._turns.get(key)
        if facts is not None:
            self._count(facts, feedback.kind)
            return True
        self._pending.setdefault(key, []).append(feedback.kind)
        return True

    def _count(self, facts: TurnFacts, kind: str) -> None:
        self.counts.setdefault((facts.intent, facts.model, facts.prompt_version), Counter())[kind] += 1

    def _count_unknown(self, kinds: list[str]) -> None:
        for kind in kinds:
            self._count(TurnFacts(UNKNOWN, UNKNOWN, self.prompt_version), kind)

    def load(self, snapshot: dict[str, Any]) -> None:
        """Start from an earlier snapshot's counts (a restarted worker keeps its totals)."""
        for group in snapshot.get("groups", []):
            key = (str(group.get("intent")), str(group.get("model")), str(group.get("prompt_version")))
            counts = self.counts.setdefault(key, Counter())
            for kind in KINDS:
                value = group.get(kind, 0)
                if isinstance(value, int):
                    counts[kind] += value
        skipped = snapshot.get("replayed_skipped", 0)
        if isinstance(skipped, int):
            self.replayed_skipped += skipped

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """JSON-ready: one entry per (intent, model, prompt version) with counts and rates."""
        groups = []
        for (intent, model, version), counts in sorted(self.counts.items()):
            thumbs = counts["thumbs_up"] + counts["thumbs_down"]
            actions = counts["action_done"] + counts["action_failed"]
            groups.append({
                "intent": intent, "model": model, "prompt_version": version,
                **{kind: counts[kind] for kind in KINDS},
                "thumbs_up_rate": round(counts["thumbs_up"] / thumbs, 4) if thumbs else None,
                "action_success_rate": round(counts["action_done"] / actions, 4) if actions else None,
            })
        return {"updated_at_ms": now_ms, "pending_turns": len(self._pending),
                "replayed_skipped": self.replayed_skipped, "groups": groups}

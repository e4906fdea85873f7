"""Turn-scoped commits: a turn's offsets are held until its last message is done, within a bound.

A stage that keeps per-turn state in memory (hydrate's parser, render's accumulated answer) would
lose it in a crash mid-turn. Holding the turn's offsets uncommitted until the turn ends makes a
restarted worker replay the whole turn and rebuild that state; its outputs repeat with the same seq
numbers, which consumers drop as duplicates.

A turn that never ends (its producer died, or gave up without an end marker) would pin its
partition's commit position until the same conversation sent another turn, perhaps never. So a turn
with no new message for `AISLE_TURN_HOLD_TIMEOUT_S` is released: the worker dead-letters it with the
reason and its offsets count as finished.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class HeldTurn(Generic[T]):
    key: Hashable
    turn: Any
    items: list[T] = field(default_factory=list)
    last_s: float = 0.0
    """When its latest message was held (a monotonic clock)."""


class HeldTurns(Generic[T]):
    """The items (deliveries) of each key's unfinished turn. No I/O, no clock of its own."""

    def __init__(self) -> None:
        self._turns: dict[Hashable, HeldTurn[T]] = {}

    def __len__(self) -> int:
        return len(self._turns)

    def hold(self, key: Hashable, turn: Any, item: T, *, ends: bool, now_s: float) -> list[T]:
        """Hold `item` as part of `key`'s `turn`; returns the items whose offsets are now finished:
        the whole turn when `ends`, and an older turn of the key that a newer one has overtaken."""
        released: list[T] = []
        held = self._turns.get(key)
        if held is not None and held.turn != turn:
            # A newer turn began without the old one ending (its producer gave up): release the old.
            released.extend(held.items)
            held = None
        if held is None:
            held = HeldTurn(key, turn)
        held.items.append(item)
        held.last_s = now_s
        if ends:
            released.extend(held.items)
            self._turns.pop(key, None)
        else:
            self._turns[key] = held
        return released

    def expire(self, now_s: float, timeout_s: float) -> list[HeldTurn[T]]:
        """Remove and return the turns with no new message for `timeout_s` seconds."""
        stale = [held for held in self._turns.values() if now_s - held.last_s >= timeout_s]
        for held in stale:
            del self._turns[held.key]
        return stale

    def drop(self, doomed: Callable[[T], bool]) -> None:
        """Forget turns holding a doomed item (their partition was revoked: the new owner replays)."""
        self._turns = {k: t for k, t in self._turns.items() if not any(doomed(i) for i in t.items)}

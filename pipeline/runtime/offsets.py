"""Which offsets are safe to commit: the contiguous finished prefix of each partition.

Lanes finish messages out of offset order (conversation B's message at offset 7 may finish before
conversation A's at offset 5). Committing offset 8 then would lose A's message if the worker died, so
a partition's committable position is the first offset not yet finished.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterable


class _PartitionLedger:
    __slots__ = ("pending", "finished", "next_offset")

    def __init__(self) -> None:
        self.pending: collections.deque[int] = collections.deque()  # received, in offset order
        self.finished: set[int] = set()  # finished but not yet at the head of `pending`
        self.next_offset: int | None = None  # one past the highest offset received


class OffsetTracker:
    """Tracks received and finished offsets per partition.

    Offsets of one partition must be `received` in increasing order (as a consumer delivers them);
    they may `finish` in any order.
    """

    def __init__(self) -> None:
        self._ledgers: dict[Hashable, _PartitionLedger] = {}

    def received(self, partition: Hashable, offset: int) -> None:
        ledger = self._ledgers.setdefault(partition, _PartitionLedger())
        if ledger.next_offset is not None and offset < ledger.next_offset:
            raise ValueError(f"offset {offset} received after {ledger.next_offset - 1} on {partition!r}")
        ledger.pending.append(offset)
        ledger.next_offset = offset + 1

    def finished(self, partition: Hashable, offset: int) -> None:
        ledger = self._ledgers.get(partition)
        if ledger is None:
            return  # the partition was revoked while the message was in flight
        if ledger.pending and ledger.pending[0] == offset:
            ledger.pending.popleft()
            while ledger.pending and ledger.pending[0] in ledger.finished:
                ledger.finished.discard(ledger.pending.popleft())
        else:
            ledger.finished.add(offset)

    def committable(self) -> dict[Hashable, int]:
        """Partition -> the offset to commit (the next one a restarted consumer should read)."""
        positions: dict[Hashable, int] = {}
        for partition, ledger in self._ledgers.items():
            if ledger.pending:
                positions[partition] = ledger.pending[0]
            elif ledger.next_offset is not None:
                positions[partition] = ledger.next_offset
        return positions

    def in_flight(self) -> int:
        return sum(len(ledger.pending) for ledger in self._ledgers.values())

    def forget(self, partitions: Iterable[Hashable]) -> None:
        """Drop state for partitions this consumer no longer owns."""
        for partition in partitions:
            self._ledgers.pop(partition, None)

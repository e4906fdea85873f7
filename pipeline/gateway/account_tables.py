"""What the "You" panel reads that is not in the store: the shopper's alerts and account memory.

Both live in compacted topics whose writers are stages: `alert-registry` (the actions stage registers
and cancels alerts, the alerts stage writes firing states) and `user-memory` (the plan stage). The
gateway only reads them, as those stages do: a `ChangelogTable` per topic, restored from the
beginning and then followed, so a change made in any conversation shows on the next GET /me. Every
gateway process reads the whole of both (it cannot know which users its sockets will have).

The tables start in the background and keep trying: a gateway whose broker lacks the topics still
serves chats, and GET /me says the part it cannot read is unavailable (null) rather than empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from pipeline.alerts.registry import AlertRegistry
from pipeline.config import Settings
from pipeline.errors import AisleError
from pipeline.messages import AlertRule, UserMemory

log = logging.getLogger(__name__)

MAX_USERS = 100_000
"""Shoppers whose memory one gateway keeps (least recently changed go first), as the plan stage does."""
RETRY_S = 5.0
"""Wait before trying again to open a table that could not be restored (topic missing, broker down)."""


class Followed(Protocol):
    """A changelog table (pipeline.runtime.table.ChangelogTable): restore, follow, stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


OpenTable = Callable[[str, Callable[[str, Any], None]], Followed]
"""(topic, apply) -> a table that calls apply(key, value) for each record."""


class AccountTables:
    """The alert registry and the account memories, as the stages that write them last wrote them."""

    def __init__(self, open_table: OpenTable | None) -> None:
        self.registry = AlertRegistry()
        self._memories: OrderedDict[str, UserMemory] = OrderedDict()
        self._open_table = open_table
        self.alerts_ready = False
        self.memory_ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self._tables: list[Followed] = []

    @classmethod
    def over_kafka(cls, settings: Settings) -> AccountTables:
        from pipeline.runtime.table import ChangelogTable

        def open_table(topic: str, apply: Callable[[str, Any], None]) -> Followed:
            return ChangelogTable(settings, topic, apply, what=f"gateway {topic}")

        return cls(open_table)

    def start(self) -> None:
        """Start restoring both tables in the background (never waits, never raises)."""
        if self._open_table is None:
            return
        self._tasks = [
            asyncio.create_task(self._keep_open("alert-registry", self._apply_alert, "alerts_ready"),
                                name="gateway-alert-registry"),
            asyncio.create_task(self._keep_open("user-memory", self._apply_memory, "memory_ready"),
                                name="gateway-user-memory"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        tables, self._tables = self._tables, []
        for table in tables:
            with contextlib.suppress(Exception):
                await table.stop()

    async def _keep_open(self, topic: str, apply: Callable[[str, Any], None], ready_flag: str) -> None:
        assert self._open_table is not None
        while True:
            table = self._open_table(topic, apply)
            try:
                await table.start()
            except AisleError as exc:
                log.warning("gateway: cannot read %s yet (%s); the You panel shows it as unavailable", topic, exc)
                await asyncio.sleep(RETRY_S)
                continue
            self._tables.append(table)
            setattr(self, ready_flag, True)
            return

    def _apply_alert(self, key: str, value: Any) -> None:
        if value is None or isinstance(value, AlertRule):
            self.registry.apply(key, value)

    def _apply_memory(self, key: str, value: Any) -> None:
        if isinstance(value, UserMemory):
            self.remember(value)
        elif value is None:
            self._memories.pop(key, None)

    def remember(self, memory: UserMemory) -> None:
        """Keep the newer record of a shopper (last write wins by `updated_at_ms`, as in the plan stage)."""
        kept = self._memories.get(memory.user_id)
        if kept is None or kept.updated_at_ms <= memory.updated_at_ms:
            self._memories[memory.user_id] = memory
        self._memories.move_to_end(memory.user_id)
        while len(self._memories) > MAX_USERS:
            self._memories.popitem(last=False)

    def alerts(self, user_id: str, now_ms: int) -> list[AlertRule] | None:
        """The shopper's alerts that still watch, oldest first; None until the registry is restored."""
        return self.registry.list_for_user(user_id, now_ms) if self.alerts_ready else None

    def preferences(self, user_id: str) -> dict[str, str] | None:
        """What the shopper's memory holds; None until the memory table is restored."""
        if not self.memory_ready:
            return None
        kept = self._memories.get(user_id)
        return dict(kept.preferences) if kept is not None else {}

"""The actions stage: button clicks from `feedback` in; the action done in the store, a confirmation
Frame to `frames`, the outcome to `feedback` (for aggregation) and new or cancelled alerts to
`alert-registry` out. Run it with `aisle worker actions`.

Only `Feedback` records of kind action_clicked act (command_from_feedback), and only for the
clicking user. The confirmation frame goes to the clicked turn with the click's seq (a millisecond
timestamp, above the turn's own frames), so a redelivered click repeats it with the same seq and
clients drop it. Clicks already handled are remembered (bounded) so a redelivery does not add to the
cart twice while the worker lives; docs/actions.md has the whole flow.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cachetools import FIFOCache

from pipeline import topics
from pipeline.actions.commands import command_from_feedback
from pipeline.actions.perform import Origin, Outcome, perform
from pipeline.alerts.registry import AlertRegistry
from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.messages import Feedback, Frame
from pipeline.replay.traffic import REPLAY_PREFIX
from pipeline.stages.base import Output, Table, TableFactory
from pipeline.store.base import Store

REMEMBERED_CLICKS = 10_000


class ActionsStage:
    name = "actions"
    input_topic = topics.FEEDBACK
    output_topics = (topics.FRAMES, topics.FEEDBACK, topics.ALERT_REGISTRY)
    input_type = Feedback
    dedupe = False  # feedback seqs are timestamps, not 0, 1, 2: the gap check does not apply

    def __init__(
        self,
        open_store: Callable[[], Awaitable[Store]],
        open_table: TableFactory | None = None,
        *,
        clock_ms: Clock = now_ms,
    ) -> None:
        self.registry = AlertRegistry()
        self._open_store = open_store
        self._open_table = open_table
        self._clock_ms = clock_ms
        self._store: Store | None = None
        self._table: Table | None = None
        self._done: FIFOCache[tuple[str, int, int], None] = FIFOCache(maxsize=REMEMBERED_CLICKS)

    async def start(self) -> None:
        self._store = await self._open_store()
        if self._open_table is not None:
            # The registry is followed so that "list my alerts" and cancel see every alert.
            self._table = self._open_table(self.registry.follow)
            await self._table.start()

    async def stop(self) -> None:
        if self._table is not None:
            await self._table.stop()
        if self._store is not None:
            await self._store.close()

    async def process(self, message: Feedback) -> AsyncIterator[Output]:
        command = command_from_feedback(message)
        if message.kind != "action_clicked" or message.conversation_id.startswith(REPLAY_PREFIX):
            # Replayed clicks re-enact a recorded shopper's session: they must never act again.
            return
        click = (message.conversation_id, message.turn, message.seq)
        if click in self._done:
            return
        if self._store is None:
            raise RuntimeError("the actions stage is not started")
        origin = Origin(message.user_id, message.conversation_id, message.turn, message.seq, self._clock_ms())
        if command is None:
            outcome = Outcome("unknown", False, "I could not read that action.")
        else:
            outcome = await perform(command, origin, self._store, self.registry)
        conversation = message.conversation_id
        for key, rule in outcome.registry:
            yield Output(topics.ALERT_REGISTRY, key, rule)
        yield Output(topics.FRAMES, conversation, confirmation_frame(message, outcome))
        yield Output(topics.FEEDBACK, conversation, outcome_feedback(message, outcome, origin.now_ms))
        self._done[click] = None


def confirmation_frame(click: Feedback, outcome: Outcome) -> Frame:
    payload = {"action": outcome.action, "ok": outcome.ok, **outcome.payload}
    return Frame(click.conversation_id, click.turn, click.seq, "text", "\n" + outcome.text,
                 json.dumps(payload, separators=(",", ":")))


def outcome_feedback(click: Feedback, outcome: Outcome, now_ms: int) -> Feedback:
    """The click's outcome, same (conversation, turn, seq) with kind action_done or action_failed."""
    return Feedback(
        click.conversation_id, click.turn, click.seq, click.user_id,
        "action_done" if outcome.ok else "action_failed", outcome.action, now_ms,
    )


def build(settings: Settings) -> ActionsStage:
    from pipeline.runtime.table import ChangelogTable
    from pipeline.store.sqlite import open_store

    async def store() -> Store:
        return await open_store(settings)

    def table(apply: Callable[[str, Any], None]) -> Table:
        return ChangelogTable(settings, topics.ALERT_REGISTRY, apply, what="actions registry")

    return ActionsStage(store, table)

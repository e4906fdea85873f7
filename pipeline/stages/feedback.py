"""The feedback stage: `feedback` in, an aggregate snapshot out as a JSON file that the eval report
reads (`<AISLE_HOME>/feedback/aggregate.json`). Run it with `aisle worker feedback`.

The turn facts come from `responses`, followed in the background from the topic's start (30 days of
retention; the aggregate keeps only the most recent turns). The snapshot (pipeline/feedback/snapshot.py)
is rewritten atomically at most every SNAPSHOT_INTERVAL_MS and on stop, and loaded again at start, so
the totals survive a restart; delivery is at-least-once, so after a crash a few records may count twice (repeats inside
one process are dropped by (conversation, turn, seq, kind)).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pipeline import topics
from pipeline.clock import Clock, now_ms
from pipeline.config import Settings
from pipeline.feedback.aggregate import FeedbackAggregate
from pipeline.feedback.snapshot import read_snapshot, snapshot_path, write_snapshot
from pipeline.messages import Feedback, TurnResponse
from pipeline.stages.base import FollowedTable, OpenTable, Output

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_MS = 2_000


class FeedbackStage:
    name = "feedback"
    input_topic = topics.FEEDBACK
    output_topics = ()
    input_type = Feedback
    dedupe = False  # feedback seqs are timestamps; repeats are dropped by the aggregate

    def __init__(self, path: Path, prompt_version: str, open_responses: OpenTable | None = None, *,
                 clock_ms: Clock = now_ms) -> None:
        self.path = path
        self.aggregate = FeedbackAggregate(prompt_version)
        self._open_responses = open_responses
        self._responses: FollowedTable | None = None
        self._clock_ms = clock_ms
        self._written_ms = 0

    def _apply(self, key: str, value: Any) -> None:
        if isinstance(value, TurnResponse):
            self.aggregate.on_response(value)

    async def start(self) -> None:
        self.aggregate.load(read_snapshot(self.path))
        if self._open_responses is not None:
            self._responses = self._open_responses(self._apply)
            await self._responses.start()

    async def stop(self) -> None:
        if self._responses is not None:
            await self._responses.stop()
        write_snapshot(self.path, self.aggregate.snapshot(self._clock_ms()))

    async def process(self, message: Feedback) -> AsyncIterator[Output]:
        self.aggregate.on_feedback(message)
        now_ms = self._clock_ms()
        if now_ms - self._written_ms >= SNAPSHOT_INTERVAL_MS:
            write_snapshot(self.path, self.aggregate.snapshot(now_ms))
            self._written_ms = now_ms
        return
        yield  # an async generator that produces nothing: the output is the snapshot file


def build(settings: Settings) -> FeedbackStage:
    from pipeline.generation.prompt import PROMPT_VERSION
    from pipeline.runtime.table import ChangelogTable

    def responses(apply: Callable[[str, Any], None]) -> FollowedTable:
        return ChangelogTable(settings, topics.RESPONSES, apply, what="feedback responses")

    return FeedbackStage(snapshot_path(settings), PROMPT_VERSION, responses)

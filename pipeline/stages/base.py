"""What a stage is, seen from the runtime: messages in, outputs out, no Kafka.

A stage module in pipeline/stages/ holds the pure core (plain functions over the records in
pipeline/messages.py) and a small class that satisfies `Stage`, binding the core to the services it
needs (store, index, LLM). The runtime (pipeline/runtime/worker.py) does all broker I/O around it:
decoding, ordering by key, producing outputs, committing offsets and dead-lettering failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

current_hop_ms: ContextVar[dict[str, float]] = ContextVar("current_hop_ms", default={})
"""While `process` runs: the message's path so far, as stage name -> milliseconds spent in it (and
"<stage>.wait" -> milliseconds queued before it), from its hop headers. Set by the runtime."""


@dataclass(frozen=True)
class Output:
    """One record for the runtime to produce: a declared topic name (pipeline/topics.py), key and value."""

    topic: str
    key: str
    value: Any


class FollowedTable(Protocol):
    """A compacted topic a stage follows (pipeline/runtime/table.py): restored at `start`, then every
    record handed to the callback it was opened with, as it arrives."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


OpenTable = Callable[[Callable[[str, Any], None]], FollowedTable]
"""Opens a followed table with the callback (key, value) for each record; the stage's build() binds
it to a topic, so the stage class itself stays free of Kafka."""


class Table(FollowedTable, Protocol):
    """A followed table the stage also writes (the alert registry: pipeline/runtime/table.py)."""

    async def put(self, key: str, value: Any) -> None: ...


TableFactory = Callable[[Callable[[str, Any], None]], Table]
"""Opens a `Table` with the callback (key, value) for each record, as `OpenTable` does."""


class Stage(Protocol):
    """A stream processor. `process` yields outputs as they are ready (a streaming stage yields many
    per input); the runtime produces each one at once and commits the input only after all of them
    are acknowledged. Raising sends the input to the dead-letter topic with the error as the reason.
    """

    name: str
    input_topic: str
    """The topic it consumes (a name from pipeline/topics.py, declared in topics/topics.toml)."""

    @property
    def output_topics(self) -> tuple[str, ...]:
        """Every topic its outputs go to; the runtime dead-letters an input whose output goes elsewhere.
        A class attribute is enough: `output_topics = (topics.FRAMES,)`."""
        ...

    def process(self, message: Any) -> AsyncIterator[Output]: ...

    async def start(self) -> None:
        """Open connections the stage needs; called once before the first message."""

    async def stop(self) -> None:
        """Release them; called once after the last message."""


# Optional hooks a stage class may define; the runtime looks for them with getattr:
#
#   input_type: type              decoded records of another type are dead-lettered
#   ends_turn(message) -> bool    turn-scoped commits: the offsets of a turn's messages are committed
#                                 only after the message for which this is True has been processed,
#                                 so a restart replays the whole turn (for stages with per-turn state)
#   dedupe: bool = True           False: the stage recognises replays itself (hydrate, by offset)

"""What a stage is, seen from the runtime: messages in, outputs out, no Kafka.

A stage module in pipeline/stages/ holds the pure core (plain functions over the records in
pipeline/messages.py) and a small class that satisfies `Stage`, binding the core to the services it
needs (store, index, LLM). The runtime (pipeline/runtime/worker.py) does all broker I/O around it:
decoding, ordering by key, producing outputs, committing offsets and dead-lettering failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Output:
    """One record for the runtime to produce: a declared topic name (see topics/), key and value."""

    topic: str
    key: str
    value: Any


class Stage(Protocol):
    """A stream processor. `process` yields outputs as they are ready (a streaming stage yields many
    per input); the runtime produces each one at once and commits the input only after all of them
    are acknowledged. Raising sends the input to the dead-letter topic with the error as the reason.
    """

    name: str
    input_topic: str

    def process(self, message: Any) -> AsyncIterator[Output]: ...

    async def start(self) -> None:
        """Open connections the stage needs; called once before the first message."""

    async def stop(self) -> None:
        """Release them; called once after the last message."""

"""The stages chained in this process, with no broker: how evaluations and benchmarks get the
pipeline's answer to a message without Kafka.

    async with running(build_stages(settings, ANSWER_STAGES)) as stages:
        async for out in chain(stages, user_turn):
            ...   # every output of every stage, in the order they were produced

`chain` routes by the topics each stage declares: an output on a topic that one of the given stages
reads (its `input_topic`) is handed to that stage at once, before the stage that produced it goes on,
so a turn streams through as it does through the workers, chunk by chunk. Every output is also
yielded, including those handed on (evidence, token chunks, hydrated frames), and those on topics no
given stage reads (render's frames, responses and conversation state).

What the workers add is absent: nothing is committed, deduplicated, retried or dead-lettered, there
are no hop timestamps, and a stage's error reaches the caller. The order is depth first, one message
at a time: no batching and no interleaving of conversations unless the caller runs several chains.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import Any

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.runtime.service import load_stage_factory
from pipeline.stages.base import Output, Stage

ANSWER_STAGES = ("plan", "retrieve", "generate", "hydrate", "render")
"""A shopper's question to the frames of its answer: the stages in dataflow order."""


def build_stages(settings: Settings, names: Iterable[str]) -> list[Stage]:
    """Each named stage built as `aisle worker` builds it (pipeline/runtime/service.py `STAGES`), but
    retrieve without the alert registry its worker follows on Kafka: chained turns never act on
    alerts, and evaluations run with no broker.

    Raises ConfigError for a name that is not a stage.
    """
    return [_build(settings, name) for name in names]


def _build(settings: Settings, name: str) -> Stage:
    if name == "retrieve":
        from pipeline.stages import retrieve  # the index and embedder: only when asked for

        return retrieve.build(settings, follow_registry=False)
    return load_stage_factory(name)(settings)


@contextlib.asynccontextmanager
async def running(stages: Sequence[Stage]) -> AsyncIterator[list[Stage]]:
    """Start each stage in order; on exit stop the ones started, last first, whatever happened."""
    started: list[Stage] = []
    try:
        for stage in stages:
            await stage.start()
            started.append(stage)
        yield started
    finally:
        for stage in reversed(started):
            await stage.stop()


async def chain(stages: Sequence[Stage], message: Any) -> AsyncIterator[Output]:
    """`message` through the first stage, and every output on to the stage that reads its topic.

    Raises ConfigError when two of the stages read the same topic (which one gets it would be a
    guess), and whatever a stage raises.
    """
    if not stages:
        raise ConfigError("no stages to chain")
    readers: dict[str, Stage] = {}
    for stage in stages:
        if stage.input_topic in readers:
            raise ConfigError(f"{readers[stage.input_topic].name} and {stage.name} both read {stage.input_topic}")
        readers[stage.input_topic] = stage
    async for out in _through(stages[0], message, readers):
        yield out


async def _through(stage: Stage, message: Any, readers: dict[str, Stage]) -> AsyncGenerator[Output, None]:
    async for out in stage.process(message):
        yield out
        downstream = readers.get(out.topic)
        if downstream is not None:
            # Closed as soon as it is left, so a caller that stops early stops every stage below too.
            async with contextlib.aclosing(_through(downstream, out.value, readers)) as deeper:
                async for passed in deeper:
                    yield passed

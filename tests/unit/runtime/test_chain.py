"""The stages chained in one process: outputs routed by declared topics, depth first; start and stop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pipeline.errors import ConfigError, StageError
from pipeline.runtime.chain import chain, running
from pipeline.stages.base import Output


class Step:
    """Reads `input_topic`; for each message writes `fan` outputs "<message>.<n>" to `output`."""

    def __init__(self, name: str, input_topic: str, output: str, fan: int = 1, log: list[str] | None = None,
                 fail_start: bool = False) -> None:
        self.name = name
        self.input_topic = input_topic
        self.output = output
        self.output_topics = (output,)
        self.fan = fan
        self.log = log if log is not None else []
        self.fail_start = fail_start

    async def process(self, message: str) -> AsyncIterator[Output]:
        for n in range(self.fan):
            yield Output(self.output, "k", f"{message}.{self.name}{n}")

    async def start(self) -> None:
        if self.fail_start:
            raise StageError(f"{self.name} cannot start")
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


async def test_each_output_goes_on_to_its_reader_before_the_next_one() -> None:
    stages = [Step("a", "in", "mid", fan=2), Step("b", "mid", "out")]
    outputs = [(o.topic, o.value) async for o in chain(stages, "m")]
    assert outputs == [
        ("mid", "m.a0"), ("out", "m.a0.b0"),
        ("mid", "m.a1"), ("out", "m.a1.b0"),
    ]


async def test_the_first_stage_is_the_entry_whatever_the_order_of_the_rest() -> None:
    stages = [Step("a", "in", "mid"), Step("c", "late", "end"), Step("b", "mid", "late")]
    assert [o.value async for o in chain(stages, "m")] == ["m.a0", "m.a0.b0", "m.a0.b0.c0"]


async def test_two_readers_of_one_topic_are_refused() -> None:
    with pytest.raises(ConfigError, match="a and b both read in"):
        async for _ in chain([Step("a", "in", "x"), Step("b", "in", "y")], "m"):
            pass


async def test_running_stops_what_it_started_last_first_even_when_a_start_fails() -> None:
    log: list[str] = []
    stages = [Step("a", "in", "x", log=log), Step("b", "x", "y", log=log), Step("c", "y", "z", log=log, fail_start=True)]
    with pytest.raises(StageError, match="c cannot start"):
        async with running(stages):
            pass
    assert log == ["start a", "start b", "stop b", "stop a"]

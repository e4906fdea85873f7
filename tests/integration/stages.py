"""Two small test stages, chained: requests -> tokens -> frames.

`echo` turns each UserTurn into a TokenChunk; its text can ask it to misbehave:
"sleep:<seconds>" sleeps first, "fail" raises. `frame` turns each TokenChunk into a text Frame.
Both run in-process in some tests and as `aisle worker tests.integration.stages:echo` in others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.messages import Frame, TokenChunk, UserTurn
from pipeline.stages.base import Output


class EchoStage:
    name = "echo"
    input_topic = "requests"
    output_topics = ("tokens",)
    input_type = UserTurn

    async def process(self, message: UserTurn) -> AsyncIterator[Output]:
        if message.text.startswith("sleep:"):
            await asyncio.sleep(float(message.text.split(":", 1)[1]))
        if message.text == "fail":
            raise StageError("asked to fail")
        yield Output(
            "tokens",
            message.conversation_id,
            TokenChunk(message.conversation_id, message.turn, message.seq, text=message.text,
                       offset=message.sent_at_ms),
        )

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class FrameStage:
    name = "frame"
    input_topic = "tokens"
    output_topics = ("frames",)
    input_type = TokenChunk

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        yield Output(
            "frames",
            message.conversation_id,
            Frame(message.conversation_id, message.turn, message.seq, "text", text=message.text,
                  payload=str(message.offset)),
        )

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def echo(settings: Settings) -> EchoStage:
    return EchoStage()


def frame(settings: Settings) -> FrameStage:
    return FrameStage()

"""`aisle chat`'s socket against the real gateway app (uvicorn on localhost) over an in-memory bus:
the answer streams, survives a drop in the middle, and ends up complete exactly once."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable

import pytest
import uvicorn
from rich.console import Console

from pipeline.chat.app import stream_answer
from pipeline.chat.client import ChatLink
from pipeline.chat.state import Transcript
from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.messages import Feedback, Frame, UserTurn

TIMEOUT_S = 10.0


class MemoryBus:
    """The gateway's bus seam in memory: asks are recorded, frames pushed by the test reach the hub."""

    def __init__(self) -> None:
        self.requests: list[UserTurn] = []
        self.feedback: list[Feedback] = []
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_request(self, turn: UserTurn, received_at_ms: int) -> None:
        self.requests.append(turn)

    async def send_feedback(self, feedback: Feedback) -> None:
        self.feedback.append(feedback)

    async def run_frames(self, on_frame: Callable[[Frame], None], on_bad_frame: Callable[[Exception], None]) -> None:
        while True:
            on_frame(await self.frames.get())


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, MemoryBus]]:
    bus = MemoryBus()
    app = create_app(Settings(session_secret="chat-link-test-secret-0123456789"), bus=bus)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws", bus
    finally:
        server.should_exit = True
        await task


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT_S)


def text(conversation_id: str, seq: int) -> Frame:
    return Frame(conversation_id, 0, seq, "text", text=f"w{seq} ")


async def test_an_answer_survives_a_dropped_socket_and_shows_once(gateway: tuple[str, MemoryBus]) -> None:
    url, bus = gateway
    transcript = Transcript()
    link = ChatLink(url, transcript)
    await link.start()
    try:
        await until(lambda: link.connected)
        welcome = await asyncio.wait_for(link.messages.get(), TIMEOUT_S)
        while welcome.get("type") != "welcome":
            welcome = await asyncio.wait_for(link.messages.get(), TIMEOUT_S)
        conversation = str(link.session["conversation_id"])
        out = io.StringIO()
        assert await link.send({"type": "ask", "text": "a kettle?", "page_product_id": "B0KETTLE"})
        answer = asyncio.create_task(stream_answer(link, transcript, Console(file=out, width=80)))
        await until(lambda: len(bus.requests) == 1)
        assert (bus.requests[0].text, bus.requests[0].page_product_id) == ("a kettle?", "B0KETTLE")

        for seq in range(3):
            bus.frames.put_nowait(text(conversation, seq))
        await until(lambda: transcript.after_seq.get(0) == 2)

        # Drop the socket as a flaky network would; the rest arrives while the link reconnects,
        # with one frame redelivered.
        first_socket = link._ws
        assert first_socket is not None
        await first_socket.close()
        await until(lambda: link._ws is not first_socket)
        for frame in [text(conversation, 3), text(conversation, 2), text(conversation, 4),
                      Frame(conversation, 0, 5, "done", payload="{}")]:
            bus.frames.put_nowait(frame)

        assert await asyncio.wait_for(answer, TIMEOUT_S) == 0
        assert [f["seq"] for f in transcript.frames(0)] == [0, 1, 2, 3, 4, 5]
        assert "w0 w1 w2 w3 w4" in out.getvalue()
        assert link.connected  # came back by itself

        assert await link.send({"type": "feedback", "turn": 0, "kind": "thumbs_up"})
        await until(lambda: len(bus.feedback) == 1)
        assert (bus.feedback[0].turn, bus.feedback[0].kind) == (0, "thumbs_up")
    finally:
        await link.stop()

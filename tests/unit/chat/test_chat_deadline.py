"""`aisle chat` ends every turn: the pipeline's error frame when it comes, else its own deadline, with
a message that says what to do (issue 16)."""

from __future__ import annotations

import asyncio
import json
import time

from pipeline.chat.app import stream_answer
from pipeline.chat.deadline import ASK_AGAIN, TurnDeadline
from pipeline.chat.state import Transcript
from pipeline.gateway.protocol import frame_json
from pipeline.runtime.turn_errors import turn_error_frames
from tests.unit.chat.test_chat_alerts import QueueLink, console, frame


def test_the_deadline_is_the_earlier_of_idle_and_total() -> None:
    wait = TurnDeadline(asked_at_s=100.0, idle_s=10.0, total_s=25.0)
    assert wait.wait_s(100.0) == 10.0 and wait.expired(105.0) is None
    wait.heard(108.0)
    assert wait.wait_s(110.0) == 8.0 and wait.expired(117.9) is None
    assert "No answer for 10 s" in (wait.expired(118.0) or "")
    for heard in (118.0, 121.0, 124.0):  # frames trickle in: idle never fires, total does
        wait.heard(heard)
    assert wait.wait_s(124.0) == 1.0
    message = wait.expired(125.0) or ""
    assert message.startswith("No complete answer 25 s after asking.") and message.endswith(ASK_AGAIN)


async def test_a_trickling_answer_is_given_up_on_at_the_turn_timeout() -> None:
    out_console, out = console()
    link = QueueLink({"type": "accepted", "turn": 0})

    async def trickle() -> None:
        for seq in range(1000):
            link.messages.put_nowait(frame(0, seq, text="."))
            await asyncio.sleep(0.02)

    feeder = asyncio.create_task(trickle())
    started = time.monotonic()
    try:
        turn = await asyncio.wait_for(stream_answer(link, Transcript(), out_console, turn_timeout_s=0.3), 5.0)  # type: ignore[arg-type]
    finally:
        feeder.cancel()
    assert turn == 0 and 0.3 <= time.monotonic() - started < 2.0
    assert "No complete answer 0.3 s after asking" in out.getvalue()


async def test_the_pipelines_error_frames_end_the_turn_and_show_what_to_do() -> None:
    out_console, out = console()
    error, done = (json.loads(frame_json(f)) for f in turn_error_frames("c1", 3))  # as the gateway sends them
    link = QueueLink({"type": "accepted", "turn": 3}, frame(3, 0, text="It holds "), error, done, error)
    transcript = Transcript()
    turn = await asyncio.wait_for(stream_answer(link, transcript, out_console, turn_timeout_s=5.0), 5.0)  # type: ignore[arg-type]
    assert turn == 3 and transcript.is_done(3)
    assert out.getvalue().count(ASK_AGAIN) == 1, out.getvalue()

"""`aisle chat` shows a fired price alert when it arrives: at the prompt, without waiting for Enter,
and above an answer that is streaming; whether set in this conversation or another, and once."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from rich.console import Console

from pipeline.chat.app import show_between_answers, next_line, stream_answer
from pipeline.chat.state import Transcript


def frame(turn: int, seq: int | None, kind: str = "text", text: str = "", conversation: str = "c1") -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "conversation_id": conversation, "turn": turn, "text": text, "payload": {}}
    if seq is not None:
        message["seq"] = seq
    return message


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, force_terminal=False), out


async def test_a_message_at_the_prompt_is_shown_before_the_line_is_typed() -> None:
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    shown: list[dict[str, Any]] = []
    waiting = asyncio.create_task(next_line(lines, messages, shown.append))
    alert = frame(0, None, "alert", "Trail Lantern is now $31.99", conversation="c-other")
    await messages.put(alert)
    await asyncio.sleep(0.01)
    assert shown == [alert] and not waiting.done()  # shown while the shopper has not pressed Enter
    await lines.put("is it waterproof?")
    assert await asyncio.wait_for(waiting, 1.0) == "is it waterproof?"
    later = frame(0, 5, "alert", "again")
    await messages.put(later)
    assert messages.get_nowait() is later  # the abandoned read took nothing from the queue


async def test_end_of_input_ends_the_wait() -> None:
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    await lines.put(None)
    assert await asyncio.wait_for(next_line(lines, asyncio.Queue(), lambda m: None), 1.0) is None


def test_alerts_between_answers_are_printed_once_and_other_frames_kept_quietly() -> None:
    out_console, out = console()
    transcript = Transcript()
    own = frame(0, 7, "alert", "Camp Stove dropped to $40.00")
    assert show_between_answers(own, transcript, out_console)
    assert not show_between_answers(own, transcript, out_console)  # replayed by a resume: not twice
    assert show_between_answers(frame(3, None, "alert", "Lantern alert", conversation="c-other"), transcript, out_console)
    assert not show_between_answers(frame(0, 8, "text", "late words"), transcript, out_console)
    printed = out.getvalue()
    assert printed.count("Camp Stove dropped to $40.00") == 1 and "Lantern alert" in printed
    assert "late words" not in printed and [f["text"] for f in transcript.frames(0)][-1] == "late words"


class QueueLink:
    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.messages.put_nowait(message)


async def test_an_alert_from_another_conversation_shows_above_the_streaming_answer() -> None:
    out_console, out = console()
    link = QueueLink({"type": "accepted", "turn": 2}, frame(2, 0, text="It holds 2 liters. "),
                     frame(0, None, "alert", "Kettle is now $19.99", conversation="c-other"),
                     frame(2, 1, text="It is light."), frame(2, 2, "done"))
    turn = await asyncio.wait_for(stream_answer(link, Transcript(), out_console), 5.0)  # type: ignore[arg-type]
    printed = out.getvalue()
    assert turn == 2
    assert "Kettle is now $19.99" in printed and "It holds 2 liters. It is light." in printed

"""`aisle chat`: the interactive loop. Lines in from a reader thread, answers out through rich.Live.

One question at a time: after an ask the loop shows the turn's frames in place (render.render_turn) as
they arrive, until the turn's `done` frame, then prompts again. A drop in the middle is the link's
business (client.py): it reconnects and resumes, and the answer carries on in the same Live view with
nothing repeated, because the transcript drops any (turn, seq) it already has.

On entering a product page (`--product`, `/product ASIN`) its starter questions (GET
/products/{id}/starters) are printed numbered, and a number asks one, until the next answer's
follow-ups take their place.

A fired price alert is printed when it arrives: at the prompt (which is then shown again), or above
an answer that is streaming, whether it was set in an earlier turn or in another of the shopper's
conversations (those come without a seq, docs/gateway.md).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from pipeline.chat.client import STATUS, ChatLink
from pipeline.chat.deadline import TurnDeadline
from pipeline.chat.me import save_token
from pipeline.chat.render import Suggestion, render_frame, render_starters, render_turn, starters
from pipeline.chat.state import HELP, Ask, Help, Quit, SendFeedback, SetProduct, Transcript, parse_line

ANSWER_IDLE_TIMEOUT_S = 90.0
"""Stop waiting for an answer after this long with no frame (the answer still shows if it comes)."""
TURN_TIMEOUT_S = 150.0
"""Stop waiting this long after the ask however the answer trickles (AISLE_CHAT_TURN_TIMEOUT_S)."""
CONNECT_TIMEOUT_S = 10.0


async def chat(ws_url: str, product_id: str | None, console: Console, turn_timeout_s: float = TURN_TIMEOUT_S,
               home: Path | None = None) -> None:
    """Run the client until /quit or end of input; raises DependencyError when the gateway is unreachable.
    `home` given: the session token is kept there for `aisle me` (pipeline/chat/me.py)."""
    transcript = Transcript()
    link = ChatLink(ws_url, transcript)
    await link.start()
    if home is not None:
        save_token(home, str(link.session["token"]))
    lines = _start_line_reader()
    page_product = product_id
    last_turn: int | None = None
    # A product page's starter questions, while a typed number means them rather than the last
    # answer's follow-ups: from entering the page until the next answer.
    page_starters: list[Suggestion] | None = None
    try:
        await _wait_connected(link, console)
        console.print(Text(f"Aisle at {link.base_url}: conversation {link.session.get('conversation_id')}", style="dim"))
        console.print(Text(HELP, style="dim"))
        if page_product:
            page_starters = await show_starters(link, page_product, console) or None
        while True:
            prompt = Text(f"[{page_product}] > " if page_product else "> ", style="bold")
            console.print(prompt, end="")

            def show(message: dict[str, Any]) -> None:
                if show_between_answers(message, transcript, console):
                    console.print(prompt, end="")

            line = await next_line(lines, link.messages, show)
            if line is None:
                return
            suggestions = transcript.suggestions(last_turn) if last_turn is not None else []
            actions = transcript.actions(last_turn) if last_turn is not None else []
            command = parse_line(line, page_starters if page_starters is not None else suggestions, actions)
            if command is None:
                continue
            if isinstance(command, Quit):
                return
            if isinstance(command, Help):
                console.print(Text(command.message or HELP, style="yellow" if command.message else "dim"))
            elif isinstance(command, SetProduct):
                page_product = command.product_id
                console.print(Text(f"on product page {page_product}" if page_product else "product page cleared", style="dim"))
                page_starters = None
                if page_product:
                    page_starters = await show_starters(link, page_product, console) or None
            elif isinstance(command, SendFeedback):
                await _feedback(link, console, last_turn, command)
            elif isinstance(command, Ask):
                message: dict[str, Any] = {"type": "ask", "text": command.text}
                if page_product:
                    message["page_product_id"] = page_product
                if not await link.send(message):
                    console.print(Text("not connected; try again in a moment", style="red"))
                    continue
                turn = await stream_answer(link, transcript, console, turn_timeout_s)
                if turn is not None:
                    last_turn, page_starters = turn, None
    finally:
        await link.stop()


async def stream_answer(link: ChatLink, transcript: Transcript, console: Console,
                        turn_timeout_s: float = TURN_TIMEOUT_S, clock_s: Callable[[], float] = time.monotonic) -> int | None:
    """Show the answer to the ask just sent, in place, until its `done` or its deadline (deadline.py);
    returns its turn (None if refused)."""
    turn: int | None = None
    status: Text | None = None
    deadline = TurnDeadline(clock_s(), ANSWER_IDLE_TIMEOUT_S, turn_timeout_s)

    def view() -> RenderableType:
        body = render_turn(transcript.frames(turn)) if turn is not None else Text("…", style="dim")
        return Group(body, status) if status is not None else body

    with Live(view(), console=console, refresh_per_second=15, transient=False) as live:
        while turn is None or not transcript.is_done(turn):
            try:
                message = await asyncio.wait_for(link.messages.get(), deadline.wait_s(clock_s()))
            except TimeoutError:
                expired = deadline.expired(clock_s())
                if expired is None:
                    continue  # woke a hair early
                status = Text(expired, style="red")
                live.update(view())  # the Live view keeps what it last showed: show why it stopped
                break
            if "seq" in message and (turn is None or message.get("turn") == turn):
                deadline.heard(clock_s())
            kind = message.get("type")
            if kind == STATUS:
                status = None if message.get("up") else Text(str(message.get("text")), style="yellow")
            elif kind == "accepted" and turn is None:
                transcript.accept(message)
                turn = message.get("turn") if isinstance(message.get("turn"), int) else None
            elif kind == "error" and "seq" not in message:
                status = Text(f"{message.get('code')}: {message.get('message')}", style="red")
                if turn is None:
                    live.update(view())
                    break  # the ask itself was refused (unavailable, too long)
            elif kind == "alert" and (message.get("turn") != turn or "seq" not in message):
                if _is_new(message, transcript):
                    _print_alert(message, live.console)
            else:
                transcript.accept(message)
            live.update(view())
    return turn


async def show_starters(link: ChatLink, product_id: str, console: Console) -> list[Suggestion]:
    """Print the page's starter questions; returns them (what a typed number then asks)."""
    status, body = await link.starters(product_id)
    if status == 404:
        console.print(Text(f"{product_id} is not a product the store knows", style="yellow"))
        return []
    items = starters(body) if status == 200 else []
    shown = render_starters(body, items)
    console.print(shown if shown is not None else Text("no starter questions for this product", style="dim"))
    return items


async def _feedback(link: ChatLink, console: Console, turn: int | None, command: SendFeedback) -> None:
    if turn is None:
        console.print(Text("nothing to rate yet", style="yellow"))
        return
    sent = await link.send({"type": "feedback", "turn": turn, "kind": command.kind, "value": command.value})
    console.print(Text(f"sent {command.kind} for turn {turn}" if sent else "not connected; try again", style="dim"))


async def _wait_connected(link: ChatLink, console: Console) -> None:
    async def first_welcome() -> None:
        while True:
            message = await link.messages.get()
            if message.get("type") == "welcome":
                return
            link.transcript.accept(message)

    with console.status("connecting…"):
        try:
            await asyncio.wait_for(first_welcome(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            console.print(Text(f"no socket to {link.ws_url} yet; still trying", style="yellow"))


async def next_line(lines: asyncio.Queue[str | None], messages: asyncio.Queue[dict[str, Any]],
                    show: Callable[[dict[str, Any]], None]) -> str | None:
    """The next typed line (None at end of input). Each message that arrives first goes to `show` at
    once, so an alert that fires while the shopper sits at the prompt is not held until Enter."""
    reading = asyncio.ensure_future(lines.get())
    try:
        while True:
            incoming = asyncio.ensure_future(messages.get())
            await asyncio.wait({reading, incoming}, return_when=asyncio.FIRST_COMPLETED)
            if incoming.done():
                show(incoming.result())
            else:
                incoming.cancel()  # a cancelled Queue.get leaves its item in the queue
            if reading.done():
                return reading.result()
    finally:
        reading.cancel()


def show_between_answers(message: dict[str, Any], transcript: Transcript, console: Console) -> bool:
    """Handle what arrives between answers; True when something was printed. Status changes, the
    gateway's errors and alerts are shown; frames are kept in the transcript."""
    kind = message.get("type")
    if kind == STATUS and not message.get("up"):
        console.print(Text(str(message.get("text")), style="yellow"))
        return True
    if kind == "error" and "seq" not in message:
        console.print(Text(f"{message.get('code')}: {message.get('message')}", style="red"))
        return True
    new = _is_new(message, transcript)  # every frame is recorded, shown or not
    if kind == "alert" and new:
        console.print()
        _print_alert(message, console)
        return True
    return False


def _is_new(message: dict[str, Any], transcript: Transcript) -> bool:
    """Record a frame; True unless it repeats one already had (a resume replays what it missed). An
    alert from another conversation has no seq: the gateway sends it once per socket."""
    return transcript.accept(message) is not None or "seq" not in message


def _print_alert(message: dict[str, Any], console: Console) -> None:
    panel = render_frame(message)
    if panel is not None:
        console.print(panel)


def _start_line_reader() -> asyncio.Queue[str | None]:
    """Lines from stdin on a daemon thread (so Ctrl-C never waits for Enter); None at end of input."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="chat-stdin", daemon=True).start()
    return lines

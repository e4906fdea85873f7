"""What the terminal client remembers of a conversation, and what a typed line means. No I/O.

`Transcript.accept` takes every message the gateway sends and keeps frames per turn, dropping any
(turn, seq) at or below the last seq it has for that turn (the bus is at-least-once and a resume may
overlap). `Transcript.resume_hello` is what a reconnect sends so the gateway replays exactly the rest
(docs/gateway.md, "Resume contract"). `parse_line` maps what the shopper typed to a command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.chat.render import Action, Suggestion, actions, suggestions


@dataclass
class TurnFrames:
    frames: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


class Transcript:
    """Frames per turn, deduplicated by (turn, seq), plus the turn numbers the gateway handed out."""

    def __init__(self) -> None:
        self.turns: dict[int, TurnFrames] = {}
        self.after_seq: dict[int, int] = {}
        """Per turn, the last seq received (what a resume asks to continue after)."""
        self.last_turn = -1

    def accept(self, message: Mapping[str, Any]) -> int | None:
        """Record a message from the gateway; returns the frame's turn when it is a new frame, else None."""
        turn, seq = _int_or_none(message.get("turn")), _int_or_none(message.get("seq"))
        if message.get("type") == "accepted" and turn is not None:
            self.last_turn = max(self.last_turn, turn)
            self.turns.setdefault(turn, TurnFrames())
            return None
        if turn is None or seq is None:
            return None  # the gateway's own replies (welcome, pong, errors) carry no seq
        if seq <= self.after_seq.get(turn, -1):
            return None
        self.after_seq[turn] = seq
        self.last_turn = max(self.last_turn, turn)
        view = self.turns.setdefault(turn, TurnFrames())
        view.frames.append(dict(message))
        if message.get("type") == "done":
            view.done = True
        return turn

    def resume_hello(self, token: str) -> dict[str, Any]:
        """The hello for a (re)connect: every turn's last seq, so the gateway replays only what is missing."""
        return {
            "type": "hello",
            "token": token,
            "after_seq": {str(turn): seq for turn, seq in self.after_seq.items()},
            "last_turn": self.last_turn,
        }

    def suggestions(self, turn: int) -> list[Suggestion]:
        found: list[Suggestion] = []
        for frame in self.frames(turn):
            if frame.get("type") == "suggestions":
                found += suggestions(frame, start=len(found) + 1)
        return found

    def actions(self, turn: int) -> list[Action]:
        return actions(self.frames(turn))

    def frames(self, turn: int) -> list[dict[str, Any]]:
        view = self.turns.get(turn)
        return view.frames if view is not None else []

    def is_done(self, turn: int) -> bool:
        view = self.turns.get(turn)
        return view is not None and view.done


# ---- typed lines ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ask:
    text: str


@dataclass(frozen=True)
class SendFeedback:
    kind: str
    value: str = ""


@dataclass(frozen=True)
class SetProduct:
    product_id: str | None
    """None clears product-page mode."""


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Help:
    message: str = ""
    """Why help is shown: empty when asked for, else what was wrong with the line."""


Command = Ask | SendFeedback | SetProduct | Quit | Help

HELP = (
    "Type a question and press Enter. A number asks that follow-up (or starter question).\n"
    "/product ASIN   ask about this item (page context, with starter questions); /product alone clears it\n"
    "/feedback up|down   rate the last answer\n"
    "/action N   do action N of the last answer (add to cart, price alert)\n"
    "/quit   leave"
)


def parse_line(line: str, last_suggestions: list[Suggestion], last_actions: list[Action]) -> Command | None:
    """What a typed line asks for; None for an empty line. A number picks from `last_suggestions`: the
    last answer's follow-ups, or the starter questions of a product page just entered."""
    text = line.strip()
    if not text:
        return None
    if text.isdigit():
        number = int(text)
        for item in last_suggestions:
            if item.number == number:
                return Ask(item.text)
        return Help(f"no follow-up numbered {number}")
    if not text.startswith("/"):
        return Ask(text)
    name, _, rest = text.partition(" ")
    arg = rest.strip()
    if name in ("/quit", "/exit", "/q"):
        return Quit()
    if name in ("/help", "/?"):
        return Help()
    if name == "/product":
        return SetProduct(arg or None)
    if name == "/feedback":
        kind = {"up": "thumbs_up", "down": "thumbs_down", "+": "thumbs_up", "-": "thumbs_down"}.get(arg.lower())
        return SendFeedback(kind) if kind else Help("usage: /feedback up|down")
    if name == "/action":
        for action in last_actions:
            if arg == str(action.number):
                value = json.dumps({"type": action.type, "product_id": action.product_id, "params": dict(action.params)})
                return SendFeedback("action_clicked", value)
        return Help(f"no action numbered {arg or '?'}")
    return Help(f"unknown command {name}")


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

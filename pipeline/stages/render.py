"""The render stage's core: hydrated frames in; client frames, the finished turn and history out.

One `TurnRenderer` per (conversation, turn):

    renderer = TurnRenderer(conversation_id, turn)
    client_frames = renderer.on_frame(frame)       # for topic `frames`; [] for a duplicate
    if renderer.finished:
        done = renderer.finish(context, previous_state, now_ms)
        # done.response -> topic `responses`; done.state -> topic `conversation-state`

Frames pass through with their seq, so a client that resumes from a seq sees the same numbering
whichever render worker served it. A (turn, seq) seen before is dropped; a skipped seq is counted as a
gap. The hydrated `done` frame ends the turn.

While frames pass, the renderer keeps the turn's answer text (text frames, link words included), the
products shown and one descriptor per directive shown (docs/markup.md, "Turn records").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from pipeline import topics
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.markup.payloads import from_json, shown_product_ids
from pipeline.messages import ConversationState, Frame, TurnMemory, TurnResponse
from pipeline.stages.base import Output, current_hop_ms

DEFAULT_MAX_TURNS = 20
"""Turns a ConversationState keeps (the oldest go first)."""

_NOT_DIRECTIVES = frozenset({"text", "done", "error"})


@dataclass(frozen=True)
class TurnContext:
    """What render needs from the turn's request and plan (the adapter supplies it)."""

    user_id: str
    question: str
    intent: str
    plan_path: str = "rules"
    run_id: str | None = None
    prompt_version: str | None = None
    hop_ms: dict[str, float] = field(default_factory=dict)
    """Stage name to milliseconds, from the hop timestamps."""


@dataclass(frozen=True)
class FinishedTurn:
    response: TurnResponse
    state: ConversationState


class TurnRenderer:
    """Passes one turn's frames to clients and builds its records. One instance per turn."""

    def __init__(self, conversation_id: str, turn: int) -> None:
        self.conversation_id = conversation_id
        self.turn = turn
        self.finished = False
        self.duplicates = 0
        self.gaps = 0
        self.products_shown: list[str] = []
        self.directives: list[str] = []
        self.model: str | None = None
        self.facts: dict[str, Any] = {}
        """The turn's facts from the `done` frame's payload (its `context`): the TurnContext's source."""
        self._text: list[str] = []
        self._seen: set[int] = set()
        self._next_seq = 0

    @property
    def text(self) -> str:
        """The answer as shown so far, without markup."""
        return "".join(self._text)

    def on_frame(self, frame: Frame) -> list[Frame]:
        """The client frames for one hydrated frame: itself, or [] for a duplicate, another turn's
        frame, or anything after the turn's `done`."""
        if frame.conversation_id != self.conversation_id or frame.turn != self.turn:
            return []
        if frame.seq in self._seen or self.finished:
            self.duplicates += 1
            return []
        self._seen.add(frame.seq)
        if frame.seq > self._next_seq:
            self.gaps += 1
        self._next_seq = max(self._next_seq, frame.seq + 1)
        self._take(frame)
        return [frame]

    def finish(self, context: TurnContext, previous: ConversationState | None, now_ms: int,
               max_turns: int = DEFAULT_MAX_TURNS) -> FinishedTurn:
        """The turn's record and the conversation's new state. Raises StageError before the turn ended.

        The state keeps the last `max_turns` turns in turn order; a turn already in it is replaced, so
        finishing the same turn twice gives the same state.
        """
        if not self.finished:
            raise StageError(f"turn {self.turn} of {self.conversation_id} has not ended")
        response = TurnResponse(
            conversation_id=self.conversation_id,
            turn=self.turn,
            seq=0,
            user_id=context.user_id,
            question=context.question,
            text=self.text,
            intent=context.intent,
            products_shown=list(self.products_shown),
            directives=list(self.directives),
            hop_ms=dict(context.hop_ms),
            model=self.model,
            plan_path=context.plan_path,
            run_id=context.run_id,
            finished_at_ms=now_ms,
            prompt_version=context.prompt_version,
        )
        memory = TurnMemory(self.turn, context.question, self.text, list(self.products_shown))
        earlier = [t for t in (previous.turns if previous else []) if t.turn != self.turn]
        turns = sorted([*earlier, memory], key=lambda t: t.turn)[-max(1, max_turns):]
        state = ConversationState(
            conversation_id=self.conversation_id,
            turn=max(self.turn, previous.turn if previous else 0),
            seq=0,
            user_id=context.user_id,
            turns=turns,
            updated_at_ms=now_ms,
        )
        return FinishedTurn(response, state)

    def _take(self, frame: Frame) -> None:
        # Each payload is decoded once, here (a plain text frame's `{}` not at all).
        data = from_json(frame.payload)
        if frame.type == "text":
            self._text.append(frame.text)
        for pid in shown_product_ids(frame.type, data):
            if pid not in self.products_shown:
                self.products_shown.append(pid)
        if frame.type not in _NOT_DIRECTIVES or (frame.type == "text" and data):
            self.directives.append(directive_descriptor(frame.type, data))
        if frame.type == "done":
            model = data.get("model")
            self.model = model if isinstance(model, str) else None
            facts = data.get("context")
            self.facts = facts if isinstance(facts, dict) else {}
            self.finished = True


def directive_descriptor(frame_type: str, data: dict[str, Any]) -> str:
    """A short record of a shown directive from its frame type and decoded payload: "card:B07X",
    "compare:B07X,B08Y", "link:B07X", "action:price_alert:B07X", "suggestions"."""
    if frame_type == "action":
        return f"action:{data.get('type', '')}:{data.get('product_id', '')}"
    kind = "link" if frame_type == "text" else frame_type
    ids = shown_product_ids(frame_type, data)
    return f"{kind}:{','.join(ids)}" if ids else kind


# ---- the stage: hydrated -> frames, responses, conversation-state ---------------------------------

_REMEMBERED_CONVERSATIONS = 10_000


class RenderStage:
    """One TurnRenderer per conversation (its latest turn). Commits are turn-scoped (`ends_turn`):
    after a restart the whole turn replays, frames repeat with their seq (clients drop them), and the
    turn's record is rebuilt complete."""

    name = "render"
    input_topic = topics.HYDRATED
    output_topics = (topics.FRAMES, topics.RESPONSES, topics.CONVERSATION_STATE)
    input_type = Frame

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._turns: LRUCache[str, TurnRenderer] = LRUCache(maxsize=_REMEMBERED_CONVERSATIONS)
        self._states: LRUCache[str, ConversationState] = LRUCache(maxsize=_REMEMBERED_CONVERSATIONS)

    @staticmethod
    def ends_turn(message: Frame) -> bool:
        return message.type == "done"

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def process(self, message: Frame) -> AsyncIterator[Output]:
        conversation = message.conversation_id
        renderer = self._turns.get(conversation)
        if renderer is None or renderer.turn < message.turn:
            renderer = TurnRenderer(conversation, message.turn)
            self._turns[conversation] = renderer
        elif renderer.turn > message.turn:
            return
        was_finished = renderer.finished
        for frame in renderer.on_frame(message):
            yield Output(topics.FRAMES, conversation, frame)
        if renderer.finished and not was_finished:
            done = renderer.finish(_context(renderer.facts), self._states.get(conversation), now_ms())
            self._states[conversation] = done.state
            yield Output(topics.RESPONSES, conversation, done.response)
            yield Output(topics.CONVERSATION_STATE, conversation, done.state)


def _context(facts: dict[str, Any]) -> TurnContext:
    """The turn's facts, carried from generate's final chunk through hydrate's `done` payload."""
    return TurnContext(
        user_id=str(facts.get("user_id", "")),
        question=str(facts.get("question", "")),
        intent=str(facts.get("intent", "")),
        plan_path=str(facts.get("plan_path", "rules")),
        run_id=facts.get("run_id") or None,
        prompt_version=facts.get("prompt_version") or None,
        hop_ms=dict(current_hop_ms.get()),
    )


def build(settings: Settings) -> RenderStage:
    return RenderStage(settings)

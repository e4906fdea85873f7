"""The plan stage: a UserTurn from `requests` in, a Plan to `plans` out.

The planning itself is pipeline/planner (pure cores; `plan_turn` races the LLM against the deadline
and falls back to the rules). This class binds it to its services: the LLM client (skipped in rules
mode), the intent embeddings (optional: without `make models` the rules plan alone), and a bounded
in-memory view of recent conversation state. That view follows the compacted `conversation-state`
topic (render writes a conversation's state when a turn finishes), restored at start through the
runtime's changelog table, so "the cheaper one" resolves against what the shopper was shown even
after a restart. Tests pass history directly: `process(message, history=...)` or `remember(state)`.

The stage also owns account memory (pipeline/memory): it follows the compacted `user-memory` topic
the same way, writes a shopper's new record there when a turn states a preference or asks to forget
one, and applies the memory to the plan (a remembered budget caps open searches; every preference
rides in `plan.preferences` to the answer prompt).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from pipeline import topics
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.errors import AisleError, StageError
from pipeline.llm.client import LlmClient
from pipeline.memory.planning import personalise, updated_preferences
from pipeline.messages import ConversationState, UserMemory, UserTurn
from pipeline.planner.embedding import EmbedFn, IntentEmbeddings
from pipeline.planner.planner import PlannerOptions, PlanOutcome, plan_turn
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.model_files import ModelPaths
from pipeline.stages.base import FollowedTable, OpenTable, Output

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 10_000
"""Conversations whose latest state the stage keeps (least recently used go first)."""
MAX_USERS = 100_000
"""Shoppers whose memory the stage keeps in process (least recently used go first; the topic keeps all)."""


class PlanStage:
    """Plans each request. `llm` and `embed` are optional services (None: rules only)."""

    name = "plan"
    input_topic = topics.REQUESTS
    output_topics = (topics.USER_MEMORY, topics.PLANS)
    input_type = UserTurn

    def __init__(self, options: PlannerOptions, *, llm: LlmClient | None = None, embed: EmbedFn | None = None,
                 close_embed: Callable[[], None] | None = None, max_conversations: int = MAX_CONVERSATIONS,
                 open_history: OpenTable | None = None, open_memory: OpenTable | None = None) -> None:
        self.options = options
        self._open_history = open_history
        self._history_table: FollowedTable | None = None
        self._open_memory = open_memory
        self._memory_table: FollowedTable | None = None
        self._memories: LRUCache[str, UserMemory] = LRUCache(maxsize=MAX_USERS)
        self._llm = llm
        self._embed = embed
        self._close_embed = close_embed
        self._embeddings: IntentEmbeddings | None = None
        self._states: LRUCache[str, ConversationState] = LRUCache(maxsize=max(1, max_conversations))
        self.last_outcome: PlanOutcome | None = None

    async def start(self) -> None:
        if self._embed is not None:
            self._embeddings = await IntentEmbeddings.load(self._embed)
        if self._open_history is not None:
            self._history_table = self._open_history(self._apply_state)
            await self._history_table.start()
        if self._open_memory is not None:
            self._memory_table = self._open_memory(self._apply_memory)
            await self._memory_table.start()

    def _apply_state(self, key: str, value: Any) -> None:
        if isinstance(value, ConversationState):
            self.remember(value)

    def _apply_memory(self, key: str, value: Any) -> None:
        if isinstance(value, UserMemory):
            self.remember_user(value)

    async def stop(self) -> None:
        if self._memory_table is not None:
            await self._memory_table.stop()
        if self._history_table is not None:
            await self._history_table.stop()
        if self._llm is not None:
            await self._llm.aclose()
        if self._close_embed is not None:
            self._close_embed()

    def remember(self, state: ConversationState) -> None:
        """Keep `state` as its conversation's history, unless a newer turn's state is already kept."""
        kept = self._states.get(state.conversation_id)
        if kept is None or kept.turn <= state.turn:
            self._states[state.conversation_id] = state

    def history(self, conversation_id: str) -> ConversationState | None:
        return self._states.get(conversation_id)

    def remember_user(self, memory: UserMemory) -> None:
        """Keep `memory` as its shopper's latest (the topic's record, or one this stage just wrote),
        unless a newer one is kept: the table may hand back an older record after this stage wrote a
        newer one (last write wins, by `updated_at_ms`)."""
        kept = self._memories.get(memory.user_id)
        if kept is None or kept.updated_at_ms <= memory.updated_at_ms:
            self._memories[memory.user_id] = memory

    def preferences(self, user_id: str) -> dict[str, str]:
        kept = self._memories.get(user_id)
        return dict(kept.preferences) if kept is not None else {}

    async def process(self, message: object, history: ConversationState | None = None) -> AsyncIterator[Output]:
        """One Plan for one UserTurn. Raises StageError for any other message type."""
        if not isinstance(message, UserTurn):
            raise StageError(f"plan stage expects a UserTurn, got {type(message).__name__}")
        if history is not None and history.conversation_id == message.conversation_id:
            self.remember(history)
        outcome = await plan_turn(
            message,
            self.history(message.conversation_id),
            llm=self._llm,
            embeddings=self._embeddings,
            options=self.options,
        )
        self.last_outcome = outcome
        if outcome.fallback is not None:
            log.info("plan: %s turn %d planned by rules: %s", message.conversation_id, message.turn, outcome.fallback)
        preferences = self.preferences(message.user_id)
        changed = updated_preferences(outcome.plan, preferences)
        if changed is not None:
            memory = UserMemory(message.conversation_id, message.turn, 0, message.user_id, changed, now_ms())
            # Kept here at once: the next turn may arrive before the table reads the record back.
            self.remember_user(memory)
            preferences = changed
            yield Output(topics.USER_MEMORY, message.user_id, memory)
        yield Output(topics.PLANS, message.conversation_id, personalise(outcome.plan, preferences))


def build(settings: Settings) -> PlanStage:
    """The stage as `aisle worker plan` runs it. Raises ConfigError for a bad AISLE_PLANNER_MODE."""
    options = PlannerOptions.from_settings(settings)
    llm = None if options.mode == "rules" else LlmClient(settings)
    embedder = _embedder(settings) if settings.planner_embeddings else None
    # Opened here, outside the stage class, so the class stays free of Kafka (as in stages/alerts.py).
    from pipeline.runtime.table import ChangelogTable

    def open_history(apply: Callable[[str, Any], None]) -> FollowedTable:
        return ChangelogTable(settings, topics.CONVERSATION_STATE, apply, what="conversation history")

    def open_memory(apply: Callable[[str, Any], None]) -> FollowedTable:
        return ChangelogTable(settings, topics.USER_MEMORY, apply, what="account memory")

    if embedder is None:
        return PlanStage(options, llm=llm, open_history=open_history, open_memory=open_memory)
    return PlanStage(options, llm=llm, embed=embedder.adense, close_embed=embedder.close, open_history=open_history,
                     open_memory=open_memory)


def _embedder(settings: Settings) -> Embedder | None:
    """The MiniLM embedder when its model files exist, else None (the rules plan alone)."""
    models_dir: Path = settings.home / "models"
    if not ModelPaths.under(models_dir).is_complete():
        log.warning("plan: no embedding models under %s (run `make models`); planning with rules only", models_dir)
        return None
    try:
        return Embedder(models_dir, threads=1)
    except AisleError as exc:
        log.warning("plan: embedder unavailable (%s); planning with rules only", exc)
        return None

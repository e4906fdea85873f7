"""The records that flow on the topics, as frozen dataclasses.

Each class here has an Avro schema of the same name in schemas/ (`aisle.<ClassName>`), which is the
contract backend teams read. Field order and names match the schema; a test checks that they agree.

Every message carries `conversation_id`, `turn` and `seq`, so any consumer can recognise a duplicate
(same triple seen before) or a gap (a seq skipped within a turn). One-per-turn messages use seq 0.
Money is in integer cents with an ISO currency code, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserTurn:
    """A shopper's question: topic `requests`."""

    conversation_id: str
    turn: int
    seq: int
    user_id: str
    text: str
    page_product_id: str | None = None
    """The product page the question was asked on, if any."""
    client: str = "web"
    """web | terminal | backend | replay"""
    run_id: str | None = None
    """Set by `aisle replay`, so replayed traffic never mixes with live traffic."""
    sent_at_ms: int = 0


@dataclass(frozen=True)
class RetrievalStep:
    source: str
    """products | reviews | qa | offers | choice | price_history | cart | orders"""
    query: str = ""
    product_ids: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    """Filter name to value, e.g. {"category": "toys", "max_price_cents": "5000"}."""
    limit: int = 10


@dataclass(frozen=True)
class Plan:
    """What the planner decided: topic `plans`."""

    conversation_id: str
    turn: int
    seq: int
    request: UserTurn
    intent: str
    steps: list[RetrievalStep]
    resolved_product_ids: list[str] = field(default_factory=list)
    """Products the conversation referred to ("the cheaper one"), resolved from history."""
    path: str = "rules"
    """llm | rules | rules+embed (the rules were silent and embedding similarity chose the intent):
    which planner produced this plan (pipeline/planner/planner.py, PATH_*)."""
    planner_ms: float = 0.0
    model: str | None = None
    preferences: dict[str, str] = field(default_factory=dict)
    """What the shopper told us about themselves (account memory) as the planner applied it."""


@dataclass(frozen=True)
class EvidenceItem:
    source: str
    """product | review | qa | attribute | bullet | description | offer | choice | price_history | order"""
    text: str
    score: float
    product_id: str | None = None
    ref: str | None = None
    """A stable id of the passage (for dedupe and citations)."""


@dataclass(frozen=True)
class StepFailure:
    source: str
    reason: str


@dataclass(frozen=True)
class EvidenceBundle:
    """The retrieve stage's answer to a plan: topic `evidence`."""

    conversation_id: str
    turn: int
    seq: int
    plan: Plan
    items: list[EvidenceItem]
    failures: list[StepFailure] = field(default_factory=list)
    empty_reason: str | None = None


@dataclass(frozen=True)
class TokenChunk:
    """A piece of the streamed answer (a judged sentence, a directive, or text the system states): topic `tokens`."""

    conversation_id: str
    turn: int
    seq: int
    text: str
    offset: int
    """Character offset of `text` in the turn's full answer: lets a consumer drop replayed text."""
    final: bool = False
    grounded_product_ids: list[str] = field(default_factory=list)
    """Products this turn may show (from its evidence and earlier turns)."""
    error: str | None = None
    model: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    """Facts about the turn for its finished-turn record (user_id, question, intent, plan_path,
    run_id), set on the final chunk only: render needs them and sees only frames."""


@dataclass(frozen=True)
class Frame:
    """One thing for a client to show: topics `hydrated` and `frames`.

    `type` is one of text, card, carousel, compare, reviews, price_history, suggestions, action, alert,
    done, error. `payload` is a JSON object whose fields per type are listed in docs/markup.md.
    """

    conversation_id: str
    turn: int
    seq: int
    type: str
    text: str = ""
    payload: str = "{}"


@dataclass(frozen=True)
class TurnResponse:
    """One finished turn, for backend teams: topic `responses`."""

    conversation_id: str
    turn: int
    seq: int
    user_id: str
    question: str
    text: str
    intent: str
    products_shown: list[str] = field(default_factory=list)
    directives: list[str] = field(default_factory=list)
    hop_ms: dict[str, float] = field(default_factory=dict)
    """Stage name to milliseconds spent, from the hop timestamps."""
    model: str | None = None
    plan_path: str = "rules"
    run_id: str | None = None
    finished_at_ms: int = 0
    prompt_version: str | None = None
    """The answer prompt's version (pipeline/generation/prompt.py); None for answers stated without the model."""


@dataclass(frozen=True)
class Feedback:
    """Thumbs and action outcomes from clients: topic `feedback`."""

    conversation_id: str
    turn: int
    seq: int
    user_id: str
    kind: str
    """thumbs_up | thumbs_down | action_clicked | action_done | action_failed"""
    value: str = ""
    sent_at_ms: int = 0


@dataclass(frozen=True)
class StoreEvent:
    """A price or stock change: topic `store-events`, keyed by product id."""

    product_id: str
    seq: int
    kind: str
    """price | stock"""
    price_cents: int
    currency: str
    in_stock: bool
    simulated: bool
    at_ms: int


@dataclass(frozen=True)
class Alert:
    """A fired price alert or auto-buy: topic `alerts`."""

    alert_id: str
    conversation_id: str
    turn: int
    seq: int
    user_id: str
    product_id: str
    kind: str
    """price_below | auto_buy"""
    threshold_cents: int
    price_cents: int
    currency: str
    order_id: str | None = None
    fired_at_ms: int = 0


@dataclass(frozen=True)
class AlertRule:
    """A registered alert and its firing state: compacted topic `alert-registry` (docs/alerts.md)."""

    alert_id: str
    user_id: str
    conversation_id: str
    turn: int
    product_id: str
    kind: str
    """price_below | auto_buy"""
    threshold_cents: int
    currency: str
    max_price_cents: int = 0
    quantity: int = 1
    created_at_ms: int = 0
    expires_at_ms: int = 0
    status: str = "active"
    """active | cancelled"""
    armed: bool = True
    last_event_seq: int = -1
    fired_count: int = 0
    order_id: str | None = None
    updated_at_ms: int = 0


@dataclass(frozen=True)
class TurnMemory:
    turn: int
    question: str
    answer: str
    product_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConversationState:
    """The latest state of a conversation: compacted topic `conversation-state`."""

    conversation_id: str
    turn: int
    seq: int
    user_id: str
    turns: list[TurnMemory] = field(default_factory=list)
    updated_at_ms: int = 0


@dataclass(frozen=True)
class UserMemory:
    """What a shopper told us about themselves: compacted topic `user-memory`, keyed by user_id."""

    conversation_id: str
    """The conversation of the turn that last changed it."""
    turn: int
    seq: int
    user_id: str
    preferences: dict[str, str] = field(default_factory=dict)
    updated_at_ms: int = 0


@dataclass(frozen=True)
class DeadLetter:
    """A message a stage could not decode or process: topic `dead-letters`."""

    stage: str
    reason: str
    error_type: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    failed_at_ms: int = 0

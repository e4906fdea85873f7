"""Two ways to get the pipeline's answers to eval questions, each giving one TurnOutcome per turn.

- `run_direct`: the five stages built as the workers build them and chained in this process (plan ->
  retrieve -> generate -> hydrate -> render, pipeline/runtime/chain.py), one turn at a time. No broker;
  needs the store, the index and the models under AISLE_HOME, and the LLM server.
- `run_through_kafka`: the running workers, fed by the replay engine (one conversation per question,
  all sent at once, `concurrency` turns in flight), with frames, responses and evidence collected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.config import Settings
from pipeline.errors import AisleError
from pipeline.messages import EvidenceBundle, Frame, TurnResponse, UserTurn
from pipeline.replay.replayer import ReplayOptions, Replayer
from pipeline.replay.traffic import ASK, Traffic, TrafficEvent
from pipeline.runtime.chain import ANSWER_STAGES, build_stages, chain, running
from pipeline.stages.base import Stage
from pipeline.topics import FRAMES

log = logging.getLogger(__name__)

TurnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class TurnOutcome:
    frames: list[Frame]
    response: TurnResponse | None
    evidence: EvidenceBundle | None
    seconds: float
    """From sending the turn to its done frame (or giving up)."""
    ttft_s: float | None
    errors: list[str] = field(default_factory=list)

    @property
    def answer_text(self) -> str:
        if self.response is not None:
            return self.response.text
        return "".join(f.text for f in self.frames if f.type == "text")

    @property
    def evidence_product_ids(self) -> set[str]:
        if self.evidence is None:
            return set()
        ids = {item.product_id for item in self.evidence.items if item.product_id}
        return ids | set(self.evidence.plan.resolved_product_ids)


async def run_direct(settings: Settings, turns: Sequence[UserTurn],
                     progress: TurnProgress | None = None) -> dict[str, TurnOutcome]:
    """Answer each turn with the stages in this process; keyed by conversation id."""
    async with running(build_stages(settings, ANSWER_STAGES)) as stages:
        outcomes: dict[str, TurnOutcome] = {}
        for done, turn in enumerate(turns, start=1):
            outcomes[turn.conversation_id] = await _direct_turn(stages, turn)
            if progress is not None:
                progress(done, len(turns))
        return outcomes


async def _direct_turn(stages: Sequence[Stage], turn: UserTurn) -> TurnOutcome:
    started = time.monotonic()
    frames: list[Frame] = []
    response: TurnResponse | None = None
    evidence: EvidenceBundle | None = None
    first_text: float | None = None
    try:
        async for out in chain(stages, turn):
            if isinstance(out.value, EvidenceBundle):
                evidence = out.value
            elif out.topic == FRAMES and isinstance(out.value, Frame):
                frames.append(out.value)
                if first_text is None and out.value.type == "text" and out.value.text:
                    first_text = time.monotonic() - started
            elif isinstance(out.value, TurnResponse):
                response = out.value
    except AisleError as exc:
        log.warning("eval: %s failed: %s", turn.conversation_id, exc)
        return TurnOutcome(frames, response, evidence, time.monotonic() - started, first_text,
                           [f"{type(exc).__name__}: {exc}"])
    errors = [f.payload for f in frames if f.type == "error"]
    return TurnOutcome(frames, response, evidence, time.monotonic() - started, first_text, errors)


async def run_through_kafka(settings: Settings, turns: Sequence[UserTurn], concurrency: int, turn_timeout_s: float,
                            progress: TurnProgress | None = None) -> dict[str, TurnOutcome]:
    """Answer each turn with the running workers (one conversation per turn); keyed by conversation id."""
    outcomes = await run_conversations(settings, turns, concurrency, turn_timeout_s, progress)
    return {conversation: outcome for (conversation, _), outcome in outcomes.items()}


async def run_conversations(settings: Settings, turns: Sequence[UserTurn], concurrency: int, turn_timeout_s: float,
                            progress: TurnProgress | None = None, *,
                            acting: bool = False) -> dict[tuple[str, int], TurnOutcome]:
    """Answer conversations of one or more turns with the running workers; keyed by (conversation, turn).
    A conversation's next turn is sent once its previous one has finished (or timed out). `acting`:
    the turns are their users' own, so actions and memory take effect (ReplayOptions.acting)."""
    events = [TrafficEvent(ASK, 0, t.conversation_id, t.user_id, t.turn, t.text, t.page_product_id) for t in turns]
    options = ReplayOptions(speed=0.0, concurrency=concurrency, turn_timeout_s=turn_timeout_s, keep_frames=True,
                            acting=acting)
    result = await Replayer(settings, Traffic(events, []), options, traffic_file="eval", progress=progress).run()
    outcomes: dict[tuple[str, int], TurnOutcome] = {}
    for record in result.turns:
        key = (record.conversation, record.turn)
        total_ms = record.total_ms
        ttft_ms = record.ttft_ms
        errors = [kind for kind, _ in record.errors] + (["timeout"] if record.timed_out else [])
        outcomes[key] = TurnOutcome(
            result.frames.get(key, []), result.responses.get(key), result.evidence.get(key),
            (total_ms if total_ms is not None else turn_timeout_s * 1000) / 1000,
            None if ttft_ms is None else ttft_ms / 1000, errors)
    return outcomes

"""A replay's report, built from what the replayer observed: a plain JSON-able dict (pure, no I/O).

Inputs are `TurnRecord`s (one per replayed ask), consumer-lag samples and dead letters of the run.
Latencies are milliseconds. TTFT is from the moment the replayer produced the ask to the broker
timestamp of the turn's first text frame; `total_ms` ends at its `done` frame. Per-stage times come
from the TurnResponse's hop_ms ("plan" = time inside the plan stage, "plan.wait" = queued before it).

The report's shape (`version` 1), every latency block being {count, p50, p90, p99, mean, max}:

    run: {run_id, traffic_file, speed, concurrency, started_at_ms, finished_at_ms, duration_s, bad_lines}
    turns: {sent, answered, timed_out, with_error, without_response, duplicate_frames, ended_twice,
            outcomes: {answered, error, lost}}   (each turn exactly one outcome; see `outcome`)
    ttft_ms, total_ms: latency blocks;  ttft_histogram: {edges_ms, counts}
    stages: {stage or stage.wait: latency block}, in pipeline order
    answer_chars: latency-style block over answer lengths (characters)
    throughput: [{t_s, turns_done, frames}] per bucket;  lag: [{t_s, <stage>: messages}]
    errors: {total, by_kind: {kind: count}, examples: [{conversation, turn, kind, detail}]}
    done_counters: {name: total} from the done frames (ungrounded, malformed, timeout, ...)
    intents: {intent: count};  per_turn: [{conversation, turn, ttft_ms, total_ms, chars, intent, error}]

`replay_traffic` (run.py) adds `feedback`: the live "Shopper feedback" section read from the feedback
worker's snapshot (pipeline/feedback/report.py), not feedback on the replayed turns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.stats import percentile

REPORT_VERSION = 1
STAGE_ORDER = ("replay", "gateway", "plan", "retrieve", "generate", "hydrate", "render")
HISTOGRAM_BINS = 20
THROUGHPUT_BUCKET_S = 5.0
MAX_ERROR_EXAMPLES = 20


@dataclass(frozen=True)
class TurnRecord:
    """What the replayer saw of one replayed ask. Times are epoch ms; None when it never happened."""

    conversation: str
    """The recorded conversation id (without the run's namespace)."""
    turn: int
    sent_at_ms: int
    first_text_at_ms: int | None = None
    done_at_ms: int | None = None
    frames: int = 0
    duplicate_frames: int = 0
    """Frames whose (turn, seq) came before: the at-least-once bus repeating itself; clients drop them."""
    done_frames: int = 0
    """Distinct done frames: more than one means the turn ended twice (an answer and an error)."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(kind, detail) per error frame of the turn."""
    done_counts: dict[str, int] = field(default_factory=dict)
    answered: bool = False
    """A TurnResponse arrived."""
    timed_out: bool = False
    hop_ms: dict[str, float] = field(default_factory=dict)
    answer_chars: int = 0
    intent: str = ""
    products_shown: list[str] = field(default_factory=list)

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_text_at_ms is None else float(self.first_text_at_ms - self.sent_at_ms)

    @property
    def total_ms(self) -> float | None:
        return None if self.done_at_ms is None else float(self.done_at_ms - self.sent_at_ms)

    @property
    def outcome(self) -> str:
        """How the turn ended for its shopper: "error" (an error frame came: the pipeline gave up on it
        or part of it), "answered" (its done frame came, no error), or "lost" (neither came before the
        turn timeout: the shopper was left waiting, which must never happen)."""
        if self.errors:
            return "error"
        return "answered" if self.done_at_ms is not None else "lost"


@dataclass(frozen=True)
class LagSample:
    at_ms: int
    lag: dict[str, int | None]
    """Stage name to messages its group has not committed on its input topic (None: unknown)."""


@dataclass(frozen=True)
class DeadLetterRecord:
    conversation: str
    turn: int | None
    stage: str
    error_type: str
    reason: str


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    traffic_file: str
    speed: float
    concurrency: int
    started_at_ms: int
    finished_at_ms: int
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    frame_times_ms: list[int] = field(default_factory=list)
    """Broker timestamps of every frame of the run (for frames per second)."""


def latency_block(values: Sequence[float]) -> dict[str, float | int | None]:
    """{count, p50, p90, p99, mean, max}; the statistics are None when there are no values."""
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "mean": None, "max": None}
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "mean": round(sum(values) / len(values), 1),
        "max": max(values),
    }


def histogram(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> dict[str, list[float] | list[int]]:
    """Equal-width bins from 0 to the largest value: {edges_ms (bins + 1), counts (bins)}."""
    if not values:
        return {"edges_ms": [], "counts": []}
    top = max(max(values), 1.0)
    width = top / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int(max(0.0, value) / width))] += 1
    return {"edges_ms": [round(i * width, 1) for i in range(bins + 1)], "counts": counts}


def build_report(facts: RunFacts, turns: Sequence[TurnRecord], lag: Sequence[LagSample] = (),
                 dead_letters: Sequence[DeadLetterRecord] = ()) -> dict[str, Any]:
    """The report dict (shape in the module docstring)."""
    ttfts = [t.ttft_ms for t in turns if t.ttft_ms is not None]
    totals = [t.total_ms for t in turns if t.total_ms is not None]
    stage_values: dict[str, list[float]] = {}
    for t in turns:
        if t.answered:
            for name, ms in t.hop_ms.items():
                stage_values.setdefault(name, []).append(ms)
    errors = _errors(turns, dead_letters)
    done_counters: Counter[str] = Counter()
    for t in turns:
        done_counters.update(t.done_counts)
    return {
        "version": REPORT_VERSION,
        "run": {
            "run_id": facts.run_id,
            "traffic_file": facts.traffic_file,
            "speed": facts.speed,
            "concurrency": facts.concurrency,
            "started_at_ms": facts.started_at_ms,
            "finished_at_ms": facts.finished_at_ms,
            "duration_s": round((facts.finished_at_ms - facts.started_at_ms) / 1000, 1),
            "bad_lines": [{"line": n, "reason": r} for n, r in facts.bad_lines],
        },
        "turns": {
            "sent": len(turns),
            "answered": sum(t.answered for t in turns),
            "timed_out": sum(t.timed_out for t in turns),
            "with_error": sum(bool(t.errors) for t in turns),
            "without_response": sum(not t.answered for t in turns),
            "duplicate_frames": sum(t.duplicate_frames for t in turns),
            "ended_twice": sum(t.done_frames > 1 for t in turns),
            "outcomes": {kind: sum(t.outcome == kind for t in turns) for kind in ("answered", "error", "lost")},
        },
        "ttft_ms": latency_block(ttfts),
        "ttft_histogram": histogram(ttfts),
        "total_ms": latency_block(totals),
        "stages": {name: latency_block(stage_values[name]) for name in _stage_order(stage_values)},
        "answer_chars": latency_block([float(t.answer_chars) for t in turns if t.answered]),
        "throughput": _throughput(facts, turns),
        "lag": [{"t_s": round((s.at_ms - facts.started_at_ms) / 1000, 1), **s.lag} for s in lag],
        "errors": errors,
        "done_counters": dict(sorted(done_counters.items())),
        "intents": dict(Counter(t.intent or "?" for t in turns if t.answered).most_common()),
        "per_turn": [
            {"conversation": t.conversation, "turn": t.turn, "ttft_ms": t.ttft_ms, "total_ms": t.total_ms,
             "chars": t.answer_chars, "intent": t.intent, "answered": t.answered, "outcome": t.outcome,
             "error": t.errors[0][0] if t.errors else ("timeout" if t.timed_out else None)}
            for t in turns
        ],
    }


def _stage_order(names: Mapping[str, object]) -> list[str]:
    def rank(name: str) -> tuple[int, int, str]:
        stage, _, wait = name.partition(".")
        position = STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)
        return position, 0 if wait else 1, name

    return sorted(names, key=rank)


def _errors(turns: Sequence[TurnRecord], dead_letters: Sequence[DeadLetterRecord]) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []

    def add(conversation: str, turn: int | None, kind: str, detail: str) -> None:
        kinds[kind] += 1
        if len(examples) < MAX_ERROR_EXAMPLES:
            examples.append({"conversation": conversation, "turn": turn, "kind": kind, "detail": detail[:300]})

    for t in turns:
        for kind, detail in t.errors:
            add(t.conversation, t.turn, kind, detail)
        if t.timed_out:
            add(t.conversation, t.turn, "timeout: no done frame", "")
    for d in dead_letters:
        add(d.conversation, d.turn, f"dead_letter: {d.stage} {d.error_type}", d.reason)
    return {"total": sum(kinds.values()), "by_kind": dict(kinds.most_common()), "examples": examples}


def _throughput(facts: RunFacts, turns: Sequence[TurnRecord]) -> list[dict[str, float | int]]:
    start = facts.started_at_ms
    span_s = max(0.0, (facts.finished_at_ms - start) / 1000)
    buckets = int(span_s // THROUGHPUT_BUCKET_S) + 1
    done = [0] * buckets
    frames = [0] * buckets
    for t in turns:
        if t.done_at_ms is not None:
            done[_bucket(t.done_at_ms, start, buckets)] += 1
    for at_ms in facts.frame_times_ms:
        frames[_bucket(at_ms, start, buckets)] += 1
    return [{"t_s": i * THROUGHPUT_BUCKET_S, "turns_done": done[i], "frames": frames[i]} for i in range(buckets)]


def _bucket(at_ms: int, start_ms: int, buckets: int) -> int:
    return min(buckets - 1, max(0, int((at_ms - start_ms) / 1000 // THROUGHPUT_BUCKET_S)))


def error_kind(payload: Mapping[str, Any]) -> str:
    """A short kind for an error frame's payload: "<stage>: <reason up to its first colon>"."""
    stage = str(payload.get("stage", "?"))
    reason = str(payload.get("reason", "")).split(":", 1)[0].strip()[:60] or "unknown"
    return f"{stage}: {reason}"

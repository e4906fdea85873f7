"""What a stage worker tells Prometheus: one registry per worker, scraped at `/metrics`.

Counters are the worker's own `WorkerStats` (runtime/_stats.py), read at scrape time, so the hot path
keeps adding to plain ints and there is one count, not two. Gauges are read from the worker at scrape
time too (`WorkerGauges`). Only the histograms are observed as records pass. Every family carries a
`stage` label, so one query covers all workers; Prometheus adds `instance` for several processes of
one stage.

    aisle_stage_processing_seconds        histogram  start of handling to the last output acknowledged
    aisle_stage_first_output_seconds      histogram  start of handling to the first output produced
    aisle_stage_queue_wait_seconds        histogram  upstream produce (its hop header) to start of handling
    aisle_stage_records_*_total           counter    received, processed, duplicates, outputs
    aisle_stage_dead_letters_total        counter    by `reason`: the error's type, or unfinished_turn
    aisle_stage_retries_total, _commits_total, _commit_failures_total, _turns_ended_with_error_total
    aisle_stage_lanes_in_flight, _records_in_flight, _parked_records, _paused_partitions, _consumer_lag

docs/operations.md ("Metrics") says what each means and where each worker serves its page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from pipeline.config import Settings
from pipeline.runtime._stats import WorkerStats

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)
"""From a render hop (about a millisecond) to a whole streamed answer on a CPU (tens of seconds)."""

METRICS_SLOTS: dict[str, int] = {
    "plan": 1,
    "retrieve": 2,
    "generate": 3,
    "hydrate": 4,
    "render": 5,
    "alerts": 6,
    "actions": 7,
    "feedback": 8,
}
"""A stage's worker serves /metrics on AISLE_METRICS_PORT + its slot (plan: 9411 by default)."""

UNFINISHED_TURN = "unfinished_turn"
"""The dead-letter reason of a turn released after AISLE_TURN_HOLD_TIMEOUT_S (runtime/_turns.py)."""


def worker_metrics_port(settings: Settings, stage: str) -> int | None:
    """The port the worker of `stage` serves /metrics on: AISLE_METRICS_PORT + its slot; 0 (any free
    port) for a stage without a slot (`module:factory`); None when AISLE_METRICS_PORT is 0 (off)."""
    if settings.metrics_port == 0:
        return None
    slot = METRICS_SLOTS.get(stage)
    return 0 if slot is None else settings.metrics_port + slot


@dataclass(frozen=True)
class WorkerGauges:
    """What a worker holds at one moment (StageWorker.gauges)."""

    lanes_in_flight: int
    records_in_flight: int
    parked_records: int
    paused_partitions: int
    consumer_lag: int


_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("aisle_stage_records_received", "received", "Records fetched from the input topic."),
    ("aisle_stage_records_processed", "processed", "Records the stage processed (duplicates and dead letters aside)."),
    ("aisle_stage_records_duplicate", "duplicates", "Records dropped as already seen (conversation, turn, seq)."),
    ("aisle_stage_outputs", "outputs", "Records produced and acknowledged by the broker."),
    ("aisle_stage_retries", "retries", "Retries of a record after a transient error (runtime/retry.py)."),
    ("aisle_stage_commits", "commits", "Offset commits that succeeded."),
    ("aisle_stage_commit_failures", "commit_failures", "Offset commits that failed (the next one retries)."),
    ("aisle_stage_turns_ended_with_error", "turns_ended_with_error",
     "Shoppers' turns ended with error frames after a dead letter."),
)

_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("aisle_stage_lanes_in_flight", "lanes_in_flight", "Conversations with records queued or running (at most AISLE_MAX_LANES)."),
    ("aisle_stage_records_in_flight", "records_in_flight", "Records received and not yet finished (uncommitted)."),
    ("aisle_stage_parked_records", "parked_records", "Records held back because their lane was full; their partitions are paused."),
    ("aisle_stage_paused_partitions", "paused_partitions", "Input partitions paused for backpressure."),
    ("aisle_stage_consumer_lag", "consumer_lag",
     "Records between the log end and this worker's commit position, summed over its assigned partitions."),
)


class _WorkerCollector(Collector):
    """Reads the worker's counters and gauges when the page is rendered."""

    def __init__(self, stage: str, stats: WorkerStats, gauges: Callable[[], WorkerGauges]) -> None:
        self._stage, self._stats, self._gauges = stage, stats, gauges

    def collect(self) -> Iterable[Metric]:
        for name, attr, help_text in _COUNTERS:
            counter = CounterMetricFamily(name, help_text, labels=["stage"])
            counter.add_metric([self._stage], getattr(self._stats, attr))
            yield counter
        letters = CounterMetricFamily("aisle_stage_dead_letters", "Records sent to the dead-letter topic, by reason "
                                      "(the error's type, or unfinished_turn).", labels=["stage", "reason"])
        for reason, count in sorted(self._stats.dead_letters_by_reason.items()):
            letters.add_metric([self._stage, reason], count)
        yield letters
        now = self._gauges()
        for name, attr, help_text in _GAUGES:
            gauge = GaugeMetricFamily(name, help_text, labels=["stage"])
            gauge.add_metric([self._stage], getattr(now, attr))
            yield gauge


class WorkerMetrics:
    """One worker's registry and histograms. `bind` hands it the counters and gauges to read."""

    def __init__(self, stage: str, *, process: bool = True) -> None:
        self.stage = stage
        self.registry = CollectorRegistry(auto_describe=True)
        if process:  # process_cpu_seconds_total, process_resident_memory_bytes, ... (Linux only)
            ProcessCollector(registry=self.registry)
        self.processing_s = _histogram(self.registry, "aisle_stage_processing_seconds",
                                       "Start of handling a record to its last output acknowledged (retries included).", stage)
        self.first_output_s = _histogram(self.registry, "aisle_stage_first_output_seconds",
                                         "Start of handling a record to its first output produced.", stage)
        self.queue_wait_s = _histogram(self.registry, "aisle_stage_queue_wait_seconds",
                                       "The upstream produce (its hop header, else the record's timestamp) to the start "
                                       "of handling: Kafka, the fetch, the lane queue.", stage)
        self._bound = False

    def observe_wait(self, hop_times: Mapping[str, int], timestamp_ms: int, received_ms: int) -> None:
        """Observe a record's queue wait (`queue_wait_s`), when its headers or timestamp tell it."""
        wait_s = queue_wait_s(hop_times, timestamp_ms, received_ms)
        if wait_s is not None:
            self.queue_wait_s.observe(wait_s)

    def bind(self, stats: WorkerStats, gauges: Callable[[], WorkerGauges]) -> None:
        """Register the worker's counters and gauges; once."""
        if self._bound:
            raise RuntimeError("WorkerMetrics is already bound to a worker")
        self.registry.register(_WorkerCollector(self.stage, stats, gauges))
        self._bound = True


def queue_wait_s(hop_times: Mapping[str, int], timestamp_ms: int, received_ms: int) -> float | None:
    """Seconds from the upstream produce to `received_ms` (epoch ms): the latest `<stage>:out` hop
    (runtime/headers.py), else the record's own timestamp (producer create time) when it has one; None
    when neither is known. Clock steps between hosts can make it negative: that counts as 0."""
    outs = [at_ms for name, at_ms in hop_times.items() if name.endswith(":out")]
    upstream_ms = max(outs) if outs else timestamp_ms
    if upstream_ms <= 0:
        return None
    return max(0, received_ms - upstream_ms) / 1000


def consumer_lag(consumer: Any, positions: Mapping[Any, int]) -> int:
    """Records between each assigned partition's log end (the consumer's high-water mark, known once a
    fetch answered) and its position in `positions` (committed, else the next to commit), summed.
    Partitions missing either count 0."""
    lag = 0
    for tp in consumer.assignment() if consumer is not None else ():
        end, position = consumer.highwater(tp), positions.get(tp)
        if end is not None and position is not None:
            lag += max(0, end - position)
    return lag


def _histogram(registry: CollectorRegistry, name: str, help_text: str, stage: str) -> Histogram:
    family = Histogram(name, help_text, labelnames=["stage"], registry=registry, buckets=LATENCY_BUCKETS_S)
    return family.labels(stage=stage)

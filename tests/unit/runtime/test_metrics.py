"""A worker's metrics: records through the worker's core with in-memory clients, then its registry and
its /metrics page read back."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka import errors as kafka_errors
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from pipeline import codec
from pipeline.clock import now_ms
from pipeline.config import Settings
from pipeline.runtime.headers import hop_name
from pipeline.runtime.metrics import METRICS_SLOTS, consumer_lag, queue_wait_s, worker_metrics_port
from pipeline.runtime.metrics_http import CONTENT_TYPE, MetricsServer, serving
from pipeline.runtime.service import STAGES
from pipeline.runtime.worker import StageWorker
from tests.unit.runtime.fakes import Clients, FakeConsumer, until
from tests.unit.runtime.test_worker import SETTINGS, Echo, TurnEcho, chunk, run

TP = TopicPartition("t.tokens", 0)
STAGE = {"stage": "echo"}


def upstream_record(offset: int, seq: int, produced_ms: int, key: str = "c1", final: bool = False) -> ConsumerRecord[bytes, bytes]:
    """A record as the previous stage produced it `produced_ms` (epoch ms): with its hop headers."""
    body = codec.encode(chunk(seq, key, final))
    headers = [(hop_name("generate", "in"), str(produced_ms - 5).encode()),
               (hop_name("generate", "out"), str(produced_ms).encode())]
    return ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, key.encode(), body, None, len(key), len(body), headers)


def value(worker: StageWorker, name: str, **labels: str) -> float:
    found = worker.metrics.registry.get_sample_value(name, {**STAGE, **labels})
    assert found is not None, f"{name} {labels} is not exported"
    return found


async def test_processed_records_show_in_the_histograms_and_counters() -> None:
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        produced = now_ms() - 250  # the upstream stage produced these a quarter of a second ago
        for offset in range(3):
            clients.consumer.inbox.put_nowait(upstream_record(offset, offset, produced))
        await until(lambda: clients.consumer.committed(TP) == 3)

    await run(worker, clients, check)
    assert value(worker, "aisle_stage_records_received_total") == 3
    assert value(worker, "aisle_stage_records_processed_total") == 3
    assert value(worker, "aisle_stage_outputs_total") == 3
    assert value(worker, "aisle_stage_processing_seconds_count") == 3
    assert value(worker, "aisle_stage_first_output_seconds_count") == 3
    assert value(worker, "aisle_stage_queue_wait_seconds_count") == 3
    # Each waited at least the 250 ms since its upstream produce, and far less than a minute.
    assert 3 * 0.25 <= value(worker, "aisle_stage_queue_wait_seconds_sum") < 60
    assert value(worker, "aisle_stage_queue_wait_seconds_bucket", le="0.1") == 0
    assert value(worker, "aisle_stage_queue_wait_seconds_bucket", le="+Inf") == 3
    assert value(worker, "aisle_stage_commits_total") >= 1


async def test_dead_letters_by_reason_retries_and_duplicates_are_counted() -> None:
    clients = Clients(FakeConsumer({TP}), [kafka_errors.RequestTimedOutError()])
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())

    async def check() -> None:
        clients.consumer.inbox.put_nowait(upstream_record(0, 0, now_ms()))  # retried once, then sent
        clients.consumer.inbox.put_nowait(upstream_record(1, 0, now_ms()))  # the same (turn, seq) again
        body = b"not avro"
        clients.consumer.inbox.put_nowait(ConsumerRecord(TP.topic, 0, 2, 0, 0, b"c1", body, None, 2, len(body), []))
        await until(lambda: clients.consumer.committed(TP) == 3)

    await run(worker, clients, check)
    assert value(worker, "aisle_stage_retries_total") == 1
    assert value(worker, "aisle_stage_records_duplicate_total") == 1
    reasons = {s.labels["reason"]: s.value for s in _samples(worker, "aisle_stage_dead_letters_total")}
    assert reasons == {"DecodeError": 1.0} and worker.stats.dead_lettered == 1  # the transient one was retried


async def test_an_unfinished_turn_is_a_dead_letter_of_its_own_reason() -> None:
    clock = [0.0]
    settings = Settings(topic_prefix="t.", commit_interval_ms=5, turn_hold_timeout_s=60.0)
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(TurnEcho(), settings, make_clients=clients.factories(), clock_s=lambda: clock[0])

    async def check() -> None:
        clients.consumer.inbox.put_nowait(upstream_record(0, 0, now_ms()))  # the turn never ends
        await until(lambda: worker.stats.processed == 1)
        clock[0] = 61.0
        await until(lambda: worker.stats.turns_released == 1)

    await run(worker, clients, check)
    assert value(worker, "aisle_stage_dead_letters_total", reason="unfinished_turn") == 1


async def test_lanes_parked_records_and_lag_are_read_at_scrape_time() -> None:
    gate = asyncio.Event()
    settings = Settings(topic_prefix="t.", commit_interval_ms=5, lane_queue_size=1, max_lanes=4)
    consumer = FakeConsumer({TP})
    clients = Clients(consumer)
    worker = StageWorker(Echo(gate), settings, make_clients=clients.factories())

    async def check() -> None:
        consumer.highwaters[TP] = 10  # the log holds offsets 0..9; this worker has read 0 and 1
        consumer.inbox.put_nowait(upstream_record(0, 0, now_ms()))
        consumer.inbox.put_nowait(upstream_record(1, 1, now_ms()))  # same conversation: its lane is full
        await until(lambda: worker.stats.received == 2)
        assert value(worker, "aisle_stage_lanes_in_flight") == 1
        assert value(worker, "aisle_stage_records_in_flight") == 2
        assert value(worker, "aisle_stage_parked_records") == 1
        assert value(worker, "aisle_stage_paused_partitions") == 1
        assert value(worker, "aisle_stage_consumer_lag") == 10  # nothing committed: from offset 0
        gate.set()
        await until(lambda: consumer.committed(TP) == 2)
        assert value(worker, "aisle_stage_consumer_lag") == 8
        assert value(worker, "aisle_stage_parked_records") == 0 and value(worker, "aisle_stage_lanes_in_flight") == 0

    await run(worker, clients, check)


async def test_the_metrics_page_answers_with_every_family() -> None:
    clients = Clients(FakeConsumer({TP}))
    worker = StageWorker(Echo(), SETTINGS, make_clients=clients.factories())
    server = MetricsServer(worker.metrics.registry, "127.0.0.1", 0)
    await server.start()
    try:
        async def check() -> None:
            clients.consumer.inbox.put_nowait(upstream_record(0, 0, now_ms()))
            await until(lambda: clients.consumer.committed(TP) == 1)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
                page = await http.get("/metrics")
                assert page.status_code == 200 and page.headers["content-type"] == CONTENT_TYPE
                families = {f.name: f for f in text_string_to_metric_families(page.text)}
                assert (await http.get("/nothing")).status_code == 404
                assert (await http.post("/metrics")).status_code == 405
                assert (await http.get("/healthz")).text == "ok\n"
            expected = {
                "aisle_stage_processing_seconds": "histogram", "aisle_stage_queue_wait_seconds": "histogram",
                "aisle_stage_first_output_seconds": "histogram", "aisle_stage_lanes_in_flight": "gauge",
                "aisle_stage_parked_records": "gauge", "aisle_stage_consumer_lag": "gauge",
                "aisle_stage_dead_letters": "counter", "aisle_stage_retries": "counter",
                "aisle_stage_commits": "counter", "aisle_stage_records_processed": "counter",
            }
            assert {name: families[name].type for name in expected} == expected
            processed = families["aisle_stage_records_processed"].samples
            assert [(s.labels, s.value) for s in processed] == [(STAGE, 1.0)]

        await run(worker, clients, check)
    finally:
        await server.stop()


async def test_a_taken_port_leaves_the_worker_running_without_a_page(caplog: pytest.LogCaptureFixture) -> None:
    first = StageWorker(Echo(), SETTINGS)
    async with serving(first.metrics.registry, "127.0.0.1", 0, "echo") as port:
        assert port is not None
        caplog.set_level(logging.WARNING)
        async with serving(StageWorker(Echo(), SETTINGS).metrics.registry, "127.0.0.1", port, "echo") as second:
            assert second is None
        assert "cannot serve /metrics" in caplog.text
    async with serving(first.metrics.registry, "127.0.0.1", None, "echo") as off:
        assert off is None


async def test_a_broken_collector_answers_500_and_the_server_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def collect(self) -> list[Metric]:
            raise RuntimeError("collector bug")

    registry = CollectorRegistry()
    registry.register(Broken())
    server = MetricsServer(registry, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/metrics")).status_code == 500
            head = await http.head("/healthz")
            assert head.status_code == 200 and head.content == b""
    finally:
        await server.stop()
    assert "rendering /metrics failed" in caplog.text


def test_each_stage_has_its_own_port_from_the_base() -> None:
    assert set(METRICS_SLOTS) == set(STAGES)
    settings = Settings()
    ports = [worker_metrics_port(settings, stage) for stage in STAGES]
    assert ports == [9410 + METRICS_SLOTS[stage] for stage in STAGES] and len(set(ports)) == len(ports)
    assert settings.gateway_port not in ports
    assert worker_metrics_port(settings, "echo") == 0  # a module:factory stage: any free port
    assert worker_metrics_port(Settings(metrics_port=0), "plan") is None
    assert worker_metrics_port(Settings(metrics_port=19000), "render") == 19005


def test_queue_wait_is_from_the_latest_upstream_hop_else_the_record_timestamp() -> None:
    hops = {"gateway:out": 1_000, "plan:in": 1_010, "plan:out": 1_030}
    assert queue_wait_s(hops, 0, 1_100) == pytest.approx(0.070)
    assert queue_wait_s({}, 2_000, 2_500) == pytest.approx(0.5)
    assert queue_wait_s({}, 0, 2_500) is None and queue_wait_s({}, -1, 2_500) is None
    assert queue_wait_s({"plan:out": 3_000}, 0, 2_900) == 0  # another host's clock ahead of ours


def test_consumer_lag_sums_assigned_partitions_it_can_measure() -> None:
    other = TopicPartition("t.tokens", 1)
    unread = TopicPartition("t.tokens", 2)
    consumer = FakeConsumer({TP, other, unread})
    consumer.highwaters.update({TP: 100, other: 7})
    assert consumer_lag(consumer, {TP: 40, other: 7, unread: 3}) == 60
    assert consumer_lag(None, {TP: 1}) == 0


def _samples(worker: StageWorker, name: str) -> list[Sample]:
    return [s for metric in worker.metrics.registry.collect() for s in metric.samples if s.name == name]

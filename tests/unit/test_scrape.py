"""Reading /metrics pages back for `aisle status`: a worker's real page, vLLM's, and the command itself."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from pipeline import scrape
from pipeline.config import Settings
from pipeline.errors import BrokerUnavailableError
from pipeline.launcher import ProcessStatus
from pipeline.runtime.metrics import METRICS_SLOTS, WorkerMetrics
from pipeline.runtime.metrics_http import MetricsServer
from pipeline.runtime.worker import StageWorker
from tests.unit.runtime.test_worker import SETTINGS, Echo

VLLM_PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="aisle-shop-135m"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="aisle-shop-135m"} 1.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="aisle-shop-135m"} 0.25
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="aisle-shop-135m"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="aisle-shop-135m"} 2.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="aisle-shop-135m"} 2.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="aisle-shop-135m"} 1.5
"""


def a_worker_page() -> str:
    """A worker's page after five records: four quick ones and one slow one, one dead letter."""
    worker = StageWorker(Echo(), SETTINGS, metrics=WorkerMetrics("echo", process=False))
    for took_s in (0.004, 0.004, 0.004, 0.004, 0.6):
        worker.metrics.processing_s.observe(took_s)
    worker.metrics.queue_wait_s.observe(0.010)
    worker.stats.processed, worker.stats.retries = 5, 2
    worker.stats.dead_lettered, worker.stats.dead_letters_by_reason["ContractError"] = 1, 1
    return generate_latest(worker.metrics.registry).decode()


def test_a_worker_page_reads_as_its_headline() -> None:
    samples = scrape.parse(a_worker_page())
    assert scrape.p95_bound_s(samples, "aisle_stage_processing_seconds") == 1.0  # the slow one is the top 5 %
    assert scrape.mean_s(samples, "aisle_stage_processing_seconds") == pytest.approx(0.1232)
    assert scrape.worker_headline(samples) == (
        "processed 5, took 123 ms mean (p95 <= 1,000 ms), waited 10 ms mean, lanes 0, parked 0, dead letters 1, "
        "retries 2, own lag 0"
    )


def test_vllm_is_linked_at_its_server_root_and_read() -> None:
    assert scrape.llm_metrics_url(Settings()) == "http://127.0.0.1:8000/metrics"
    assert scrape.llm_metrics_url(Settings(llm_url="http://gpu:9000/v1/")) == "http://gpu:9000/metrics"
    samples = scrape.parse(VLLM_PAGE)
    assert set(scrape.VLLM_METRICS) <= {name.removesuffix("_count") for name in samples}
    assert scrape.llm_headline(samples) == "running 3, waiting 1, KV cache 25%, TTFT 750 ms mean"


def test_a_page_that_is_missing_or_not_prometheus_says_so() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics":
            return httpx.Response(200, text="{not: prometheus")
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        assert scrape.fetch("http://w/metrics", client) == "no /metrics (not the Prometheus format)"
        assert scrape.fetch("http://w/other", client) == "no /metrics (HTTPStatusError)"
    assert scrape.component_detail(Settings(metrics_port=0), "plan", httpx.Client()) == "no /metrics (AISLE_METRICS_PORT=0)"


async def test_aisle_status_shows_each_running_workers_figures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline import admin, launcher
    from pipeline.cli import cli

    worker = StageWorker(Echo(), SETTINGS, metrics=WorkerMetrics("plan", process=False))
    worker.stats.processed = 42
    server = MetricsServer(worker.metrics.registry, "127.0.0.1", 0)
    await server.start()

    def down(*args: object) -> None:
        raise BrokerUnavailableError("no broker in this test")

    def plan_alone(settings: Settings, name: str) -> ProcessStatus:
        return ProcessStatus(name, os.getpid(), name == "plan", tmp_path / f"{name}.log")

    monkeypatch.setattr(admin, "describe_topics", down)
    monkeypatch.setattr(launcher, "process_status", plan_alone)
    env = {"AISLE_METRICS_PORT": str(server.port - METRICS_SLOTS["plan"]), "AISLE_HOME": str(tmp_path),
           "AISLE_LLM_URL": "http://127.0.0.1:9/v1", "COLUMNS": "400"}
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["status"], env=env)
    finally:
        await server.stop()
    assert result.exit_code == 0, result.output
    plan = next(line for line in result.output.splitlines() if "│ plan" in line)
    assert "processed 42," in plan and "dead letters 0" in plan
    retrieve = next(line for line in result.output.splitlines() if "│ retrieve" in line)
    assert "processed" not in retrieve  # not running: not asked

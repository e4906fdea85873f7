"""A real `aisle worker` process on a real broker answers /metrics with what it did: records processed,
a dead letter by its reason, latency histograms, and its consumer lag back to 0 once it caught up."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pipeline import scrape
from pipeline.scrape import total
from pipeline.config import Settings
from pipeline.messages import UserTurn
from tests.integration.test_runtime import produce_turns

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_worker_process_serves_its_metrics(kafka_settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_settings.kafka_bootstrap_servers,
               AISLE_TOPIC_PREFIX=kafka_settings.topic_prefix, AISLE_HOME=str(tmp_path), PYTHONPATH=str(REPO),
               AISLE_SESSION_TIMEOUT_MS=str(kafka_settings.session_timeout_ms))
    log = tmp_path / "echo.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "tests.integration.stages:echo",
                                 "--metrics-port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with httpx.AsyncClient() as http:
            async def page() -> scrape.Samples | None:
                try:
                    return scrape.parse((await http.get(url, timeout=1.0)).text)
                except httpx.HTTPError:
                    return None

            async def until(check: Callable[[scrape.Samples], bool], timeout_s: float = 60.0) -> scrape.Samples:
                for _ in range(int(timeout_s / 0.2)):
                    samples = await page()
                    if samples is not None and check(samples):
                        return samples
                    assert proc.poll() is None, log.read_text()
                    await asyncio.sleep(0.2)
                raise AssertionError(f"{check} not met; last page: {await page()}\n{log.read_text()[-3000:]}")

            await until(lambda s: True)  # served before the group assigns partitions
            turns = [UserTurn(f"conv-{c}", 0, 0, "user", "fail" if c == 0 else "hello") for c in range(20)]
            await produce_turns(kafka_settings, turns)
            samples = await until(lambda s: total(s, "aisle_stage_records_processed_total") == 19
                                  and total(s, "aisle_stage_dead_letters_total") == 1)
            assert samples["aisle_stage_dead_letters_total"][0][0] == {"stage": "echo", "reason": "StageError"}
            assert total(samples, "aisle_stage_processing_seconds_count") == 19
            assert total(samples, "aisle_stage_queue_wait_seconds_count") == 20  # record timestamps
            assert total(samples, "aisle_stage_outputs_total") == 19
            # The log end came from the real consumer's fetches; the commit catches up with it.
            samples = await until(lambda s: total(s, "aisle_stage_consumer_lag") == 0
                                  and total(s, "aisle_stage_records_in_flight") == 0)
            assert total(samples, "aisle_stage_commits_total")
            print("\n" + scrape.worker_headline(samples))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0, log.read_text()[-3000:]
    assert f"serving /metrics on http://127.0.0.1:{port}/metrics" in log.read_text()

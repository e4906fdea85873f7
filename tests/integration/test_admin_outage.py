"""The operator tools through a broker outage (marks `kafka`, `slow`, `chaos`): a broker of the test's
own is stopped and started under `aisle tail` and `aisle topics list`, each a real process.

Neither crashes: `topics list` against the stopped broker exits 1 with one clear sentence, `tail` keeps
waiting and prints the record written once the broker is back. librdkafka's lines reach Python logging
once per state change (pipeline/_kafka_log.py): before, `topics list` alone printed 285 lines of
"Connection refused" to stderr and `tail` about 18 a second.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipeline import codec
from pipeline.messages import UserTurn
from tests.integration.test_chaos import (  # noqa: F401 - own_broker and quiet_aiokafka are fixtures
    REPO,
    OwnBroker,
    _chaos_settings,
    own_broker,
    quiet_aiokafka,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.chaos]

RDKAFKA = "pipeline.librdkafka"


def _aisle(settings_env: dict[str, str], *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def _librdkafka_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if RDKAFKA in line or line.startswith("%")]


async def test_tail_and_topics_list_survive_a_broker_outage(own_broker: OwnBroker, tmp_path: Path) -> None:
    settings = _chaos_settings(own_broker.bootstrap)
    env = {**os.environ, "AISLE_HOME": str(tmp_path / "home"), "KAFKA_BOOTSTRAP_SERVERS": own_broker.bootstrap,
           "AISLE_TOPIC_PREFIX": settings.topic_prefix,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out, err = tmp_path / "tail.out", tmp_path / "tail.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        tail = subprocess.Popen(_aisle(env, "tail", "requests"), env=env, cwd=REPO, stdout=stdout, stderr=stderr)
    try:
        await asyncio.sleep(5.0)  # tail subscribes while the broker is up
        down_s = await asyncio.to_thread(own_broker.run, "down")
        listed = await asyncio.to_thread(subprocess.run, _aisle(env, "topics", "list"), env=env, cwd=REPO,
                                         capture_output=True, text=True, timeout=120)
        assert listed.returncode == 1, listed.stdout + listed.stderr
        assert "did not answer" in listed.stderr and "Traceback" not in listed.stderr
        list_lines = _librdkafka_lines(listed.stderr)
        await asyncio.sleep(10.0)  # tail goes on failing to reach the broker for a while
        assert tail.poll() is None, err.read_text()
        up_s = await asyncio.to_thread(own_broker.run, "up")
        producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
        await producer.start()
        try:
            turn = UserTurn("c-outage", 0, 0, "u", "still there?", sent_at_ms=1)
            await producer.send_and_wait(settings.topic("requests"), codec.encode(turn), key=b"c-outage")
        finally:
            await producer.stop()
        deadline = time.monotonic() + 90
        while "still there?" not in out.read_text():
            assert tail.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "tail did not print the record written after the outage"
            await asyncio.sleep(0.5)
    finally:
        tail.terminate()
        tail.wait(timeout=30)
    tail_lines = _librdkafka_lines(err.read_text())
    print(f"broker down in {down_s:.1f} s, up in {up_s:.1f} s; librdkafka lines: topics list {len(list_lines)}, "
          f"tail {len(tail_lines)} over the outage")
    assert 1 <= len(list_lines) <= 2, list_lines
    assert 1 <= len(tail_lines) <= 6, tail_lines  # a few state changes, not one line per attempt

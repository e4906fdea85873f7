"""Chaos: a small replay through real stage workers while this test's own broker is restarted mid-run.

Slow fault tests (marks `kafka`, `slow`, `chaos`): each starts a broker of its own (infra/kafka/kafka.sh
on free loopback ports, state in a temporary AISLE_HOME), because restarting a shared one would break
whoever else uses it. The stages are two small ones on the real worker runtime (retries, producer
renewal, dead letters with error frames, commits), so the test needs neither the LLM nor the models:

    replay --requests--> ask (poison: raises) --tokens--> answer --frames (text, done)--> replay

Workers run under a small supervisor, as under `aisle up`: one that exits is started again.
Every turn must end for its shopper exactly once: answered, or an error frame; none lost, none twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.messages import Frame, TokenChunk, UserTurn
from pipeline.replay.replayer import ReplayOptions, Replayer
from pipeline.replay.report import build_report
from pipeline.replay.traffic import parse_traffic
from pipeline.runtime.worker import StageWorker
from pipeline.stages.base import Output
from pipeline.topics import load_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.chaos]

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "infra" / "kafka" / "kafka.sh"
log = logging.getLogger(__name__)


class AskStage:
    """requests -> tokens; the question "poison" can never succeed (it is dead-lettered)."""

    name, input_topic, input_type = "chaos-ask", "requests", UserTurn
    output_topics = ("tokens",)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def process(self, message: UserTurn) -> AsyncIterator[Output]:
        if message.text == "poison":
            raise StageError("a question this stage can never answer")
        yield Output("tokens", message.conversation_id,
                     TokenChunk(message.conversation_id, message.turn, 0, f"about {message.text}", 0, final=True))


class AnswerStage:
    """tokens -> frames: a text frame and the turn's done frame."""

    name, input_topic, input_type = "chaos-answer", "tokens", TokenChunk
    output_topics = ("frames",)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        key, turn = message.conversation_id, message.turn
        yield Output("frames", key, Frame(key, turn, 0, "text", message.text))
        yield Output("frames", key, Frame(key, turn, 1, "done", "", '{"error":false}'))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnBroker:
    """A broker only this test uses, started and stopped with infra/kafka/kafka.sh."""

    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        self.env = {**os.environ, "AISLE_HOME": str(home), "AISLE_KAFKA_PORT": str(self.port),
                    "AISLE_KAFKA_CONTROLLER_PORT": str(_free_port()), "AISLE_KAFKA_HEAP": "512m"}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self, command: str) -> float:
        """`kafka.sh up|down`; returns the seconds it took."""
        started = time.monotonic()
        subprocess.run([str(KAFKA_SH), command], env=self.env, check=True, capture_output=True, timeout=180)
        return time.monotonic() - started


@pytest.fixture
def quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every refused connection at ERROR; the CLI silences it the same way (pipeline/cli/app.py)."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.fixture
def own_broker(tmp_path: Path, quiet_aiokafka: None) -> Iterator[OwnBroker]:
    if not any((REPO / "infra" / "kafka" / "lib").glob("kafka_2.13-*.jar")):
        pytest.skip("the broker's jars are missing (make kafka-jars)")
    broker = OwnBroker(tmp_path / "home")
    broker.run("up")
    try:
        yield broker
    finally:
        broker.run("down")


async def _supervised(make: type[AskStage] | type[AnswerStage], settings: Settings, stop: asyncio.Event,
                      restarts: list[str]) -> None:
    """Run a worker of `make`'s stage until `stop`, starting a new one whenever one exits early."""
    while not stop.is_set():
        try:
            await StageWorker(make(), settings).run(stop)
        except Exception as exc:  # noqa: BLE001 - a crashed worker is what this test survives
            restarts.append(f"{make.name}: {type(exc).__name__}: {exc}")
            log.warning("chaos: %s exited (%s); starting it again", make.name, exc)
            await asyncio.sleep(1.0)


async def test_a_broker_restart_mid_replay_ends_every_turn_once(own_broker: OwnBroker) -> None:
    settings = dataclasses.replace(
        Settings.from_env(), kafka_bootstrap_servers=own_broker.bootstrap, topic_prefix=f"chaos-{uuid.uuid4().hex[:8]}.",
        default_partitions=3, session_timeout_ms=6_000, connect_retry_max_s=120.0, retry_max_s=30.0)
    apply_topics(settings, load_topics(settings.default_partitions))
    conversations = 6
    lines = []
    for c in range(conversations):
        for turn in range(3):
            text = "poison" if (c, turn) in {(1, 1), (4, 0)} else f"question {c}.{turn}"
            lines.append(f'{{"type": "ask", "offset_ms": {turn * 4_000 + c * 300}, "conversation": "c{c}", '
                         f'"user": "u{c}", "text": "{text}"}}')
    traffic = parse_traffic(lines)

    stop = asyncio.Event()
    restarts: list[str] = []
    workers = [asyncio.create_task(_supervised(stage, settings, stop, restarts)) for stage in (AskStage, AnswerStage)]
    replayer = Replayer(settings, traffic, ReplayOptions(speed=1.0, concurrency=6, run_id="chaos",
                                                          turn_timeout_s=120.0, lag_interval_s=2.0, broker_wait_s=120.0))

    async def restart_broker() -> tuple[float, float]:
        await asyncio.sleep(3.0)  # the first turns are answered, the rest arrive during the outage
        down_s = await asyncio.to_thread(own_broker.run, "down")
        up_s = await asyncio.to_thread(own_broker.run, "up")
        return down_s, up_s

    started = time.monotonic()
    try:
        chaos = asyncio.create_task(restart_broker())
        result = await asyncio.wait_for(replayer.run(), timeout=400)
        down_s, up_s = await chaos
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), timeout=60)

    report = build_report(result.facts, result.turns, result.lag, result.dead_letters)
    turns = report["turns"]
    log.warning("chaos: broker down in %.1f s, up in %.1f s; run %.1f s; outcomes %s; replay saw %d outages "
                "(%.1f s); worker restarts %s", down_s, up_s, time.monotonic() - started, turns["outcomes"],
                result.outages, result.down_s, restarts)
    assert turns["sent"] == conversations * 3
    assert turns["outcomes"]["lost"] == 0, [t for t in report["per_turn"] if t["outcome"] == "lost"]
    assert turns["ended_twice"] == 0
    outcome = {(t["conversation"], t["turn"]): t["outcome"] for t in report["per_turn"]}
    assert outcome[("c1", 1)] == "error" and outcome[("c4", 0)] == "error", "poison ends its turn with an error"
    dead = {(d.conversation, d.turn) for d in result.dead_letters}
    assert {("c1", 1), ("c4", 0)} <= dead
    assert result.outages <= 2, "the replay says an outage once when it starts, not per attempt"


def ask(settings: Settings) -> AskStage:
    """`aisle worker tests.integration.test_chaos:ask`, for trying the chaos by hand with `aisle replay run`."""
    return AskStage()


def answer(settings: Settings) -> AnswerStage:
    return AnswerStage()

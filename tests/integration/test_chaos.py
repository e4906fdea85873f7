"""Chaos: small replays through real stage workers while brokers or workers fail mid-run.

Slow fault tests (marks `kafka`, `slow`, `chaos`; `make test-chaos`). Each starts brokers of its own
(infra/kafka/kafka.sh or infra/kafka/cluster.sh on free loopback ports, state in a temporary
AISLE_HOME), because failing a shared one would break whoever else uses it. The stages are two small
ones on the real worker runtime (retries, producer renewal, dead letters with error frames, commits),
so the tests need neither the LLM nor the models:

    replay --requests--> ask (poison: raises) --tokens--> answer --frames (text..., done)--> replay

The cases:
- the single broker restarted once mid-replay;
- one of three brokers (replication factor 3, min.insync.replicas 2) SIGKILLed mid-replay and started
  again; a probe producer (acks=all) writes throughout, and every record the cluster acknowledged
  must be there afterwards; the longest gap between two acknowledged writes is how long writes stopped;
- each stage worker, run as its own process under the real supervisor (`aisle supervise`'s
  pipeline/launcher.py), SIGKILLed once mid-replay and restarted by it.

Every turn must end for its shopper exactly once: answered, or an error frame; none lost, none twice.
The numbers each case logs are in docs/operations.md ("Faults on purpose").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka.admin import AdminClient

from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.errors import StageError
from pipeline.messages import Frame, TokenChunk, UserTurn
from pipeline.replay.replayer import ReplayOptions, Replayer, ReplayResult
from pipeline.replay.report import build_report
from pipeline.replay.traffic import Traffic, parse_traffic
from pipeline.runtime.worker import StageWorker
from pipeline.stages.base import Output
from pipeline.topics import TopicSpec, load_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.chaos]

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "infra" / "kafka" / "kafka.sh"
CLUSTER_SH = REPO / "infra" / "kafka" / "cluster.sh"
POISON = {(1, 1), (4, 0)}
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
    """tokens -> frames: `texts` text frames, `delay_s` apart (a streamed answer a kill can land in the
    middle of), and the turn's done frame."""

    name, input_topic, input_type = "chaos-answer", "tokens", TokenChunk
    output_topics = ("frames",)

    def __init__(self, texts: int = 1, delay_s: float = 0.0) -> None:
        self.texts, self.delay_s = texts, delay_s

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def process(self, message: TokenChunk) -> AsyncIterator[Output]:
        key, turn = message.conversation_id, message.turn
        for seq in range(self.texts):
            if seq and self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield Output("frames", key, Frame(key, turn, seq, "text", f"{message.text} ({seq})"))
        yield Output("frames", key, Frame(key, turn, self.texts, "done", "", '{"error":false}'))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _jars_or_skip() -> None:
    if not any((REPO / "infra" / "kafka" / "lib").glob("kafka_2.13-*.jar")):
        pytest.skip("the broker's jars are missing (make kafka-jars)")


class OwnBroker:
    """A broker only this test uses, started and stopped with infra/kafka/kafka.sh."""

    def __init__(self, home: Path) -> None:
        self.home = home
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


class OwnCluster:
    """Three KRaft brokers only this test uses, with infra/kafka/cluster.sh."""

    def __init__(self, home: Path) -> None:
        self.ports = [_free_port() for _ in range(3)]
        controllers = [_free_port() for _ in range(3)]
        self.env = {**os.environ, "AISLE_HOME": str(home), "AISLE_KAFKA_HEAP": "384m",
                    "AISLE_KAFKA_CLUSTER_PORTS": ",".join(map(str, self.ports)),
                    "AISLE_KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, controllers)),
                    "AISLE_KAFKA_READY_TIMEOUT_S": "180"}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def run(self, *command: str) -> float:
        """`cluster.sh up|down|kill N`; returns the seconds it took."""
        started = time.monotonic()
        done = subprocess.run([str(CLUSTER_SH), *command], env=self.env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, f"cluster.sh {' '.join(command)}: {done.stdout}{done.stderr}"
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
    _jars_or_skip()
    broker = OwnBroker(tmp_path / "home")
    broker.run("up")
    try:
        yield broker
    finally:
        broker.run("down")


@pytest.fixture
def own_cluster(tmp_path: Path, quiet_aiokafka: None) -> Iterator[OwnCluster]:
    _jars_or_skip()
    cluster = OwnCluster(tmp_path / "home")
    cluster.run("up")
    try:
        yield cluster
    finally:
        cluster.run("down")


def _chaos_settings(bootstrap: str, **overrides: Any) -> Settings:
    settings = dataclasses.replace(
        Settings.from_env(), kafka_bootstrap_servers=bootstrap, topic_prefix=f"chaos-{uuid.uuid4().hex[:8]}.",
        default_partitions=3, session_timeout_ms=6_000, connect_retry_max_s=120.0, retry_max_s=30.0, **overrides)
    apply_topics(settings, load_topics(settings.default_partitions))
    return settings


def _traffic(conversations: int = 6, turns: int = 3) -> Traffic:
    """`conversations` x `turns` asks over about 12 s; the POISON ones can never be answered."""
    lines = []
    for c in range(conversations):
        for turn in range(turns):
            text = "poison" if (c, turn) in POISON else f"question {c}.{turn}"
            lines.append(f'{{"type": "ask", "offset_ms": {turn * 4_000 + c * 300}, "conversation": "c{c}", '
                         f'"user": "u{c}", "text": "{text}"}}')
    return parse_traffic(lines)


def _replayer(settings: Settings, traffic: Traffic) -> Replayer:
    return Replayer(settings, traffic, ReplayOptions(speed=1.0, concurrency=6, run_id="chaos", turn_timeout_s=120.0,
                                                     lag_interval_s=2.0, broker_wait_s=120.0))


def _every_turn_ended_once(result: ReplayResult, sent: int, *, all_answered: bool) -> dict[str, Any]:
    """The suite's promise, asserted; returns the report's turn counts for the log line. `all_answered`:
    no turn but the poison may end with an error (where no outage outlasts the retries)."""
    report = build_report(result.facts, result.turns, result.lag, result.dead_letters)
    turns: dict[str, Any] = report["turns"]
    assert turns["sent"] == sent
    assert turns["outcomes"]["lost"] == 0, [t for t in report["per_turn"] if t["outcome"] == "lost"]
    assert turns["ended_twice"] == 0
    outcome = {(t["conversation"], t["turn"]): t["outcome"] for t in report["per_turn"]}
    assert all(outcome[(f"c{c}", t)] == "error" for c, t in POISON), "poison ends its turn with an error"
    if all_answered:
        assert turns["outcomes"]["answered"] == sent - len(POISON), [
            t for t in report["per_turn"] if t["outcome"] != "answered"]
    dead = {(d.conversation, d.turn) for d in result.dead_letters}
    assert {(f"c{c}", t) for c, t in POISON} <= dead
    turns["slowest_s"] = round(max(t["total_ms"] or 0 for t in report["per_turn"]) / 1000, 1)
    return turns


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
    settings = _chaos_settings(own_broker.bootstrap)
    traffic = _traffic()
    stop = asyncio.Event()
    restarts: list[str] = []
    workers = [asyncio.create_task(_supervised(stage, settings, stop, restarts)) for stage in (AskStage, AnswerStage)]
    replayer = _replayer(settings, traffic)

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

    turns = _every_turn_ended_once(result, len(traffic.asks), all_answered=False)
    log.warning("chaos broker restart: broker down in %.1f s, up in %.1f s; run %.1f s; outcomes %s; duplicate "
                "frames %d; slowest turn %.1f s; replay saw %d outages (%.1f s); worker restarts %s", down_s, up_s,
                time.monotonic() - started, turns["outcomes"], turns["duplicate_frames"], turns["slowest_s"],
                result.outages, result.down_s, restarts)
    assert result.outages <= 2, "the replay says an outage once when it starts, not per attempt"


class Probe:
    """Writes numbered records (acks=all, idempotent) every `interval_s` and keeps what the cluster
    acknowledged, and when: the Kafka promise under test is that every acknowledged record survives."""

    def __init__(self, settings: Settings, topic: str, partitions: int, interval_s: float = 0.1) -> None:
        self.settings, self.topic, self.partitions, self.interval_s = settings, topic, partitions, interval_s
        self.acked: dict[int, tuple[int, int]] = {}
        """value -> (partition, offset)"""
        self.ack_times: list[float] = []
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers, acks="all",
                                    enable_idempotence=True, request_timeout_ms=10_000, client_id="chaos-probe")
        await producer.start()
        try:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    meta = await producer.send_and_wait(self.topic, str(n).encode(), key=str(n % 7).encode())
                except Exception as exc:  # noqa: BLE001 - unacknowledged: it may or may not be there
                    self.failures += 1
                    log.info("chaos probe: record %d not acknowledged: %s", n, exc)
                    await asyncio.sleep(self.interval_s)
                    continue
                self.acked[n] = (meta.partition, meta.offset)
                self.ack_times.append(time.monotonic())
                await asyncio.sleep(self.interval_s)
        finally:
            await producer.stop()

    def longest_gap_s(self, after: float) -> float:
        """The longest time without an acknowledged write, from `after` on."""
        times = [after, *(t for t in self.ack_times if t > after)]
        return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))

    async def missing(self) -> list[int]:
        """Acknowledged records that are not in the topic now, read from the beginning."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found: dict[int, tuple[int, int]] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                    break
                for tp, records in (await consumer.getmany(timeout_ms=1_000)).items():
                    for record in records:
                        found[int(record.value or b"0")] = (tp.partition, record.offset)
        finally:
            await consumer.stop()
        return [n for n, where in self.acked.items() if found.get(n) != where]


def _leader_of(settings: Settings, topic: str, partition: int) -> int:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    return int(admin.list_topics(topic, timeout=15).topics[topic].partitions[partition].leader)


@pytest.mark.cluster  # three brokers: `make test-cluster`, not the single-broker run `make test` does in CI
async def test_one_of_three_brokers_killed_mid_replay_loses_nothing(own_cluster: OwnCluster) -> None:
    probe_spec = TopicSpec("chaos-probe", "acknowledged writes, checked after the chaos", "n % 7", "bytes", 3,
                           "delete", None)
    settings = _chaos_settings(own_cluster.bootstrap, replication_factor=3)
    apply_topics(settings, [probe_spec])
    assert settings.topic_min_insync_replicas == 2
    traffic = _traffic()
    # The node that leads the first partition of `requests`: its partitions must elect new leaders.
    victim = _leader_of(settings, settings.topic("requests"), 0)
    stop, probe_stop = asyncio.Event(), asyncio.Event()
    restarts: list[str] = []
    workers = [asyncio.create_task(_supervised(stage, settings, stop, restarts)) for stage in (AskStage, AnswerStage)]
    probe = Probe(settings, settings.topic(probe_spec.name), probe_spec.partitions)
    probing = asyncio.create_task(probe.run(probe_stop))
    replayer = _replayer(settings, traffic)
    killed_at = 0.0

    async def kill_and_restart() -> tuple[float, float]:
        nonlocal killed_at
        await asyncio.sleep(3.0)
        killed_at = time.monotonic()
        await asyncio.to_thread(own_cluster.run, "kill", str(victim))
        await asyncio.sleep(12.0)  # the replay goes on with two brokers
        down_for_s = time.monotonic() - killed_at
        up_s = await asyncio.to_thread(own_cluster.run, "up")
        return down_for_s, up_s

    started = time.monotonic()
    try:
        chaos = asyncio.create_task(kill_and_restart())
        result = await asyncio.wait_for(replayer.run(), timeout=400)
        down_for_s, up_s = await chaos
        await asyncio.sleep(2.0)  # the probe writes to all three again
    finally:
        probe_stop.set()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers, probing, return_exceptions=True), timeout=60)

    turns = _every_turn_ended_once(result, len(traffic.asks), all_answered=True)
    missing = await probe.missing()
    gap_s = probe.longest_gap_s(killed_at)
    log.warning("chaos broker kill: node %d SIGKILLed, down %.1f s, back up in %.1f s; run %.1f s; outcomes %s; "
                "duplicate frames %d; slowest turn %.1f s; writes stopped for at most %.1f s after the kill; "
                "probe acknowledged %d, failed %d, missing %d; worker restarts %s", victim, down_for_s, up_s,
                time.monotonic() - started, turns["outcomes"], turns["duplicate_frames"], turns["slowest_s"], gap_s,
                len(probe.acked), probe.failures, len(missing), restarts)
    assert not missing, f"acknowledged records lost: {missing[:20]}"
    assert len(probe.acked) > 100
    assert gap_s < 30.0, "writes resume on the two brokers left (issue 16's target is 10 s)"


# ---- worker processes under the real supervisor ---------------------------------------------------------------

ASK_WORKER, ANSWER_WORKER = f"{__name__}:ask", f"{__name__}:answer"


def _stage_logs_say(home: Path, name: str, marker: str, since: int = 0) -> bool:
    try:
        return marker in (home / "logs" / f"{name}.log").read_bytes()[since:].decode("utf-8", "replace")
    except OSError:
        return False


def _log_size(home: Path, name: str) -> int:
    try:
        return (home / "logs" / f"{name}.log").stat().st_size
    except OSError:
        return 0


async def _wait_for(what: str, check: Any, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"chaos: {what} not after {timeout_s:.0f} s"
        await asyncio.sleep(0.2)


async def test_each_stage_worker_sigkilled_mid_replay_ends_every_turn_once(own_broker: OwnBroker, tmp_path: Path) -> None:
    settings = _chaos_settings(own_broker.bootstrap)
    home = tmp_path / "workers"
    env = {**os.environ, "AISLE_HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "AISLE_TOPIC_PREFIX": settings.topic_prefix, "AISLE_DEFAULT_PARTITIONS": "3",
           "AISLE_SESSION_TIMEOUT_MS": "6000", "AISLE_RETRY_MAX_S": "30",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           # A streamed answer of four text frames over 0.9 s: a kill lands in the middle of turns.
           "CHAOS_ANSWER_TEXTS": "4", "CHAOS_ANSWER_DELAY_MS": "300"}
    names = (ASK_WORKER, ANSWER_WORKER)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pipeline.config import Settings; from pipeline.launcher import "
         "supervise; supervise(Settings.from_env(), tuple(sys.argv[1:]))", *names],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    traffic = _traffic()
    kills: list[tuple[str, int, float]] = []

    def pid_of(name: str) -> int:
        return int((home / "run" / f"{name}.pid").read_text())

    async def kill_each_once() -> None:
        for name, at_s in ((ANSWER_WORKER, 4.5), (ASK_WORKER, 9.0)):  # mid-stream of c0 turn 1 / turn 2s
            await asyncio.sleep(at_s - (time.monotonic() - started))
            since = _log_size(home, name)
            pid = pid_of(name)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            await _wait_for(f"{name} restarted", lambda: pid_of(name) != pid, 30)
            await _wait_for(f"{name} consuming again", lambda: _stage_logs_say(home, name, "assigned", since), 90)
            kills.append((name, pid, time.monotonic() - killed))

    try:
        for name in names:
            await _wait_for(f"{name} ready", lambda: _stage_logs_say(home, name, "assigned"))
        started = time.monotonic()
        chaos = asyncio.create_task(kill_each_once())
        result = await asyncio.wait_for(_replayer(settings, traffic).run(), timeout=400)
        await chaos
        state = json.loads((home / "run" / "supervisor.json").read_text())
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()

    turns = _every_turn_ended_once(result, len(traffic.asks), all_answered=True)
    log.warning("chaos worker kill: %s; run %.1f s; outcomes %s; duplicate frames %d (dropped by seq at the client); "
                "slowest turn %.1f s; supervisor %s", [f"{n.split(':')[1]} consuming again {s:.1f} s after SIGKILL"
                                                      for n, _, s in kills], time.monotonic() - started,
                turns["outcomes"], turns["duplicate_frames"], turns["slowest_s"], state)
    for name in names:
        assert state[name]["restarts"] == 1 and state[name]["last_exit"] == "killed by SIGKILL", state


def ask(settings: Settings) -> AskStage:
    """`aisle worker tests.integration.test_chaos:ask`, for trying the chaos by hand with `aisle replay run`."""
    return AskStage()


def answer(settings: Settings) -> AnswerStage:
    """`aisle worker tests.integration.test_chaos:answer`; CHAOS_ANSWER_TEXTS text frames per answer,
    CHAOS_ANSWER_DELAY_MS apart (default 1, 0)."""
    return AnswerStage(int(os.environ.get("CHAOS_ANSWER_TEXTS", "1")),
                       int(os.environ.get("CHAOS_ANSWER_DELAY_MS", "0")) / 1000)

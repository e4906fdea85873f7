"""Chaos on the real stages: each answer-stage worker SIGKILLed once mid-replay, restarted by the supervisor.

test_chaos.py's worker case runs two stand-in stages; this one runs the five real ones (plan, retrieve,
generate, hydrate, render) as `aisle worker STAGE` processes under the real supervisor
(pipeline/launcher.py's `supervise`, what `aisle up` runs), on a broker of its own, with the real
SQLite store and Qdrant Edge index in a temporary AISLE_HOME, and the vLLM server. Marks `kafka`,
`slow`, `chaos`; it skips, saying why, without vLLM or the embedding models (as the other tests on
the real stages do, tests/integration/conftest.py).

A small traffic is replayed with `acting` on (pipeline/replay: the turns are their users' own, so a
cart request in words takes effect; a plain replay never acts). Two of its turns add to the cart in
words; the retrieve stage performs those (pipeline/actions/language.py), so it is killed the moment
the first cart line is in the store, before it commits the plan it came from (the workers commit
every 5 s here): its successor gets the plan again and performs again, which the store must apply
once (request key conversation:turn:seq); the test checks that the successor did. The other stages are killed at fixed times, staggered. The actions stage is
not run: it acts on button clicks only, and it ignores replayed ones; the store has no order in words.

Asserted: every turn ends once for its shopper (answered or an error frame; none lost, none twice),
each answered turn's frames after the client's (turn, seq) dedupe are 0..n with one done frame last,
each kill landed while the replay ran and the supervisor restarted that worker once, and the store
holds each cart request once: one request key per cart turn, the quantity asked for, and no order.
The numbers are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline import codec
from pipeline.catalog import PRODUCTS_FILE, Product, read_products
from pipeline.config import Settings
from pipeline.messages import EvidenceBundle
from pipeline.replay.replayer import ReplayOptions, Replayer, replay_conversation_id
from pipeline.replay.report import build_report
from pipeline.replay.traffic import Traffic, parse_traffic
from pipeline.topics import load_topics
from tests.integration.conftest import _llm_up, load_store_and_index
from tests.integration.test_chaos import (  # noqa: F401 - own_broker and quiet_aiokafka are fixtures
    REPO,
    OwnBroker,
    _chaos_settings,
    _log_size,
    _stage_logs_say,
    _wait_for,
    own_broker,
    quiet_aiokafka,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.chaos]

STAGES = ("plan", "retrieve", "generate", "hydrate", "render")
PRODUCTS = 30
CONVERSATIONS = 10
QUESTIONS = ("what do reviewers say about it?", "is it worth the price?", "what is it made of?",
             "is it easy to use?", "how long does it last?")
CART = {("c3", 1): ("add it to my cart", 1), ("c7", 1): ("add 2 of these to my cart", 2)}
"""(conversation, turn) -> (the shopper's words, the quantity they ask for)."""
KILL_AT_S = {"generate": 5.0, "hydrate": 11.0, "render": 17.0, "plan": 30.0}
"""Seconds into the replay; retrieve is killed when the first cart line lands instead (above)."""
RETRIEVE_KILL_BY_S = 120.0
"""... or at this time, if no cart line came (the cart assertions then fail)."""
TURN_TIMEOUT_S = 240.0
"""One CPU core generates every answer; a turn waits behind the others and behind a restart."""
log = logging.getLogger(__name__)


@pytest.fixture
def real_parts() -> Iterator[Path]:
    """The models folder; skips, before any broker starts, without vLLM or the models."""
    settings = Settings.from_env()
    if not _llm_up(settings):
        pytest.skip(f"the vLLM server at {settings.llm_url} is not reachable (start it: make llm-up)")
    models = REPO / ".aisle" / "models"
    if not (models / "minilm" / "model.onnx").exists():
        pytest.skip("the embedding models are not built (make models)")
    yield models


def _traffic(products: list[Product]) -> Traffic:
    """CONVERSATIONS shoppers, each on a product page of its own, 2.5 s apart; the odd ones ask again
    12 s later (the CART turns among them), 15 turns over about 35 s."""
    lines = []
    for c in range(CONVERSATIONS):
        asks = [QUESTIONS[c % len(QUESTIONS)]]
        if c % 2:
            asks.append(CART.get((f"c{c}", 1), ("is it good value compared to others?", 0))[0])
        for turn, text in enumerate(asks):
            lines.append(json.dumps({"type": "ask", "offset_ms": c * 2_500 + turn * 12_000, "conversation": f"c{c}",
                                     "user": f"u{c}", "turn": turn, "text": text, "page_product_id": products[c].asin}))
    return parse_traffic(lines)


def _store_rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the store the workers write (read-only, beside them)."""
    with sqlite3.connect(f"file:{home / 'store.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql).fetchall()


async def _evidence_times(settings: Settings, run_id: str) -> dict[tuple[str, int], list[int]]:
    """When retrieve wrote each evidence bundle of the run (broker timestamps, ms), per (conversation,
    turn): a bundle written after retrieve's kill was written by its successor."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    times: dict[tuple[str, int], list[int]] = {}
    prefix = replay_conversation_id(run_id, "")
    try:
        [spec] = [t for t in load_topics(settings.default_partitions) if t.name == "evidence"]
        partitions = [TopicPartition(settings.topic("evidence"), p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while not all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=1_000)).values():
                for record in records:
                    message = codec.decode(record.value or b"")
                    if isinstance(message, EvidenceBundle) and message.conversation_id.startswith(prefix):
                        key = (message.conversation_id[len(prefix):], message.turn)
                        times.setdefault(key, []).append(record.timestamp)
    finally:
        await consumer.stop()
    return times


async def test_each_real_stage_worker_sigkilled_mid_replay_ends_every_turn_once(
        real_parts: Path, own_broker: OwnBroker, tmp_path: Path) -> None:
    home = tmp_path / "aisle"
    home.mkdir()
    (home / "models").symlink_to(real_parts)
    settings = dataclasses.replace(_chaos_settings(own_broker.bootstrap), home=home)
    products = [p for _, p in zip(range(PRODUCTS), read_products(settings.shared_data / PRODUCTS_FILE))]
    await load_store_and_index(settings, products)
    env = {**os.environ, "AISLE_HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "AISLE_TOPIC_PREFIX": settings.topic_prefix, "AISLE_DEFAULT_PARTITIONS": "3",
           "AISLE_SESSION_TIMEOUT_MS": "6000",
           # Commits every 5 s, not 0.2 s: a kill then lands on work done and not yet committed, which the
           # successor does again (the retrieve kill must beat the commit of the cart turn it follows).
           "AISLE_COMMIT_INTERVAL_MS": "5000", "AISLE_RETRY_MAX_S": "30", "AISLE_METRICS_PORT": "0",
           # Short answers, as the other tests on the real stages (tests/integration/conftest.py); a
           # loaded CPU server may pause between tokens while it starts another answer.
           "AISLE_GENERATE_MAX_TOKENS": "48", "AISLE_PLANNER_DEADLINE_MS": "2000", "AISLE_LLM_TOKEN_TIMEOUT_S": "20",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pipeline.config import Settings; from pipeline.launcher import "
         "supervise; supervise(Settings.from_env(), tuple(sys.argv[1:]))", *STAGES],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    traffic = _traffic(products)
    replayer = Replayer(settings, traffic, ReplayOptions(speed=1.0, concurrency=6, run_id="chaos-stages",
                                                         turn_timeout_s=TURN_TIMEOUT_S, keep_frames=True,
                                                         acting=True, broker_wait_s=120.0))
    kills: dict[str, dict[str, Any]] = {}
    replay_ended = float("inf")

    def pid_of(name: str) -> int:
        return int((home / "run" / f"{name}.pid").read_text())

    def ready(name: str, since: int = 0) -> Callable[[], bool]:
        return lambda: _stage_logs_say(home, name, "assigned", since) or _stage_logs_say(home, name, "consuming", since)

    async def kill(name: str, when: Callable[[], Awaitable[str]]) -> None:
        why = await when()
        since, pid = _log_size(home, name), pid_of(name)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        kills[name] = {"at_s": round(killed - started, 1), "why": why, "at_ms": int(time.time() * 1000)}
        await _wait_for(f"{name} restarted", lambda: pid_of(name) != pid, 30)
        await _wait_for(f"{name} consuming again", ready(name, since), 180)
        kills[name]["back_s"] = round(time.monotonic() - killed, 1)

    def at(seconds: float) -> Callable[[], Awaitable[str]]:
        async def wait() -> str:
            await asyncio.sleep(seconds - (time.monotonic() - started))
            return f"at {seconds:.0f} s"
        return wait

    async def first_cart_line() -> str:
        # Polled often: the kill must land before retrieve commits the plan it just acted on.
        while time.monotonic() - started < RETRIEVE_KILL_BY_S:
            users = _store_rows(home, "SELECT user_id FROM cart_lines")
            if users:
                return f"first cart line: {users[0][0]}"
            await asyncio.sleep(0.05)
        return "no cart line by then"

    try:
        for name in STAGES:
            await _wait_for(f"{name} ready", ready(name), 240)
        started = time.monotonic()
        chaos = [asyncio.create_task(kill(name, at(s))) for name, s in KILL_AT_S.items()]
        chaos.append(asyncio.create_task(kill("retrieve", first_cart_line)))
        result = await asyncio.wait_for(replayer.run(), timeout=900)
        replay_ended = time.monotonic() - started
        await asyncio.wait_for(asyncio.gather(*chaos), timeout=240)
        state = json.loads((home / "run" / "supervisor.json").read_text())
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()

    report = build_report(result.facts, result.turns, result.lag, result.dead_letters)
    turns: dict[str, Any] = report["turns"]
    evidence = await _evidence_times(settings, replayer.run_id)
    cart_keys = _store_rows(home, "SELECT user_id, request_key FROM cart_requests ORDER BY user_id")
    cart_lines = _store_rows(home, "SELECT user_id, product_id, quantity FROM cart_lines ORDER BY user_id")
    orders = _store_rows(home, "SELECT COUNT(*) FROM orders")[0][0]
    log.warning("chaos real stages: kills %s; replay %.1f s; outcomes %s; ended twice %d; duplicate frames %d "
                "(dropped by seq at the client); slowest turn %.1f s; turns with more than one evidence bundle: %s; "
                "cart request keys %s; cart lines %s; orders %d; dead letters %s; supervisor %s",
                kills, replay_ended, turns["outcomes"], turns["ended_twice"], turns["duplicate_frames"],
                max(t["total_ms"] or 0 for t in report["per_turn"]) / 1000,
                {k: len(t) for k, t in evidence.items() if len(t) > 1}, cart_keys, cart_lines, orders,
                [(d.conversation, d.turn, d.stage, d.error_type) for d in result.dead_letters], state)

    assert turns["sent"] == len(traffic.asks) == 15
    assert turns["outcomes"]["lost"] == 0, [t for t in report["per_turn"] if t["outcome"] == "lost"]
    assert turns["ended_twice"] == 0
    assert turns["outcomes"]["answered"] + turns["outcomes"]["error"] == turns["sent"]
    for record in result.turns:
        if record.outcome != "answered":
            continue
        frames = result.frames[(record.conversation, record.turn)]
        assert [f.seq for f in frames] == list(range(len(frames))), (record.conversation, record.turn, frames)
        assert [f.type for f in frames].count("done") == 1 and frames[-1].type == "done"
    for name in STAGES:
        assert kills[name]["at_s"] < replay_ended, f"{name} was killed after the replay ended: {kills}"
        assert state[name]["restarts"] == 1 and state[name]["last_exit"] == "killed by SIGKILL", state
    assert kills["retrieve"]["why"].startswith("first cart line: "), kills
    # ... and its successor performed that cart turn again: the turn's evidence came after the kill.
    cart_turn = next(k for k in CART if f"u{k[0][1:]}" == kills["retrieve"]["why"].split(": ")[1])
    assert max(evidence[cart_turn]) > kills["retrieve"]["at_ms"], (cart_turn, evidence[cart_turn], kills)
    # The store applied each cart request once, whatever the kill made retrieve perform again.
    users = {f"u{conversation[1:]}": (turn, quantity) for (conversation, turn), (_, quantity) in CART.items()}
    assert sorted(user for user, _ in cart_keys) == sorted(users), cart_keys
    for user, key in cart_keys:
        assert key == f"{replay_conversation_id(replayer.run_id, 'c' + user[1:])}:{users[user][0]}:0", key
    pages = {f"u{c}": products[c].asin for c in range(CONVERSATIONS)}
    assert sorted(cart_lines) == sorted((user, pages[user], quantity) for user, (_, quantity) in users.items())
    assert orders == 0

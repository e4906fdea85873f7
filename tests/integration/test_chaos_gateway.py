"""Chaos through the gateway: shoppers drop their sockets mid-answer and resume (marks `kafka`, `slow`,
`chaos`; `make test-chaos`).

A real gateway process (`aisle gateway`, on a free loopback port) over a broker of the test's own, with
the chaos suite's stand-in stages (test_chaos.py) streaming each answer as six text frames 0.3 s apart.
Each shopper asks three questions in turn, and drops its socket (a TCP abort, no close handshake)
in the middle of every answer: after the answer's second frame, or right after `accepted` before any
frame. It then reconnects with `after_seq` (the seqs it has) and `last_turn`, as the web chat does.

Every turn must end once at the client: its `done` exactly once after the client's (turn, seq) dedupe,
every text frame of an answered turn there with no gap, the poison question ended by an error frame,
none lost. Duplicate frames the client had to drop are counted (the gateway's resume should send none).
No case of the chaos suite places orders (the stand-in stages never touch the store), so there is no
duplicate-order count here; auto-buy's one order per firing is tested in tests/unit/alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pipeline.config import Settings
from pipeline.runtime.worker import StageWorker
from tests.integration.test_chaos import (  # noqa: F401 - own_broker and quiet_aiokafka are fixtures
    REPO,
    AnswerStage,
    AskStage,
    OwnBroker,
    _chaos_settings,
    _free_port,
    own_broker,
    quiet_aiokafka,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.chaos]

SHOPPERS, TURNS, TEXTS = 6, 3, 6
POISON = {(2, 1)}
"""(shopper, ask) that no stage can answer: its turn ends with an error frame."""
TURN_TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


@dataclass
class Shopper:
    """One client's view: what it received, deduped by (turn, seq) as the web chat does."""

    index: int
    seqs: dict[int, list[int]] = field(default_factory=dict)
    """Per turn, the seqs kept after dedupe, in arrival order."""
    done: Counter[int] = field(default_factory=Counter)
    errors: set[int] = field(default_factory=set)
    duplicates: int = 0
    """Frames dropped by the client's dedupe."""
    drops: int = 0
    lost: list[int] = field(default_factory=list)

    def after_seq(self) -> dict[str, int]:
        return {str(turn): seqs[-1] for turn, seqs in self.seqs.items() if seqs}

    def take(self, m: dict[str, Any]) -> bool:
        """Keep a frame unless it is a duplicate; True when it is new."""
        turn, seq = int(m["turn"]), int(m["seq"])
        kept = self.seqs.setdefault(turn, [])
        if kept and seq <= kept[-1]:
            self.duplicates += 1
            return False
        kept.append(seq)
        if m["type"] == "done":
            self.done[turn] += 1
        elif m["type"] == "error":
            self.errors.add(turn)
        return True


async def _connect(base: str, token: str, after_seq: dict[str, int], last_turn: int) -> ClientConnection:
    ws = await connect(f"ws://{base}/ws")
    await ws.send(json.dumps({"type": "hello", "token": token, "after_seq": after_seq, "last_turn": last_turn}))
    return ws


async def _shop(base: str, shopper: Shopper) -> None:
    async with httpx.AsyncClient() as http:
        session = (await http.post(f"http://{base}/session", json={})).json()
    token, last_turn = session["token"], -1
    ws = await _connect(base, token, {}, last_turn)

    async def reconnect() -> None:
        nonlocal ws
        ws = await _connect(base, token, shopper.after_seq(), last_turn)

    for ask in range(TURNS):
        text = "poison" if (shopper.index, ask) in POISON else f"question {shopper.index}.{ask}"
        await ws.send(json.dumps({"type": "ask", "text": text}))
        turn: int | None = None
        dropped = False
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while turn is None or shopper.done[turn] == 0:
            if time.monotonic() > deadline:
                shopper.lost.append(ask if turn is None else turn)
                break
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            except (ConnectionClosed, TimeoutError):
                await reconnect()  # closed by the gateway (1013) or the wait ran out: the loop checks
                continue
            if m["type"] == "accepted":
                turn = last_turn = int(m["turn"])
                # The last ask of each shopper is dropped before its first frame, the others mid-stream.
                drop_now = ask == TURNS - 1
            elif m["type"] == "error" and "seq" not in m:
                raise AssertionError(f"shopper {shopper.index}: the gateway refused {text!r}: {m}")
            elif "seq" in m and m.get("conversation_id") == session["conversation_id"]:
                drop_now = shopper.take(m) and m["type"] == "text" and m["seq"] == 1
            else:
                drop_now = False
            if drop_now and not dropped and turn is not None and (shopper.index, ask) not in POISON:
                dropped = True
                shopper.drops += 1
                ws.transport.abort()  # a dropped connection: no close frame, the gateway just loses it
                await reconnect()
    await ws.close()


async def _gateway(settings: Settings, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "AISLE_HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "AISLE_TOPIC_PREFIX": settings.topic_prefix, "AISLE_GATEWAY_PORT": str(port),
           "AISLE_SESSION_SECRET": "chaos-" + "s" * 32, "AISLE_WORKER_CPUS": "all",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    home.mkdir(parents=True, exist_ok=True)
    with (home / "gateway.log").open("wb") as output:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "gateway"], env=env, cwd=REPO,
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient() as http:
        while True:
            assert process.poll() is None, (home / "gateway.log").read_text()
            assert time.monotonic() < deadline, "the gateway did not become healthy in 90 s"
            try:
                if (await http.get(f"http://{base}/healthz")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def test_sockets_dropped_mid_answer_resume_and_every_turn_ends_once(own_broker: OwnBroker,
                                                                          tmp_path: Path) -> None:
    settings = _chaos_settings(own_broker.bootstrap)
    stop = asyncio.Event()
    workers = [asyncio.create_task(StageWorker(AskStage(), settings).run(stop)),
               asyncio.create_task(StageWorker(AnswerStage(TEXTS, 0.3), settings).run(stop))]
    gateway, base = await _gateway(settings, tmp_path / "gateway")
    shoppers = [Shopper(i) for i in range(SHOPPERS)]
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(_shop(base, s) for s in shoppers)), timeout=300)
        run_s = time.monotonic() - started
        assert gateway.poll() is None, "the gateway exited"
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), timeout=60)
        gateway.terminate()
        gateway.wait(timeout=30)

    sent = SHOPPERS * TURNS
    lost = [(s.index, t) for s in shoppers for t in s.lost]
    errored = {(s.index, t) for s in shoppers for t in s.errors}
    answered = 0
    for s in shoppers:
        for turn, count in s.done.items():
            assert count == 1, f"shopper {s.index} turn {turn} ended {count} times"
            if turn not in s.errors:
                # Every text frame once, in order, no gap, then done: the resume lost and repeated nothing.
                assert s.seqs[turn] == list(range(TEXTS + 1)), (s.index, turn, s.seqs[turn])
                answered += 1
    duplicates = sum(s.duplicates for s in shoppers)
    drops = sum(s.drops for s in shoppers)
    log.warning("chaos sockets dropped: %d shoppers x %d turns through a gateway process; %d sockets dropped "
                "mid-answer and resumed; sent %d, answered %d, ended with an error frame %d, lost %d; duplicate "
                "frames the client dropped %d, after dedupe 0; run %.1f s", SHOPPERS, TURNS, drops, sent, answered,
                len(errored), len(lost), duplicates, run_s)
    assert not lost, lost
    assert len(errored) == len(POISON) and answered == sent - len(POISON)
    assert drops == SHOPPERS * TURNS - len(POISON)

"""The processes of the gateway benchmark (bench/gateway.py), one role per process
(`python -m bench._gateway_procs ROLE ...`):

    gateway PORT SETTINGS            the real gateway under uvicorn (SETTINGS: JSON of Settings overrides)
    baseline PORT                    a plain `websockets` server that makes its own frames
    load URL N OUT [SPEC]            N sockets; prints READY and the conversation ids, then stats to OUT
    produce SETTINGS IDS RATE S1 S2  frames to `frames`: RATE per socket for S1 s, then flat out for S2 s

Every frame's text starts with its send time (time.time_ns(), 19 digits) and a phase letter
(S steady, F flood), padded to ~30 characters like a chunk from the generate stage. The load
client buckets what it receives by phase: count, first and last arrival, and send-to-arrival latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.stats import percentile

TEXT_FILL = " the kettle boils fast"
IDLE_EXIT_S = 3.0
"""The load client stops once no frame has arrived for this long (after the first one)."""
MAX_RUN_S = 60.0
"""Cap on one load client's run, whatever happens."""


def frame_text(phase: str) -> str:
    return f"{time.time_ns():019d}{phase}{TEXT_FILL}"


# ---- the gateway and the baseline server ------------------------------------------------------------

def _settings(overrides: str) -> Any:
    import dataclasses

    from pipeline.config import Settings

    return dataclasses.replace(Settings.from_env(), **json.loads(overrides))


def gateway(port: int, overrides: str) -> None:
    import uvicorn

    from pipeline.gateway import create_app

    uvicorn.run(create_app(_settings(overrides)), host="127.0.0.1", port=port, log_level="warning",
                loop="uvloop", ws_max_size=64 * 1024)


async def _baseline(port: int) -> None:
    """Per socket: read one hello {rate, steady_s, flood_s}, send `rate` frames/s for steady_s, then
    frames as fast as the socket takes them for flood_s. Frames have the gateway's JSON shape."""
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        spec = json.loads(await ws.recv())
        conversation = f"c-{random.getrandbits(64):016x}"
        seq = 0

        def frame(phase: str) -> str:
            return json.dumps({"type": "text", "conversation_id": conversation, "turn": 0, "seq": seq,
                               "text": frame_text(phase), "payload": {}}, separators=(",", ":"))

        await asyncio.sleep(random.random() / spec["rate"])
        end = time.monotonic() + spec["steady_s"]
        while time.monotonic() < end:
            await ws.send(frame("S"))
            seq += 1
            await asyncio.sleep(1 / spec["rate"])
        end = time.monotonic() + spec["flood_s"]
        while time.monotonic() < end:
            await ws.send(frame("F"))
            seq += 1
            if seq % 16 == 0:
                await asyncio.sleep(0)  # send() need not yield while the buffer has room: share the loop
        await ws.close()

    async with serve(handler, "127.0.0.1", port, max_queue=None, ping_interval=None):
        await asyncio.Future()


# ---- the load client ---------------------------------------------------------------------------------

class _Phase:
    def __init__(self) -> None:
        self.count = 0
        self.first_ns = 0
        self.last_ns = 0
        self.latencies_ms: list[float] = []


async def _load(url: str, sockets: int, out: str) -> None:
    import httpx
    from websockets.asyncio.client import ClientConnection, connect

    baseline = not url.endswith("/ws")
    phases: dict[str, _Phase] = {"S": _Phase(), "F": _Phase()}
    last_arrival = [0.0]
    conversations: list[str] = []

    async def open_one(client: httpx.AsyncClient | None) -> ClientConnection:
        ws = await connect(url, max_queue=None, ping_interval=None, open_timeout=60)
        if client is None:
            await ws.send(json.dumps(SPEC))
            return ws
        session = (await client.post(url.replace("ws://", "http://").removesuffix("/ws") + "/session", json={})).json()
        await ws.send(json.dumps({"type": "hello", "token": session["token"]}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"no welcome: {welcome}")
        conversations.append(session["conversation_id"])
        return ws

    closed = [0]

    async def read(ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await _read(ws)
        closed[0] += 1  # closed by the server (1013 when its queue overflowed): counted, not retried

    async def _read(ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.time_ns()
            text = raw if isinstance(raw, str) else raw.decode()
            at = text.find('"text":"') + 8
            phase = phases.get(text[at + 19:at + 20])
            if phase is None:
                continue
            phase.count += 1
            phase.first_ns = phase.first_ns or now
            phase.last_ns = now
            phase.latencies_ms.append((now - int(text[at:at + 19])) / 1e6)
            last_arrival[0] = time.monotonic()

    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        opened: list[ClientConnection] = []
        for start in range(0, sockets, 50):
            batch = range(start, min(sockets, start + 50))
            opened += await asyncio.gather(*(open_one(None if baseline else client) for _ in batch))
    print("READY " + json.dumps(conversations), flush=True)
    readers = [asyncio.create_task(read(ws)) for ws in opened]
    started = time.monotonic()
    # Runs until every frame sent has had its chance: the producer is done (the parent creates
    # `out`.done) and nothing arrived for IDLE_EXIT_S, or every socket is closed.
    done_flag = Path(out + ".done")
    while time.monotonic() - started < MAX_RUN_S:
        await asyncio.sleep(0.2)
        idle = not last_arrival[0] or time.monotonic() - last_arrival[0] > IDLE_EXIT_S
        if (done_flag.exists() and idle) or all(task.done() for task in readers):
            break
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    result: dict[str, Any] = {"closed": closed[0]}
    for name, phase in phases.items():
        lat = phase.latencies_ms
        result[name] = {"count": phase.count, "first_ns": phase.first_ns, "last_ns": phase.last_ns,
                        "p50_ms": percentile(lat, 50) if lat else float("nan"),
                        "p99_ms": percentile(lat, 99) if lat else float("nan")}
    with open(out, "w") as f:
        json.dump(result, f)
    for ws in opened:
        await ws.close()


SPEC: dict[str, float] = {}


# ---- the frame producer --------------------------------------------------------------------------------

def produce(overrides: str, ids_file: str, rate_per_socket: float, steady_s: float, flood_s: float) -> None:
    """Steady: rate_per_socket frames/s to each conversation (in random order within each tick), then
    flat out round-robin. Frames go keyed by conversation, as render sends them."""
    from confluent_kafka import Producer

    from pipeline import codec
    from pipeline.messages import Frame

    settings = _settings(overrides)
    topic = settings.topic("frames")
    conversations: list[str] = json.load(open(ids_file))
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "linger.ms": 1,
                         "queue.buffering.max.messages": 1_000_000, "acks": 1})
    seqs = dict.fromkeys(conversations, 0)
    sent = {"S": 0, "F": 0}

    def send(conversation: str, phase: str) -> None:
        value = codec.encode(Frame(conversation, 0, seqs[conversation], "text", text=frame_text(phase)))
        seqs[conversation] += 1
        while True:
            try:
                producer.produce(topic, value, key=conversation.encode())
                break
            except BufferError:
                producer.poll(0.01)
        sent[phase] += 1

    tick_s = 1 / rate_per_socket
    start = time.monotonic()
    ticks = int(steady_s * rate_per_socket)
    for tick in range(ticks):
        order = conversations[:]
        random.shuffle(order)
        tick_start = start + tick * tick_s
        for i, conversation in enumerate(order):
            # Spread each tick's frames over the tick, as independent sockets' answers would be.
            delay = tick_start + tick_s * i / len(order) - time.monotonic()
            if delay > 0.0005:
                producer.poll(0)
                time.sleep(delay)
            send(conversation, "S")
        producer.poll(0)
    end = time.monotonic() + flood_s
    while time.monotonic() < end:
        for conversation in conversations:
            send(conversation, "F")
        producer.poll(0)
    producer.flush(30)
    print("SENT " + json.dumps(sent), flush=True)


def main(argv: list[str]) -> None:
    role = argv[0]
    if role == "gateway":
        gateway(int(argv[1]), argv[2])
    elif role == "baseline":
        import uvloop

        uvloop.run(_baseline(int(argv[1])))
    elif role == "load":
        import uvloop

        SPEC.update(json.loads(argv[4]) if len(argv) > 4 else {})
        uvloop.run(_load(argv[1], int(argv[2]), argv[3]))
    elif role == "produce":
        produce(argv[1], argv[2], float(argv[3]), float(argv[4]), float(argv[5]))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    main(sys.argv[1:])

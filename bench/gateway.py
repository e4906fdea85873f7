"""The gateway: frames/s per process and delivery latency at 100, 500 and 1,000 sockets.

Four processes per tier (bench/_gateway_procs.py): the gateway under uvicorn (uvloop), a load client
holding N sockets (each with its own session and conversation), a producer writing ~30-character
text frames to `frames` keyed by conversation (as render does), and the broker. Two phases per tier:

    steady  4 frames/s per socket (an answer streaming to every socket at once) for 6 s:
            delivered frames/s and send-to-arrival latency p50/p99 (producer -> Kafka -> gateway -> socket)
    flood   the producer flat out for 5 s: frames/s delivered (wall clock), and frames per CPU-second of
            the gateway process, which is its per-process capacity when it is not the only thing
            running (the machine has 2 cores shared by broker, producer, client and gateway)

The same load client measures a plain `websockets` server that makes its own frames in the same JSON
shape, same phases (no Kafka): the baseline a Python websocket process reaches on this machine.
`vs_baseline` is the gateway's frames per CPU-second over the baseline's. Needs the broker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import BenchmarkSkipped
from bench._shared import cpu_seconds, fresh_topics
from pipeline.config import Settings
from pipeline.errors import AisleError

TIERS = (100, 500, 1000)
RATE_PER_SOCKET = 4.0
STEADY_S = 6.0
FLOOD_S = 5.0
START_TIMEOUT_S = 30.0
TIER_TIMEOUT_S = 90.0
CPU_SAMPLE_S = 0.1
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc(*args: str, stdout: int | None = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench._gateway_procs", *args], cwd=ROOT, text=True,
                            stdout=stdout, stderr=subprocess.PIPE if stdout is None else None)


class _CpuSampler:
    """Samples a process's CPU seconds every CPU_SAMPLE_S, so any interval's CPU can be read afterwards."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time_ns(), cpu_seconds(self.pid)))
            except (OSError, IndexError):
                return
            self._stop.wait(CPU_SAMPLE_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start_ns: int, end_ns: int) -> float:
        return self._at(end_ns) - self._at(start_ns)

    def _at(self, t_ns: int) -> float:
        before = [s for s in self.samples if s[0] <= t_ns]
        after = [s for s in self.samples if s[0] >= t_ns]
        if not before or not after:
            return (before or after)[-1 if before else 0][1]
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (t_ns - t0) / (t1 - t0)


def _wait_ready(load: subprocess.Popen[str]) -> list[str]:
    if load.stdout is None:
        raise AisleError("load client has no stdout pipe")
    deadline = time.monotonic() + TIER_TIMEOUT_S
    while time.monotonic() < deadline:
        line = load.stdout.readline()
        if line.startswith("READY "):
            ids: list[str] = json.loads(line[6:])
            return ids
        if not line and load.poll() is not None:
            break
    raise AisleError(f"load client did not get its sockets open (exit {load.poll()})")


def _phase_stats(phase: dict[str, Any], sampler: _CpuSampler) -> dict[str, float]:
    """Rates over the span from the phase's first to its last arrival at the load client."""
    span_s = (phase["last_ns"] - phase["first_ns"]) / 1e9
    cpu_s = sampler.between(phase["first_ns"], phase["last_ns"])
    return {
        "frames": float(phase["count"]),
        "frames_per_s": phase["count"] / span_s if span_s > 0 else 0.0,
        "p50_ms": phase["p50_ms"],
        "p99_ms": phase["p99_ms"],
        "server_cpu_share": cpu_s / span_s if span_s > 0 else 0.0,
        "frames_per_cpu_s": phase["count"] / cpu_s if cpu_s > 0 else 0.0,
    }


def _measure(server: subprocess.Popen[str], url: str, sockets: int, spec: dict[str, float] | None,
             feed: list[str] | None) -> dict[str, Any]:
    """Open the load client on `url`, run the producer (`feed` args) if any, and read the phases."""
    sampler = _CpuSampler(server.pid)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "load.json")
        load_avg = os.getloadavg()[0]
        load = _proc("load", url, str(sockets), out, json.dumps(spec or {}), stdout=subprocess.PIPE)
        try:
            ids = _wait_ready(load)
            sent: dict[str, int] = {}
            if feed is not None:
                ids_file = Path(tmp) / "ids.json"
                ids_file.write_text(json.dumps(ids))
                producer = _proc("produce", feed[0], str(ids_file), *feed[1:], stdout=subprocess.PIPE)
                printed, _ = producer.communicate(timeout=TIER_TIMEOUT_S)
                sent = json.loads(printed.rpartition("SENT ")[2] or "{}")
            Path(out + ".done").touch()
            load.wait(TIER_TIMEOUT_S)
            received = json.loads(Path(out).read_text())
        finally:
            if load.poll() is None:
                load.kill()
            sampler.stop()
    steady, flood = _phase_stats(received["S"], sampler), _phase_stats(received["F"], sampler)
    if sent:
        steady["produced"], flood["produced"] = float(sent.get("S", 0)), float(sent.get("F", 0))
    return {"sockets": float(sockets), "load_avg_1m": round(load_avg, 2), "steady": steady, "flood": flood,
            "sockets_closed_early": float(received["closed"]) if feed is not None else 0.0}


def bench_gateway(base: Settings, sockets: int) -> dict[str, Any]:
    settings = fresh_topics(base, ("requests", "frames", "feedback"), prefix="bench-gw")
    overrides = json.dumps({"topic_prefix": settings.topic_prefix, "session_secret": "bench-" + uuid.uuid4().hex,
                            "kafka_bootstrap_servers": settings.kafka_bootstrap_servers})
    port = _free_port()
    server = _proc("gateway", str(port), overrides)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise AisleError(f"gateway did not become healthy (exit {server.poll()})")
            time.sleep(0.2)
        feed = [overrides, str(RATE_PER_SOCKET), str(STEADY_S), str(FLOOD_S)]
        return _measure(server, f"ws://127.0.0.1:{port}/ws", sockets, None, feed)
    finally:
        server.terminate()
        server.wait(10)


def bench_baseline(sockets: int) -> dict[str, Any]:
    port = _free_port()
    server = _proc("baseline", str(port))
    try:
        time.sleep(1.0)
        spec = {"rate": RATE_PER_SOCKET, "steady_s": STEADY_S, "flood_s": FLOOD_S}
        return _measure(server, f"ws://127.0.0.1:{port}/", sockets, spec, None)
    finally:
        server.terminate()
        server.wait(10)


def run(settings: Settings | None = None) -> dict[str, Any]:
    base = settings or Settings.from_env()
    host, _, port = base.kafka_bootstrap_servers.split(",")[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex((host, int(port))) != 0:
            raise BenchmarkSkipped(f"no broker at {base.kafka_bootstrap_servers} (`make kafka-up`)")
    results: dict[str, Any] = {}
    for sockets in TIERS:
        gateway = bench_gateway(base, sockets)
        baseline = bench_baseline(sockets)
        ratio = gateway["flood"]["frames_per_cpu_s"] / baseline["flood"]["frames_per_cpu_s"]
        results[f"sockets_{sockets}"] = {"gateway": gateway, "baseline": baseline, "vs_baseline": round(ratio, 3)}
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| sockets | server | load 1m | steady frames/s | p50 ms | p99 ms | flood frames/s | server CPU share | frames per CPU-s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tier, both in results.items():
        for name in ("gateway", "baseline"):
            r = both[name]
            s, f = r["steady"], r["flood"]
            lines.append(f"| {tier.removeprefix('sockets_')} | {name} | {r['load_avg_1m']} | {s['frames_per_s']:,.0f} | "
                         f"{s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {f['frames_per_s']:,.0f} | "
                         f"{f['server_cpu_share']:.2f} | {f['frames_per_cpu_s']:,.0f} |")
    lines += ["", "Gateway frames per CPU-second over the baseline's: "
              + ", ".join(f"{t.removeprefix('sockets_')} sockets {b['vs_baseline']:.2f}" for t, b in results.items())]
    return "\n".join(lines)


TARGETS = [
    ("gateway frames per CPU-second at 1,000 sockets (35k typical, within 20%)",
     "sockets_1000.gateway.flood.frames_per_cpu_s", ">=", 28_000),
    ("gateway vs plain websockets server, frames per CPU-second, 1,000 sockets", "sockets_1000.vs_baseline", ">=", 0.8),
    ("delivery p99 ms at 1,000 sockets x 4 frames/s", "sockets_1000.gateway.steady.p99_ms", "<=", 100.0),
    ("delivery p99 ms at 100 sockets x 4 frames/s", "sockets_100.gateway.steady.p99_ms", "<=", 50.0),
]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

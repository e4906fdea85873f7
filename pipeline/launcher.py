"""Starting, stopping and checking the system's own processes (`aisle up`, `aisle down`, `aisle status`).

Each stage worker and the gateway runs as a detached process (`aisle worker STAGE`, `aisle gateway`)
with its pid in <AISLE_HOME>/run/<name>.pid and its output in <AISLE_HOME>/logs/<name>.log. The
broker and the LLM server have their own scripts (infra/kafka, infra/vllm); `make run` starts those
first, then calls `aisle up`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from pipeline.config import Settings
from pipeline.runtime.service import STAGES

GATEWAY = "gateway"
COMPONENTS: tuple[str, ...] = (*STAGES, GATEWAY)
_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 40.0

Report = Callable[[str], None]


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    alive: bool
    log: Path


def _run_dir(settings: Settings) -> Path:
    return settings.home / "run"


def _pid_file(settings: Settings, name: str) -> Path:
    return _run_dir(settings) / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited child of ours is a zombie until reaped: it answers signals but is gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def process_status(settings: Settings, name: str) -> ProcessStatus:
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return ProcessStatus(name, None, False, _log_file(settings, name))
    return ProcessStatus(name, pid, _alive(pid), _log_file(settings, name))


def _command(name: str) -> list[str]:
    if name == GATEWAY:
        return [sys.executable, "-m", "pipeline.cli", "gateway"]
    return [sys.executable, "-m", "pipeline.cli", "worker", name]


def start(settings: Settings, name: str) -> ProcessStatus:
    """Start one component unless it is already running."""
    status = process_status(settings, name)
    if status.alive:
        return status
    _run_dir(settings).mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = _log_file(settings, name)
    with log.open("ab") as out:
        out.write(f"\n---- starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ----\n".encode())
        out.flush()
        proc = subprocess.Popen(_command(name), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    _pid_file(settings, name).write_text(str(proc.pid))
    return ProcessStatus(name, proc.pid, True, log)


def _ready(settings: Settings, status: ProcessStatus) -> bool:
    if status.name == GATEWAY:
        try:
            url = f"http://{settings.gateway_host}:{settings.gateway_port}/healthz"
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        tail = status.log.read_bytes()[-20_000:].decode("utf-8", "replace")
    except OSError:
        return False
    marker = tail.rfind("---- starting")
    return "assigned" in tail[marker:] or "consuming" in tail[marker:]


def up(settings: Settings, names: tuple[str, ...] = COMPONENTS, report: Report = print) -> bool:
    """Start the components and wait until each is ready; False if one died or timed out."""
    statuses = [start(settings, name) for name in names]
    deadline = time.monotonic() + _READY_TIMEOUT_S
    pending = {s.name: s for s in statuses}
    while pending and time.monotonic() < deadline:
        for name, status in list(pending.items()):
            if not _alive(status.pid or -1):
                report(f"{name}: exited during start-up; see {status.log}")
                return False
            if _ready(settings, status):
                report(f"{name}: ready (pid {status.pid})")
                del pending[name]
        time.sleep(0.5)
    for name, status in pending.items():
        report(f"{name}: not ready after {_READY_TIMEOUT_S:.0f} s; see {status.log}")
    return not pending


def down(settings: Settings, names: tuple[str, ...] = COMPONENTS, report: Report = print) -> None:
    """SIGTERM every running component (they finish in-flight work and commit), then wait."""
    running = [s for s in (process_status(settings, n) for n in names) if s.alive and s.pid]
    for status in running:
        os.kill(status.pid or 0, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    for status in running:
        while _alive(status.pid or 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(status.pid or 0):
            os.kill(status.pid or 0, signal.SIGKILL)
            report(f"{status.name}: killed after {_STOP_TIMEOUT_S:.0f} s")
        else:
            report(f"{status.name}: stopped")
    for name in names:
        _pid_file(settings, name).unlink(missing_ok=True)

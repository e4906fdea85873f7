"""Starting, stopping and checking the system's own processes (`aisle up`, `aisle down`, `aisle status`).

`aisle up` starts one detached supervisor (`aisle supervise`, pid in <AISLE_HOME>/run/supervisor.pid),
which runs each stage worker and the gateway as its child (`aisle worker STAGE`, `aisle gateway`) with
its pid in <AISLE_HOME>/run/<name>.pid and its output in <AISLE_HOME>/logs/<name>.log, and restarts
one that exits, with backoff (pipeline/supervise.py); restarts and the last exit reason are kept in
<AISLE_HOME>/run/supervisor.json for `aisle status`. The
broker and the LLM server have their own scripts (infra/kafka, infra/vllm); `make run` starts those
first, then calls `aisle up`.
"""

from __future__ import annotations

import json
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
SUPERVISOR = "supervisor"
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
    if name == SUPERVISOR:
        return [sys.executable, "-m", "pipeline.cli", "supervise"]
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
    """Start the supervisor (which starts the components) and wait until each is ready; False if
    one died or timed out."""
    start(settings, SUPERVISOR)
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline and not all(process_status(settings, n).alive for n in names):
        time.sleep(0.2)
    statuses = [process_status(settings, name) for name in names]
    deadline = time.monotonic() + _READY_TIMEOUT_S
    pending = {s.name: s for s in statuses}
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            # Re-read: the supervisor may have restarted it under a new pid.
            status = pending[name] = process_status(settings, name)
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
    """SIGTERM every running component (they finish in-flight work and commit), then wait. The
    supervisor goes first, so that it restarts nothing."""
    supervisor = process_status(settings, SUPERVISOR)
    if supervisor.alive and supervisor.pid:
        os.kill(supervisor.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_S + 5
        while _alive(supervisor.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    _pid_file(settings, SUPERVISOR).unlink(missing_ok=True)
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


def supervisor_state(settings: Settings) -> dict[str, dict[str, object]]:
    """Per component: pid, restarts and last exit reason, as the supervisor last wrote them."""
    try:
        state = json.loads((_run_dir(settings) / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def supervise(settings: Settings, names: tuple[str, ...] = COMPONENTS, poll_s: float = 0.5) -> None:
    """Run the components as children until SIGTERM, restarting any that exits (`aisle supervise`)."""
    from pipeline.supervise import Supervisor

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _run_dir(settings).mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)

    def spawn(name: str) -> subprocess.Popen[bytes]:
        with _log_file(settings, name).open("ab") as out:
            out.write(f"\n---- starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ----\n".encode())
            out.flush()
            proc = subprocess.Popen(_command(name), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _pid_file(settings, name).write_text(str(proc.pid))
        return proc

    state_file = _run_dir(settings) / "supervisor.json"
    sup = Supervisor(names, spawn)
    sup.start(time.monotonic())
    while not stopping:
        for event in sup.step(time.monotonic()):
            print(event, flush=True)
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sup.state()))
        tmp.replace(state_file)
        time.sleep(poll_s)
    children = sup.children()
    for child in children:
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()

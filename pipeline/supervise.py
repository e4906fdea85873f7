"""Keeping the system's processes running: what `aisle up` leaves behind to restart a worker or the
gateway that exits, with backoff, and what `aisle status` reads back.

`Supervisor.step(now_s)` is the whole rule, with no clock and no process API of its own: it polls
each child through the handle `spawn(name)` returned, records why one exited, and starts it again
once its backoff (runtime/retry.py's capped exponential, without jitter) has passed. A child that
stayed up for `stable_s` starts its backoff from the beginning again. `state()` is what
<AISLE_HOME>/run/supervisor.json holds: per component, restarts and the last exit reason.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from pipeline.runtime.retry import RetryPolicy


class Child(Protocol):
    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


@dataclass
class ChildState:
    pid: int | None = None
    restarts: int = 0
    last_exit: str | None = None
    started_s: float = 0.0
    restart_at_s: float | None = None
    backoff_step: int = 0


def exit_reason(code: int) -> str:
    """'exit code 3', or 'killed by SIGKILL' for a negative Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, names: tuple[str, ...], spawn: Callable[[str], Child], *,
                 backoff: RetryPolicy = RetryPolicy(first_backoff_ms=1_000, max_backoff_ms=60_000, jitter=0.0),
                 stable_s: float = 60.0) -> None:
        self._spawn, self._backoff, self._stable_s = spawn, backoff, stable_s
        self._children: dict[str, Child | None] = {name: None for name in names}
        self._states = {name: ChildState() for name in names}

    def start(self, now_s: float) -> None:
        for name in self._children:
            self._launch(name, now_s)

    def step(self, now_s: float) -> list[str]:
        """Poll every child; restart those due. Returns what happened, one line per event."""
        events: list[str] = []
        for name, child in self._children.items():
            state = self._states[name]
            if child is not None:
                code = child.poll()
                if code is None:
                    continue
                state.last_exit = exit_reason(code)
                if now_s - state.started_s >= self._stable_s:
                    state.backoff_step = 0
                delay_s = self._backoff.backoff_s(state.backoff_step, 0.0)
                state.backoff_step += 1
                state.restart_at_s = now_s + delay_s
                self._children[name] = None
                events.append(f"{name}: {state.last_exit}; restarting in {delay_s:.1f} s")
            elif state.restart_at_s is not None and now_s >= state.restart_at_s:
                state.restarts += 1
                self._launch(name, now_s)
                events.append(f"{name}: restarted (pid {state.pid}, restart {state.restarts})")
        return events

    def children(self) -> list[Child]:
        return [child for child in self._children.values() if child is not None]

    def state(self) -> dict[str, dict[str, object]]:
        keep = ("pid", "restarts", "last_exit")
        return {name: {k: v for k, v in asdict(s).items() if k in keep} for name, s in self._states.items()}

    def _launch(self, name: str, now_s: float) -> None:
        child = self._spawn(name)
        self._children[name] = child
        state = self._states[name]
        state.pid, state.started_s, state.restart_at_s = child.pid, now_s, None

"""The supervisor's rule, with real child processes: an exited component is restarted with backoff."""

from __future__ import annotations

import subprocess
import sys

from pipeline.runtime.retry import RetryPolicy
from pipeline.supervise import Supervisor, exit_reason


def test_an_exited_child_is_restarted_after_a_growing_backoff_and_the_reason_kept() -> None:
    spawned: list[subprocess.Popen[bytes]] = []

    def spawn(name: str) -> subprocess.Popen[bytes]:
        code = "import sys; sys.exit(3)" if name == "generate" else "import time; time.sleep(30)"
        spawned.append(subprocess.Popen([sys.executable, "-c", code]))
        return spawned[-1]

    sup = Supervisor(("generate", "gateway"), spawn,
                     backoff=RetryPolicy(first_backoff_ms=1_000, max_backoff_ms=4_000, jitter=0.0), stable_s=60)
    try:
        sup.start(0.0)
        spawned[0].wait()
        assert sup.step(0.5) == ["generate: exit code 3; restarting in 1.0 s"]
        assert sup.step(1.0) == []  # not yet due
        assert sup.step(1.6) == [f"generate: restarted (pid {spawned[-1].pid}, restart 1)"]
        spawned[-1].wait()
        assert sup.step(2.0) == ["generate: exit code 3; restarting in 2.0 s"]  # backoff doubled
        state = sup.state()
        assert state["generate"]["restarts"] == 1 and state["generate"]["last_exit"] == "exit code 3"
        assert state["gateway"] == {"pid": spawned[1].pid, "restarts": 0, "last_exit": None}
    finally:
        for proc in spawned:
            proc.kill()
            proc.wait()


def test_exit_reasons_name_the_signal() -> None:
    assert exit_reason(-9) == "killed by SIGKILL" and exit_reason(1) == "exit code 1"

"""The supervisor's rule, with real child processes: an exited component is restarted with backoff."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_the_supervisor_process_restarts_a_crashing_component_and_reports_it(tmp_path: Path) -> None:
    from pipeline.config import Settings
    from pipeline.launcher import process_status, supervisor_state

    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipeline import launcher\n"
        "from pipeline.config import Settings\n"
        "launcher._command = lambda name: [sys.executable, '-c', 'import sys; sys.exit(2)'] if name == 'crashy' "
        "else [sys.executable, '-c', 'import time; time.sleep(60)']\n"
        f"launcher.supervise(Settings(home=Path({str(tmp_path)!r})), ('crashy', 'steady'), poll_s=0.05)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    settings = Settings(home=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while (supervisor_state(settings).get("crashy", {}).get("restarts", 0) or 0) < 1:  # type: ignore[operator]
            assert time.monotonic() < deadline and proc.poll() is None, "no restart recorded"
            time.sleep(0.05)
        state = supervisor_state(settings)
        assert state["crashy"]["last_exit"] == "exit code 2" and state["steady"]["restarts"] == 0
        assert process_status(settings, "steady").alive
        steady_pid = process_status(settings, "steady").pid
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert steady_pid is not None and not process_status(settings, "steady").alive, "children outlived the supervisor"

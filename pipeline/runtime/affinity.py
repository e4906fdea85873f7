"""Keeping the pipeline's processes off the cores a local vLLM server is pinned to.

On a small machine the CPU-served model and the pipeline share cores. vLLM's engine busy-waits on its
core (shared/notes/vllm-cpu.md), and every millisecond a worker, the gateway or the broker runs
there is a millisecond of decoding lost for every conversation at once. So when the LLM server is
local, workers and the gateway pin themselves to the other cores (`AISLE_WORKER_CPUS=auto`, the
default); infra/kafka/kafka.sh does the same for the broker. A remote LLM, a machine with a single
core, or `AISLE_WORKER_CPUS=all` means no pinning.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlparse

from pipeline.config import Settings
from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def parse_cpus(spec: str) -> frozenset[int]:
    """"0", "1-3", "0,2-3" as a set of core numbers. Raises ConfigError for anything else."""
    cpus: set[int] = set()
    try:
        for part in spec.split(","):
            first, _, last = part.strip().partition("-")
            cpus.update(range(int(first), int(last or first) + 1))
    except ValueError as exc:
        raise ConfigError(f"not a list of cores: {spec!r} (expected e.g. 0, 1-3 or 0,2-3)") from exc
    return frozenset(cpus)


def worker_cpus(settings: Settings, available: frozenset[int]) -> frozenset[int] | None:
    """The cores this process should run on, or None to leave it where the OS puts it."""
    spec = settings.worker_cpus.strip().lower()
    if spec == "all":
        return None
    if spec != "auto":
        chosen = parse_cpus(spec) & available
        if not chosen:
            raise ConfigError(f"AISLE_WORKER_CPUS={settings.worker_cpus!r} names no core of this machine {sorted(available)}")
        return chosen
    if urlparse(settings.llm_url).hostname not in _LOCAL_HOSTS:
        return None
    rest = available - parse_cpus(settings.llm_cpus)
    return rest if rest and rest != available else None


def pin_this_process(settings: Settings) -> frozenset[int] | None:
    """Apply `worker_cpus` to this process (Linux); returns the cores, or None when unpinned."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = worker_cpus(settings, frozenset(os.sched_getaffinity(0)))
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
        log.info("pinned to cores %s, away from the local LLM server's %s", sorted(cpus), settings.llm_cpus)
    return cpus

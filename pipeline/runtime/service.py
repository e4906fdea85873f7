"""Running a stage as its own process: `aisle worker STAGE`.

A stage is named either by its entry in `STAGES` or as `module:factory`, where `factory(settings)`
returns a `Stage` (tests use this to run their own stages in real worker processes). SIGTERM and
SIGINT start a graceful stop: in-flight work finishes and offsets are committed before exit.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import signal
import typing
from collections.abc import Callable
from typing import cast

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.runtime.metrics_http import serving
from pipeline.runtime.worker import StageWorker
from pipeline.stages.base import Stage

log = logging.getLogger(__name__)

StageFactory = Callable[[Settings], Stage]

# The stages of the dataflow, in order; each module exposes `build(settings) -> <its stage class>`,
# and the class declares the topics the stage reads and writes (`input_topic`, `output_topics`).
STAGES: dict[str, str] = {
    "plan": "pipeline.stages.plan:build",
    "retrieve": "pipeline.stages.retrieve:build",
    "generate": "pipeline.stages.generate:build",
    "hydrate": "pipeline.stages.hydrate:build",
    "render": "pipeline.stages.render:build",
    "alerts": "pipeline.stages.alerts:build",
    "actions": "pipeline.stages.actions:build",
    "feedback": "pipeline.stages.feedback:build",
}


def load_stage_factory(name: str) -> StageFactory:
    """Resolve a stage name or `module:factory`; raises ConfigError when it cannot be loaded."""
    target = STAGES.get(name, name)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"unknown stage {name!r}; known: {', '.join(STAGES)} (or module:factory)")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load stage {name!r} from {target}: {exc}") from exc
    return cast(StageFactory, factory)


def stage_class(name: str) -> type[Stage]:
    """The class a stage's factory builds, as its return annotation names it; raises ConfigError
    when it cannot be loaded or names no class."""
    built = typing.get_type_hints(load_stage_factory(name)).get("return")
    if not isinstance(built, type):
        raise ConfigError(f"stage {name!r}: {STAGES.get(name, name)} does not name the class it builds")
    return cast(type[Stage], built)


@functools.cache
def stage_inputs() -> dict[str, str]:
    """What each stage of the dataflow consumes, as its class declares it (`aisle status` measures the
    stage's group lag there). Imports every stage module."""
    return {name: stage_class(name).input_topic for name in STAGES}


async def serve_stage(stage: Stage, settings: Settings, *, group_id: str | None = None,
                      metrics_port: int | None = None) -> StageWorker:
    """Run one worker until SIGTERM/SIGINT, serving its /metrics on `metrics_port` (None: no page; 0:
    any free port; `aisle worker` passes the stage's own, runtime/metrics.py); returns it (with its
    stats) after a graceful stop."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    worker = StageWorker(stage, settings, group_id=group_id)
    try:
        async with serving(worker.metrics.registry, settings.metrics_host, metrics_port, stage.name):
            await worker.run(stopping)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return worker

"""Browser tests: Debian's Chromium driven by Playwright, against a real gateway on the real broker.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing
(`make browser-deps` installs both; Playwright's own browser download is never used).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pipeline.admin import apply_topics
from pipeline.config import Settings
from pipeline.gateway import create_app
from pipeline.markup.resolve import CatalogReader
from pipeline.topics import load_topics

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
AXE_JS = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core from npm (`make axe-core`, part of `make browser-deps`); injected by the accessibility test."""
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _missing() -> str | None:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "no /usr/bin/chromium (Debian package chromium): run `make browser-deps`"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed in the venv: run `make browser-deps`"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
async def browser_settings(kafka_bootstrap: str) -> Settings:
    """requests, frames and feedback under a fresh prefix; a fixed secret so a restarted gateway
    accepts the page's token."""
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"test-browser-{uuid.uuid4().hex[:10]}.",
        session_secret="browser-test-secret-0123456789abcdef",
    )
    specs = [dataclasses.replace(s, partitions=2) for s in load_topics(2) if s.name in {"requests", "frames", "feedback"}]
    await asyncio.to_thread(apply_topics, settings, specs)
    return settings


@asynccontextmanager
async def running_gateway(settings: Settings, port: int = 0, reader: CatalogReader | None = None) -> AsyncIterator[int]:
    """The gateway app under uvicorn in this event loop; yields its port. `reader`: the store and
    catalog of the product endpoints (default: those of `settings`)."""
    app = create_app(settings, reader=reader)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("gateway exited before it started")
        await asyncio.sleep(0.02)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def axe_js() -> Path:
    """axe-core's script, or a skip that says how to get it."""
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is not in {AXE_JS.relative_to(ROOT)}: run `make browser-deps` (or `make axe-core`)")
    return AXE_JS


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=CHROMIUM_ARGS, headless=True,
        )
        try:
            yield browser
        finally:
            await browser.close()

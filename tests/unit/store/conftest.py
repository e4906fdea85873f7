"""Fixtures for the store tests: a fresh SQLite file per test and a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.sqlite", clock_ms=clock)
    yield opened
    await opened.close()

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import DependencyError
from pipeline.store.migrations import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import dump


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_fresh_file_gets_every_migration_once(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "s.sqlite")
    assert schema_version(conn) == 0
    assert apply_migrations(conn) == [v for v, _, _ in MIGRATIONS]
    assert schema_version(conn) == LATEST_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"products", "offers", "ratings", "price_history", "cart_lines", "orders", "order_lines"} <= tables
    conn.close()


def test_applying_twice_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    conn = _connect(path)
    apply_migrations(conn)
    before = dump(path)
    assert apply_migrations(conn) == []
    assert dump(path) == before
    rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [v for v, _, _ in MIGRATIONS]
    conn.close()


def test_a_partly_migrated_file_gets_only_the_rest(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "s.sqlite")
    schema_version(conn)
    version, description, sql = MIGRATIONS[0]
    conn.execute("BEGIN")
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, description))
    conn.execute("COMMIT")
    assert apply_migrations(conn) == [v for v, _, _ in MIGRATIONS[1:]]
    conn.close()


async def test_reopening_a_store_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.sqlite"
    first = await SqliteStore.open(path)
    await first.close()
    before = dump(path)
    second = await SqliteStore.open(path)
    await second.close()
    assert dump(path) == before


async def test_an_unusable_path_is_a_dependency_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.sqlite").mkdir()
    with pytest.raises(DependencyError):
        await SqliteStore.open(tmp_path / "a-directory.sqlite")

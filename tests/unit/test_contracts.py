"""Where the contracts are read from in a checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pipeline import contracts, schemas, topics

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_reads_the_contracts_at_the_repository_root() -> None:
    assert not (ROOT / "pipeline" / "_contracts").exists(), "pipeline/_contracts/ would hide the root folders"
    assert contracts.ROOT == ROOT
    assert contracts.SCHEMAS_DIR == ROOT / "schemas" and contracts.TOPICS_FILE == ROOT / "topics" / "topics.toml"
    assert schemas.default_registry().get("UserTurn").current
    assert [spec.name for spec in topics.load_topics(1)] == list(tomllib.loads(contracts.TOPICS_FILE.read_text()))

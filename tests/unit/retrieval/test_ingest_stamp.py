"""`aisle ingest` trusts an index only if its stamp names this engine's folder: an index written by
qdrant-client's local mode (under AISLE_HOME/qdrant) is rebuilt in the Qdrant Edge folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from pipeline.catalog import PRODUCTS_FILE, REVIEW_SETS_FILE
from pipeline.config import Settings
from pipeline.ingest import INDEX_FORMAT, catalog_digest, stamp_path, index_is_current


def _settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    for name in (PRODUCTS_FILE, REVIEW_SETS_FILE):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(f"{name}\n")
    return dataclasses.replace(Settings(), home=tmp_path / "home", shared_data=data, qdrant_url=None)


def test_a_stamp_of_the_local_mode_index_is_not_current(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.home.mkdir()
    catalog = hashlib.sha256()
    for name in (PRODUCTS_FILE, REVIEW_SETS_FILE):
        catalog.update((settings.shared_data / name).read_bytes())
    old = f"{INDEX_FORMAT}|{settings.home / 'qdrant'}|{catalog.hexdigest()}"  # how the local-mode stamp read
    stamp_path(settings).write_text(json.dumps({"digest": hashlib.sha256(old.encode()).hexdigest()}))
    assert not index_is_current(settings)
    stamp_path(settings).write_text(json.dumps({"digest": catalog_digest(settings)}))
    assert index_is_current(settings)


def test_the_stamp_differs_between_embedded_and_a_server(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert catalog_digest(settings) != catalog_digest(dataclasses.replace(settings, qdrant_url="http://q:6333"))

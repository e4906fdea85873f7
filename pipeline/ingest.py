"""`aisle ingest`: the shared catalog into the store and the passage index, idempotently.

The store load compares rows and rewrites only what changed. The index is rebuilt only when its
inputs changed: a stamp under AISLE_HOME records the catalog file's digest and the passage format, so
a second run skips the embedding work (the point ids are deterministic, so rewriting would change
nothing either, only take minutes). The stamp also names where the index lives (the server URL or the
embedded Qdrant Edge folder), so an index written by another engine or elsewhere is rebuilt.

After the write, the index is optimised (HNSW and merged segments; phase "optimize", which reports
no steps: total -1 until it is done).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.catalog import PRODUCTS_FILE, REVIEW_SETS_FILE, MalformedLine
from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import PassageIndex, index_location
from pipeline.retrieval.indexing import ingest_catalog
from pipeline.store.loader import LoadReport, load_shared_catalog
from pipeline.store.sqlite import open_store

INDEX_FORMAT = "passages-v2"
"""Bump when pipeline/retrieval/passages.py changes what it indexes, to force a re-index."""

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): phase is "store", "index" or "optimize"; total -1 means unknown."""


@dataclass(frozen=True)
class IngestReport:
    store: LoadReport
    malformed: tuple[tuple[str, MalformedLine], ...]
    passages_indexed: int
    """0 when the index was already current."""
    index_skipped: bool


def stamp_path(settings: Settings) -> Path:
    """Where `aisle ingest` records which catalog the index was built from."""
    return settings.home / "index.stamp.json"


def catalog_digest(settings: Settings) -> str:
    """sha256 over the catalog files, the index format and where the index lives: the index is
    current while its stamp holds this digest."""
    digest = hashlib.sha256()
    for name in (PRODUCTS_FILE, REVIEW_SETS_FILE):
        digest.update((settings.shared_data / name).read_bytes())
    where = index_location(settings)  # the engine's folder: an index of another engine is not trusted
    return hashlib.sha256(f"{INDEX_FORMAT}|{where}|{digest.hexdigest()}".encode()).hexdigest()


def index_is_current(settings: Settings) -> bool:
    path = stamp_path(settings)
    try:
        return bool(json.loads(path.read_text()).get("digest") == catalog_digest(settings))
    except (OSError, ValueError):
        return False


async def ingest(settings: Settings, *, force_index: bool = False, progress: Progress | None = None) -> IngestReport:
    """Load the catalog into the store, then index it unless the index is current.

    Raises ConfigError (catalog or models missing) and DependencyError (store or index failures).
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    store = await open_store(settings)
    try:
        report, malformed = await load_shared_catalog(
            store, settings, progress=(lambda done, total: progress("store", done, total)) if progress else None
        )
    finally:
        await store.close()
    if index_is_current(settings) and not force_index:
        return IngestReport(report, malformed, 0, True)
    embedder = Embedder(settings.home / "models")
    index = PassageIndex.open(settings, embedder)
    try:
        written = await ingest_catalog(
            settings, index, progress=(lambda done, total: progress("index", done, total)) if progress else None
        )
        if progress:
            progress("optimize", 0, -1)
        await index.optimize()
        if progress:
            progress("optimize", 1, 1)
    finally:
        index.close()
        embedder.close()
    stamp_path(settings).write_text(json.dumps({"digest": catalog_digest(settings), "passages": written}))
    return IngestReport(report, malformed, written, False)

"""Fixtures for tests that run the whole dataflow on real parts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.catalog import PRODUCTS_FILE, Product, read_products
from pipeline.config import Settings
from pipeline.retrieval.embedder import Embedder
from pipeline.retrieval.index import PassageIndex
from pipeline.retrieval.indexing import catalog_passages
from pipeline.runtime.service import load_stage_factory
from pipeline.runtime.worker import StageWorker
from pipeline.store.loader import load_catalog
from pipeline.store.sqlite import open_store

REPO = Path(__file__).resolve().parents[2]
PIPELINE_PRODUCTS = 30


def _llm_up(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.llm_url}/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
async def pipeline_system(kafka_settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """Store and index for the first PIPELINE_PRODUCTS products of the catalog, and the five answer
    stages (plan, retrieve, generate, hydrate, render) running as workers in this process, each in
    its own consumer group as in production. Skips, saying why, without the LLM server or models."""
    products = [p for _, p in zip(range(PIPELINE_PRODUCTS), read_products(kafka_settings.shared_data / PRODUCTS_FILE))]
    async with running_dataflow(kafka_settings, tmp_path, products) as settings:
        yield settings


@contextlib.asynccontextmanager
async def running_dataflow(kafka_settings: Settings, tmp_path: Path, products: Sequence[Product],
                           **overrides: Any) -> AsyncIterator[Settings]:
    """The store and index for `products` and the five answer stages as workers in this process."""
    if not _llm_up(kafka_settings):
        pytest.skip(f"the vLLM server at {kafka_settings.llm_url} is not reachable (start it: make llm-up)")
    models = REPO / ".aisle" / "models"
    if not (models / "minilm" / "model.onnx").exists():
        pytest.skip("the embedding models are not built (make models)")
    (tmp_path / "models").symlink_to(models)
    # A short answer keeps the suite fast; a test that needs the whole answer says so in `overrides`.
    fields: dict[str, Any] = {"generate_max_tokens": 48, "planner_deadline_ms": 2_000, **overrides}
    settings = dataclasses.replace(kafka_settings, home=tmp_path, **fields)
    await load_store_and_index(settings, products)

    stop = asyncio.Event()
    workers = [StageWorker(load_stage_factory(name)(settings), settings)
               for name in ("plan", "retrieve", "generate", "hydrate", "render")]
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield settings
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def load_store_and_index(settings: Settings, products: Sequence[Product]) -> None:
    """The store and the passage index under `settings.home` for `products`, closed again, so that
    workers (in this process or others) can open them; the models must be in <home>/models."""
    store = await open_store(settings)
    await load_catalog(store, products)
    await store.close()
    embedder = Embedder(settings.home / "models")
    index = PassageIndex.open(settings, embedder)
    await index.upsert(list(catalog_passages(products)))
    index.close()
    embedder.close()

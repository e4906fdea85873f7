"""The shopper-scenario suite (pipeline/eval/scenarios.py) on the real stack: Kafka, vLLM, the SQLite store,
Qdrant Edge, and the five answer stages as workers. The same suite runs against a running system with
`aisle eval scenarios`; here the store and index hold the scenarios' products and the catalog's first ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.catalog import PRODUCTS_FILE, read_products
from pipeline.config import Settings
from pipeline.eval.scenarios import SCENARIO_PRODUCTS, run_scenarios
from tests.integration.conftest import PIPELINE_PRODUCTS, running_dataflow

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
async def scenario_system(kafka_settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    catalog = list(read_products(kafka_settings.shared_data / PRODUCTS_FILE))
    wanted = set(SCENARIO_PRODUCTS)
    products = [p for n, p in enumerate(catalog) if n < PIPELINE_PRODUCTS or p.asin in wanted]
    assert wanted <= {p.asin for p in products}, "a scenario names a product the catalog lacks"
    # Feeders and microphones found by searching need their whole answer: the default 48 tokens is for speed.
    # The suite checks what a shopper reads, not latency: three conversations at once on a 2-core CI machine
    # can starve the CPU vLLM server past the 2 s per-token stall budget, which would fail a turn for timing.
    async with running_dataflow(kafka_settings, tmp_path, products, generate_max_tokens=96,
                                llm_token_timeout_s=20.0) as settings:
        yield settings


async def test_every_shopper_scenario_passes(scenario_system: Settings) -> None:
    report = await run_scenarios(scenario_system, concurrency=3, turn_timeout_s=240)
    failed = {r["name"]: [f for t in r["turns"] for f in t["failures"]] for r in report["results"] if not r["passed"]}
    assert not failed, failed

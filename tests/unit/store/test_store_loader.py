from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.catalog import Catalog, read_catalog
from pipeline.config import Settings
from pipeline.store.loader import load_catalog, load_shared_catalog
from pipeline.store.simulator import SimulationConfig
from pipeline.store.sqlite import SqliteStore, open_store
from tests.unit.store.factories import START_MS, dump, fingerprint, make_products, make_review_set

SHARED_DATA = Settings().shared_data


def _require_shared_data() -> None:
    if not (SHARED_DATA / "catalog" / "products.jsonl").exists():
        pytest.skip(f"the shared catalog is not at {SHARED_DATA}")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    _require_shared_data()
    return read_catalog(SHARED_DATA)


async def _open(path: Path) -> SqliteStore:
    return await SqliteStore.open(path)


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await _open(tmp_path / "store.sqlite")
    yield store
    await store.close()


async def test_loading_the_real_catalog_twice_changes_nothing(catalog: Catalog, fresh: SqliteStore) -> None:
    seen: list[tuple[int, int]] = []
    first = await load_catalog(fresh, catalog.products, catalog.review_sets, progress=lambda d, t: seen.append((d, t)))
    assert first.products == 888 + 120
    assert (first.added, first.simulated, first.duplicates) == (1008, 1008, 0)
    assert seen[-1] == (1008, 1008) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    before = fingerprint(fresh.path)

    second = await load_catalog(fresh, catalog.products, catalog.review_sets)
    assert (second.added, second.updated, second.unchanged, second.simulated) == (0, 0, 1008, 0)
    assert not second.changed
    assert fingerprint(fresh.path) == before

    ids = await fresh.list_product_ids()
    assert len(ids) == 1008
    histories = [await fresh.get_price_history(i) for i in ids[:: 50]]
    assert all(len(h) == 365 for h in histories)
    review_only = await fresh.get_product(catalog.review_sets[0].asin)
    assert review_only is not None and review_only.kind == "review_only"
    assert review_only.title == f"{catalog.review_sets[0].category} product {catalog.review_sets[0].asin}"


async def test_same_seed_same_bytes(tmp_path: Path) -> None:
    products, review_sets = make_products(60), [make_review_set()]
    dumps = []
    for name in ("a", "b"):
        store = await _open(tmp_path / name / "store.sqlite")
        await load_catalog(store, products, review_sets, config=SimulationConfig(seed=11), batch_size=7)
        await store.close()
        dumps.append(dump(tmp_path / name / "store.sqlite"))
    assert dumps[0] == dumps[1]
    store = await _open(tmp_path / "c" / "store.sqlite")
    await load_catalog(store, products, review_sets, config=SimulationConfig(seed=12))
    await store.close()
    assert dump(tmp_path / "c" / "store.sqlite") != dumps[0]


async def test_a_changed_title_is_rewritten_without_losing_live_prices(fresh: SqliteStore) -> None:
    products = make_products(5)
    await load_catalog(fresh, products)
    changed = await fresh.record_price_change(products[0].asin, 123, True, START_MS, simulated=True)
    renamed = [dataclasses.replace(products[0], title="LEGO building toy set, renamed")] + products[1:]
    report = await load_catalog(fresh, renamed)
    assert (report.updated, report.unchanged, report.simulated) == (1, 4, 0)
    product = await fresh.get_product(products[0].asin)
    assert product is not None and product.title == "LEGO building toy set, renamed"
    assert await fresh.get_offer(products[0].asin) == changed


async def test_a_title_that_changes_the_price_band_resimulates(fresh: SqliteStore) -> None:
    products = make_products(5)
    await load_catalog(fresh, products)
    changed = await fresh.record_price_change(products[0].asin, 123, True, START_MS, simulated=True)
    piano = dataclasses.replace(products[0], title="Digital piano, 88-key, LEGO building toy set")
    report = await load_catalog(fresh, [piano] + products[1:])
    assert (report.updated, report.unchanged, report.simulated) == (1, 4, 1)
    offer = await fresh.get_offer(piano.asin)
    assert offer is not None and offer != changed
    assert offer.list_price_cents >= 19_999 and offer.simulated


async def test_a_new_seed_resimulates(fresh: SqliteStore) -> None:
    products = make_products(5)
    await load_catalog(fresh, products, config=SimulationConfig(seed=1))
    before = await fresh.get_offers([p.asin for p in products])
    report = await load_catalog(fresh, products, config=SimulationConfig(seed=2))
    assert (report.updated, report.simulated) == (5, 5)
    assert await fresh.get_offers([p.asin for p in products]) != before


async def test_review_sets_keep_their_real_ratings_and_duplicates_are_skipped(fresh: SqliteStore) -> None:
    report = await load_catalog(fresh, make_products(2), [make_review_set("R1"), make_review_set("R1")])
    assert (report.products, report.duplicates) == (3, 1)
    rating = await fresh.get_rating("R1")
    assert rating is not None and not rating.simulated
    assert rating.distribution == (0, 1, 0, 2, 1) and rating.average == 3.75
    product = await fresh.get_product("R1")
    assert product is not None and (product.category, product.category_source) == ("home_kitchen", "source")


async def test_the_shared_catalog_loads_into_the_store_the_settings_name(tmp_path: Path) -> None:
    _require_shared_data()
    shared = tmp_path / "shared"
    (shared / "catalog").mkdir(parents=True)
    products = (SHARED_DATA / "catalog" / "products.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    review_sets = (SHARED_DATA / "catalog" / "review_sets.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    (shared / "catalog" / "products.jsonl").write_text("\n".join([*products, "{broken"]) + "\n")
    (shared / "catalog" / "review_sets.jsonl").write_text("\n".join(review_sets) + "\n")
    settings = dataclasses.replace(Settings(), home=tmp_path / "home", shared_data=shared, store_seed=5)

    store = await open_store(settings)
    try:
        report, malformed = await load_shared_catalog(store, settings)
        assert len(await store.list_product_ids()) == 5
    finally:
        await store.close()
    assert settings.store_path.is_file()
    assert report.added == 5
    assert [(name, m.line_no) for name, m in malformed] == [("products.jsonl", 4)]

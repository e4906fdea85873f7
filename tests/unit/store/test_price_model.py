from __future__ import annotations

import math

import pytest

from pipeline.catalog import Attribute, Catalog, read_catalog
from pipeline.categories import CATEGORIES
from pipeline.config import Settings
from pipeline.store._price_kinds import KIND_RULES
from pipeline.store.loader import review_only_product, store_product
from pipeline.store.price_model import (
    CATEGORY_BANDS,
    KIND_BANDS,
    PriceBand,
    quote_price,
    sample_price_cents,
)
from pipeline.store.simulator import SimulationConfig, simulate_product

SHARED_DATA = Settings().shared_data
PIANO = "Yamaha DGX230 76-Key Digital Piano Pack with Stand, Power Supply, and Headphones"
MAX_SALE_PCT = 30
"""The deepest simulated sale (pipeline/store/simulator.py)."""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    if not (SHARED_DATA / "catalog" / "products.jsonl").exists():
        pytest.skip(f"the shared catalog is not at {SHARED_DATA}")
    return read_catalog(SHARED_DATA)


def test_every_inferred_category_has_a_band_and_each_kind_one_band() -> None:
    assert set(CATEGORY_BANDS) == set(CATEGORIES)
    for kind, _, cents, _ in KIND_RULES:
        assert KIND_BANDS[kind] == PriceBand(*cents), kind
    for band in [*CATEGORY_BANDS.values(), *KIND_BANDS.values()]:
        assert all(c % 100 == 99 for c in (band.low_cents, band.typical_cents, band.high_cents)), band


def test_a_band_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        PriceBand(1_999, 999, 2_999)
    with pytest.raises(ValueError):
        PriceBand(0, 999, 2_999)


def test_samples_stay_in_the_band_end_in_99_and_centre_on_the_typical_price() -> None:
    band = PriceBand(1_999, 4_999, 29_999)
    prices = [sample_price_cents(band, i / 1000) for i in range(1000)]
    assert all(band.contains(p) and p % 100 == 99 for p in prices)
    assert prices == sorted(prices)
    assert sample_price_cents(band, 0.0) == band.low_cents
    assert sample_price_cents(band, math.nextafter(1.0, 0.0)) == band.high_cents
    assert sample_price_cents(band, 0.5) == band.typical_cents
    assert sample_price_cents(band, 0.25) == sample_price_cents(band, 0.25)
    with pytest.raises(ValueError):
        sample_price_cents(band, 1.0)


def test_the_piano_is_priced_as_a_piano_not_by_what_it_comes_with() -> None:
    quote = quote_price(PIANO, "musical_instruments")
    assert quote.basis == "kind:digital piano"
    assert quote.band.low_cents >= 10_000
    headphones = quote_price("JVC HAFX5B Headphones", "electronics")
    assert headphones.basis == "kind:headphones"
    assert headphones.band.low_cents < 3_000


def test_the_catalog_piano_never_sells_under_100_dollars(catalog: Catalog) -> None:
    pianos = [p for p in catalog.products if "digital piano" in p.title.lower()]
    assert pianos, "the catalog's digital piano is missing"
    for piano in pianos:
        product = store_product(piano)
        band = quote_price(piano.title, product.category, piano.attributes).band
        sim = simulate_product(piano.asin, product.category, SimulationConfig(), band=band)
        assert band.low_cents >= 10_000
        assert min(p.price_cents for p in sim.history) >= 10_000, piano.title
        assert sim.offer.price_cents >= 10_000 and sim.offer.simulated


def test_parts_and_single_filters_are_cheap() -> None:
    for title in (
        "GE WB03K10303 Surface Burner Control Knob for Stove",
        "Whirlpool 902894 Door Gasket",
        "Briggs & Stratton 5049K Oil Filter, Small",
        "Shop-Vac 90328 Genuine Rigid Replacement Cartridge Filter for Craftsman and Ridgid Brand Vacuums",
    ):
        assert quote_price(title, "appliance_parts").band.high_cents <= 6_999, title


def test_cues_scale_the_band() -> None:
    single = quote_price("Acme Herbal Tea, 16 Ounce", "grocery").band
    six = quote_price("Acme Herbal Tea, 16 Ounce (Pack of 6)", "grocery").band
    box_of_100 = quote_price("Acme Herbal Tea, 16 Ounce, Pack of 100", "grocery").band
    assert six.typical_cents > single.typical_cents == box_of_100.typical_cents
    big = quote_price("Acme Herbal Tea, 5 lbs", "grocery").band
    assert big.typical_cents > single.typical_cents
    plain = quote_price("Acme Widget", "other")
    heavy = quote_price("Acme Widget", "other", [Attribute("item_weight", "45 pounds")])
    assert plain.basis == heavy.basis == "category:other"
    assert heavy.band.typical_cents > plain.band.typical_cents and heavy.cues
    # A kind knows its goods; the weight only informs a product of unknown kind.
    pro = quote_price("Acme Professional Hair Dryer", "beauty", [Attribute("item_weight", "45 pounds")])
    assert pro.band == KIND_BANDS["personal care appliance"].scaled(1.25)


def test_an_unknown_category_is_priced_as_other() -> None:
    assert quote_price("Acme Widget", "no_such_category").band == CATEGORY_BANDS["other"]


def test_every_catalog_product_is_priced_within_its_band(catalog: Catalog) -> None:
    config = SimulationConfig()
    priced = 0
    for product, attributes in [(store_product(p), p.attributes) for p in catalog.products] + [
        (review_only_product(rs), ()) for rs in catalog.review_sets
    ]:
        quote = quote_price(product.title, product.category, attributes)
        assert quote == quote_price(product.title, product.category, attributes)
        band = quote.band
        sim = simulate_product(product.product_id, product.category, config, band=band)
        assert band.contains(sim.offer.list_price_cents), (product.title, band, sim.offer)
        prices = [p.price_cents for p in sim.history]
        assert max(prices) <= band.high_cents, product.title
        assert min(prices) >= band.low_cents * (100 - MAX_SALE_PCT) // 100, product.title
        priced += 1
    assert priced == 888 + 120

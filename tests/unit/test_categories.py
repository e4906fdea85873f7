"""Inferred categories: the `binding` attribute first, then title keywords, else "other"."""

from __future__ import annotations

import pytest

from pipeline.catalog import Attribute, Product
from pipeline.categories import infer_category


@pytest.mark.parametrize(
    ("title", "attributes", "expected"),
    [
        ("LEGO Ultimate Building Set - 405 Pieces", (), "toys_games"),
        ("Lodge Pro-Logic Wok with Flat Base", (), "home_kitchen"),
        ("GM Genuine Parts GF652 Fuel Filter", (), "appliance_parts"),
        ("Assassin's Creed IV Black Flag - Playstation 3", (), "video_games"),
        ("Anything at all", (Attribute("binding", "kitchen"),), "home_kitchen"),
        ("Dog chew toy", (Attribute("binding", "unknown_binding"),), "pet_supplies"),
        ("Liquid Ass", (), "other"),
    ],
)
def test_categories_are_inferred_from_binding_then_title(
    title: str, attributes: tuple[Attribute, ...], expected: str
) -> None:
    product = Product(asin="X", title=title, attributes=attributes)
    assert infer_category(product) == expected

"""The store's pick among products a shopper refers to ("which one is the cheapest?")."""

import pytest

from pipeline.store.choose import ProductFacts, asked_quality, choose, short_title

FEEDER = ProductFacts("B1", "OurPets Interactive Feeder, Blue", price_cents=1299, in_stock=True, rating=4.1,
                      rating_count=80)
BOWL = ProductFacts("B2", "Acme Steel Dog Bowl - Large", price_cents=2450, in_stock=False, rating=4.6,
                    rating_count=12, rating_simulated=False)


@pytest.mark.parametrize(("text", "quality"), [
    ("which one is the cheapest?", "cheapest"), ("which is less expensive", "cheapest"),
    ("the most expensive one", "priciest"), ("which is best rated?", "best_rated"),
    ("which of them is in stock", "in_stock"), ("compare them", None), ("is it good?", None)])
def test_the_quality_asked_for(text: str, quality: str | None) -> None:
    assert asked_quality(text) == quality


def test_cheapest_and_priciest_state_the_deciding_price() -> None:
    cheapest = choose("cheapest", [BOWL, FEEDER])
    assert cheapest is not None and cheapest.product_ids == ["B1"]
    assert cheapest.sentence == "The OurPets Interactive Feeder is the cheapest of the two at $12.99 (simulated price)."
    priciest = choose("priciest", [BOWL, FEEDER])
    assert priciest is not None and priciest.product_ids == ["B2"] and "$24.50" in priciest.sentence


def test_best_rated_and_stock() -> None:
    best = choose("best_rated", [FEEDER, BOWL])
    assert best is not None and best.sentence == "The Acme Steel Dog Bowl is the best rated of the two, 4.6 stars from 12 ratings."
    stock = choose("in_stock", [FEEDER, BOWL])
    assert stock is not None and stock.product_ids == ["B1"]
    assert stock.sentence == "Only the OurPets Interactive Feeder is in stock of the two."


def test_no_pick_without_the_stores_values_or_with_one_product() -> None:
    unpriced = ProductFacts("B3", "Mystery")
    assert choose("cheapest", [FEEDER, unpriced]) is None
    assert choose("cheapest", [unpriced]) is None and choose("cheapest", []) is None


def test_one_product_is_the_only_choice_with_the_value_asked_about() -> None:
    only = choose("cheapest", [FEEDER])
    assert only is not None and only.product_ids == ["B1"]
    assert only.sentence == "There is only one to choose from: the OurPets Interactive Feeder, at $12.99 (simulated price)."
    rated = choose("best_rated", [FEEDER])
    assert rated is not None and rated.sentence.endswith("rated 4.1 stars from 80 ratings (simulated).")
    stocked = choose("in_stock", [FEEDER])
    assert stocked is not None and stocked.sentence.endswith("and it is in stock.")
    assert short_title("Acme Kettle, 1.7 l (steel)") == "Acme Kettle"
    # Cut at six words, a name never ends on a word that leads into the rest.
    assert short_title("FURminator Long Hair deShedding Tool for Medium Dogs") == "FURminator Long Hair deShedding Tool"


def test_an_overview_states_the_cheapest_and_the_best_rated_and_keeps_every_product() -> None:
    both = choose("overview", [BOWL, FEEDER])
    assert both is not None and both.product_ids == ["B2", "B1"]
    assert both.sentence == ("The OurPets Interactive Feeder is the cheapest of the two at $12.99 (simulated price); "
                             "the Acme Steel Dog Bowl is the best rated, 4.6 stars from 12 ratings.")
    better_feeder = ProductFacts("B1", FEEDER.title, price_cents=1299, rating=4.8, rating_count=80)
    one = choose("overview", [BOWL, better_feeder])
    assert one is not None and one.sentence == (
        "The OurPets Interactive Feeder is both the cheapest of the two, at $12.99 (simulated price), and the best "
        "rated, 4.8 stars from 80 ratings (simulated).")
    unknown = ProductFacts("B3", "Mystery")
    rated_only = choose("overview", [FEEDER, unknown])
    assert rated_only is not None and rated_only.sentence.startswith("The OurPets Interactive Feeder is the best rated of the two")
    assert choose("overview", [unknown, ProductFacts("B4", "Other")]) is None
    assert choose("overview", [FEEDER]) is None

"""The store facts as the evidence sentences the model reads."""

from pipeline.store.records import Offer
from pipeline.store.sentences import delivery_phrase, offer_sentence


def test_one_day_is_a_day() -> None:
    assert delivery_phrase(1) == "delivery in 1 day"
    assert delivery_phrase(3) == "delivery in 3 days"
    assert delivery_phrase(1.5) == "delivery in 1.5 days"


def test_an_offer_says_price_label_stock_and_delivery() -> None:
    offer = Offer("B1", 1999, 2499, "USD", True, 1, True)
    assert offer_sentence("Acme Kettle", offer) == "Acme Kettle: $19.99 (simulated price), in stock, delivery in 1 day"
    gone = Offer("B1", 1999, 2499, "USD", False, None, False)
    assert offer_sentence("Acme Kettle", gone) == "Acme Kettle: $19.99, out of stock"

"""The store steps' sentences as a pure function of what was read: no store, no event loop."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline.errors import StageError
from pipeline.messages import Plan, RetrievalStep, UserTurn
from pipeline.retrieval.store_evidence import StoreFacts, step_product_ids, store_evidence
from pipeline.store.records import Cart, CartLine, Offer, Order, OrderLine, PricePoint, RatingSummary, StoreProduct

A, B, C = "B0000000A1", "B0000000B2", "B0000000C3"


def product(pid: str, title: str) -> StoreProduct:
    return StoreProduct(pid, title, "kitchen", "inferred", "page")


def offer(pid: str, cents: int, *, simulated: bool = True, in_stock: bool = True) -> Offer:
    return Offer(pid, cents, cents, "USD", in_stock, 3, simulated=simulated)


def plan(*, page: str | None = None, resolved: tuple[str, ...] = ()) -> Plan:
    return Plan("c1", 1, 0, UserTurn("c1", 1, 0, "u1", "how much?", page_product_id=page), "price",
                [], resolved_product_ids=list(resolved))


def test_a_steps_products_are_its_own_then_the_resolved_ones_then_the_page() -> None:
    assert step_product_ids(RetrievalStep("offers", product_ids=[A]), plan(page=C, resolved=(B,))) == [A]
    assert step_product_ids(RetrievalStep("offers"), plan(page=C, resolved=(B,))) == [B]
    assert step_product_ids(RetrievalStep("offers"), plan(page=C)) == [C]
    assert step_product_ids(RetrievalStep("offers"), plan()) == []


def test_offers_state_the_price_with_thousands_separators_and_say_simulated() -> None:
    facts = StoreFacts("offers", (A, B, C), products={A: product(A, "Acme Kettle")},
                       offers={A: offer(A, 124_999), B: offer(B, 1999, simulated=False, in_stock=False)})
    items = store_evidence(facts)
    assert [i.text for i in items] == [
        "Acme Kettle: $1,249.99 (simulated price), in stock, delivery in 3 days",
        f"{B}: $19.99, out of stock, delivery in 3 days",  # a product without a record is named by its id
    ]  # C has no offer: nothing is said of it
    assert [(i.source, i.product_id, i.ref) for i in items] == [("offer", A, f"offer:{A}"), ("offer", B, f"offer:{B}")]


def test_choice_picks_by_the_facts_given_and_cards_each_chosen_product() -> None:
    facts = StoreFacts("choice", (A, B, C), quality="cheapest",
                       products={A: product(A, "Acme Kettle"), B: product(B, "Brew Kettle")},
                       offers={A: offer(A, 2500), B: offer(B, 1999), C: offer(C, 100)})
    [item] = store_evidence(facts)  # C is not in the store's products, so it is not a candidate
    assert (item.source, item.product_id, item.ref) == ("choice", B, f"choice:cheapest:{B}")
    assert item.text.endswith("is the cheapest of the two at $19.99 (simulated price).")
    assert store_evidence(StoreFacts("choice", (A,), quality="cheapest")) == []


def test_price_history_states_at_most_three_products_that_have_one() -> None:
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(40)]
    series = [PricePoint(day, 5000 - n, True, True) for n, day in enumerate(days)]
    facts = StoreFacts("price_history", (A, B, C, "B4"), histories={A: series, "B4": series})
    items = store_evidence(facts)
    assert [i.product_id for i in items] == [A]  # B and C have none; the fourth is past the three read
    assert items[0].text.startswith("price history (simulated): now $49.61; lowest in 30 days $49.61 on 2025-02-09")


def test_cart_and_orders_with_totals_and_when_empty() -> None:
    assert [i.text for i in store_evidence(StoreFacts("cart", user_id="u1", cart=Cart("u1", (), 0, "USD", True)))] \
        == ["the cart is empty"]
    cart = Cart("u1", (CartLine(A, 2, 150_000, True), CartLine(B, 1, 999, True)), 300_999, "USD", True)
    [item] = store_evidence(StoreFacts("cart", user_id="u1", cart=cart))
    assert (item.text, item.ref) == (f"cart: 2 x {A}, 1 x {B}; total $3,009.99", "cart:u1")
    assert store_evidence(StoreFacts("orders", user_id="u1"))[0].text == "no orders found for this account"
    order = Order("o-1", "u1", (OrderLine(A, 1, 1999),), 1999, "EUR", 0, 4, "shipped", None, True)
    [item] = store_evidence(StoreFacts("orders", user_id="u1", orders=[order]))
    assert item.text == "order o-1: shipped, 1 item(s), total 19.99 EUR, delivery in 4 days"
    assert (item.product_id, item.ref) == (A, "order:o-1")


def test_a_source_the_store_lacks_is_an_error() -> None:
    with pytest.raises(StageError, match="no source 'reviews'"):
        store_evidence(StoreFacts("reviews"))


def test_ratings_are_facts_too() -> None:
    # best_rated reads the store's ratings: the one with the higher average wins whatever the price.
    facts = StoreFacts("choice", (A, B), quality="best_rated",
                       products={A: product(A, "Acme Kettle"), B: product(B, "Brew Kettle")},
                       offers={A: offer(A, 2500), B: offer(B, 1999)},
                       ratings={A: RatingSummary.from_distribution(A, (0, 0, 0, 1, 9), simulated=False),
                                B: RatingSummary.from_distribution(B, (5, 0, 0, 0, 5), simulated=False)})
    assert [i.product_id for i in store_evidence(facts)][:1] == [A]

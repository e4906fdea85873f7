from __future__ import annotations

import pytest

from pipeline.errors import NotFoundError, StoreConflictError
from pipeline.store.loader import load_catalog
from pipeline.store.records import SearchFilters
from pipeline.store.simulator import SimulationConfig
from pipeline.store.sqlite import SqliteStore
from tests.unit.store.factories import START_MS, Clock, make_products

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@pytest.fixture
async def loaded(store: SqliteStore) -> SqliteStore:
    await load_catalog(store, make_products(40))
    return store


async def _in_stock_ids(store: SqliteStore, n: int) -> list[str]:
    ids = await store.search_products(SearchFilters(in_stock_only=True, sort="price_asc", limit=n))
    assert len(ids) == n
    return ids


async def test_unknown_ids_read_as_absent(loaded: SqliteStore) -> None:
    assert await loaded.get_product("nope") is None
    assert await loaded.get_offer("nope") is None
    assert await loaded.get_rating("nope") is None
    assert await loaded.get_price_history("nope") == []
    assert await loaded.get_order("ord-99999999") is None
    assert await loaded.get_order_status("ord-99999999") is None
    known = (await loaded.list_product_ids())[0]
    offers = await loaded.get_offers([known, "nope"])
    assert set(offers) == {known}


async def test_unknown_ids_in_writes_raise_not_found(loaded: SqliteStore) -> None:
    with pytest.raises(NotFoundError):
        await loaded.add_to_cart("u", "nope")
    with pytest.raises(NotFoundError):
        await loaded.remove_from_cart("u", "nope")
    with pytest.raises(NotFoundError):
        await loaded.place_order("u", [("nope", 1)])
    with pytest.raises(NotFoundError):
        await loaded.record_price_change("nope", 100, True, START_MS, simulated=True)


async def test_bulk_reads_cover_more_ids_than_one_sql_statement_takes(store: SqliteStore) -> None:
    await load_catalog(store, make_products(1200), config=SimulationConfig(history_days=5))
    ids = await store.list_product_ids()
    assert len(await store.get_offers(ids)) == len(await store.get_ratings(ids)) == 1200


async def test_cart_adds_merges_and_removes(loaded: SqliteStore) -> None:
    a, b = await _in_stock_ids(loaded, 2)
    await loaded.add_to_cart("u", a)
    await loaded.add_to_cart("u", b, 2)
    cart = await loaded.add_to_cart("u", a, 3)
    assert {(line.product_id, line.quantity) for line in cart.lines} == {(a, 4), (b, 2)}
    offers = await loaded.get_offers([a, b])
    assert cart.total_cents == 4 * offers[a].price_cents + 2 * offers[b].price_cents
    assert cart.simulated
    cart = await loaded.remove_from_cart("u", a, 1)
    assert {(line.product_id, line.quantity) for line in cart.lines} == {(a, 3), (b, 2)}
    cart = await loaded.remove_from_cart("u", a)
    assert [line.product_id for line in cart.lines] == [b]
    assert (await loaded.get_cart("other user")).lines == ()
    with pytest.raises(ValueError):
        await loaded.add_to_cart("u", b, 0)


async def test_a_repeated_request_key_changes_the_cart_once(loaded: SqliteStore) -> None:
    a, b = (await loaded.list_product_ids())[:2]
    for _ in range(3):  # a redelivered turn or click
        cart = await loaded.add_to_cart("u", a, 2, request_key="c1:4")
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(a, 2)]
    await loaded.add_to_cart("u", b, request_key="c1:5")
    for _ in range(2):
        cart = await loaded.remove_from_cart("u", a, request_key="c1:6")
    assert [line.product_id for line in cart.lines] == [b]
    # Keys are per user, and a failed change does not use up its key.
    other = await loaded.add_to_cart("v", a, request_key="c1:4")
    assert [(line.product_id, line.quantity) for line in other.lines] == [(a, 1)]
    with pytest.raises(NotFoundError):
        await loaded.remove_from_cart("u", a, request_key="c1:7")
    cart = await loaded.add_to_cart("u", a, request_key="c1:7")
    assert {line.product_id: line.quantity for line in cart.lines} == {a: 1, b: 1}


async def test_ordering_the_cart_empties_it(loaded: SqliteStore, clock: Clock) -> None:
    a, b = await _in_stock_ids(loaded, 2)
    await loaded.add_to_cart("u", a, 2)
    await loaded.add_to_cart("u", b)
    cart = await loaded.get_cart("u")
    order = await loaded.place_order("u")
    assert order.total_cents == cart.total_cents
    assert {(line.product_id, line.quantity) for line in order.lines} == {(a, 2), (b, 1)}
    assert order.placed_at_ms == clock.now_ms and order.status == "placed"
    assert (await loaded.get_cart("u")).lines == ()
    assert await loaded.get_orders("u") == [order]
    with pytest.raises(StoreConflictError):
        await loaded.place_order("u")


async def test_order_status_follows_the_clock(loaded: SqliteStore, clock: Clock) -> None:
    (a,) = await _in_stock_ids(loaded, 1)
    order = await loaded.place_order("u", [(a, 1)])
    clock.now_ms += 2 * HOUR_MS
    assert await loaded.get_order_status(order.order_id) == "shipped"
    clock.now_ms += order.delivery_days * DAY_MS
    assert await loaded.get_order_status(order.order_id) == "delivered"


async def test_an_order_key_places_one_order_only(loaded: SqliteStore) -> None:
    a, b = await _in_stock_ids(loaded, 2)
    first = await loaded.place_order("u", [(a, 1)], order_key="alert-1")
    again = await loaded.place_order("u", [(b, 5)], order_key="alert-1")
    assert again == first
    second = await loaded.place_order("u", [(a, 1)], order_key="alert-2")
    assert second.order_id != first.order_id
    assert [o.order_id for o in await loaded.get_orders("u")] == [second.order_id, first.order_id]


async def test_out_of_stock_cannot_be_ordered(loaded: SqliteStore) -> None:
    (a,) = await _in_stock_ids(loaded, 1)
    offer = await loaded.record_price_change(a, 500, False, START_MS, simulated=True)
    assert offer.availability == "out_of_stock" and offer.delivery_days is None
    with pytest.raises(StoreConflictError):
        await loaded.place_order("u", [(a, 1)])
    offer = await loaded.record_price_change(a, 500, True, START_MS + 1, simulated=True)
    assert offer.delivery_days is not None and offer.seq == 2


async def test_a_price_change_becomes_the_current_offer_and_the_last_history_point(
    loaded: SqliteStore,
) -> None:
    (a,) = await _in_stock_ids(loaded, 1)
    before = await loaded.get_offer(a)
    assert before is not None
    offer = await loaded.record_price_change(a, before.list_price_cents // 2, True, START_MS, simulated=True)
    assert offer.price_cents == before.list_price_cents // 2 and offer.discount_pct >= 49
    history = await loaded.get_price_history(a)
    assert len(history) == 365  # the new day went in, the oldest fell out of the window
    assert history[-1].price_cents == offer.price_cents
    assert (await loaded.get_price_history(a, days=30))[0].day == history[-30].day
    raised = await loaded.record_price_change(a, before.list_price_cents + 100, True, START_MS + 1, simulated=True)
    assert raised.list_price_cents == before.list_price_cents + 100


async def test_search_filters_and_orders(loaded: SqliteStore) -> None:
    everything = await loaded.search_products(SearchFilters(limit=100))
    assert len(everything) == 40
    offers = await loaded.get_offers(everything)
    ratings = await loaded.get_ratings(everything)
    averages = [ratings[i].average for i in everything]
    assert averages == sorted(averages, reverse=True)

    cheap = await loaded.search_products(SearchFilters(max_price_cents=3000, sort="price_asc", limit=100))
    assert cheap == sorted(
        (i for i in everything if offers[i].price_cents <= 3000), key=lambda i: (offers[i].price_cents, i)
    )
    toys = await loaded.search_products(SearchFilters(category="toys_games", min_rating=4.0, limit=100))
    products = await loaded.get_products(toys)
    assert toys and all(products[i].category == "toys_games" and ratings[i].average >= 4.0 for i in toys)
    assert await loaded.search_products(SearchFilters(category="no such category")) == []
    assert len(await loaded.search_products(SearchFilters(limit=3))) == 3


async def test_deals_are_in_stock_sales_biggest_first(loaded: SqliteStore) -> None:
    ids = await _in_stock_ids(loaded, 3)
    for i, product_id in enumerate(ids):
        offer = await loaded.get_offer(product_id)
        assert offer is not None
        await loaded.record_price_change(
            product_id, offer.list_price_cents * (50 + 5 * i) // 100, True, START_MS + i, simulated=True
        )
    deals = await loaded.get_deals(limit=50)
    assert [d.product_id for d in deals[:3]] == ids
    assert all(d.in_stock and d.price_cents < d.list_price_cents for d in deals)
    discounts = [d.discount_pct for d in deals]
    assert discounts == sorted(discounts, reverse=True)

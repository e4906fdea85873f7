"""Store facts as a turn's evidence: what the retrieve stage's store steps say, once read. Pure.

    ids = step_product_ids(step, plan)              # the products a store step is about
    facts = StoreFacts("offers", tuple(ids), offers=..., products=...)   # read by the adapter
    items = store_evidence(facts)                   # short evidence sentences, one item each

The reading is the adapter's (`StoreFetcher` in pipeline/stages/retrieve.py); this module only writes.
Sentences come from pipeline/store/sentences.py (offers, price history) and pipeline/store/choose.py
(the pick), prices through pipeline/money.py's `format_money`. Simulated values say so: the prompt
must not pass them off as real.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.errors import StageError
from pipeline.messages import EvidenceItem, Plan, RetrievalStep
from pipeline.money import format_money
from pipeline.store.choose import ProductFacts, choose
from pipeline.store.records import Cart, Offer, Order, PricePoint, RatingSummary, StoreProduct
from pipeline.store.sentences import delivery_phrase, offer_sentence, price_history_sentence

STORE_SOURCES = ("offers", "choice", "price_history", "cart", "orders")
"""The step sources the store answers."""
HISTORY_PRODUCTS = 3
"""Products a price-history step reads (the first ones the step is about)."""
HISTORY_DAYS = 90
"""Days of price history read per product: the longest span a sentence states."""
ORDERS_READ = 5
"""Most recent orders an orders step reads."""


@dataclass(frozen=True)
class StoreFacts:
    """What one store step read. `source` says which fields the adapter filled; the rest stay empty.

    A product id in `product_ids` that the store does not know is simply absent from the maps.
    """

    source: str
    product_ids: tuple[str, ...] = ()
    user_id: str = ""
    quality: str = ""
    """The quality a `choice` step picks by ("cheapest", ...: pipeline/store/choose.py)."""
    products: Mapping[str, StoreProduct] = field(default_factory=dict)
    offers: Mapping[str, Offer] = field(default_factory=dict)
    ratings: Mapping[str, RatingSummary] = field(default_factory=dict)
    histories: Mapping[str, Sequence[PricePoint]] = field(default_factory=dict)
    """Daily prices per product, oldest first (Store.get_price_history)."""
    cart: Cart | None = None
    orders: Sequence[Order] = ()


def step_product_ids(step: RetrievalStep, plan: Plan) -> list[str]:
    """The products a store step is about: its own ids, else the plan's resolved ones, else the page's."""
    page = plan.request.page_product_id
    return list(step.product_ids) or list(plan.resolved_product_ids) or ([page] if page else [])


def store_evidence(facts: StoreFacts) -> list[EvidenceItem]:
    """The evidence items for what a store step read. Raises StageError for a source the store lacks."""
    if facts.source == "offers":
        return _offers(facts)
    if facts.source == "choice":
        return _choice(facts)
    if facts.source == "price_history":
        return _history(facts)
    if facts.source == "cart":
        return _cart(facts.user_id, facts.cart)
    if facts.source == "orders":
        return _orders(facts.user_id, facts.orders)
    raise StageError(f"the store has no source {facts.source!r}")


def _offers(facts: StoreFacts) -> list[EvidenceItem]:
    items = []
    for pid in facts.product_ids:
        offer = facts.offers.get(pid)
        if offer is None:
            continue
        product = facts.products.get(pid)
        title = product.title if product is not None else pid
        items.append(EvidenceItem("offer", offer_sentence(title, offer), 1.0, pid, f"offer:{pid}"))
    return items


def _choice(facts: StoreFacts) -> list[EvidenceItem]:
    """The pick among the step's products by the store's live values, stated as one sentence; one item
    per chosen product so each gets a card, the sentence on the first. [] when the store lacks them."""
    quality = facts.quality
    known = [_choice_facts(pid, facts.products[pid], facts.offers.get(pid), facts.ratings.get(pid))
             for pid in facts.product_ids if pid in facts.products]
    choice = choose(quality, known)
    if choice is None:
        return []
    if not choice.product_ids:
        return [EvidenceItem("choice", choice.sentence, 1.0, None, f"choice:{quality}")]
    return [EvidenceItem("choice", choice.sentence if n == 0 else "", 1.0, pid, f"choice:{quality}:{pid}")
            for n, pid in enumerate(choice.product_ids)]


def _choice_facts(pid: str, product: StoreProduct, offer: Offer | None, rating: RatingSummary | None) -> ProductFacts:
    return ProductFacts(
        pid, product.title,
        price_cents=offer.price_cents if offer else None, currency=offer.currency if offer else "USD",
        in_stock=offer.in_stock if offer else None, price_simulated=offer.simulated if offer else True,
        rating=rating.average if rating else None, rating_count=rating.count if rating else 0,
        rating_simulated=rating.simulated if rating else True)


def _history(facts: StoreFacts) -> list[EvidenceItem]:
    items = []
    for pid in facts.product_ids[:HISTORY_PRODUCTS]:
        text = price_history_sentence(facts.histories.get(pid, ()))
        if text is not None:
            items.append(EvidenceItem("price_history", text, 1.0, pid, f"history:{pid}"))
    return items


def _cart(user_id: str, cart: Cart | None) -> list[EvidenceItem]:
    if cart is None or not cart.lines:
        return [EvidenceItem("cart", "the cart is empty", 1.0, None, f"cart:{user_id}")]
    lines = ", ".join(f"{line.quantity} x {line.product_id}" for line in cart.lines)
    text = f"cart: {lines}; total {format_money(cart.total_cents, cart.currency)}"
    return [EvidenceItem("cart", text, 1.0, None, f"cart:{user_id}")]


def _orders(user_id: str, orders: Sequence[Order]) -> list[EvidenceItem]:
    if not orders:
        return [EvidenceItem("order", "no orders found for this account", 1.0, None, f"orders:{user_id}")]
    return [
        EvidenceItem("order", f"order {o.order_id}: {o.status}, {len(o.lines)} item(s), total "
                     f"{format_money(o.total_cents, o.currency)}, {delivery_phrase(o.delivery_days)}",
                     1.0, o.lines[0].product_id if o.lines else None, f"order:{o.order_id}")
        for o in orders
    ]

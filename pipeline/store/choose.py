""""Which one is the cheapest?": the store picks, and the system says why. Pure.

    quality = asked_quality("which one is the cheapest?")          # "cheapest"
    choice = choose(quality, [facts_a, facts_b])                   # the chosen product and the sentence
    choice.sentence  # "The OurPets feeder is the cheapest of the two at $12.99 (simulated price)."

The planner resolves "which one" to the products the conversation showed; the retrieve stage reads
their live offers and ratings and calls `choose`. The answer is stated by the system with a card for the
chosen product: a small model asked to pick the cheapest of two prices picks wrong often enough to matter
("The cheapest option is the one with the highest price").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.money import format_money

_ASKED = (
    ("cheapest", re.compile(r"\b(cheapest|cheaper|least expensive|less expensive|lowest price|lower price|most affordable)\b")),
    ("priciest", re.compile(r"\b(most expensive|more expensive|priciest|pricier|highest price)\b")),
    ("best_rated", re.compile(r"\b(best|highest|top|better|higher)[ -](rated|reviewed|ratings?)\b|\bmost popular\b")),
    ("in_stock", re.compile(r"\b(in stock|available|availability)\b")),
)
QUALITIES = tuple(name for name, _ in _ASKED)
OVERVIEW = "overview"
"""Not asked for in words: the planner's quality for "compare them", which states the cheapest and the
best rated of the products compared (`overview`)."""
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
_TITLE_WORDS = 6
_DANGLING = frozenset({"for", "with", "and", "or", "of", "to", "in", "on", "by", "the", "a", "an", "&", "+", "from", "at"})


@dataclass(frozen=True)
class ProductFacts:
    product_id: str
    title: str
    price_cents: int | None = None
    currency: str = "USD"
    in_stock: bool | None = None
    price_simulated: bool = True
    rating: float | None = None
    rating_count: int = 0
    rating_simulated: bool = True


@dataclass(frozen=True)
class Choice:
    product_ids: list[str]
    """The chosen product(s), best first: shown as cards."""
    sentence: str


def asked_quality(text: str) -> str | None:
    """The quality a request picks by ("cheapest", "priciest", "best_rated", "in_stock"), or None."""
    lowered = text.lower()
    return next((name for name, pattern in _ASKED if pattern.search(lowered)), None)


def short_title(title: str) -> str:
    """The first words of a title, before any comma, dash or bracket: "Acme Kettle, 1.7 l ..." -> "Acme Kettle"."""
    head = re.split(r"\s[-–|(]\s?|,|\(", title, maxsplit=1)[0].strip()
    words = head.split()[:_TITLE_WORDS]
    # Cut after six words, "deShedding Tool for Medium Dogs" must not end "Tool for".
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words) if words else title


def choose(quality: str, products: Sequence[ProductFacts]) -> Choice | None:
    """The pick and its stated reason; None when the store lacks the value for the products."""
    if quality == OVERVIEW:
        return overview(products)
    if len(products) == 1:
        return _only_one(quality, products[0])
    if not products:
        return None
    group = _group(products)
    if quality in ("cheapest", "priciest"):
        pick = _by_price(products, cheapest=quality == "cheapest")
        if pick is None:
            return None
        word = "cheapest" if quality == "cheapest" else "most expensive"
        return Choice([pick.product_id], f"The {short_title(pick.title)} is the {word} {group} at {_price(pick)}.")
    if quality == "best_rated":
        pick = _best_rated(products)
        if pick is None:
            return None
        return Choice([pick.product_id], f"The {short_title(pick.title)} is the best rated {group}, {_rating(pick)}.")
    if quality == "in_stock":
        known = [p for p in products if p.in_stock is not None]
        stocked = [p for p in known if p.in_stock]
        if not known:
            return None
        if not stocked:
            return Choice([], f"None {group} is in stock right now.")
        if len(stocked) == len(products):
            everyone = "Both" if len(products) == 2 else f"All {group}"
            return Choice([p.product_id for p in stocked], f"{everyone} are in stock.")
        names = " and the ".join(short_title(p.title) for p in stocked)
        verb = "is" if len(stocked) == 1 else "are"
        return Choice([p.product_id for p in stocked], f"Only the {names} {verb} in stock {group}.")
    return None


def overview(products: Sequence[ProductFacts]) -> Choice | None:
    """"Compare the first two": which of them is the cheapest and which the best rated, in one sentence,
    every product kept (the table shows them all). None for fewer than two products, or when the store
    knows neither value: the model answers then. A 135M model asked to compare wrote "The first product
    is a 200 blender and 250 blender." under the table."""
    if len(products) < 2:
        return None
    group = _group(products)
    cheapest, best = _by_price(products, cheapest=True), _best_rated(products)
    if cheapest is None and best is None:
        return None
    ids = [p.product_id for p in products]
    if cheapest is not None and best is not None and cheapest.product_id == best.product_id:
        return Choice(ids, f"The {short_title(cheapest.title)} is both the cheapest {group}, at {_price(cheapest)}, "
                           f"and the best rated, {_rating(best)}.")
    clauses = []
    if cheapest is not None:
        clauses.append(f"the {short_title(cheapest.title)} is the cheapest {group} at {_price(cheapest)}")
    if best is not None:
        clauses.append(f"the {short_title(best.title)} is the best rated{'' if clauses else ' ' + group}, {_rating(best)}")
    sentence = "; ".join(clauses)
    return Choice(ids, sentence[:1].upper() + sentence[1:] + ".")


def _group(products: Sequence[ProductFacts]) -> str:
    return f"of the {_COUNT_WORDS.get(len(products), str(len(products)))}"


def _by_price(products: Sequence[ProductFacts], *, cheapest: bool) -> ProductFacts | None:
    """The cheapest (or dearest) of the priced products; None when fewer than two have a price."""
    priced = [p for p in products if p.price_cents is not None]
    if len(priced) < 2:
        return None
    return (min if cheapest else max)(priced, key=lambda p: (p.price_cents, p.product_id))


def _best_rated(products: Sequence[ProductFacts]) -> ProductFacts | None:
    rated = [p for p in products if p.rating is not None and p.rating_count > 0]
    return max(rated, key=lambda p: (p.rating or 0.0, p.rating_count, p.product_id)) if rated else None


def _price(product: ProductFacts) -> str:
    label = " (simulated price)" if product.price_simulated else ""
    return f"{format_money(product.price_cents or 0, product.currency)}{label}"


def _rating(product: ProductFacts) -> str:
    label = " (simulated)" if product.rating_simulated else ""
    return f"{product.rating or 0.0:.1f} stars from {product.rating_count} ratings{label}"


def _only_one(quality: str, product: ProductFacts) -> Choice | None:
    """"Which one is the cheapest?" after one card: the one, with the value asked about. A search for
    candidates instead (what the planner did before) compared products nobody had asked about."""
    lead = f"There is only one to choose from: the {short_title(product.title)}"
    if quality in ("cheapest", "priciest") and product.price_cents is not None:
        return Choice([product.product_id], f"{lead}, at {_price(product)}.")
    if quality == "best_rated" and product.rating is not None and product.rating_count > 0:
        return Choice([product.product_id], f"{lead}, rated {_rating(product)}.")
    if quality == "in_stock" and product.in_stock is not None:
        state = "in stock" if product.in_stock else "out of stock right now"
        return Choice([product.product_id], f"{lead}, and it is {state}.")
    return None

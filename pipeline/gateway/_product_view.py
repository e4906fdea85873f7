"""The product view's JSON (GET /products/{id}, docs/gateway.md): a pure function of what was read.

The card, review summary and price history are the payloads hydrate builds for frames
(markup/payloads.py), so the view and a card in an answer can never disagree on a price or a rating.
The page adds what no frame carries: the attributes and the community Q&A, as the catalog has them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.catalog import Product
from pipeline.markup.payloads import CardPayload, PriceHistoryPayload, ReviewsPayload

MAX_ATTRIBUTES = 40
"""Attributes shown; pages rarely have more, and a longer list is no longer readable on a phone."""
MAX_QA = 10
"""Community questions shown, in the page's order."""
_HIDDEN_ATTRIBUTES = frozenset({"binding"})
"""Catalog bookkeeping, not something a shopper reads (it names Amazon's product group)."""


def attribute_label(name: str) -> str:
    """"item_weight" -> "Item weight": catalog attribute names are snake case."""
    words = name.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize()


def product_view(
    card: CardPayload,
    page: Product | None,
    reviews: ReviewsPayload | None,
    history: PriceHistoryPayload | None,
) -> dict[str, Any]:
    """The view of one product. A part the store or catalog has not got (or not in time) is null or []."""
    attributes: list[dict[str, str]] = []
    qa: list[dict[str, str]] = []
    if page is not None:
        for attr in page.attributes:
            if attr.value.strip() and attr.name not in _HIDDEN_ATTRIBUTES:
                attributes.append({"name": attr.name, "label": attribute_label(attr.name), "value": attr.value})
        qa = [{"question": pair.question, "answer": pair.answer}
              for pair in page.community_qa if pair.question.strip() and pair.answer.strip()][:MAX_QA]
    return {
        "product_id": card.product_id,
        "title": card.title,
        "card": dataclasses.asdict(card),
        "attributes": attributes[:MAX_ATTRIBUTES],
        "qa": qa,
        "reviews": dataclasses.asdict(reviews) if reviews is not None else None,
        "price_history": dataclasses.asdict(history) if history is not None else None,
    }

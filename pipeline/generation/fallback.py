"""The degraded answer: what the shopper sees when the model cannot answer in time.

Silence is the worst outcome, so when the LLM fails or times out the generate stage streams this
instead: a plain sentence saying so, the best evidence passage, and cards for the top grounded
products (hydrate fills those from the store as usual).
"""

from __future__ import annotations

from pipeline.generation.prompt import clean
from pipeline.messages import EvidenceBundle

_MAX_CARDS = 3
_PASSAGE_CHARS = 400


def degraded_answer(bundle: EvidenceBundle, grounded: list[str]) -> str:
    """Markup text built only from the evidence; never names a product outside `grounded`."""
    parts = ["Sorry, the answer model is not available right now."]
    passages = [item for item in bundle.items if item.source not in {"product", "offer", "price_history"}]
    if passages:
        best = max(passages, key=lambda item: item.score)
        parts.append(f" The most relevant thing I found: \"{clean(best.text)[:_PASSAGE_CHARS]}\"")
    allowed = set(grounded)
    ranked: list[str] = []
    for item in sorted(bundle.items, key=lambda item: -item.score):
        if item.product_id and item.product_id in allowed and item.product_id not in ranked:
            ranked.append(item.product_id)
    for product_id in ranked[:_MAX_CARDS]:
        parts.append(f" <product id=\"{product_id}\"/>")
    if not passages and not ranked:
        parts.append(" I found nothing in the catalog to go on, so please try again in a moment.")
    return "".join(parts)

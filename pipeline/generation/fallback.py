"""The degraded answer: what the shopper sees when the model cannot answer in time, or answers
with nothing a shopper would see (only markup, or only whitespace).

Silence is the worst outcome, so then the generate stage streams this instead: a plain sentence saying so, the best evidence passage, and cards for the top grounded
products (hydrate fills those from the store as usual).
"""

from __future__ import annotations

from pipeline.generation.prompt import clean
from pipeline.messages import EvidenceBundle

_MAX_CARDS = 3
_PASSAGE_CHARS = 400


UNAVAILABLE = "Sorry, the answer model is not available right now."
SILENT = "I could not put an answer into words for that."
SHOWN_ABOVE = {
    "product_search": "These are the closest matches in the catalog.",
    "comparison": "Here they are side by side.",
    "review_summary": "That is what the reviews say.",
    "price_history": "That is its price over the last months.",
}
"""Said instead of SILENT when the system's lead (a carousel, a table, the reviews box, the chart) already
answers and the model added nothing that could be shown."""


def degraded_answer(bundle: EvidenceBundle, grounded: list[str], opening: str = UNAVAILABLE) -> str:
    """Markup text built only from the evidence; never names a product outside `grounded`."""
    parts = [opening]
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

"""Answers, or the start of one, the system states itself, without the model: what an action did,
what memory holds, which of the products shown is the cheapest / best rated / in stock (the store's
pick, pipeline/store/choose.py; "compare them" gets the table and both), a decline for requests
outside shopping, and the lowest recent prices for "has this been cheaper?".

A 135M model paraphrasing "Added 2 × Acme Kettle to your cart. Your cart: 3 items, $54.97." gets
numbers wrong often enough to matter, and these answers have nothing to add. So when the evidence
holds an action outcome or a memory report, that text is the answer, with a card for the product
acted on (hydrate fills in its live price as usual). A price-history question gets a stated lead (the
chart and the 30/90-day lows from the store) and the model goes on from there. Markup brackets in
evidence text are stripped, so evidence can never inject markup.
"""

from __future__ import annotations

from pipeline.generation.prompt import clean
from pipeline.messages import EvidenceBundle
from pipeline.planner.intents import COMPARISON, OUT_OF_SCOPE

DIRECT_SOURCES = frozenset({"action", "memory", "choice"})
MAX_COMPARED = 4
"""Products in a stated comparison table (the grammar and hydrate allow 2-4)."""
MAX_CAROUSEL = 5
"""Products in a stated search carousel."""
DIRECT_MODEL = "direct"
"""TokenChunk.model for these answers: no model wrote them."""


DECLINE = (
    "I can only help with shopping here, so I can't answer that. I can find products, answer questions "
    "about them from their pages and reviews, compare them, show price history, and manage your cart "
    "and price alerts."
)
"""The answer to a request outside shopping: stated, never the model's (a 135M model asked about the
weather makes up a forecast)."""


def direct_answer(bundle: EvidenceBundle, grounded: list[str]) -> str | None:
    """The stated answer, or None when the model should answer."""
    if bundle.plan.intent == OUT_OF_SCOPE:
        return DECLINE
    items = [item for item in bundle.items if item.source in DIRECT_SOURCES]
    if not items:
        return None
    text = " ".join(clean(item.text) for item in items if item.text)
    allowed = set(grounded)
    cards = list(dict.fromkeys(item.product_id for item in items if item.product_id and item.product_id in allowed))
    if bundle.plan.intent == COMPARISON and 2 <= len(cards) <= MAX_COMPARED:
        # "compare them", "which ones are in stock": the products side by side, the store's verdict under them.
        return f"<compare ids=\"{','.join(cards)}\"/> {text}"
    return text + "".join(f" <product id=\"{product_id}\"/>" for product_id in cards)


def stated_lead(bundle: EvidenceBundle, grounded: list[str]) -> str | None:
    """What a turn opens with before the model speaks: for a search the products found; for a
    price-history question the chart and the
    store's 30/90-day lows; for a review summary the "what customers say" block; for a comparison of
    products the table (hydrate fills it with catalog attributes): the products asked about, then the
    closest ones the search found. The 135M model almost never
    writes the last two itself (docs/eval/quality.md). None for other turns."""
    allowed = set(grounded)
    intent = bundle.plan.intent
    if intent == "price_history":
        item = next((i for i in bundle.items if i.source == "price_history" and i.product_id in allowed), None)
        if item is None:
            return None
        sentence = clean(item.text)
        return f"<price-history id=\"{item.product_id}\"/> {sentence[:1].upper()}{sentence[1:]}. "
    if intent == "review_summary":
        asked = [pid for pid in bundle.plan.resolved_product_ids if pid in allowed]
        reviewed = [i.product_id for i in bundle.items if i.source == "review" and i.product_id in allowed]
        target = next((pid for pid in asked if pid in reviewed), reviewed[0] if reviewed else None)
        return f"<reviews id=\"{target}\"/> " if target else None
    if intent == "product_search":
        # The products found, best first: the 135M model often shows one card of several, or none.
        found = _found_products(bundle, allowed)[:MAX_CAROUSEL]
        if len(found) >= 2:
            return f"<carousel ids=\"{','.join(found)}\"/> "
        return f"<product id=\"{found[0]}\"/> " if found else None
    if intent == "comparison":
        # The products asked about, then ("compare X with other microphones") the closest products found.
        asked = [pid for pid in bundle.plan.resolved_product_ids if pid in allowed]
        compared = list(dict.fromkeys([*asked, *_found_products(bundle, allowed)]))[:MAX_COMPARED]
        return f"<compare ids=\"{','.join(compared)}\"/> " if len(compared) >= 2 else None
    return None


def _found_products(bundle: EvidenceBundle, allowed: set[str]) -> list[str]:
    """Products the search found (their `product` passages), best first, each once."""
    ranked = sorted((i for i in bundle.items if i.source == "product"), key=lambda i: -i.score)
    return list(dict.fromkeys(i.product_id for i in ranked if i.product_id and i.product_id in allowed))

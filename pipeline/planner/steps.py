"""The retrieval plan for an intent: which sources, with which query, products and filters.

Both planners (LLM and rules) decide the intent, the products and the query; the steps are always
built here, so every plan is well formed whichever planner produced it, and an action step appears
only for a guarded CartRequest or AccountRequest (pipeline/planner/rules.py). Steps with source
cart (add/remove), alerts or memory are not retrievals: the retrieve stage performs them
(pipeline/actions/language.py) and puts the outcome into the evidence.
"""

from __future__ import annotations

import re

from pipeline.errors import StageError
from pipeline.generation.support import content_terms
from pipeline.messages import RetrievalStep
from pipeline.planner import intents as I
from pipeline.planner.filters import Filters
from pipeline.planner.need import search_terms
from pipeline.planner.rules import AccountRequest, CartRequest
from pipeline.store.choose import OVERVIEW, asked_quality

SEARCH_LIMIT = 10
"""Products a search step returns."""
MAX_OTHERS = 3
"""Products of the same kind a "compare X with other ..." table adds to X."""
EVIDENCE_LIMIT = 8
"""Passages (Q&A, reviews) a product question pulls."""
REVIEW_LIMIT = 20
"""Reviews a review summary reads."""
MAX_QUERY_CHARS = 256
"""Longest query a step carries (longer requests are cut at a word boundary)."""


def query_text(text: str) -> str:
    """`text` as a search query: whitespace collapsed, at most MAX_QUERY_CHARS characters."""
    collapsed = " ".join(text.split())
    if len(collapsed) <= MAX_QUERY_CHARS:
        return collapsed
    cut = collapsed[:MAX_QUERY_CHARS]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


_COMPARING = frozenset(content_terms(
    "compare comparison compared two three four difference differences differ better versus vs side between"))
_PRODUCT_ID = re.compile(r"b0[0-9a-z]{8}")


def plain_comparison(query: str) -> bool:
    """Whether a comparison asks nothing beyond comparing: "compare the first two", "how do they
    compare?", "which is better?"; not "which one is lighter?" or "which is better for travel?"."""
    return all(term in _COMPARING or _PRODUCT_ID.fullmatch(term) for term in content_terms(query))


def build_steps(
    intent: str,
    query: str,
    product_ids: list[str],
    filters: Filters,
    cart: CartRequest | None = None,
    order_id: str | None = None,
    account: AccountRequest | None = None,
    asked: str | None = None,
) -> list[RetrievalStep]:
    """The steps for `intent`, in priority order. `product_ids` are already resolved and allowed.
    `asked` is the quality the shopper's own words pick by (store/choose.asked_quality of the request):
    the filters may have taken those words out of `query` ("best rated" is also a rating filter);
    without it, the query's. Raises StageError for an intent not in pipeline.planner.intents.INTENTS."""
    quality = asked or asked_quality(query)
    query = query_text(query)
    ids = list(product_ids)
    search_filters = filters.as_step_filters()
    if intent == I.OUT_OF_SCOPE:
        return []
    if intent == I.PRODUCT_SEARCH:
        return [_catalog(query, search_filters, SEARCH_LIMIT)]
    if intent == I.PRODUCT_QUESTION:
        if not ids:
            return [_catalog(query, search_filters, 5), RetrievalStep("qa", query, [], {}, EVIDENCE_LIMIT)]
        return [
            RetrievalStep("products", "", ids, {}, len(ids)),
            RetrievalStep("qa", query, ids, {}, EVIDENCE_LIMIT),
            RetrievalStep("reviews", query, ids, {}, EVIDENCE_LIMIT),
        ]
    if intent == I.COMPARISON:
        if ids and quality is not None:
            # "Which one is the cheapest?" of products already shown (one card: that one): the store
            # decides (choose.py)
            return [RetrievalStep("choice", query, ids, {"quality": quality}, len(ids))]
        if not ids and (against := _against_others(query)) is not None:
            # "Compare the Rode NTG2 with other microphones": the named product, and the closest of its kind
            # (one search for both would keep only the named product: nothing else is as close to its name).
            named, kind = against
            return [_catalog(named, search_filters, 1), _catalog(kind, search_filters, MAX_OTHERS)]
        if len(ids) < 2:
            # Fewer than two known products: find candidates to compare, with their offers.
            return [RetrievalStep("products", query, ids, search_filters, 5), RetrievalStep("offers", query, ids, {}, 5)]
        # "Compare them" asks nothing in particular: the store states which is the cheapest and which the
        # best rated (choose.overview) under the table. "Which one is lighter?" is the model's to answer
        # from the evidence; the other steps are that evidence.
        overview = [RetrievalStep("choice", "", ids, {"quality": OVERVIEW}, len(ids))] if plain_comparison(query) else []
        return [
            *overview,
            RetrievalStep("products", "", ids, {}, len(ids)),
            RetrievalStep("offers", "", ids, {}, len(ids)),
            RetrievalStep("reviews", query, ids, {}, 4 * len(ids)),
        ]
    if intent == I.REVIEW_SUMMARY:
        if not ids:
            return [_catalog(query, search_filters, 3), RetrievalStep("reviews", query, [], {}, REVIEW_LIMIT)]
        return [RetrievalStep("reviews", "", ids, {}, REVIEW_LIMIT), RetrievalStep("products", "", ids, {}, len(ids))]
    if intent == I.PRICE_HISTORY:
        if not ids:
            return [_catalog(query, search_filters, SEARCH_LIMIT), RetrievalStep("offers", query, [], {}, SEARCH_LIMIT)]
        return [
            RetrievalStep("price_history", "", ids, {}, len(ids)),
            RetrievalStep("offers", "", ids, {}, len(ids)),
            RetrievalStep("products", "", ids, {}, len(ids)),
        ]
    if intent == I.CART_ACTION:
        if cart is None:
            return [RetrievalStep("cart", "", [], {"action": "view"}, SEARCH_LIMIT)]
        if cart.action == "view" or cart.product_id is None:
            return [RetrievalStep("cart", "", [], {"action": "view"}, SEARCH_LIMIT)]
        action = {"action": cart.action, "quantity": str(cart.quantity)}
        return [RetrievalStep("cart", "", [cart.product_id], action, 1), RetrievalStep("products", "", [cart.product_id], {}, 1)]
    if intent == I.ORDER_STATUS:
        return [RetrievalStep("orders", query, [], {"order_id": order_id} if order_id else {}, 5)]
    if intent == I.PRICE_ALERT:
        request = account or AccountRequest("list")
        product = [request.product_id] if request.product_id else []
        steps = [RetrievalStep("alerts", "", product, {"action": request.action}, 1)]
        if product:
            steps += [RetrievalStep("offers", "", product, {}, 1), RetrievalStep("products", "", product, {}, 1)]
        return steps
    if intent == I.ACCOUNT_MEMORY:
        request = account or AccountRequest("view")
        return [RetrievalStep("memory", "", [], {"action": request.action, "keys": ",".join(request.keys)}, 1)]
    if intent == I.GENERAL_ADVICE:
        return [_catalog(query, search_filters, 5)]
    raise StageError(f"unknown intent {intent!r}")


_AGAINST_OTHERS = re.compile(
    r"\bcompar(?:e|ing)\s+(?:the\s+|my\s+|this\s+)?(?P<named>.+?)\s+(?:with|to|against|and|vs\.?|versus)\s+"
    r"(?:other|similar|different|some other|alternative)\s+(?P<kind>[\w\s-]+)", re.IGNORECASE)


def _against_others(query: str) -> tuple[str, str] | None:
    """("the Rode NTG2", "microphones") from "compare the Rode NTG2 with other microphones"; else None."""
    found = _AGAINST_OTHERS.search(query)
    if found is None or not found.group("kind").strip():
        return None
    return found.group("named").strip(), found.group("kind").strip(" ?.!")


def _catalog(query: str, filters: dict[str, str], limit: int) -> RetrievalStep:
    """A products step over the whole catalog: the need's own words, without the request's wrapping
    ("i'm looking for something to ..."; pipeline/planner/need.py)."""
    return RetrievalStep("products", search_terms(query), [], filters, limit)

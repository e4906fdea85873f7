"""The planner's intents: names, what each means, and example requests for embedding similarity.

The descriptions are written for two readers: the LLM planner's prompt (one line each) and the
embedding classifier, which compares a request to the examples of every intent.
"""

from __future__ import annotations

from typing import Final

PRODUCT_SEARCH: Final = "product_search"
PRODUCT_QUESTION: Final = "product_question"
COMPARISON: Final = "comparison"
REVIEW_SUMMARY: Final = "review_summary"
PRICE_HISTORY: Final = "price_history"
CART_ACTION: Final = "cart_action"
ORDER_STATUS: Final = "order_status"
PRICE_ALERT: Final = "price_alert"
ACCOUNT_MEMORY: Final = "account_memory"
GENERAL_ADVICE: Final = "general_advice"
OUT_OF_SCOPE: Final = "out_of_scope"

INTENTS: Final[tuple[str, ...]] = (
    PRODUCT_SEARCH,
    PRODUCT_QUESTION,
    COMPARISON,
    REVIEW_SUMMARY,
    PRICE_HISTORY,
    CART_ACTION,
    ORDER_STATUS,
    PRICE_ALERT,
    ACCOUNT_MEMORY,
    GENERAL_ADVICE,
    OUT_OF_SCOPE,
)

DESCRIPTIONS: Final[dict[str, str]] = {
    PRODUCT_SEARCH: "find, search for or recommend products, possibly with a budget or features",
    PRODUCT_QUESTION: "a question about one specific product (size, fit, compatibility, materials)",
    COMPARISON: "compare two or more products, or ask which of them is better, cheaper or lighter",
    REVIEW_SUMMARY: "what reviewers or customers say about a product: pros, cons, complaints",
    PRICE_HISTORY: "price history of a product, whether it is a good deal, discounts and sales",
    CART_ACTION: "add a product to or remove it from the cart, or show the cart",
    ORDER_STATUS: "where an order is, delivery, tracking, returns or cancelling an order",
    PRICE_ALERT: "set, list or cancel a price alert or an auto-buy (tell me when it drops below $40)",
    ACCOUNT_MEMORY: "what the assistant remembers about the shopper, or forgetting it",
    GENERAL_ADVICE: "general shopping advice not tied to a product: how to choose, what to look for",
    OUT_OF_SCOPE: "not about shopping at all (weather, jokes, politics, homework, code)",
}

EXAMPLES: Final[dict[str, tuple[str, ...]]] = {
    PRODUCT_SEARCH: (
        "show me running shoes under $80",
        "i need a gift for a 10 year old who likes science",
        "best wireless earbuds for the gym",
        "modern grey sofa with chaise",
        "recommend a coffee grinder",
    ),
    PRODUCT_QUESTION: (
        "is this dishwasher safe?",
        "does it fit a queen size bed?",
        "what is the battery life of this?",
        "will this work with my ge refrigerator model gss25?",
        "how many watts does it use",
    ),
    COMPARISON: (
        "which one is better for travel?",
        "compare the first and the second one",
        "what is the difference between these two",
        "is the red one or the blue one lighter?",
    ),
    REVIEW_SUMMARY: (
        "what do people say about this?",
        "summarize the reviews",
        "what are the common complaints about it?",
        "do customers like this product",
    ),
    PRICE_HISTORY: (
        "has the price of this dropped recently?",
        "is this a good deal right now?",
        "what was the lowest price for this",
        "any discounts on this?",
    ),
    CART_ACTION: (
        "add this to my cart",
        "remove the second one from my cart",
        "what is in my cart?",
        "put two of these in my basket",
    ),
    ORDER_STATUS: (
        "where is my order?",
        "when will my package arrive",
        "i want to return my last order",
        "track my delivery",
    ),
    PRICE_ALERT: (
        "tell me when it drops below $40",
        "buy it when it's 30% off",
        "list my price alerts",
        "cancel my alert on this",
    ),
    ACCOUNT_MEMORY: (
        "what do you remember about me?",
        "forget my budget",
        "delete everything you know about me",
        "what have you saved about me",
    ),
    GENERAL_ADVICE: (
        "how do i choose a good mattress?",
        "what should i look for in a laptop for college",
        "tips for buying a used bike",
        "how to pick the right size of ski boots",
    ),
    OUT_OF_SCOPE: (
        "what is the weather tomorrow?",
        "tell me a joke",
        "who won the election",
        "write a python function to sort a list",
    ),
}

NEEDS_PRODUCT: Final[frozenset[str]] = frozenset({PRODUCT_QUESTION, REVIEW_SUMMARY, PRICE_HISTORY})
"""Intents that are about one product: without one resolved they are planned as searches."""

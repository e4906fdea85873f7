"""Starter questions for a product page: what to ask before the first turn (docs/gateway.md, "Starter
questions for a product page").

When a shopper opens a product page, the assistant offers up to MAX_STARTERS questions that the
evidence for that one product can answer, each of a different kind (the question-suggestion idea of
"Question suggestion for conversational shopping assistants using product metadata", SIGIR 2024):

    attribute   a concrete attribute the page lists        "What is its weight?"
    reviews     what reviews say, about the aspect most     "What do customers say about the sound?"
                reviews mention when one stands out
    qa          a short, general question from the page's   "Is it dishwasher safe?"
                community Q&A (which the page answers)
    price       the price history, when the store has one   "Has it been cheaper before?"

One of each kind is taken in that order; when fewer than three kinds have a question, a second
attribute or Q&A question fills the list. A question is offered only if the next turn, planned with
this product as the page (pipeline/markup/suggestions.py: the planner's own reference resolution and
rules), gives that kind's intent about this product and the store and catalog hold its evidence; and
never when it shares a topic with a question already chosen ("weight" and "how much does it weigh").

    questions = starters(product_id, store_product, page, review_texts, price_points)

Pure and deterministic: the same records give the same questions in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from pipeline.catalog import Product
from pipeline.markup.suggestions import (
    ProductFacts,
    TurnFacts,
    content_words,
    plans_as,
    questions_about,
    same_topic,
)
from pipeline.planner import intents as I
from pipeline.store.records import StoreProduct

MAX_STARTERS = 3
MIN_ASPECT_REVIEWS = 2
"""Review texts that must mention an aspect before the reviews question names it."""
MAX_REVIEWS_SCANNED = 500
"""Review texts read for aspects (a review set can be long; the first ones are enough)."""
MAX_QA_CHARS = 80
MAX_QA_CONTENT_WORDS = 4
"""A community question is "short and general" within these bounds (content words as suggestions.py
counts them: no function words or references)."""

# Aspects reviews talk about: (the words a question uses, the forms a review uses). Specific ones
# first; the generic ones (price, quality) are named only when no specific aspect stands out.
_ASPECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sound quality", ("sound quality", "audio quality")),
    ("battery life", ("battery life", "battery", "batteries", "charge lasts")),
    ("picture quality", ("picture quality", "image quality", "picture", "image")),
    ("sound", ("sound", "sounds", "audio", "volume")),
    ("noise", ("noise", "noisy", "quiet", "loud")),
    ("fit", ("fit", "fits", "fitting")),
    ("comfort", ("comfort", "comfortable", "uncomfortable")),
    ("size", ("size", "sized", "too small", "too big", "too large")),
    ("installation", ("install", "installed", "installing", "installation")),
    ("assembly", ("assemble", "assembled", "assembly")),
    ("instructions", ("instructions", "manual", "directions")),
    ("setup", ("setup", "set up")),
    ("durability", ("durable", "durability", "sturdy", "flimsy", "broke", "broken", "lasted")),
    ("material", ("material", "plastic", "fabric", "metal")),
    ("color", ("color", "colors", "colour")),
    ("smell", ("smell", "smells", "scent", "odor")),
    ("taste", ("taste", "tastes", "flavor")),
    ("cleaning", ("clean", "cleaning", "wash", "washing")),
    ("software", ("software", "app")),
)
_GENERIC_ASPECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("price", ("price", "money", "value", "worth")),
    ("quality", ("quality",)),
)
_ASPECT_RE = {label: re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b")
              for label, forms in _ASPECTS + _GENERIC_ASPECTS}

_NOTHING_VALUES = frozenset({"false", "no", "none", "n/a", "na", "not applicable"})
_DULL_ATTRIBUTES = frozenset({"brand"})

# What makes a community question personal, addressed to the seller, or more than one question.
_PERSONAL = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|my|me|mine|we|our|us|u|ur|thx|thanks|thank|please|pls|plz)\b")
_TO_SELLER = re.compile(r"\b(?:do|does|can|will) you (?:sell|carry|ship|offer|make|know|have any)\b")
_OPENING = re.compile(r"(?:is|are|does|do|can|will|would|could|how|what|which|has|have|should)\b")
_NON_ANSWER = re.compile(r"\b(?:don'?t know|do not know|not sure|no idea)\b")
_SPACES_BEFORE_MARK = re.compile(r"\s+([?,])")
_DIGIT = re.compile(r"\d")
_NONZERO_DIGIT = re.compile(r"[1-9]")


def starters(product_id: str, product: StoreProduct | None, page: Product | None,
             review_texts: Sequence[str] = (), price_points: int = 0, limit: int = MAX_STARTERS) -> list[str]:
    """Up to `limit` questions about the product that its own records can answer, one per kind first.

    `product` None (unknown to the store, or not read) gives []; a missing page, no reviews or no
    price history only removes the kinds that need them.
    """
    if product is None:
        return []
    facts = {product_id: ProductFacts.from_records(product_id, product, page, review_texts, price_points)}
    turn = TurnFacts(shown=(), page_product_id=product_id, page_known=True)
    ids = [product_id]
    attributes = questions_about("attribute", product_id, turn, {product_id: _telling(facts[product_id])})
    aspect = aspect_question(review_texts)
    reviews = [aspect] if aspect and plans_as(aspect, I.REVIEW_SUMMARY, ids, turn, facts) else []
    community = [q for q in community_questions(page) if plans_as(q, I.PRODUCT_QUESTION, ids, turn, facts)]
    kinds = [
        attributes[:1],
        reviews + questions_about("reviews", product_id, turn, facts),
        community,
        questions_about("price", product_id, turn, facts),
    ]
    chosen: list[str] = []
    product_words = frozenset(content_words(page.title if page is not None else product.title))

    def fits(question: str) -> bool:
        # "the pump" on a pump's page means "it": the title's words are no topic.
        return len(chosen) < limit and not any(
            same_topic(question, q, product_words) or question.lower() == q.lower() for q in chosen)

    for group in kinds:  # one of each kind: its first question on a topic not chosen yet
        chosen += [q for q in group if fits(q)][:1]
    for question in attributes[1:] + community:  # then a second attribute or Q&A question, if room
        if fits(question):
            chosen.append(question)
    return chosen


def _telling(facts: ProductFacts) -> ProductFacts:
    """The facts with only the attributes worth a first question: not a "false" or "no" (a document
    has no batteries to ask about), not all zeros ("width: 0 inches; length: 0 inches"), not the brand
    (the title says it)."""
    attributes = tuple((name, value) for name, value in facts.attributes
                       if name not in _DULL_ATTRIBUTES and value.strip().lower() not in _NOTHING_VALUES
                       and not (_DIGIT.search(value) and not _NONZERO_DIGIT.search(value)))
    return replace(facts, attributes=attributes)


def aspect_question(review_texts: Sequence[str]) -> str | None:
    """"What do customers say about the <aspect>?" for the aspect most review texts mention, at least
    MIN_ASPECT_REVIEWS of them (a specific aspect before a generic one; ties keep the list order)."""
    texts = [text.lower() for text in review_texts[:MAX_REVIEWS_SCANNED]]
    for group in (_ASPECTS, _GENERIC_ASPECTS):
        counts = [(sum(1 for t in texts if _ASPECT_RE[label].search(t)), -i, label)
                  for i, (label, _) in enumerate(group)]
        best, _, label = max(counts)
        if best >= MIN_ASPECT_REVIEWS:
            return f"What do customers say about the {label}?"
    return None


def community_questions(page: Product | None) -> list[str]:
    """The page's community questions that are short and general, as shown, in page order.

    Kept: one question (nothing after its question mark), opening with a question word, at most
    MAX_QA_CHARS characters and MAX_QA_CONTENT_WORDS content words, no digits (model numbers, the
    asker's sizes), nothing personal or addressed to the seller, and an answer that is not "not sure".
    """
    if page is None:
        return []
    found: list[str] = []
    for qa in page.community_qa:
        question = normalize_question(qa.question)
        answered = not _NON_ANSWER.search(qa.answer.lower())
        if question and question not in found and _general(question.lower()) and answered:
            found.append(question)
    return found


def _general(question: str) -> bool:
    """Whether a (normalized, lower-cased) community question is short and general."""
    one_question = "?" not in question[:-1] and "." not in question and " if so" not in question
    short = len(question) <= MAX_QA_CHARS and 0 < len(content_words(question)) <= MAX_QA_CONTENT_WORDS
    about_the_product = not (_DIGIT.search(question) or _PERSONAL.search(question) or _TO_SELLER.search(question))
    return bool(_OPENING.match(question)) and one_question and short and about_the_product


def normalize_question(text: str) -> str:
    """A community question as shown: one line, "?" once at the end, the first letter capitalised.

    The source is lower-case; the shopper's other words are kept as written.
    """
    question = _SPACES_BEFORE_MARK.sub(r"\1", " ".join(text.split())).rstrip("?!. ")
    return question[:1].upper() + question[1:] + "?" if question else ""

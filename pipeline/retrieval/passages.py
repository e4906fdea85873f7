"""What goes into the index: one product page becomes many small passages.

Kinds (the `kind` payload field):

    product      title + key attributes + bullets; one per product, for catalog-wide search
    attribute    one attribute rendered as "name: value" (e.g. "item weight: 0.4 pounds")
    bullet       one bullet-point sentence
    description  one description sentence
    review       one review sentence (the catalog keeps reviews sentence by sentence), or a few
                 sentences of a whole review from the review sets (products without a page)
    qa           one community Q&A pair, "question ... answer ..."

Every passage's point id is uuid5(kind, product id, text), so ingesting the same catalog twice
writes the same points (an idempotent upsert), and two products that share a sentence still get two
points. The functions here are pure; `index.py` embeds and stores them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

PRODUCT = "product"
ATTRIBUTE = "attribute"
BULLET = "bullet"
DESCRIPTION = "description"
REVIEW = "review"
QA = "qa"
KINDS: tuple[str, ...] = (PRODUCT, ATTRIBUTE, BULLET, DESCRIPTION, REVIEW, QA)
EVIDENCE_KINDS: tuple[str, ...] = (ATTRIBUTE, BULLET, DESCRIPTION, REVIEW, QA)
"""The kinds that are sentences of a product page (everything but the product summary)."""

PayloadValue = str | int | float | bool
# A fixed namespace: changing it would re-key every stored point.
_NAMESPACE = uuid.UUID("6f1c2a7e-3b9d-5c40-9a1e-52a1c0de0a15")
# Attributes that describe a product well in its summary passage; others (part numbers, "batteries
# included") stay attribute passages only.
_KEY_ATTRIBUTES = ("brand", "color", "material", "size", "item_weight", "item_dimensions", "style")
_SUMMARY_MAX_BULLETS = 5
_SPACES = re.compile(r"\s+")


class AttributeLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class QAPairLike(Protocol):
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...


class ProductPage(Protocol):
    """What passages need from a product (pipeline.catalog.Product has this shape)."""

    @property
    def asin(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def attributes(self) -> Sequence[AttributeLike]: ...
    @property
    def bullets(self) -> Sequence[str]: ...
    @property
    def description(self) -> Sequence[str]: ...
    @property
    def reviews(self) -> Sequence[str]: ...
    @property
    def community_qa(self) -> Sequence[QAPairLike]: ...


@dataclass(frozen=True)
class Passage:
    """One indexed text. `payload` holds the filterable fields stored beside the vectors."""

    point_id: str
    kind: str
    product_id: str
    text: str
    payload: Mapping[str, PayloadValue] = field(default_factory=dict)


def point_id(kind: str, product_id: str, text: str) -> str:
    """The deterministic point id (a uuid5 string) of a passage."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\x1f{product_id}\x1f{normalize(text)}"))


def normalize(text: str) -> str:
    """Lower-case and collapse whitespace; how passage texts are compared and keyed."""
    return _SPACES.sub(" ", text).strip().lower()


def attribute_text(name: str, value: str) -> str:
    """"item_weight", "0.4 pounds" -> "item weight: 0.4 pounds" (words embed better than snake_case)."""
    return f"{name.replace('_', ' ')}: {value}"


def qa_text(question: str, answer: str) -> str:
    return f"question: {question.strip()} answer: {answer.strip()}"


def qa_answer(text: str) -> str | None:
    """The answer part of a `qa_text` passage; None for a passage of another kind."""
    if not text.startswith("question: ") or " answer: " not in text:
        return None
    return text.split(" answer: ", 1)[1]


def product_summary(page: ProductPage) -> str:
    """Title, key attributes and the first bullets: the text of the product's `product` passage."""
    parts = [page.title.strip()]
    for attr in page.attributes:
        if attr.name in _KEY_ATTRIBUTES and attr.value:
            parts.append(attribute_text(attr.name, attr.value))
    parts.extend(bullet.strip() for bullet in page.bullets[:_SUMMARY_MAX_BULLETS])
    return ". ".join(part for part in parts if part)


def summary_title(summary: str) -> str:
    """The title a `product` passage's text opens with (the inverse of `product_summary`'s first part)."""
    return summary.split(". ", 1)[0]


def passages_for(
    page: ProductPage,
    category: str | None = None,
    extra_payload: Mapping[str, PayloadValue] | None = None,
) -> Iterator[Passage]:
    """Every passage of one product, each at most once (duplicate sentences on a page collapse).

    `category` and `extra_payload` (e.g. price_cents, rating, in_stock from the store) are copied
    into every passage's payload so searches can filter on them.
    """
    base: dict[str, PayloadValue] = dict(extra_payload or {})
    if category:
        base["category"] = category
    seen: set[str] = set()

    def make(kind: str, text: str, **more: PayloadValue) -> Passage | None:
        pid = point_id(kind, page.asin, text)
        if not text.strip() or pid in seen:
            return None
        seen.add(pid)
        payload = {**base, **more, "kind": kind, "product_id": page.asin, "text": text}
        return Passage(point_id=pid, kind=kind, product_id=page.asin, text=text, payload=payload)

    candidates: list[Passage | None] = [make(PRODUCT, product_summary(page), title=page.title)]
    candidates += [
        make(ATTRIBUTE, attribute_text(a.name, a.value), attr_name=a.name)
        for a in page.attributes
        if a.value
    ]
    candidates += [make(BULLET, text) for text in page.bullets]
    candidates += [make(DESCRIPTION, text) for text in page.description]
    candidates += [make(REVIEW, text) for text in page.reviews]
    candidates += [make(QA, qa_text(qa.question, qa.answer)) for qa in page.community_qa]
    yield from (p for p in candidates if p is not None)


REVIEW_CHUNK_CHARS = 300
"""Whole reviews are cut into chunks of whole sentences up to about this length: MiniLM reads only
256 word pieces, and a shopper's question usually concerns one or two sentences of a review."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def review_chunks(text: str, max_chars: int = REVIEW_CHUNK_CHARS) -> list[str]:
    """`text` as consecutive chunks of whole sentences (a longer sentence stands alone)."""
    chunks: list[str] = []
    current = ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if current and len(current) + 1 + len(sentence) > max_chars:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        chunks.append(current)
    return chunks


def review_set_passages(asin: str, reviews: Sequence[str], category: str | None = None) -> Iterator[Passage]:
    """Review passages of a product known only by its reviews (catalog/review_sets.jsonl)."""
    base: dict[str, PayloadValue] = {"category": category} if category else {}
    seen: set[str] = set()
    for review in reviews:
        for text in review_chunks(review):
            pid = point_id(REVIEW, asin, text)
            if pid in seen:
                continue
            seen.add(pid)
            payload = {**base, "kind": REVIEW, "product_id": asin, "text": text}
            yield Passage(point_id=pid, kind=REVIEW, product_id=asin, text=text, payload=payload)

"""One training example: the prompt the generate stage serves, and the answer the model should write.

The prompt is never written here. A real `EvidenceBundle` (plan, request, evidence items) is built
and handed to `pipeline.generation.prompt.build_messages(..., examples=False)`, the function the
generate stage calls, so a change to the served prompt changes the training prompt with it. Only the
worked example exchange is left out: the tuned model learns the job from the data, and the example
leaked into answers ("Most like how fast it boils", issue 14).

Answers are written in the canonical markup the generation grammar admits (pipeline/markup/grammar.py):
a directive first where the intent calls for one, plain text without '<', then
`<suggest>a|b</suggest>` with follow-ups hydrate would keep (pipeline/markup/suggestions.py).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.catalog import Product
from pipeline.generation.prompt import build_messages, clean
from pipeline.llm.client import ChatMessage
from pipeline.markup.suggestions import ProductFacts, TurnFacts, candidates
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, UserTurn
from pipeline.store.records import StoreProduct

MAX_SUGGESTIONS = 2
"""Follow-ups an answer ends with: the system prompt asks for two."""
_QUESTION = re.compile(r"\nQUESTION: (.*)\Z", re.S)
_SUGGEST_BAD = re.compile(r"[|<>\"\n]")
_TITLE_CUT = re.compile(r"\s*(?:,|\(|\[| - | – | \| |/ )")
_DANGLING = frozenset({"with", "for", "and", "the", "of", "in", "to", "by", "from", "a", "an", "&", "-", "or", "on"})
# Attribute names that read as a verb phrase make odd generated questions ("What is its includes
# remote?"); hydrate may still offer them, but the model is not taught to write them.
_ODD_FOLLOW_UP = re.compile(r"^What (?:is|are) (?:its|the|the \w+ one's) (?:is|includes?|has|have|supports?|contains?"
                            r"|requires?|can|uses?|specific)\b")


@dataclass(frozen=True)
class Example:
    """One chat exchange to train on; `ref` names the row or product it came from."""

    messages: tuple[ChatMessage, ...]
    source: str
    kind: str
    ref: str

    def to_json(self) -> dict[str, Any]:
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages],
                "source": self.source, "kind": self.kind, "ref": self.ref}

    @property
    def answer(self) -> str:
        return self.messages[-1].content

    @property
    def question(self) -> str:
        """The shopper's request as the prompt shows it (the QUESTION line of the last user turn)."""
        return question_of(self.messages[-2].content)


def question_of(user_content: str) -> str:
    match = _QUESTION.search(user_content)
    return match.group(1) if match else user_content


def rng_for(seed: int, name: str) -> random.Random:
    """A generator per builder, so adding examples to one source never reshuffles another."""
    digest = hashlib.sha256(f"{seed}|{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def bundle_for(question: str, items: Sequence[EvidenceItem], intent: str, *, page: str | None = None,
               resolved: Sequence[str] = ()) -> EvidenceBundle:
    """The evidence bundle the retrieve stage would hand to generate for this request."""
    request = UserTurn("train", 0, 0, "train", question, page_product_id=page, client="replay")
    plan = Plan("train", 0, 0, request, intent, [], resolved_product_ids=list(resolved))
    return EvidenceBundle("train", 0, 0, plan, list(items))


def exchange(bundle: EvidenceBundle, answer: str, source: str, kind: str, ref: str) -> Example:
    """The served prompt for `bundle`, without the worked example, followed by `answer`."""
    messages = build_messages(bundle, None, examples=False)
    return Example((*messages, ChatMessage("assistant", answer)), source, kind, ref)


def sentence(text: str) -> str:
    """Evidence text as answer text: one line, no markup brackets, first letter upper case."""
    text = clean(text).strip()
    return text[:1].upper() + text[1:] if text else text


def with_stop(text: str) -> str:
    """`text` ending in sentence punctuation."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?" else text + "."


def short_title(title: str, max_words: int = 6) -> str:
    """A product title as a shopper would say it: up to the first comma or bracket, a few words, not
    ending on a word like "with" or "for"."""
    head = _TITLE_CUT.split(clean(title), maxsplit=1)[0].strip() or clean(title)
    words = head.split()[:max_words]
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words)


def suggest_markup(questions: Sequence[str]) -> str:
    """`<suggest>a|b</suggest>` (with a leading space), or "" when there is nothing to suggest."""
    items = [" ".join(_SUGGEST_BAD.sub(" ", q).split()) for q in questions]
    items = [q for q in dict.fromkeys(items) if q][:MAX_SUGGESTIONS]
    return f" <suggest>{'|'.join(items)}</suggest>" if items else ""


def facts_for(product: Product, category: str = "other", *, price_points: int = 90) -> ProductFacts:
    """What hydrate's suggestion filter would know of a catalog product (every product has a price
    history in the store)."""
    record = StoreProduct(product.asin, product.title, category, "inferred", "page")
    return ProductFacts.from_records(product.asin, record, product, product.reviews, price_points)


def review_only_facts(asin: str, reviews: int) -> ProductFacts:
    """A product known only by its reviews (the review sets)."""
    record = StoreProduct(asin, asin, "other", "inferred", "review_only")
    return ProductFacts.from_records(asin, record, None, ["x"] * reviews, 90)


def follow_ups(shown: Sequence[str], facts: Mapping[str, ProductFacts], question: str, intent: str,
               page: str | None) -> list[str]:
    """Follow-ups the catalog can answer, as hydrate generates them for this turn."""
    turn = TurnFacts(shown=tuple(shown), grounded=frozenset(facts), question=question, intent=intent,
                     page_product_id=page, page_known=True)
    return [q for q in candidates(turn, facts) if not _ODD_FOLLOW_UP.match(q)][:MAX_SUGGESTIONS]

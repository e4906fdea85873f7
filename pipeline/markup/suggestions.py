"""Follow-up suggestions the catalog can answer (docs/markup.md, "Follow-up suggestions").

A follow-up is only worth offering if the next turn can answer it. This core decides that by
planning the suggestion the way the next turn would: the planner's own reference resolution
(pipeline.planner.history.resolve, with this turn's products as the last turn shown) and its
deterministic rules (pipeline.planner.rules.classify, default product_question / product_search as in
plan_turn's rules path). A suggestion is answerable when every way the next turn could be planned
gives an intent in ANSWERABLE_INTENTS whose evidence the store holds for the resolved products:

    product_question  each product has a page, and a content word of the question is on it
    review_summary    each product has review text
    price_history     each product has a price history
    comparison        at least two products, all known to the store

Other intents (search, cart, orders, advice) are never suggested: their answer is not a fact the
catalog holds about the products on screen. When the page the shopper is on is not known, every
possible page (none, or any grounded product) must pass; ordinals ("the second one") resolve before
the page does, so they are used whenever "it" could mean the page rather than the product shown.

    facts = {pid: ProductFacts.from_records(...)}
    result = suggest(TurnFacts(shown=("B07A",), grounded=frozenset({"B07A"})), facts, written=[...])
    result.items       # 0 to MAX_SUGGESTIONS questions: surviving model-written ones first

Pure and deterministic: the same turn and facts give the same items in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.catalog import Product
from pipeline.messages import ConversationState, TurnMemory
from pipeline.planner import intents as I
from pipeline.planner import rules
from pipeline.planner.history import resolve
from pipeline.store.records import StoreProduct

MAX_SUGGESTIONS = 3
MAX_TARGETS = 3
"""Products shown whose follow-ups are generated (the first ones shown)."""
ANSWERABLE_INTENTS = frozenset({I.PRODUCT_QUESTION, I.REVIEW_SUMMARY, I.PRICE_HISTORY, I.COMPARISON})
MAX_ITEM_CHARS = 120

_ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth")
# Attributes worth asking about, best first; a template keeps the attribute's own words in the question
# so retrieval finds its "name: value" passage. Others not excluded follow, alphabetically.
_TEMPLATES: dict[str, tuple[str, str]] = {
    # attribute: (question about "it", question about a named reference {ref})
    "item_weight": ("What is its weight?", "What is the weight of {ref}?"),
    "item_dimensions": ("What are its dimensions?", "What are the dimensions of {ref}?"),
    "material": ("What material is it made of?", "What material is {ref} made of?"),
    "size": ("What size is it?", "What size is {ref}?"),
    "color": ("What color is it?", "What color is {ref}?"),
    "batteries_included": ("Are batteries included with it?", "Are batteries included with {ref}?"),
    "batteries_required": ("Does it need batteries?", "Does {ref} need batteries?"),
    "warranty_description": ("What warranty does it have?", "What warranty does {ref} have?"),
    "compatible_devices": ("Which devices is it compatible with?", "Which devices is {ref} compatible with?"),
    "included_components": ("What components are included with it?", "What components are included with {ref}?"),
    "is_assembly_required": ("Is assembly required for it?", "Is assembly required for {ref}?"),
    "number_of_pieces": ("How many pieces does it have?", "How many pieces does {ref} have?"),
    "item_package_weight": ("What is its package weight?", "What is the package weight of {ref}?"),
    "item_package_dimensions": ("What are its package dimensions?", "What are the package dimensions of {ref}?"),
}
_SKIP_ATTRIBUTES = frozenset({
    "part_number", "item_part_number", "model_number", "manufacturer", "binding", "cpsia_cautionary_statement",
    "country_as_labeled", "is_heat_sensitive", "size_map", "total_eaches", "unit_count", "street_date",
    "long_term_storage_information", "specification_met", "contains_liquid_contents", "publication_date",
    "special_size_type", "safety_warning", "model_year", "item_type_name", "external_testing_certification",
})
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about what a question asks: function words, references, question verbs.
_STOP = frozenset("""
a about after all also am an and any are as at be been before being both but by can could did do does
doing for from get got had has have how i if in into is it its it's me more most my no not of on one ones
or other our out over own same should so some such than that the their them then there these they this
those to too under up very was we were what when where which while who whom why will with would you your
first second third fourth fifth last product item thing good well really much many tell know like use
used using work works worth need needs say says said think
""".split())


@dataclass(frozen=True)
class ProductFacts:
    """What the store and catalog hold about one product, as far as suggestions need it."""

    product_id: str
    known: bool
    """The store has the product (a card can be shown)."""
    attributes: tuple[tuple[str, str], ...] = ()
    """(catalog name, value) with a non-empty value, in page order."""
    page_words: frozenset[str] = frozenset()
    """Lower-case words of the page: title, attribute names and values, bullets, description, Q&A."""
    reviews: int = 0
    """Review texts the catalog has."""
    price_points: int = 0
    """Days of price history the store has."""

    @classmethod
    def from_records(cls, product_id: str, product: StoreProduct | None, page: Product | None,
                     review_texts: Sequence[str] = (), price_points: int = 0) -> ProductFacts:
        """Facts from the records hydrate reads; a record that could not be read is passed as missing."""
        attributes: tuple[tuple[str, str], ...] = ()
        words: set[str] = set()
        if page is not None:
            attributes = tuple((a.name, a.value) for a in page.attributes if a.value.strip())
            texts = [page.title, *page.bullets, *page.description]
            texts += [f"{a.name.replace('_', ' ')} {a.value}" for a in page.attributes if a.value.strip()]
            texts += [f"{qa.question} {qa.answer}" for qa in page.community_qa]
            words = {w for text in texts for w in _WORD.findall(text.lower())}
        return cls(product_id, product is not None, attributes, frozenset(words), len(review_texts), price_points)


@dataclass(frozen=True)
class TurnFacts:
    """The turn the suggestions end."""

    shown: tuple[str, ...]
    """Products the turn showed, in first-shown order (what the next turn's "the second one" means)."""
    grounded: frozenset[str] = frozenset()
    """The turn's grounded ids: when the page is unknown, each is a page the shopper may be on."""
    question: str = ""
    intent: str = ""
    page_product_id: str | None = None
    page_known: bool = False
    """Whether `page_product_id` is known (None then means: on no product page)."""


@dataclass(frozen=True)
class Suggestions:
    items: list[str] = field(default_factory=list)
    written_kept: int = 0
    written_dropped: int = 0
    """Model-written suggestions left out because the next turn could not answer them."""
    generated: int = 0


def suggest(turn: TurnFacts, facts: Mapping[str, ProductFacts], written: Iterable[str] = (),
            limit: int = MAX_SUGGESTIONS) -> Suggestions:
    """Up to `limit` answerable follow-ups: the model's answerable ones first, then generated ones."""
    items: list[str] = []
    seen: set[str] = set()
    kept = dropped = generated = 0
    for text in written:
        question = _clean(text)
        if len(items) >= limit:
            break
        if not question or question.lower() in seen:
            continue
        seen.add(question.lower())
        plans = list(_next_turn_plans(question, turn))  # planned once for both checks
        if _answerable(question, plans, facts) and not _repeats(plans, turn):
            items.append(question)
            kept += 1
        else:
            dropped += 1
    for question in candidates(turn, facts):
        if len(items) >= limit:
            break
        if question.lower() not in seen:
            seen.add(question.lower())
            items.append(question)
            generated += 1
    return Suggestions(items, kept, dropped, generated)


def answerable(question: str, turn: TurnFacts, facts: Mapping[str, ProductFacts]) -> bool:
    """Whether every way the next turn could plan `question` gives an intent the catalog can answer."""
    return _answerable(question, list(_next_turn_plans(question, turn)), facts)


def _answerable(question: str, plans: Sequence[tuple[str, list[str]]], facts: Mapping[str, ProductFacts]) -> bool:
    return bool(plans) and all(_has_evidence(intent, ids, question, facts) for intent, ids in plans)


def candidates(turn: TurnFacts, facts: Mapping[str, ProductFacts]) -> list[str]:
    """Generated follow-ups, each answerable and about the product(s) it names; best first.

    One of each kind first, then the rest; a review, price or comparison turn's own topic comes last, and
    not at all about the products it was about (`asks_again`).
    """
    targets = [pid for pid in turn.shown if facts.get(pid, _UNKNOWN).known][:MAX_TARGETS]
    if not targets and turn.page_known and turn.page_product_id and facts.get(turn.page_product_id, _UNKNOWN).known:
        targets = [turn.page_product_id]
    topic = _TOPIC_OF_INTENT.get(turn.intent)
    per_kind = [list(_kind(kind, targets, turn, facts)) for kind in _kind_order(turn.intent) if kind != topic]
    ordered = [group[0] for group in per_kind if group] + [q for group in per_kind for q in group[1:]]
    if topic is not None:
        ordered += (q for q in _kind(topic, targets, turn, facts) if not asks_again(q, turn))
    return list(dict.fromkeys(ordered))


def asks_again(question: str, turn: TurnFacts) -> bool:
    """Whether `question` would plan as this review, price or comparison turn did, about the same
    products: the same answer again. After "what do customers say about this?" the follow-ups offered
    "What do customers say about it?"."""
    return turn.intent in _TOPIC_OF_INTENT and _repeats(list(_next_turn_plans(question, turn)), turn)


def _repeats(plans: Sequence[tuple[str, list[str]]], turn: TurnFacts) -> bool:
    return (turn.intent in _TOPIC_OF_INTENT and bool(plans)
            and all(intent == turn.intent and ids == list(turn.shown) for intent, ids in plans))


# ---- the next turn, as the planner's rules would plan it -----------------------------------------

def _next_turn_plans(question: str, turn: TurnFacts) -> Iterator[tuple[str, list[str]]]:
    """(intent, resolved products) for each page the shopper may be on when asking `question`."""
    state = None
    if turn.shown:
        state = ConversationState("suggest", 1, 0, "", [TurnMemory(0, turn.question, "", list(turn.shown))])
    pages: list[str | None] = [turn.page_product_id] if turn.page_known else [None, *sorted(turn.grounded)]
    lowered = question.lower()
    for page in pages:
        context = resolve(question, page, state)
        verdict = rules.classify(lowered, context)
        intent = verdict.intent or (I.PRODUCT_QUESTION if context.resolved else I.PRODUCT_SEARCH)
        yield intent, list(context.resolved)


def _has_evidence(intent: str, ids: Sequence[str], question: str, facts: Mapping[str, ProductFacts]) -> bool:
    if intent not in ANSWERABLE_INTENTS or not ids:
        return False
    found = [facts.get(pid, _UNKNOWN) for pid in ids]
    if not all(f.known for f in found):
        return False
    if intent == I.COMPARISON:
        return len(found) >= 2
    if intent == I.REVIEW_SUMMARY:
        return all(f.reviews > 0 for f in found)
    if intent == I.PRICE_HISTORY:
        return all(f.price_points > 0 for f in found)
    words = content_words(question)
    return bool(words) and all(any(_on_page(w, f.page_words) for w in words) for f in found)


def content_words(question: str) -> list[str]:
    """The words of a question that say what it asks (no function words, references or verbs)."""
    return [w for w in _WORD.findall(question.lower()) if len(w) > 2 and w not in _STOP and not w.isdigit()]


def same_topic(first: str, second: str, ignore: frozenset[str] = frozenset()) -> bool:
    """Whether two questions share a content word not in `ignore` ("weigh" and "weight" count as shared)."""
    words = frozenset(w for w in content_words(second) if w not in ignore)
    return any(_on_page(w, words) for w in content_words(first) if w not in ignore)


def _on_page(word: str, page_words: frozenset[str]) -> bool:
    # "weigh" and "weight", "battery" and "batteries": a shared stem of 5+ letters counts.
    if word in page_words:
        return True
    stem = word[:5]
    return len(stem) == 5 and any(p.startswith(stem) for p in page_words)


# ---- generated candidates -------------------------------------------------------------------------

# A product question is followed well by another attribute (the asked one is left out), so only these
# topics move to the end.
_TOPIC_OF_INTENT = {I.REVIEW_SUMMARY: "reviews", I.PRICE_HISTORY: "price", I.COMPARISON: "compare"}
_EXPECTED = {"attribute": I.PRODUCT_QUESTION, "reviews": I.REVIEW_SUMMARY, "price": I.PRICE_HISTORY,
             "compare": I.COMPARISON}


def _kind_order(intent: str) -> list[str]:
    """Kinds in the order offered: a search or comparison turn leads with comparing."""
    if intent in (I.PRODUCT_SEARCH, I.COMPARISON):
        order = ["compare", "reviews", "attribute", "price"]
    elif intent == I.REVIEW_SUMMARY:
        order = ["attribute", "price", "compare", "reviews"]
    else:
        order = ["attribute", "reviews", "price", "compare"]
    return order


def _kind(kind: str, targets: Sequence[str], turn: TurnFacts, facts: Mapping[str, ProductFacts]) -> Iterator[str]:
    if kind == "compare":
        if len(targets) >= 2:
            yield from _checked(["How do the first and second ones compare?"], targets[:2], kind, turn, facts)
        return
    for pid in targets:
        f = facts[pid]
        if kind == "reviews" and f.reviews > 0:
            yield from _checked(_phrasings(pid, turn, "What do customers say about it?",
                                           "What do customers say about {ref}?"), [pid], kind, turn, facts)
        elif kind == "price" and f.price_points > 0:
            yield from _checked(_phrasings(pid, turn, "Has it been cheaper before?", "Has {ref} been cheaper before?"),
                                [pid], kind, turn, facts)
        elif kind == "attribute":
            for name in _attributes_to_ask(f, turn.question)[:2]:
                yield from _checked(_phrasings(pid, turn, *_attribute_templates(name)), [pid], kind, turn, facts)


def _phrasings(pid: str, turn: TurnFacts, about_it: str, *about_ref: str) -> list[str]:
    """The question about "it", then about "the n-th one" (which resolves before the page does), in
    each wording offered (the planner reads "the package ..." as an order, "the first one's package"
    not)."""
    out = [about_it]
    if pid in turn.shown and turn.shown.index(pid) < len(_ORDINAL_WORDS):
        ref = f"the {_ORDINAL_WORDS[turn.shown.index(pid)]} one"
        out += [template.format(ref=ref) for template in about_ref]
    return out


def _checked(phrasings: Sequence[str], ids: Sequence[str], kind: str, turn: TurnFacts,
             facts: Mapping[str, ProductFacts]) -> Iterator[str]:
    """The first phrasing the next turn plans as `kind` about exactly `ids`, and can answer."""
    for text in phrasings:
        if plans_as(text, _EXPECTED[kind], ids, turn, facts):
            yield text
            return


def plans_as(question: str, intent: str, ids: Sequence[str], turn: TurnFacts,
             facts: Mapping[str, ProductFacts]) -> bool:
    """Whether every way the next turn could plan `question` gives `intent` about exactly `ids`, with
    the evidence that intent needs."""
    plans = list(_next_turn_plans(question, turn))
    return bool(plans) and all(intent_ == intent and ids_ == list(ids) and _has_evidence(intent_, ids_, question, facts)
                               for intent_, ids_ in plans)


def questions_about(kind: str, pid: str, turn: TurnFacts, facts: Mapping[str, ProductFacts]) -> list[str]:
    """Generated questions of one kind ("attribute", "reviews" or "price") about one product, best first."""
    return list(_kind(kind, [pid], turn, facts))


def _attributes_to_ask(f: ProductFacts, question: str) -> list[str]:
    """Attributes of the product worth a question, best first; not the one just asked about."""
    asked = set(content_words(question))
    names = [name for name, _ in f.attributes if name not in _SKIP_ATTRIBUTES]
    names = [n for n in dict.fromkeys(names) if not set(_attribute_words(n)) <= asked]
    ranked = [n for n in _TEMPLATES if n in names] + sorted(n for n in names if n not in _TEMPLATES)
    if "item_weight" in ranked and "item_package_weight" in ranked:
        ranked.remove("item_package_weight")
    if "item_dimensions" in ranked and "item_package_dimensions" in ranked:
        ranked.remove("item_package_dimensions")
    return ranked


def _attribute_words(name: str) -> list[str]:
    words = _WORD.findall(name.lower().replace("_", " "))
    return [w for w in words if w not in _STOP and w not in ("item", "description")]


def _attribute_templates(name: str) -> tuple[str, ...]:
    """(about "it", about {ref}, about {ref} possessive)."""
    words = " ".join(w for w in name.lower().split("_") if w and w not in ("item", "description")) or name
    verb = "are" if words.endswith("s") and not words.endswith("ss") else "is"
    possessive = f"What {verb} {{ref}}'s {words}?"
    if name in _TEMPLATES:
        return (*_TEMPLATES[name], possessive)
    return f"What is its {words}?", f"What is the {words} of {{ref}}?", possessive


def _clean(text: str) -> str:
    """A model-written suggestion as shown: one line, no markup brackets, bounded length."""
    cleaned = " ".join(text.replace("<", " ").replace(">", " ").split())
    return cleaned[:MAX_ITEM_CHARS].strip()


_UNKNOWN = ProductFacts("", known=False)

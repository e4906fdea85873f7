"""Catalog exchanges that open with the display directive their intent calls for (docs/markup.md).

For each intent with a directive (a product card, a carousel, a comparison table, the reviews block,
the price-history chart, the add-to-cart and price-alert buttons) the request is answered the way the
markup evaluation (pipeline/eval/markup_scoring.py) counts as useful: the directive first, over real catalog
ids taken from that example's own evidence, then one sentence that only restates the evidence (a
title, two review sentences, the store's simulated prices), then two follow-ups hydrate would keep.

The evidence is what the retrieve stage serves for the intent's steps (pipeline/planner/steps.py):
product passages written by pipeline.retrieval.passages.product_summary, review sentences, and the
store's offer and price-history sentences (pipeline/store/sentences.py) for prices made by the
store's own simulator, so the numbers are those a shopper would see for that product.

Products of the visible ePQA set are never used (holdout.py). Searches and comparisons group products
whose short title ends in the same noun ("... kitchen faucet", "... paint sprayer"); a search's
evidence also holds a few other products that the carousel leaves out, and comparisons are topped up
with two products of one inferred category, asked about without names ("compare these for me").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.catalog import Product, read_catalog
from pipeline.categories import infer_category
from pipeline.eval.answers import abstains
from pipeline.markup.suggestions import ProductFacts
from pipeline.messages import EvidenceItem
from pipeline.money import format_money
from pipeline.retrieval.passages import product_summary
from pipeline.store.records import PricePoint
from pipeline.store.sentences import offer_sentence, price_history_sentence
from pipeline.store.simulator import SimulatedProduct, SimulationConfig, simulate_product
from pipeline.training.examples import (Example, bundle_for, exchange, facts_for, follow_ups, rng_for,
                                        sentence, short_title, suggest_markup)
from pipeline.training.holdout import EpqaHoldout

PER_INTENT = 180
"""Exchanges per directive intent at most (fewer where the catalog has fewer fitting products)."""
HISTORY_DAYS = 90
"""Days of price history the retrieve stage reads for a price-history question."""
_TITLE_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
_NOT_A_THING = frozenset("""
with from that this your black white blue green pink purple gray grey silver gold brown orange yellow
clear small large medium mini inch inches pack count piece pieces pair size color style model series
edition version original genuine replacement compatible discontinued manufacturer packaging retail
premium professional heavy duty portable new plus ultra pro high quality adjustable universal
women womens mens kids adult boys girls baby unisex years months multi natural steel plastic wood
metal leather cotton light long short digital electric fits fit made usa breathable stainless show
state led dogs mac iphone blend top set kit system case pads cover bag cup seat board adapter foot
""".split())


@dataclass(frozen=True)
class _Page:
    product: Product
    category: str
    facts: ProductFacts
    sim: SimulatedProduct

    @property
    def asin(self) -> str:
        return self.product.asin

    @property
    def name(self) -> str:
        return short_title(self.product.title)

    def summary(self) -> EvidenceItem:
        return EvidenceItem("product", product_summary(self.product), 1.0, self.asin, f"product:{self.asin}")

    def offer(self) -> EvidenceItem:
        return EvidenceItem("offer", offer_sentence(self.product.title, self.sim.offer), 1.0, self.asin,
                            f"offer:{self.asin}")

    def history(self) -> list[PricePoint]:
        return list(self.sim.history[-HISTORY_DAYS:])

    def reviews(self, limit: int) -> list[EvidenceItem]:
        return [EvidenceItem("review", text, 1.0, self.asin, f"review:{self.asin}:{n}")
                for n, text in enumerate(self.product.reviews[:limit])]


def catalog_pages(shared_data: Path, holdout: EpqaHoldout) -> list[_Page]:
    """Catalog products outside the visible ePQA set, with their simulated store data, by asin."""
    pages = []
    for product in sorted(read_catalog(shared_data).products, key=lambda p: p.asin):
        if product.asin in holdout.asins or not product.title.strip():
            continue
        category = infer_category(product)
        pages.append(_Page(product, category, facts_for(product, category), simulate_product(product.asin, category, SimulationConfig())))
    return pages


def _head_words(page: _Page) -> list[str]:
    """The short title's words in lower case; the last one is usually the kind of thing it is."""
    return _TITLE_WORD.findall(short_title(page.product.title, 8).lower())


def title_groups(pages: Sequence[_Page]) -> dict[str, list[_Page]]:
    """Products whose short title ends in the same noun ("... kitchen faucet", "... paint sprayer"),
    2-12 per group, one product per distinct short title, by noun."""
    groups: dict[str, dict[str, _Page]] = defaultdict(dict)
    for page in pages:
        words = _head_words(page)
        if len(words) >= 2 and words[-1] not in _NOT_A_THING:
            groups[words[-1]].setdefault(page.name.lower(), page)
    return {w: list(g.values()) for w, g in sorted(groups.items()) if 2 <= len(g) <= 12}


def search_phrase(shown: Sequence[_Page]) -> str:
    """What a shopper would search for to find these products: the last one or two title words they
    share ("kitchen faucet", "sprayer")."""
    tails = [_head_words(p) for p in shown]
    shared = tails[0][-1:]
    if all(len(t) >= 2 for t in tails) and len({t[-2] for t in tails}) == 1 and tails[0][-2] not in _NOT_A_THING:
        shared = tails[0][-2:]
    return " ".join(shared)


def _end(page_ids: Sequence[str], pages: Sequence[_Page], question: str, intent: str, page: str | None) -> str:
    facts = {p.asin: p.facts for p in pages}
    return suggest_markup(follow_ups(page_ids, facts, question, intent, page))


def card_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    rng = rng_for(seed, "markup-card")
    on_page = ("tell me about this one", "what is this product?", "what can you tell me about this item?",
               "give me the key facts about this", "describe this product for me")
    named = ("tell me about the {name}", "show me the {name}", "what is the {name}?")
    for page in rng.sample(list(pages), min(PER_INTENT, len(pages))):
        use_page = rng.random() < 0.6
        question = rng.choice(on_page) if use_page else rng.choice(named).format(name=page.name.lower())
        items = [page.summary(), *page.reviews(rng.randint(0, 2))]
        where = page.asin if use_page else None
        answer = f'<product id="{page.asin}"/> This is the {short_title(page.product.title, 10)}.'
        answer += _end([page.asin], [page], question, "product_question", where)
        yield exchange(bundle_for(question, items, "product_question", page=where), answer, "catalog", "card", page.asin)


def carousel_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    """A search answered with a carousel of the products that fit, out of a few that do not."""
    rng = rng_for(seed, "markup-carousel")
    wordings = ("show me {what} options", "i'm looking for a {what}", "do you have any {what} products?",
                "find me a good {what}", "{what} recommendations please", "which {what} products do you have?")
    groups = title_groups(pages)
    made = 0
    for _ in range(3):  # several passes: a group gives a different subset and wording each time
        for word in sorted(groups):
            if made >= PER_INTENT:
                return
            shown = rng.sample(groups[word], min(len(groups[word]), rng.randint(2, 5)))
            members = {p.asin for p in groups[word]}
            others = [p for p in rng.sample(list(pages), 6) if p.asin not in members][: rng.randint(0, 3)]
            question = rng.choice(wordings).format(what=search_phrase(shown))
            ids = [p.asin for p in shown]
            lead = "two options:" if len(shown) == 2 else f"{len(shown)} options, including"
            answer = (f'<carousel ids="{",".join(ids)}"/> Here are {lead} the {shown[0].name} and the {shown[1].name}.'
                      + _end(ids, shown, question, "product_search", None))
            bundle = bundle_for(question, [p.summary() for p in [*shown, *others]], "product_search")
            made += 1
            yield exchange(bundle, answer, "catalog", "carousel", word)


def compare_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    """Two (sometimes three) products of the same kind, compared in a table, their prices stated."""
    rng = rng_for(seed, "markup-compare")
    named = ("compare the {a} and the {b}", "{a} or {b}: which should i get?", "how does the {a} differ from the {b}?",
             "which is better, the {a} or the {b}?")
    unnamed = ("help me choose between these", "compare these for me", "how do these stack up against each other?")
    groups = title_groups(pages)
    pairs = [(word, a, b) for word, group in groups.items() for i, a in enumerate(group) for b in group[i + 1:]]
    # Topped up with products of one inferred category, as a shopper compares two products shown
    # together before: asked without names.
    by_category: dict[str, list[_Page]] = defaultdict(list)
    for page in pages:
        by_category[page.category].append(page)
    categories = sorted(c for c, group in by_category.items() if len(group) >= 2)
    while len(pairs) < PER_INTENT and categories:
        a, b = rng.sample(by_category[rng.choice(categories)], 2)
        pairs.append(("", a, b))
    for word, a, b in rng.sample(pairs, min(PER_INTENT, len(pairs))):
        chosen = [a, b]
        extra = [p for p in groups.get(word, []) if p.asin not in (a.asin, b.asin)]
        if extra and rng.random() < 0.25:
            chosen.append(rng.choice(extra))
        ids = [p.asin for p in chosen]
        if word and rng.random() < 0.5 and len(chosen) == 2:
            question = rng.choice(named).format(a=a.name.lower(), b=b.name.lower())
        else:
            question = rng.choice(unnamed)
        items = [p.summary() for p in chosen] + [p.offer() for p in chosen]
        items += [r for p in chosen for r in p.reviews(1)]
        prices = [f"the {p.name} is {format_money(p.sim.offer.price_cents, p.sim.offer.currency)}" for p in chosen]
        listed = ", ".join(prices[:-1]) + " and " + prices[-1]
        answer = f'<compare ids="{",".join(ids)}"/> {sentence(listed)} (simulated prices).'
        answer += _end(ids, chosen, question, "comparison", None)
        bundle = bundle_for(question, items, "comparison", resolved=ids)
        yield exchange(bundle, answer, "catalog", "compare", ",".join(ids))


def _quotable(page: _Page) -> list[str]:
    """Review sentences short enough to quote; none that reads like an abstention ("can't say"), which
    only the "not sure" answers may teach."""
    texts = [sentence(r.replace('"', "")).rstrip(".!? ") for r in page.product.reviews if 4 <= len(r.split()) <= 25]
    return [t for t in texts if not abstains(t)]


def review_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    rng = rng_for(seed, "markup-reviews")
    wordings = ("what do buyers think of this?", "what are reviewers saying about it?", "how do people like this one?",
                "give me the gist of the reviews", "any feedback from customers on this?")
    reviewed = [p for p in pages if len(_quotable(p)) >= 2]
    for page in rng.sample(reviewed, min(PER_INTENT, len(reviewed))):
        quotable = _quotable(page)
        first, second = rng.sample(quotable, 2)
        question = rng.choice(wordings)
        items = [*page.reviews(8), page.summary()]
        answer = f'<reviews id="{page.asin}"/> Reviewers say "{first}" and "{second}".'
        answer += _end([page.asin], [page], question, "review_summary", page.asin)
        yield exchange(bundle_for(question, items, "review_summary", page=page.asin), answer, "catalog", "reviews", page.asin)


def price_history_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    rng = rng_for(seed, "markup-price-history")
    wordings = ("has this ever been cheaper?", "how has the price of this changed?", "is the current price of this a good one?",
                "what did this cost over the last few months?", "show me the price trend for the {name}",
                "was the {name} cheaper before?")
    for page in rng.sample(list(pages), min(PER_INTENT, len(pages))):
        points = page.history()
        text = price_history_sentence(points)
        if text is None:
            continue
        low = min(points, key=lambda p: p.price_cents)
        question = rng.choice(wordings).format(name=page.name.lower())
        items = [EvidenceItem("price_history", text, 1.0, page.asin, f"history:{page.asin}"), page.offer(), page.summary()]
        answer = (f'<price-history id="{page.asin}"/> It is {format_money(points[-1].price_cents, "USD")} now; the lowest in '
                  f'the last {HISTORY_DAYS} days was {format_money(low.price_cents, "USD")} on {low.day.isoformat()} '
                  "(simulated prices).")
        answer += _end([page.asin], [page], question, "price_history", page.asin)
        yield exchange(bundle_for(question, items, "price_history", page=page.asin), answer, "catalog", "price_history",
                       page.asin)


def cart_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    rng = rng_for(seed, "markup-cart")
    wordings = ("add the {name} to my cart", "i'll take this one, add it to my cart", "put this one in my cart please",
                "add one of these to my basket", "can you add the {name} to my cart?")
    for page in rng.sample(list(pages), min(PER_INTENT, len(pages))):
        question = rng.choice(wordings).format(name=page.name.lower())
        answer = (f'<action type="add_to_cart" id="{page.asin}"/> Tap the button to add the {page.name} to your cart.'
                  + _end([page.asin], [page], question, "cart_action", page.asin))
        yield exchange(bundle_for(question, [page.summary()], "cart_action", page=page.asin, resolved=[page.asin]),
                       answer, "catalog", "add_to_cart", page.asin)


def alert_examples(pages: Sequence[_Page], seed: int) -> Iterator[Example]:
    rng = rng_for(seed, "markup-alert")
    wordings = ("let me know when this drops below ${n}", "alert me if the {name} goes under ${n}",
                "tell me when the price of this falls below ${n}", "watch this for me and tell me if it's under ${n}")
    for page in rng.sample(list(pages), min(PER_INTENT, len(pages))):
        now = page.sim.offer.price_cents
        below = max(1, int(now * rng.uniform(0.7, 0.9)) // 100)
        question = rng.choice(wordings).format(n=below, name=page.name.lower())
        answer = (f'<action type="price_alert" id="{page.asin}" below="{below}.00"/> Tap the button to get an alert when '
                  f"the {page.name} drops below {format_money(below * 100, 'USD')}; it is {format_money(now, 'USD')} now (simulated price)."
                  + _end([page.asin], [page], question, "price_alert", page.asin))
        bundle = bundle_for(question, [page.offer(), page.summary()], "price_alert", page=page.asin, resolved=[page.asin])
        yield exchange(bundle, answer, "catalog", "price_alert", page.asin)


BUILDERS = (card_examples, carousel_examples, compare_examples, review_examples, price_history_examples,
            cart_examples, alert_examples)
"""One builder per directive kind, in manifest order."""

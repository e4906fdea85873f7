""""What customers say": review summaries over the real reviews of the review sets' training part.

FewSum/Copycat (eval/review_summaries.jsonl: 8 reviews and up to 6 human summaries per product) and
OpoSum (eval/oposum_summaries_visible.jsonl: 10 reviews and 3 summaries each of all opinions, the
positive ones and the negative ones). Only products `holdout.review_part` puts in "train" are used;
the others are the evaluation part.

The evidence is what the retrieve stage serves for a product known only by its reviews: the reviews
cut into chunks of whole sentences (pipeline.retrieval.passages.review_chunks), source `review`. Every
human summary of a product is one example (the same reviews, a different request wording), and the
answer opens with the reviews block the review-summary intent calls for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.messages import EvidenceItem
from pipeline.retrieval.passages import review_chunks
from pipeline.training.examples import (Example, bundle_for, exchange, follow_ups, review_only_facts, rng_for,
                                        sentence, suggest_markup, with_stop)
from pipeline.training.holdout import FEWSUM_FILE, OPOSUM_FILE, read_jsonl, review_part

INTENT = "review_summary"
REQUESTS: dict[str, tuple[str, ...]] = {
    "review_summary": (
        "what are customers saying about this?",
        "give me a summary of the reviews",
        "how do reviewers feel about it?",
        "sum up the reviews for me",
        "what's the verdict from buyers?",
        "what do the reviews say?",
    ),
    "review_pros": (
        "what do people like about it?",
        "what do reviewers praise about this one?",
        "what are the good points buyers mention?",
    ),
    "review_cons": (
        "what do people dislike about it?",
        "what downsides do reviewers mention?",
        "what do buyers complain about?",
    ),
}
"""Request wordings per kind; none is a request of the evaluations (a unit test checks)."""


def _items(asin: str, reviews: Sequence[dict[str, Any]]) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []
    for review in reviews:
        for n, text in enumerate(review_chunks(str(review["text"]))):
            items.append(EvidenceItem("review", text, 1.0, asin, f"{review['review_id']}:{n}"))
    return items


def _examples(asin: str, source: str, items: list[EvidenceItem], summaries: Sequence[tuple[str, str]],
              seed: int) -> Iterator[Example]:
    rng = rng_for(seed, f"reviews|{asin}")
    facts = {asin: review_only_facts(asin, len(items))}
    for n, (kind, summary) in enumerate(summaries):
        shuffled = list(items)
        rng.shuffle(shuffled)
        wordings = REQUESTS[kind]
        question = wordings[(n + rng.randrange(len(wordings))) % len(wordings)]
        suggest = suggest_markup(follow_ups([asin], facts, question, INTENT, asin))
        answer = f'<reviews id="{asin}"/> {with_stop(sentence(summary))}{suggest}'
        yield exchange(bundle_for(question, shuffled, INTENT, page=asin), answer, source, kind, asin)


def fewsum_examples(shared_data: Path, seed: int) -> Iterator[Example]:
    """FewSum and Copycat summaries of the training part's products (distinct texts only)."""
    for record in read_jsonl(shared_data / FEWSUM_FILE):
        asin = str(record["asin"])
        if review_part(asin) != "train":
            continue
        summaries = list(dict.fromkeys([*record["references_fewsum"], *record["references_copycat"]]))
        yield from _examples(asin, "fewsum_copycat", _items(asin, record["reviews"]),
                             [("review_summary", s) for s in summaries], seed)


def oposum_examples(shared_data: Path, seed: int) -> Iterator[Example]:
    """OpoSum summaries (all opinions, the positive, the negative) of the training part's products."""
    for record in read_jsonl(shared_data / OPOSUM_FILE):
        asin = str(record["asin"])
        if review_part(asin) != "train":
            continue
        refs = record["references"]
        summaries = [(kind, str(ref["text"])) for kind, key in
                     (("review_summary", "all"), ("review_pros", "pos"), ("review_cons", "neg"))
                     for ref in refs.get(key, [])]
        yield from _examples(asin, "oposum", _items(asin, record["reviews"]), summaries, seed)

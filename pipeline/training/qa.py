"""Grounded product answers: hetPQA answer generation (with "not sure" hard negatives) and semiPQA.

hetPQA (eval/hetpqa_answer_generation.jsonl, train + dev) pairs a shopper question with one evidence
snippet and a human answer. Each row becomes a product question on that product's page: the snippet
among up to two other snippets of the same product (the served evidence is never just the answer),
and the answer opening with the product's card, as the product-question intent calls for.

"Not sure" examples teach the one thing the first tuning try never learnt: to abstain. A question is
paired with snippets of the *same* product that do not answer it (hard negatives: a page about the
right product that is silent on the question, which is what an unanswerable ePQA question looks like),
and the answer is always `ABSTAIN`, one fixed wording that the answer evaluation's abstention pattern
(pipeline/eval/answers.py) recognises. A snippet counts as not answering when the question it was
written for shares no topic word with this one and it holds under half of this question's content words.
Rows whose own answer hedges ("not sure if ...", "is not available") are left out, here and in semiPQA,
so a grounded answer never reads as an abstention.

semiPQA data-to-text (eval/semipqa_data_to_text.jsonl) gives an attribute and a human sentence for it
("brand: CHANEL" -> "The brand is Chanel."). The question is written from the attribute's name; the
attribute sits among up to two others. These rows have no product id, so the answers show no card.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from pipeline.catalog import Attribute, Product
from pipeline.eval.answers import abstains
from pipeline.markup.suggestions import ProductFacts, content_words, same_topic
from pipeline.messages import EvidenceItem
from pipeline.retrieval.passages import attribute_text
from pipeline.training.examples import (Example, bundle_for, exchange, facts_for, follow_ups, rng_for,
                                        sentence, suggest_markup, with_stop)
from pipeline.training.holdout import EpqaHoldout, normalize_question, read_jsonl

HETPQA_FILE = Path("eval") / "hetpqa_answer_generation.jsonl"
SEMIPQA_FILE = Path("eval") / "semipqa_data_to_text.jsonl"
ABSTAIN = "I'm not sure: the product page and reviews don't say."
"""The one abstention answer (its wording family is matched by pipeline.eval.answers.abstains)."""
MAX_DISTRACTORS = 2
MAX_NEGATIVE_SNIPPETS = 3
INTENT = "product_question"
_SOURCES = {"CQA": "qa", "Desc": "description", "bullet": "bullet", "review": "review", "OSP": "description",
            "attribute": "attribute"}
"""hetPQA evidence sources -> the passage kinds the index serves (pipeline/retrieval/passages.py)."""
_GROUP = re.compile(r"\{([^{}]*)\}")
_VALUE = re.compile(r'(?:^|[\s,])value:\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')
_UNIT = re.compile(r"(?:^|[\s,])unit:\s*([a-z_]+)")
_NORMALIZED = re.compile(r"normalized_value:\s*\{[^{}]*\}")


@dataclass
class QaStats:
    """Rows left out, and why (for the manifest)."""

    hetpqa_on_epqa_products: int = 0
    hetpqa_epqa_questions: int = 0
    hetpqa_hedged_answers: int = 0
    semipqa_epqa_questions: int = 0
    semipqa_hedged_texts: int = 0
    negatives_without_snippets: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    row_id: str
    asin: str
    question: str
    item: EvidenceItem
    answer: str

    @property
    def group(self) -> tuple[str, str]:
        return self.asin, normalize_question(self.question)


def hetpqa_attribute_text(raw: str) -> str:
    """A raw hetPQA attribute ('voltage:  { unit:volts, value:100 }') as the index renders attributes
    ('voltage: 100 volts')."""
    name, _, rest = raw.partition(":")
    values: list[str] = []
    for group in _GROUP.findall(_NORMALIZED.sub("", rest)):
        value = _VALUE.search(group)
        if value is None:
            continue
        text = value.group(1).replace('\\"', '"') if value.group(1) is not None else value.group(2)
        unit = _UNIT.search(group)
        values.append(f"{text} {unit.group(1)}" if unit else text)
    if not values:
        values = [" ".join(rest.replace("{", " ").replace("}", " ").replace('"', " ").split())]
    return attribute_text(name.strip(), "; ".join(v for v in values if v))


def _hetpqa_rows(shared_data: Path, holdout: EpqaHoldout, stats: QaStats) -> list[_Row]:
    rows: list[_Row] = []
    for record in read_jsonl(shared_data / HETPQA_FILE):
        if record["asin"] in holdout.asins:
            stats.hetpqa_on_epqa_products += 1
            continue
        if holdout.has_question(record["question"]):
            stats.hetpqa_epqa_questions += 1
            continue
        if abstains(record["answer"]):
            stats.hetpqa_hedged_answers += 1
            continue
        source = _SOURCES.get(record["evidence_source"], "description")
        text = record["evidence_text"]
        if source == "attribute":
            text = hetpqa_attribute_text(text)
        item = EvidenceItem(source, text, 1.0, record["asin"], record["id"])
        rows.append(_Row(record["id"], record["asin"], record["question"], item, record["answer"]))
    return rows


def _pseudo_page(asin: str, rows: Sequence[_Row]) -> Product:
    """The product as far as its hetPQA snippets show it: what the follow-up filter can check."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_kind[row.item.source].append(row.item.text)
    attributes = tuple(Attribute(name.replace(" ", "_"), value)
                       for name, _, value in (t.partition(": ") for t in by_kind["attribute"]) if value)
    return Product(asin, "", attributes, tuple(by_kind["bullet"]), tuple(by_kind["description"]),
                   tuple(by_kind["review"]))


def _overlap(question: str, text: str) -> float:
    words = content_words(question)
    if not words:
        return 1.0
    present = set(content_words(text))
    return sum(1 for w in words if w in present or any(p.startswith(w[:5]) for p in present if len(w) >= 5)) / len(words)


def hetpqa_examples(shared_data: Path, holdout: EpqaHoldout, seed: int, negatives_per_question: float,
                    stats: QaStats) -> Iterator[Example]:
    """Grounded answers for every kept row, then "not sure" answers for a share of the questions."""
    rows = _hetpqa_rows(shared_data, holdout, stats)
    by_asin: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        by_asin[row.asin].append(row)
    facts = {asin: facts_for(_pseudo_page(asin, group)) for asin, group in by_asin.items()}
    rng = rng_for(seed, "hetpqa")
    for row in rows:
        others = [r for r in by_asin[row.asin] if r.group != row.group and r.item.text != row.item.text]
        chosen = rng.sample(others, min(len(others), rng.randint(0, MAX_DISTRACTORS)))
        items = [r.item for r in chosen]
        items.insert(rng.randint(0, len(items)), row.item)
        answer = f'<product id="{row.asin}"/> {with_stop(sentence(row.answer))}'
        yield _answer(row, items, answer, facts, "grounded_answer")
    groups = sorted({row.group: row for row in rows}.values(), key=lambda r: r.row_id)
    negatives = rng_for(seed, "hetpqa-negatives")
    for row in negatives.sample(groups, round(len(groups) * min(1.0, negatives_per_question))):
        silent = [r for r in by_asin[row.asin] if r.group != row.group and not same_topic(row.question, r.question)
                  and _overlap(row.question, r.item.text) < 0.5]
        if not silent:
            stats.negatives_without_snippets += 1
            continue
        items = [r.item for r in negatives.sample(silent, min(len(silent), negatives.randint(1, MAX_NEGATIVE_SNIPPETS)))]
        yield _answer(row, items, f'<product id="{row.asin}"/> {ABSTAIN}', facts, "not_sure")


def _answer(row: _Row, items: Sequence[EvidenceItem], answer: str, facts: Mapping[str, ProductFacts],
            kind: str) -> Example:
    question = " ".join(row.question.split())
    suggest = suggest_markup(follow_ups([row.asin], {row.asin: facts[row.asin]}, question, INTENT, row.asin))
    bundle = bundle_for(question, items, INTENT, page=row.asin)
    return exchange(bundle, answer + suggest, "hetpqa", kind, row.row_id)


# ---- semiPQA ----------------------------------------------------------------------------------------

_QUESTION_TEMPLATES = ("what is the {words}?", "what is its {words}?", "what {words} does it have?",
                       "can you tell me the {words} of this?", "{words}?", "what's the {words} on this one?")


def attribute_question(name: str, variant: int) -> str:
    """A shopper's question about an attribute, from its name ("is_dishwasher_safe" -> "is it dishwasher
    safe?"); `variant` picks the phrasing."""
    words = name.lower().replace("_", " ").strip()
    if words.startswith("is ") and len(words) > 3:
        return f"is it {words[3:]}?"
    if words.startswith("item ") and len(words) > 5:
        words = words[5:]
    return _QUESTION_TEMPLATES[variant % len(_QUESTION_TEMPLATES)].format(words=words)


def semipqa_examples(shared_data: Path, holdout: EpqaHoldout, seed: int, stats: QaStats) -> Iterator[Example]:
    """One attribute answer per row; the attribute among up to two others (no product ids)."""
    records = list(read_jsonl(shared_data / SEMIPQA_FILE))
    rng = rng_for(seed, "semipqa")
    for record in records:
        question = attribute_question(record["name"], rng.randrange(len(_QUESTION_TEMPLATES)))
        if holdout.has_question(question):
            stats.semipqa_epqa_questions += 1
            continue
        if abstains(record["text"]):
            stats.semipqa_hedged_texts += 1
            continue
        items = [EvidenceItem("attribute", attribute_text(record["name"], record["value"]), 1.0, None, record["id"])]
        for _ in range(rng.randint(0, MAX_DISTRACTORS)):
            other = records[rng.randrange(len(records))]
            if other["name"] != record["name"]:
                items.insert(rng.randint(0, len(items)),
                             EvidenceItem("attribute", attribute_text(other["name"], other["value"]), 1.0, None, other["id"]))
        bundle = bundle_for(question, items, INTENT)
        yield exchange(bundle, with_stop(sentence(record["text"])), "semipqa", "attribute_answer", record["id"])

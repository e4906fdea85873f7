"""Training pairs for the answerability judge, and the threshold it ships with. Pure; no torch.

The judge reads one (question, passage) pair and gives the probability that the passage answers the
question (pipeline/generation/judge.py serves it). Its pairs come from ../shared/data, never from ePQA
(the evaluation set):

- hetPQA evidence ranking (dev, 509 questions): every candidate with its 0/1 label;
- semiPQA attribute ranking (dev, 954 questions): the relevant attributes, and three others of the same
  question, as retrieval's attribute passages state them (`passages.attribute_text`);
- hetPQA answer generation (train + dev, 4,090): each question with the passage its answer was written
  from (answers), and up to two passages written for other questions about the same product (hard
  negatives: on the product, not on the question).

One product in five of the evidence-ranking set (by a hash of its ASIN) is held out, with its answer
generation rows (semiPQA has no products): its questions choose the threshold. A question there is answerable when any candidate is labelled 1;
the threshold is the highest probability below which at most `FALSE_ABSTENTION` of the answerable
questions' best passages fall, since saying "not sure" where the page answers costs the shopper the
answer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.retrieval.passages import attribute_text
from pipeline.training.holdout import read_jsonl

MAX_TOKENS = 128
"""Question and passage together, in word pieces, when trained and when served: a longer passage is cut."""
CARD = "judge.json"
"""The threshold and its held-out numbers, written by training beside the adapter; the served judge reads
the threshold from it."""
FALSE_ABSTENTION = 0.10
"""The share of answerable held-out questions the chosen threshold may call unanswered."""
HELD_OUT_BUCKETS = 5
"""One product in this many is held out for choosing the threshold."""
ATTRIBUTE_NEGATIVES = 3
HARD_NEGATIVES = 2


@dataclass(frozen=True)
class Pair:
    question: str
    passage: str
    label: float
    """1.0 when the passage answers the question."""


@dataclass(frozen=True)
class HeldOutQuestion:
    question: str
    passages: tuple[str, ...]
    answerable: bool


def held_out(asin: str) -> bool:
    """Whether a product's questions choose the threshold instead of training the judge."""
    return int(hashlib.sha256(asin.encode()).hexdigest(), 16) % HELD_OUT_BUCKETS == 0


def build(data_dir: Path, seed: int = 0) -> tuple[list[Pair], list[HeldOutQuestion]]:
    """The shuffled training pairs and the held-out questions, from ../shared/data/eval."""
    rng = random.Random(seed)
    evidence = _jsonl(data_dir / "hetpqa_evidence_ranking_dev.jsonl")
    pairs = [Pair(row["question"], e["text"], float(e["label"]))
             for row in evidence if not held_out(row["asin"]) for e in row["evidence"]]
    pairs += attribute_pairs(_jsonl(data_dir / "semipqa_attribute_ranking_dev.jsonl"), rng)
    held = {row["asin"] for row in evidence if held_out(row["asin"])}
    pairs += answer_pairs([r for r in _jsonl(data_dir / "hetpqa_answer_generation.jsonl") if r["asin"] not in held], rng)
    rng.shuffle(pairs)
    questions = [HeldOutQuestion(row["question"], tuple(e["text"] for e in row["evidence"]),
                                 any(e["label"] == 1 for e in row["evidence"]))
                 for row in evidence if held_out(row["asin"])]
    return pairs, questions


def attribute_pairs(rows: Iterable[dict[str, Any]], rng: random.Random) -> list[Pair]:
    """semiPQA: the relevant attributes of each question, and a few of the others."""
    pairs: list[Pair] = []
    for row in rows:
        relevant = [c for c in row["candidates"] if c["label"] == 1]
        others = [c for c in row["candidates"] if c["label"] != 1]
        rng.shuffle(others)
        for candidate in relevant + others[:ATTRIBUTE_NEGATIVES]:
            pairs.append(Pair(row["question"], attribute_text(candidate["name"], candidate["value"]),
                              float(candidate["label"] == 1)))
    return pairs


def answer_pairs(rows: Sequence[dict[str, Any]], rng: random.Random) -> list[Pair]:
    """hetPQA answer generation: the passage each answer came from, and passages of other questions
    about the same product (hard negatives)."""
    by_product: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_product.setdefault(row["asin"], []).append(row)
    pairs: list[Pair] = []
    for row in rows:
        pairs.append(Pair(row["question"], row["evidence_text"], 1.0))
        others = [o["evidence_text"] for o in by_product[row["asin"]] if o["question"] != row["question"]]
        rng.shuffle(others)
        pairs += [Pair(row["question"], text, 0.0) for text in others[:HARD_NEGATIVES]]
    return pairs


def choose_threshold(best: Sequence[float], answerable: Sequence[bool], false_abstention: float = FALSE_ABSTENTION) -> float:
    """The highest threshold that calls at most `false_abstention` of the answerable questions
    unanswered (`best` is each question's highest probability; below the threshold means "not sure")."""
    scores = sorted(b for b, a in zip(best, answerable, strict=True) if a)
    if not scores:
        raise ValueError("no answerable question to choose a threshold on")
    allowed = int(false_abstention * len(scores))  # this many may fall below
    return scores[allowed]


def rates(best: Sequence[float], answerable: Sequence[bool], threshold: float) -> dict[str, float]:
    """Share of questions called unanswered at `threshold`, split by whether they are answerable."""
    def share(flag: bool) -> float:
        group = [b for b, a in zip(best, answerable, strict=True) if a is flag]
        return sum(b < threshold for b in group) / len(group) if group else 0.0
    return {"abstained_answerable": share(True), "abstained_unanswerable": share(False)}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path))

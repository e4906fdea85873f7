"""What the training data never contains: everything an evaluation scores.

- ePQA (eval/epqa_visible.jsonl) is evaluation only. No ePQA question is ever a training question, and
  no product of the visible ePQA set appears in an example built from a product (hetPQA rows on those
  products, catalog markup exchanges). The catalog itself is built from ePQA pages, so the catalog
  products left are those of ePQA's held-out half: the markup exchanges use their titles, reviews
  and simulated prices, never an ePQA question or answer.
- The review sets (eval/review_summaries.jsonl, FewSum/Copycat, and eval/oposum_summaries_visible.jsonl)
  are split by product: `review_part(asin)` puts each product in "train" or "eval" by a hash of its
  id, so the split needs no state, never changes when a file grows, and any code (the answer
  evaluation) can ask for the evaluation part with `eval_review_products`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

EPQA_FILE = Path("eval") / "epqa_visible.jsonl"
FEWSUM_FILE = Path("eval") / "review_summaries.jsonl"
OPOSUM_FILE = Path("eval") / "oposum_summaries_visible.jsonl"
REVIEW_FILES: dict[str, Path] = {"fewsum_copycat": FEWSUM_FILE, "oposum": OPOSUM_FILE}
"""Review set name -> its file under the shared data folder."""
EVAL_SHARE = 0.5
"""Share of each review set's products held out for evaluation."""
_SPLIT_SALT = "aisle-review-split-v1"
_WORDS = re.compile(r"[a-z0-9]+")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file. Raises ConfigError when it is missing or not JSON Lines."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def normalize_question(text: str) -> str:
    """Lower-case words only: how questions are compared for overlap ("Is it loud?" == "is it loud")."""
    return " ".join(_WORDS.findall(text.lower()))


def review_part(asin: str) -> str:
    """"eval" or "train": a fixed hash of the product id decides, the same on every machine."""
    digest = hashlib.sha256(f"{_SPLIT_SALT}|{asin}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < EVAL_SHARE else "train"


@dataclass(frozen=True)
class ReviewSplit:
    """Product ids per review set and part, sorted."""

    train: dict[str, list[str]]
    eval: dict[str, list[str]]

    def to_json(self) -> dict[str, Any]:
        return {"rule": f"sha256('{_SPLIT_SALT}|' + asin) < {EVAL_SHARE} of the range -> eval",
                "eval_share": EVAL_SHARE, "train": self.train, "eval": self.eval}


def review_split(shared_data: Path) -> ReviewSplit:
    """Which products of each review set are trained on and which are kept for evaluation."""
    train: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for name, file in REVIEW_FILES.items():
        asins = sorted({str(r["asin"]) for r in read_jsonl(shared_data / file)})
        train[name] = [a for a in asins if review_part(a) == "train"]
        held[name] = [a for a in asins if review_part(a) == "eval"]
    return ReviewSplit(train, held)


def eval_review_products(shared_data: Path) -> frozenset[str]:
    """The review-set products that are never trained on: evaluate review summaries on these."""
    split = review_split(shared_data)
    return frozenset(asin for asins in split.eval.values() for asin in asins)


@dataclass(frozen=True)
class EpqaHoldout:
    """The visible ePQA set, as the training data must avoid it."""

    questions: frozenset[str]
    """Normalized question texts."""
    asins: frozenset[str]

    def has_question(self, text: str) -> bool:
        return normalize_question(text) in self.questions


def epqa_holdout(shared_data: Path) -> EpqaHoldout:
    rows = list(read_jsonl(shared_data / EPQA_FILE))
    return EpqaHoldout(frozenset(normalize_question(str(r["question"])) for r in rows),
                       frozenset(str(r["asin"]) for r in rows))

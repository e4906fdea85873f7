"""Pros and cons from review sentences, by a small sentiment lexicon ("lexicon-v1").

The approach is extractive and deliberately simple, so it is predictable and never invents anything:
1. Split each review text into sentences (the catalog mostly holds single sentences already).
2. Score a sentence: +1 per positive word, -1 per negative word; a negator ("not", "no", "never",
   "n't" ...) within the two words before a sentiment word flips it.
3. Pros are the highest-scoring sentences with score > 0, cons the lowest with score < 0; ties keep the
   shorter sentence, then the earlier one. Duplicates (case-insensitive) count once; sentences longer
   than `max_chars` are cut at a word boundary with an ellipsis.
Every pro and con is a sentence a customer wrote, verbatim apart from that cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

METHOD = "lexicon-v1"

POSITIVE = frozenset(
    """
    amazing awesome beautiful best comfortable convenient cute durable easy excellent fantastic fast
    fine fun good great happy helpful impressed impressive love loved loves nice perfect perfectly
    pleased quality quiet recommend recommended reliable solid sturdy superb well works worth
    wonderful affordable bright clear accurate compact lightweight sharp smooth soft strong value
    """.split()
)
NEGATIVE = frozenset(
    """
    awful bad broke broken cheap cheaply complaint defective difficult disappointed disappointing
    faulty flimsy hard horrible junk leak leaked leaks loud poor poorly problem problems return
    returned slow terrible useless waste worse worst wrong annoying fragile noisy stopped unusable
    uncomfortable overpriced failed fails missing crack cracked tore ripped hate
    """.split()
)
NEGATORS = frozenset("not no never nothing hardly barely isn't wasn't doesn't didn't don't can't won't".split())

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Opinions:
    pros: list[str]
    cons: list[str]
    positive: int
    negative: int
    neutral: int

    @property
    def sentences(self) -> int:
        return self.positive + self.negative + self.neutral


_STATED = re.compile(r"^\d+ of \d+ reviews? ")


def is_stated(item: str) -> bool:
    """Whether a pro or con is a statement with a count ("3 of 8 reviews ..."), not a quoted sentence."""
    return bool(_STATED.match(item))


def shown_text(summary: str, pros: Iterable[str], cons: Iterable[str]) -> str:
    """A reviews frame as the shopper reads it, in one text: the summary line, the pros, the cons."""
    return " ".join(p.strip() for p in (summary, *pros, *cons) if p.strip())


def score(sentence: str) -> int:
    """Lexicon score of one sentence: positive words minus negative words, negation flipping."""
    words = _WORD.findall(sentence.lower())
    total = 0
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity == 0:
            continue
        window = words[max(0, i - 2) : i]
        if any(w in NEGATORS or w.endswith("n't") for w in window):
            polarity = -polarity
        total += polarity
    return total


def sentences(texts: Iterable[str]) -> list[str]:
    """Split review texts into trimmed, non-empty sentences, in order."""
    out: list[str] = []
    for text in texts:
        out.extend(s.strip() for s in _SENTENCE_END.split(text) if s.strip())
    return out


def extract(texts: Iterable[str], limit: int = 3, max_chars: int = 160) -> Opinions:
    """Choose up to `limit` pros and `limit` cons from review texts (see the module docstring)."""
    scored: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    positive = negative = neutral = 0
    for index, sentence in enumerate(sentences(texts)):
        key = sentence.lower()
        if key in seen:
            continue
        seen.add(key)
        value = score(sentence)
        if value > 0:
            positive += 1
        elif value < 0:
            negative += 1
        else:
            neutral += 1
        scored.append((value, index, sentence))
    pros = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], len(s[2]), s[1]))
    cons = sorted((s for s in scored if s[0] < 0), key=lambda s: (s[0], len(s[2]), s[1]))
    return Opinions(
        pros=[_cut(s[2], max_chars) for s in pros[:limit]],
        cons=[_cut(s[2], max_chars) for s in cons[:limit]],
        positive=positive,
        negative=negative,
        neutral=neutral,
    )


def _cut(sentence: str, max_chars: int) -> str:
    if len(sentence) <= max_chars:
        return sentence
    head = sentence[: max_chars - 1].rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + "…"

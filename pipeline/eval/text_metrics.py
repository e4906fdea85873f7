"""Text similarity measures for answer evaluation: ROUGE-L (LCS-based F-measure) and cosine similarity.

ROUGE-L (Lin, 2004) over lowercase word tokens: with LCS the longest common subsequence of candidate
and reference, precision = LCS / len(candidate), recall = LCS / len(reference), F1 their harmonic mean
(beta = 1, as the rouge-score package reports it). Against several references the best F1 counts, the
usual multi-reference convention for answers where any one reference is a correct answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class RougeScore:
    precision: float
    recall: float
    f1: float


def tokens(text: str) -> list[str]:
    """Lowercase alphanumeric word tokens ("Wi-Fi 6E!" -> ["wi", "fi", "6e"])."""
    return _TOKEN.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence; O(len(a) * len(b)) time, O(min) memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> RougeScore:
    """ROUGE-L of one candidate against one reference; all zeros when either has no tokens."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return RougeScore(0.0, 0.0, 0.0)
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return RougeScore(0.0, 0.0, 0.0)
    precision, recall = lcs / len(cand), lcs / len(ref)
    return RougeScore(precision, recall, 2 * precision * recall / (precision + recall))


def rouge_l_max(candidate: str, references: Iterable[str]) -> float:
    """The best ROUGE-L F1 of `candidate` over `references`; 0.0 when there are none."""
    return max((rouge_l(candidate, r).f1 for r in references), default=0.0)


def cosine(u: Sequence[float], v: Sequence[float]) -> float:
    """Cosine similarity; 0.0 when either vector is all zeros. Raises ValueError on unequal lengths."""
    if len(u) != len(v):
        raise ValueError(f"vectors of length {len(u)} and {len(v)}")
    dot = sum(x * y for x, y in zip(u, v))
    norm = math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v))
    return dot / norm if norm else 0.0

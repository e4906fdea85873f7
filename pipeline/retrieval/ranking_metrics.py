"""Ranking metrics over graded relevance (ePQA labels: 2 fully answers, 1 helps, 0 irrelevant).

Each function takes `gains`, the relevance of the retrieved items in rank order (rank 1 first), and
where needed `ideal`, the relevance of every judged item for the query. Items that were never judged
count as gain 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def dcg(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain at k, linear gains: sum(gain_i / log2(i + 1)) for ranks i = 1..k."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:k], start=1))


def ndcg(gains: Sequence[float], ideal: Sequence[float], k: int) -> float | None:
    """DCG@k normalised by the DCG@k of the ideal ordering; None when no judged item has gain > 0."""
    best = dcg(sorted(ideal, reverse=True), k)
    if best <= 0:
        return None
    return dcg(gains, k) / best


def reciprocal_rank(gains: Sequence[float], threshold: float) -> float:
    """1 / rank of the first item with gain >= threshold; 0.0 if none was retrieved."""
    for rank, gain in enumerate(gains, start=1):
        if gain >= threshold:
            return 1.0 / rank
    return 0.0


def recall(found_at: Sequence[int | None], k: int) -> float | None:
    """Share of relevant items retrieved within the top k; `found_at` is each relevant item's rank
    (1-based) or None if it was not retrieved. None when there are no relevant items."""
    if not found_at:
        return None
    return sum(1 for rank in found_at if rank is not None and rank <= k) / len(found_at)

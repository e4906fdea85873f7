"""Reciprocal rank fusion: merge ranked lists without comparing their (incomparable) scores.

RRF (Cormack et al., 2009) scores an item sum(1 / (k + rank)) over the lists it appears in, with
ranks starting at 1. k = 60 is the paper's constant and Qdrant's; it damps the head of each list so
an item ranked well by both retrievers beats one ranked first by only one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

RRF_K = 60

Key = TypeVar("Key", bound=Hashable)


def rrf_fuse(rankings: Sequence[Sequence[Key]], k: int = RRF_K, limit: int | None = None) -> list[tuple[Key, float]]:
    """Fuse ranked lists of keys, best first; returns (key, fused score) pairs.

    A key repeated inside one list counts at its best rank only. Ties keep the order in which keys
    were first seen (earlier lists first), so the result is deterministic. Raises ValueError if k < 1.
    """
    if k < 1:
        raise ValueError(f"RRF constant k must be >= 1, got {k}")
    scores: dict[Key, float] = {}
    for ranking in rankings:
        seen: set[Key] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    # sorted() is stable, and dicts keep first-seen order, which breaks ties deterministically.
    fused = sorted(scores.items(), key=lambda item: -item[1])
    return fused if limit is None else fused[:limit]


def best_first(scored: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """(point id, score) pairs by score descending, equal scores by point id.

    Both search engines order their lists this way before fusion, so their results agree even where
    scores tie (Qdrant's own order among equal scores is unspecified).
    """
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


def combine(lists: Sequence[Sequence[tuple[str, float]]], fuse: bool, limit: int) -> list[tuple[str, float]]:
    """The final ranking of a search: RRF over the retrievers' lists when `fuse`, else the first list."""
    if fuse:
        return rrf_fuse([[key for key, _ in ranked] for ranked in lists], limit=limit)
    return list(lists[0][:limit]) if lists else []

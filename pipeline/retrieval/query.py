"""What a search asks for: a mode and a filter, shared by both Qdrant engines.

`conditions(where)` spells a SearchFilter out as Qdrant must-conditions once; embedded mode (a Qdrant
Edge shard, edge.py) and a Qdrant server (QDRANT_URL, server.py) only map them onto their own
classes, so a filter means the same thing to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SearchMode = Literal["dense", "bm25", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")

FILTER_FIELDS: tuple[str, ...] = ("product_id", "kind", "category", "price_cents", "rating", "in_stock")
"""The payload fields a SearchFilter reads (price_cents, rating and in_stock are there only when
ingestion copied store fields into the payload; a point without the field never matches)."""


@dataclass(frozen=True)
class SearchFilter:
    """Restrict a search; unset fields do not restrict. Values are OR'ed within a field, fields AND'ed.

    The price and rating bounds are inclusive, like the store's SearchFilters.
    """

    product_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    min_rating: float | None = None
    in_stock_only: bool = False


@dataclass(frozen=True)
class Match:
    """The field equals the value, or (several values) any of them."""

    key: str
    values: tuple[str | bool, ...]


@dataclass(frozen=True)
class Range:
    """The field lies within inclusive bounds; None leaves a side open."""

    key: str
    gte: float | None = None
    lte: float | None = None


def conditions(where: SearchFilter) -> list[Match | Range]:
    """The must-conditions a filter stands for, in a fixed order (all must hold)."""
    found: list[Match | Range] = []
    for key, values in (("product_id", where.product_ids), ("kind", where.kinds), ("category", where.categories)):
        if values:
            found.append(Match(key, values))
    if where.min_price_cents is not None or where.max_price_cents is not None:
        found.append(Range("price_cents", _bound(where.min_price_cents), _bound(where.max_price_cents)))
    if where.min_rating is not None:
        found.append(Range("rating", gte=float(where.min_rating)))
    if where.in_stock_only:
        found.append(Match("in_stock", (True,)))
    return found


def _bound(value: int | None) -> float | None:
    return None if value is None else float(value)


def candidate_depth(mode: SearchMode, limit: int) -> int:
    """How many results each retriever returns before fusion.

    Hybrid fuses deeper lists than it returns, so a passage ranked 12th by both can still rise.
    """
    return limit if mode != "hybrid" else max(limit * 3, 30)

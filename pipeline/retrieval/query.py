"""What a search asks for: a mode and a filter, shared by both Qdrant engines.

Embedded mode (a Qdrant Edge shard, edge.py) and a Qdrant server (QDRANT_URL, index.py) translate
these types into the same Qdrant filter, so a filter means the same thing to both.
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


def candidate_depth(mode: SearchMode, limit: int) -> int:
    """How many results each retriever returns before fusion.

    Hybrid fuses deeper lists than it returns, so a passage ranked 12th by both can still rise.
    """
    return limit if mode != "hybrid" else max(limit * 3, 30)

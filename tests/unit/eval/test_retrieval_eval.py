"""`aisle eval retrieval` indexes missing products the way `aisle ingest` does: write, then optimise.

The index is a fake here (it records calls); the real engine's write and optimise are covered by
tests/integration/test_retrieval_index.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.catalog import Product
from pipeline.eval.retrieval import ensure_indexed
from pipeline.retrieval.indexing import catalog_passages
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import SearchFilter

PRODUCTS = [Product("B1", "Trail Lantern", bullets=("bright", "light")), Product("B2", "Camp Stove")]


class RecordingIndex:
    def __init__(self, stored: int) -> None:
        self.stored = stored
        self.calls: list[str] = []

    async def count(self, where: SearchFilter = SearchFilter()) -> int:
        return self.stored

    async def upsert(self, passages: Iterable[Passage], progress: Any = None) -> int:
        written = list(passages)
        self.calls.append(f"upsert {len(written)}")
        if progress is not None:
            progress(len(written), len(written))
        return len(written)

    async def optimize(self) -> bool:
        self.calls.append("optimize")
        return True


async def test_missing_passages_are_written_then_optimised() -> None:
    index = RecordingIndex(stored=0)
    phases: list[tuple[str, int, int]] = []
    await ensure_indexed(index, PRODUCTS, lambda *p: phases.append(p))  # type: ignore[arg-type]
    expected = len(list(catalog_passages(PRODUCTS)))
    assert index.calls == [f"upsert {expected}", "optimize"]
    assert [p for p, _, _ in phases] == ["index", "optimize", "optimize"]
    assert phases[-1] == ("optimize", 1, 1)


async def test_a_complete_index_is_left_alone() -> None:
    index = RecordingIndex(stored=len(list(catalog_passages(PRODUCTS))))
    await ensure_indexed(index, PRODUCTS, None)  # type: ignore[arg-type]
    assert index.calls == []

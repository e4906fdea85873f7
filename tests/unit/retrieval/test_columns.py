"""Embedded mode's search columns: filters, scores and bookkeeping, checked against hand computations.

That the columns rank exactly as Qdrant does is tested against Qdrant itself in
tests/integration/test_retrieval_index.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.retrieval.columns import PassageColumns
from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.fusion import rrf_fuse
from pipeline.retrieval.query import SearchFilter

DIM = 3
NO_TERMS = SparseVector((), ())


def _columns(rows: list[tuple[str, list[float], SparseVector, dict[str, object]]]) -> PassageColumns:
    columns = PassageColumns(DIM)
    columns.add([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    return columns


def _shop() -> PassageColumns:
    return _columns([
        ("a", [1, 0, 0], SparseVector((5, 9), (1.0, 2.0)),
         {"product_id": "P1", "kind": "review", "category": "toys", "price_cents": 1500, "rating": 4.5, "in_stock": True}),
        ("b", [0, 1, 0], SparseVector((9,), (1.0,)),
         {"product_id": "P1", "kind": "qa", "category": "toys", "price_cents": 1500, "rating": 4.5, "in_stock": True}),
        ("c", [0, 0, 1], SparseVector((7,), (1.0,)),
         {"product_id": "P2", "kind": "review", "category": "tools", "price_cents": 9900, "rating": 3.0, "in_stock": False}),
        ("d", [1, 1, 0], SparseVector((5,), (3.0,)), {"product_id": "P3", "kind": "review"}),  # no store fields
    ])


def _selected(columns: PassageColumns, where: SearchFilter) -> list[str]:
    rows = columns.select(where)
    ids = ["a", "b", "c", "d"]
    return ids if rows is None else [ids[r] for r in rows.tolist()]


@pytest.mark.parametrize(("where", "expected"), [
    (SearchFilter(), ["a", "b", "c", "d"]),
    (SearchFilter(product_ids=("P1",)), ["a", "b"]),
    (SearchFilter(product_ids=("P3", "P1", "P1")), ["a", "b", "d"]),
    (SearchFilter(product_ids=("NOPE",)), []),
    (SearchFilter(kinds=("review",)), ["a", "c", "d"]),
    (SearchFilter(categories=("tools", "garden")), ["c"]),
    (SearchFilter(min_price_cents=1500), ["a", "b", "c"]),
    (SearchFilter(max_price_cents=1499), []),
    (SearchFilter(min_price_cents=1000, max_price_cents=2000), ["a", "b"]),
    (SearchFilter(min_rating=4.5), ["a", "b"]),
    (SearchFilter(in_stock_only=True), ["a", "b"]),
    (SearchFilter(product_ids=("P1", "P2"), kinds=("review",), in_stock_only=True), ["a"]),
])
def test_filters_select_rows_and_a_missing_field_never_matches(where: SearchFilter, expected: list[str]) -> None:
    columns = _shop()
    assert _selected(columns, where) == expected
    assert columns.count(where) == len(expected)


def test_dense_ranking_is_cosine_over_the_filtered_rows() -> None:
    columns = _shop()
    ranking = columns.dense_ranking([2.0, 0.0, 0.0], None, depth=4)
    assert [pid for pid, _ in ranking] == ["a", "d", "b", "c"]
    assert dict(ranking)["d"] == pytest.approx(1 / math.sqrt(2), abs=1e-6)  # stored vectors are normalised
    assert columns.dense_ranking([1.0, 0.0, 0.0], columns.select(SearchFilter(product_ids=("P2",))), 4) == [("c", 0.0)]


def test_equal_scores_are_ordered_by_point_id_and_the_cut_keeps_the_smallest_ids() -> None:
    columns = _columns([(pid, [1, 0, 0], NO_TERMS, {}) for pid in ("z", "m", "b", "q")])
    assert [pid for pid, _ in columns.dense_ranking([1, 0, 0], None, depth=2)] == ["b", "m"]


def test_bm25_uses_collection_wide_idf_and_skips_rows_without_a_shared_term() -> None:
    columns = _shop()
    n = 4

    def idf(df: int) -> float:
        return math.log((n - df + 0.5) / (df + 0.5) + 1)

    ranking = dict(columns.bm25_ranking(SparseVector((9, 5), (1.0, 1.0)), None, depth=10))
    assert set(ranking) == {"a", "b", "d"}  # c shares no term
    assert ranking["a"] == pytest.approx(1.0 * idf(2) + 2.0 * idf(2), rel=1e-6)
    assert ranking["b"] == pytest.approx(1.0 * idf(2), rel=1e-6)
    assert ranking["d"] == pytest.approx(3.0 * idf(2), rel=1e-6)
    # A filter narrows the rows scored, not the statistics: IDF still counts the whole collection.
    only_p1 = columns.bm25_ranking(SparseVector((9,), (1.0,)), columns.select(SearchFilter(product_ids=("P1",))), 10)
    assert dict(only_p1)["b"] == pytest.approx(idf(2), rel=1e-6)


def test_hybrid_fuses_both_lists_by_reciprocal_rank() -> None:
    columns = _shop()
    dense, sparse = [0.0, 1.0, 0.0], SparseVector((5,), (1.0,))
    fused = columns.search(dense, sparse, "hybrid", SearchFilter(), limit=3)
    expected = rrf_fuse([[p for p, _ in columns.dense_ranking(dense, None, 30)],
                         [p for p, _ in columns.bm25_ranking(sparse, None, 30)]], limit=3)
    assert fused == expected


def test_a_bm25_search_without_query_terms_cannot_run() -> None:
    columns = _shop()
    assert columns.search([1, 0, 0], NO_TERMS, "bm25", SearchFilter(), 5) is None
    assert columns.search([1, 0, 0], NO_TERMS, "hybrid", SearchFilter(), 5) == \
        rrf_fuse([[p for p, _ in columns.dense_ranking([1, 0, 0], None, 30)]], limit=5)


def test_overwriting_a_point_moves_it_and_updates_the_statistics() -> None:
    columns = _shop()
    columns.add(["a"], [[0, 0, 1]], [SparseVector((7,), (1.0,))], [{"product_id": "P2", "kind": "qa"}])
    assert len(columns) == 4
    assert _selected(columns, SearchFilter(product_ids=("P1",))) == ["b"]
    assert _selected(columns, SearchFilter(product_ids=("P2",))) == ["a", "c"]
    assert _selected(columns, SearchFilter(in_stock_only=True)) == ["b"]  # the new payload has no stock
    # Term 9 is now in one document (b), term 7 in two (a, c).
    scores = dict(columns.bm25_ranking(SparseVector((9, 7), (1.0, 1.0)), None, 10))
    assert scores["b"] == pytest.approx(math.log((4 - 1 + 0.5) / 1.5 + 1), rel=1e-6)
    assert scores["a"] == pytest.approx(math.log((4 - 2 + 0.5) / 2.5 + 1), rel=1e-6)


def test_a_repeated_id_in_one_batch_keeps_its_last_write() -> None:
    columns = _columns([("x", [1, 0, 0], NO_TERMS, {"product_id": "P1"}),
                        ("x", [0, 1, 0], NO_TERMS, {"product_id": "P2"})])
    assert len(columns) == 1
    assert _selected(columns, SearchFilter(product_ids=("P1",))) == []
    assert columns.dense_ranking([0, 1, 0], None, 1) == [("x", 1.0)]


def test_growth_keeps_earlier_rows() -> None:
    columns = PassageColumns(DIM)
    rng = np.random.default_rng(0)
    for batch in range(5):
        ids = [f"{batch}-{i}" for i in range(37)]
        columns.add(ids, rng.normal(size=(37, DIM)), [SparseVector((batch, 100 + i), (1.0, 1.0)) for i in range(37)],
                    [{"product_id": f"P{batch}"} for _ in ids])
    assert len(columns) == 185
    assert columns.count(SearchFilter(product_ids=("P0", "P4"))) == 74
    assert [pid for pid, _ in columns.bm25_ranking(SparseVector((0,), (1.0,)), None, 100)] == sorted(f"0-{i}" for i in range(37))


def test_a_query_of_the_wrong_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="3-dim"):
        _shop().dense_ranking([1.0, 0.0], None, 5)

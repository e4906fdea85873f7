"""The embedded engine's pure parts: SearchFilter -> Qdrant Edge filter, passages -> Edge points and
back. That the shard then filters and ranks as these say is tested on a real shard in
tests/integration/test_retrieval_index.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe

from pipeline.retrieval.edge import (
    BM25,
    DENSE,
    FIELD_SCHEMAS,
    edge_filter,
    edge_point,
    payload_from_edge,
    shard_config,
    shard_path,
)
from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.server import server_filter
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import FILTER_FIELDS, SearchFilter

Condition = tuple[str, str, Any]


def _edge_conditions(where: SearchFilter) -> list[Condition]:
    """(key, "match" or "range", value) for each must-condition of the Edge filter."""
    translated = edge_filter(where)
    if translated is None:
        return []
    out: list[Condition] = []
    for condition in translated.must or []:
        assert isinstance(condition, qe.FieldCondition)
        if condition.match is not None:
            out.append((condition.key, "match", condition.match.value))  # type: ignore[union-attr]
        else:
            bounds = condition.range
            assert isinstance(bounds, qe.RangeFloat)
            out.append((condition.key, "range", (bounds.gte, bounds.lte)))
    return out


def _server_conditions(where: SearchFilter) -> list[Condition]:
    translated = server_filter(where)
    if translated is None:
        return []
    out: list[Condition] = []
    for condition in translated.must or []:  # type: ignore[union-attr]
        match = condition.match
        if match is not None:
            out.append((condition.key, "match", getattr(match, "value", getattr(match, "any", None))))
        else:
            out.append((condition.key, "range", (condition.range.gte, condition.range.lte)))
    return out


def test_an_empty_filter_is_no_filter() -> None:
    assert edge_filter(SearchFilter()) is None


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (SearchFilter(product_ids=("P1",)), [("product_id", "match", "P1")]),
        (SearchFilter(product_ids=("P1", "P2")), [("product_id", "match", ["P1", "P2"])]),
        (SearchFilter(kinds=("review", "qa"), categories=("kitchen",)),
         [("kind", "match", ["review", "qa"]), ("category", "match", "kitchen")]),
        (SearchFilter(min_price_cents=500), [("price_cents", "range", (500.0, None))]),
        (SearchFilter(min_price_cents=500, max_price_cents=900), [("price_cents", "range", (500.0, 900.0))]),
        (SearchFilter(max_price_cents=900), [("price_cents", "range", (None, 900.0))]),
        (SearchFilter(min_rating=4.5), [("rating", "range", (4.5, None))]),
        (SearchFilter(in_stock_only=True), [("in_stock", "match", 1)]),
    ],
)
def test_each_search_filter_field_becomes_one_must_condition(where: SearchFilter, expected: list[Condition]) -> None:
    assert _edge_conditions(where) == expected


def test_the_edge_and_server_filters_say_the_same_except_how_stock_is_stored() -> None:
    where = SearchFilter(product_ids=("P1", "P2"), kinds=("qa",), categories=("a", "b"), min_price_cents=100,
                         max_price_cents=900, min_rating=3.0, in_stock_only=True)
    edge, server = _edge_conditions(where), _server_conditions(where)
    assert edge[:-1] == server[:-1]
    assert (edge[-1], server[-1]) == (("in_stock", "match", 1), ("in_stock", "match", True))


def test_the_bool_match_of_the_binding_is_still_an_integer() -> None:
    """Why in_stock is stored as 0/1 (edge.py). When this fails, a fixed qdrant-edge-py keeps bools:
    the 0/1 workaround may then go (re-ingest after changing the field's index)."""
    assert qe.MatchValue(True).value == 1 and type(qe.MatchValue(True).value) is int


def test_a_point_carries_both_vectors_and_stores_stock_as_0_or_1() -> None:
    passage = Passage("00000000-0000-0000-0000-000000000001", "review", "P1", "fits well",
                      {"kind": "review", "product_id": "P1", "text": "fits well", "in_stock": True, "rating": 4.0})
    point = edge_point(passage, [0.5, 0.25], SparseVector((3, 7), (1.0, 2.0)))
    assert str(point.id) == passage.point_id
    vectors = point.vector
    assert isinstance(vectors, dict)
    assert vectors[DENSE] == [0.5, 0.25]
    assert (vectors[BM25].indices, vectors[BM25].values) == ([3, 7], [1.0, 2.0])  # type: ignore[union-attr]
    assert point.payload == {**passage.payload, "in_stock": 1}
    assert passage.payload["in_stock"] is True, "the passage itself is not changed"
    assert payload_from_edge(point.payload) == passage.payload
    assert payload_from_edge({"in_stock": 0})["in_stock"] is False


def test_payloads_without_stock_pass_through() -> None:
    payload = {"kind": "qa", "product_id": "P1", "text": "q"}
    point = edge_point(Passage("00000000-0000-0000-0000-000000000002", "qa", "P1", "q", payload), [1.0],
                       SparseVector((), ()))
    assert point.payload == payload and payload_from_edge(point.payload) == payload
    assert payload_from_edge(None) == {}


def test_every_filter_field_has_a_payload_index() -> None:
    assert set(FIELD_SCHEMAS) == set(FILTER_FIELDS)
    assert FIELD_SCHEMAS["in_stock"] == qe.PayloadSchemaType.Integer
    category = FIELD_SCHEMAS["category"]
    assert isinstance(category, qe.KeywordIndexParams) and category.is_tenant


def test_the_shard_config_and_folder() -> None:
    config = shard_config(384)
    assert config.vectors[DENSE].size == 384 and config.vectors[DENSE].distance == qe.Distance.Cosine
    assert config.sparse_vectors[BM25].modifier == qe.Modifier.Idf
    # no payload-aware HNSW links: they made optimize() at 100k products take over 45 min here
    assert config.hnsw_config is not None and config.hnsw_config.payload_m == 0 and config.hnsw_config.m == 16
    assert shard_path(Path("/h"), "aisle_passages") == Path("/h/qdrant-edge/aisle_passages")

"""Product search: products ranked by their summaries and best sentences, and the relevance floor.

The index is a fake that answers from fixed lists; the real engine's scores are covered by
tests/integration/test_retrieval_index.py, and the quality of the whole by `aisle eval search`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.index import Hit, SearchFilter, SearchMode, SearchResult
from pipeline.retrieval.products import (ProductSearch, apply_floor, find_products, kind_terms, rank_products,
                                         same_kind, widen)


def hit(product_id: str, score: float, kind: str = "product") -> Hit:
    return Hit(f"{kind}-{product_id}-{score}", score, kind, product_id, f"{kind} of {product_id}")


def test_a_products_best_sentence_adds_to_its_summary() -> None:
    summaries = [hit("B1", 0.50), hit("B2", 0.45)]
    evidence = [hit("B2", 0.60, "review"), hit("B2", 0.30, "qa"), hit("B1", 0.10, "bullet")]
    ranked = rank_products(summaries, evidence, ProductSearch(evidence_weight=0.3))
    assert [m.product_id for m in ranked] == ["B2", "B1"]
    assert ranked[0].score == 0.45 + 0.3 * 0.60 and ranked[0].evidence is not None
    assert ranked[0].evidence.kind == "review"
    assert ranked[1].score == 0.50 + 0.3 * 0.10
    assert ranked[0].summary.kind == "product", "the answer is told the product's summary"


def test_only_products_with_a_summary_hit_are_candidates_and_ties_go_by_id() -> None:
    ranked = rank_products([hit("B3", 0.4), hit("B1", 0.4)], [hit("B9", 0.9, "review")])
    assert [m.product_id for m in ranked] == ["B1", "B3"]


def test_the_floor_cuts_what_scores_far_below_the_best() -> None:
    ranked = rank_products([hit("B1", 0.60), hit("B2", 0.50), hit("B3", 0.44)], [])
    kept = apply_floor(ranked, None, ProductSearch(max_score_gap=0.15))
    assert [m.product_id for m in kept] == ["B1", "B2"]
    assert [m.product_id for m in apply_floor(ranked, None, ProductSearch(max_score_gap=None))] == ["B1", "B2", "B3"]
    assert apply_floor([], None) == []


def test_the_floor_keeps_only_products_sharing_a_word_with_the_query() -> None:
    ranked = rank_products([hit("B1", 0.60), hit("B2", 0.58)], [])
    assert [m.product_id for m in apply_floor(ranked, {"B2"})] == ["B2"]
    assert apply_floor(ranked, set()) == []


class FakeIndex:
    """Dense answers by kind, BM25 answers by product: what the three searches of find_products ask."""

    def __init__(self, summaries: Sequence[Hit], evidence: Sequence[Hit], lexical: set[str],
                 sparse: SparseVector = SparseVector((1,), (1.0,))) -> None:
        self.summaries, self.evidence, self.lexical, self.sparse = summaries, evidence, lexical, sparse
        self.calls: list[tuple[SearchMode, SearchFilter, int]] = []

    async def query_vectors(self, query: str) -> tuple[list[float], SparseVector]:
        return [1.0], self.sparse

    async def search_vectors(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode = "dense",
                             where: SearchFilter = SearchFilter(), limit: int = 10) -> SearchResult:
        self.calls.append((mode, where, limit))
        if mode == "bm25":
            return SearchResult(tuple(hit(p, 5.0, "review") for p in where.product_ids if p in self.lexical), mode)
        found = self.summaries if where.kinds == ("product",) else self.evidence
        return SearchResult(tuple(found[:limit]), mode)


async def test_find_products_searches_summaries_then_sentences_then_words() -> None:
    index = FakeIndex([hit("B1", 0.62), hit("B2", 0.55), hit("B3", 0.2)], [hit("B2", 0.5, "qa")], {"B2", "B3"})
    where = SearchFilter(product_ids=("B1", "B2", "B3"), categories=("pets",))
    found = await find_products(index, "a dog bed", where, limit=10)
    assert [m.product_id for m in found] == ["B2"], "B1 shares no word with the query; B3 is far below"
    (m1, w1, _), (m2, w2, _), (m3, w3, _) = index.calls[:3]
    assert (m1, w1.kinds, w1.product_ids, w1.categories) == ("dense", ("product",), where.product_ids, ("pets",))
    assert m2 == "dense" and "product" not in w2.kinds and "review" in w2.kinds and w2.product_ids == where.product_ids
    assert m3 == "bm25" and set(w3.product_ids) == {"B1", "B2"}, "only the candidates above the gap are checked"


async def test_find_products_cannot_check_words_of_a_stopword_query_so_it_does_not() -> None:
    index = FakeIndex([hit("B1", 0.6)], [], set(), sparse=SparseVector((), ()))
    assert [m.product_id for m in await find_products(index, "something for it", limit=5)] == ["B1"]
    assert [mode for mode, _, _ in index.calls] == ["dense", "dense"]


async def test_find_products_finds_nothing_for_an_unsearchable_query_or_no_room() -> None:
    index = FakeIndex([hit("B1", 0.6)], [], {"B1"})
    assert await find_products(index, "   ") == []
    assert await find_products(index, "a kettle", limit=0) == []
    assert index.calls == []
    assert await find_products(FakeIndex([], [], set()), "a kettle") == []


def test_a_floor_cut_below_three_is_widened_with_products_named_like_the_query() -> None:
    ranked = rank_products([hit("B1", 0.84), hit("B2", 0.68), hit("B3", 0.67), hit("B4", 0.66), hit("B5", 0.5)], [])
    kept = apply_floor(ranked, None, ProductSearch(max_score_gap=0.1))
    assert [m.product_id for m in kept] == ["B1"]
    # B2's summary shares no word with the query; B5 is beyond the kin gap.
    assert [m.product_id for m in widen(ranked, kept, {"B3", "B4", "B5"})] == ["B1", "B3", "B4"]
    assert widen(ranked, ranked[:3], {"B4"}) == list(ranked[:3]), "three already: nothing added"


async def test_find_products_widens_a_browse_with_a_summary_word_search() -> None:
    index = FakeIndex([hit("B1", 0.84), hit("B2", 0.68), hit("B3", 0.67)], [], {"B1", "B2", "B3"})
    found = await find_products(index, "headphones", limit=10)
    assert [m.product_id for m in found] == ["B1", "B2", "B3"]
    mode, where, _ = index.calls[-1]
    assert mode == "bm25" and where.kinds == ("product",) and set(where.product_ids) == {"B1", "B2", "B3"}


def test_widening_keeps_to_the_kind_the_best_match_names() -> None:
    bed = rank_products([Hit("p1", 0.8, "product", "B1", "K&H Pet Cot Elevated Dog Bed, large")], [])[0]
    kind = kind_terms("show me dog beds", bed)
    assert kind == {"dog", "bed"}
    assert same_kind("Orthopedic Dog Bed with bolster", kind)
    assert not same_kind("FURminator deShedding Tool for Medium Dogs", kind)
    # A best match that shares no word with the query says nothing about the kind: no extra condition.
    violin = rank_products([Hit("p2", 0.6, "product", "B2", "Cecilio violin outfit")], [])[0]
    assert kind_terms("a surfboard for a beginner", violin) == frozenset()
    assert same_kind("anything at all", frozenset())

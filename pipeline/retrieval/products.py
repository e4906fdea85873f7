"""Catalog-wide product search: the products that fit a shopper's need, best first, and no others.

The index holds sentences; a shopper is shown products. `find_products` answers "which products fit
this need?" in three index calls with one query embedding:

1. the `PRODUCT_DEPTH` product summaries (kind `product`: title, key attributes, first bullets) most
   similar to the query (dense cosine) are the candidates;
2. the `EVIDENCE_DEPTH` page sentences (bullets, descriptions, attributes, reviews, Q&A) most similar
   to the query add to their product's score: score = summary cosine + `EVIDENCE_WEIGHT` x the
   cosine of the product's best such sentence. A title rarely says what a product is *for* ("hang
   pictures straight" is a line laser); its reviews and answers often do;
3. the relevance floor, so nothing off-topic is shown to fill a carousel: a product is kept only if
   its score is within `MAX_SCORE_GAP` of the best product's, and if its page shares at least one
   word stem with the query (a BM25 match on any of its passages; the dense model alone finds the
   violin for "a surfboard for a beginner");
4. a floor that left fewer than `KIN_MIN` products is widened with products whose own summary shares a
   word with the query (`widen`): a browse such as "headphones" or "dog feeders" shows several. They
   must name the same kind of thing as the best match: every query word its summary has (`kind_terms`;
   for "dog beds" a dog bed's title has both words, so a dog brush does not widen it).

Each product found carries its summary passage (title first), which is what the answer is told.
The weights, depths and the gap were chosen on the dev half of pipeline/eval/data/search_needs.jsonl
(`aisle eval search`; docs/retrieval.md has the measurements). Raises DependencyError as
PassageIndex.search does; an unsearchable query (empty, non-Latin) finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from pipeline.generation.support import content_terms
from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.index import Hit, SearchFilter, SearchMode, SearchResult, query_problem
from pipeline.retrieval.passages import EVIDENCE_KINDS, PRODUCT

PRODUCT_DEPTH = 50
"""Product summaries considered per search (candidates); far more than a carousel shows."""
EVIDENCE_DEPTH = 300
"""Page sentences read for the evidence term, catalog-wide."""
EVIDENCE_WEIGHT = 0.3
"""How much a product's best page sentence adds to its summary's cosine."""
MAX_SCORE_GAP = 0.1
"""A product scoring more than this below the best product is not shown (cosine units)."""
KIN_MIN = 3
"""A search the floor cut below this many products is widened to this many with products whose own
summary (title, key attributes) shares a word with the query, within KIN_GAP of the best: "headphones"
shows several headphones, not only the one whose title is closest, and a need no title names stays cut."""
KIN_GAP = 0.25
SUPPORT_DEPTH = 2_000
"""BM25 passages read to see which candidates share a word with the query (the candidates' pages
hold about 14 passages each, so this reads all of them)."""


class VectorIndex(Protocol):
    """What a product search needs of the index (PassageIndex has it)."""

    async def query_vectors(self, query: str) -> tuple[list[float], SparseVector]: ...
    async def search_vectors(self, dense: Sequence[float], sparse: SparseVector, mode: SearchMode = ...,
                             where: SearchFilter = ..., limit: int = ...) -> SearchResult: ...


@dataclass(frozen=True)
class ProductSearch:
    """The settings of a product search; the defaults are the module's constants."""

    product_depth: int = PRODUCT_DEPTH
    evidence_depth: int = EVIDENCE_DEPTH
    evidence_weight: float = EVIDENCE_WEIGHT
    max_score_gap: float | None = MAX_SCORE_GAP
    """None: no relative floor."""
    lexical_support: bool = True
    """Keep only products whose page shares a word stem with the query."""
    kin_min: int = KIN_MIN
    kin_gap: float = KIN_GAP


@dataclass(frozen=True)
class ProductMatch:
    product_id: str
    score: float
    """Summary cosine + evidence_weight x best sentence cosine; comparable within one search only."""
    summary: Hit
    """The product's summary passage (kind `product`), with its own cosine as `score`."""
    evidence: Hit | None = None
    """The product's best page sentence among the evidence hits, if any."""


def rank_products(summaries: Sequence[Hit], evidence: Iterable[Hit], options: ProductSearch = ProductSearch()) -> list[ProductMatch]:
    """Products by score, best first (equal scores by product id); only products with a summary hit
    are candidates. Pure: `summaries` and `evidence` are dense hits of one query."""
    best_sentence: dict[str, Hit] = {}
    for hit in evidence:
        if hit.kind != PRODUCT and (hit.product_id not in best_sentence or hit.score > best_sentence[hit.product_id].score):
            best_sentence[hit.product_id] = hit
    matches: dict[str, ProductMatch] = {}
    for hit in summaries:
        if hit.kind != PRODUCT or hit.product_id in matches:
            continue
        sentence = best_sentence.get(hit.product_id)
        bonus = options.evidence_weight * sentence.score if sentence is not None else 0.0
        matches[hit.product_id] = ProductMatch(hit.product_id, hit.score + bonus, hit, sentence)
    return sorted(matches.values(), key=lambda m: (-m.score, m.product_id))


def apply_floor(ranked: Sequence[ProductMatch], supported: set[str] | None, options: ProductSearch = ProductSearch()) -> list[ProductMatch]:
    """The matches that clear the floor, in order: within max_score_gap of the best match, and (when
    `supported` is given) among the products whose pages share a word with the query."""
    if not ranked:
        return []
    best = ranked[0].score
    kept = []
    for match in ranked:
        if options.max_score_gap is not None and match.score < best - options.max_score_gap:
            break
        if supported is None or match.product_id in supported:
            kept.append(match)
    return kept


def widen(ranked: Sequence[ProductMatch], kept: Sequence[ProductMatch], titled: set[str],
          options: ProductSearch = ProductSearch()) -> list[ProductMatch]:
    """`kept`, topped up to `kin_min` with the next-ranked products in `titled` (their summaries share a
    word with the query) that score within `kin_gap` of the best."""
    if len(kept) >= options.kin_min or not ranked:
        return list(kept)
    have = {m.product_id for m in kept}
    floor = ranked[0].score - options.kin_gap
    extra = [m for m in ranked if m.product_id not in have and m.product_id in titled and m.score >= floor]
    return [*kept, *extra[: options.kin_min - len(kept)]]


def kind_terms(query: str, best: ProductMatch) -> frozenset[str]:
    """The query's content words (stemmed) that the best match's own summary has: what kind of thing
    the shopper asked for, as far as the catalog's best answer shows. Empty when it has none."""
    return frozenset(content_terms(query)) & frozenset(content_terms(best.summary.text))


def same_kind(summary_text: str, kind: frozenset[str]) -> bool:
    return kind <= frozenset(content_terms(summary_text))


async def find_products(index: VectorIndex, query: str, where: SearchFilter = SearchFilter(), limit: int = 10,
                        options: ProductSearch = ProductSearch()) -> list[ProductMatch]:
    """At most `limit` products that fit `query` within `where` (its product ids and categories; its
    kinds are ignored), best first; none when nothing clears the floor."""
    if limit <= 0 or query_problem(query) is not None:
        return []
    dense, sparse = await index.query_vectors(query)
    summaries = await index.search_vectors(dense, sparse, "dense", replace(where, kinds=(PRODUCT,)),
                                           max(limit, options.product_depth))
    if not summaries.hits:
        return []
    evidence = await index.search_vectors(dense, sparse, "dense", replace(where, kinds=EVIDENCE_KINDS),
                                          options.evidence_depth) if options.evidence_weight else None
    ranked = rank_products(summaries.hits, evidence.hits if evidence is not None else (), options)
    supported: set[str] | None = None
    if options.lexical_support and sparse.indices:  # a query of stopwords only cannot be checked
        candidates = tuple(m.product_id for m in apply_floor(ranked, None, options))
        lexical = await index.search_vectors(dense, sparse, "bm25", SearchFilter(product_ids=candidates), SUPPORT_DEPTH)
        supported = {hit.product_id for hit in lexical.hits}
    kept = apply_floor(ranked, supported, options)
    if supported is not None and len(kept) < min(limit, options.kin_min):
        floor = ranked[0].score - options.kin_gap
        near = tuple(m.product_id for m in ranked if m.score >= floor)
        titled = await index.search_vectors(dense, sparse, "bm25", SearchFilter(product_ids=near, kinds=(PRODUCT,)),
                                            len(near))
        kind = kind_terms(query, ranked[0])
        kept = widen(ranked, kept, {hit.product_id for hit in titled.hits if same_kind(hit.text, kind)}, options)
    return kept[:limit]

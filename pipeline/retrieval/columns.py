"""Embedded mode's search engine: the collection's vectors and filter fields as numpy columns.

Embedded Qdrant (qdrant-client's local mode) is pure Python: it checks a payload filter point by
point (about 15 µs each) and scores BM25 in a Python loop over every point, so one filtered hybrid
search costs about 0.4 s at 12,600 points and grows with the collection. In embedded mode
PassageIndex keeps these columns in step with its collection (each write goes to Qdrant, then here,
on the one Qdrant thread) and answers every search from them, scoring as Qdrant does:

    filter  boolean masks over the candidate rows. A product-id filter starts from that product's
            rows (a dict lookup), so its cost does not grow with the collection. A point without
            the filtered field never matches, as in Qdrant.
    dense   cosine: vectors are normalised on write as Qdrant normalises them, then one
            matrix-vector product over the candidate rows (float32; Qdrant's local mode computes in
            float64, so scores agree to about 1e-7; identical vectors score identically).
    bm25    Qdrant's Modifier.IDF: each query term weighs ln((N - df + 0.5) / (df + 0.5) + 1), with
            N and df counted over the whole collection, times the stored term weight, summed in term
            order in float64, then rounded to float32: the number local mode computes. Rows that
            share no term with the query are not results.
    order   fusion.best_first (score, then point id); hybrid fuses by RRF (fusion.py).

Qdrant stays the store of record: hits' payloads are read from it by id, and when an existing
collection is opened the columns are rebuilt from a scroll. A Qdrant server has payload indexes and
needs none of this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from pipeline.retrieval.fusion import best_first, combine
from pipeline.retrieval.query import SearchFilter, SearchMode, candidate_depth

_EPSILON = 1.1920929e-7
"""Qdrant leaves a vector with a smaller norm unnormalised."""
_KEYWORDS = ("product_id", "kind", "category")

Ranking = list[tuple[str, float]]
"""(point id, score) pairs, best first."""


class SparseLike(Protocol):
    @property
    def indices(self) -> Sequence[int]: ...
    @property
    def values(self) -> Sequence[float]: ...


class PassageColumns:
    """The searchable part of a passage collection, one row per point, in memory.

    Not thread-safe: PassageIndex calls it from its one Qdrant thread only.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._dense = np.zeros((0, dim), dtype=np.float32)
        # BM25 term weights, row by row: row r's terms are _terms[_start[r]:_start[r] + _length[r]],
        # sorted by term. A rewritten row's old span is left unused.
        self._start = np.zeros(0, dtype=np.int64)
        self._length = np.zeros(0, dtype=np.int32)
        self._terms = np.zeros(0, dtype=np.int64)
        self._weights = np.zeros(0, dtype=np.float64)
        self._used = 0
        self._df: dict[int, int] = {}
        # Filter fields: keywords as codes (-1: absent), numbers as float64 (NaN: absent),
        # in_stock as int8 (1 true, 0 false, -1 absent).
        self._codes: dict[str, dict[str, int]] = {name: {} for name in _KEYWORDS}
        self._keyword = {name: np.zeros(0, dtype=np.int32) for name in _KEYWORDS}
        self._price = np.zeros(0, dtype=np.float64)
        self._rating = np.zeros(0, dtype=np.float64)
        self._stock = np.zeros(0, dtype=np.int8)
        self._by_product: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held by the numpy columns (capacity included; Python-side maps not counted)."""
        arrays: list[np.ndarray] = [self._dense, self._start, self._length, self._terms, self._weights, self._price,
                  self._rating, self._stock, *self._keyword.values()]
        return sum(a.nbytes for a in arrays)

    # ---- writing ---------------------------------------------------------------------------------

    def reserve(self, rows: int, terms: int = 0) -> None:
        """Grow capacity to `rows` rows and `terms` stored term weights (saves copies on big loads)."""
        if rows > len(self._start):
            size = rows
            self._dense = _resized(self._dense, size)
            self._start, self._length = _resized(self._start, size), _resized(self._length, size)
            self._price = _resized(self._price, size, np.nan)
            self._rating = _resized(self._rating, size, np.nan)
            self._stock = _resized(self._stock, size, -1)
            self._keyword = {name: _resized(col, size, -1) for name, col in self._keyword.items()}
        if terms > len(self._terms):
            self._terms, self._weights = _resized(self._terms, terms), _resized(self._weights, terms)

    def add(self, point_ids: Sequence[str], dense: Any, sparse: Sequence[SparseLike],
            payloads: Sequence[Mapping[str, Any]]) -> None:
        """Insert or overwrite points, as a Qdrant upsert of the same batch does.

        `dense` is an (n, dim) array or a list of n vectors. Raises ValueError on mismatched lengths
        or a vector of the wrong dimension.
        """
        vectors = np.asarray(dense, dtype=np.float32).reshape(len(point_ids), -1)
        if not len(point_ids) == len(sparse) == len(payloads) or vectors.shape[1] != self.dim:
            raise ValueError(f"{len(point_ids)} ids, {len(sparse)} sparse vectors, {len(payloads)} payloads, "
                             f"dense shape {vectors.shape} (dim {self.dim})")
        last = {pid: i for i, pid in enumerate(point_ids)}  # a repeated id: its last write wins
        picks = sorted(last.values())
        rows = np.empty(len(picks), dtype=np.int64)
        for k, i in enumerate(picks):
            pid = point_ids[i]
            row = self._row.get(pid)
            if row is None:
                row = self._row[pid] = len(self._ids)
                self._ids.append(pid)
            else:
                self._forget(row)
            rows[k] = row
        if len(self._ids) > len(self._start):
            self.reserve(max(len(self._ids), 2 * len(self._start)))
        self._n = len(self._ids)
        self._write_dense(rows, vectors[picks])
        self._write_sparse(rows, [sparse[i] for i in picks])
        self._write_payloads(rows, [payloads[i] for i in picks])

    def _forget(self, row: int) -> None:
        """Take an overwritten row out of the document frequencies and its product's row list."""
        start, length = int(self._start[row]), int(self._length[row])
        for term in self._terms[start:start + length].tolist():
            self._df[term] -= 1
        code = int(self._keyword["product_id"][row])
        if code >= 0:
            self._by_product[code].remove(row)

    def _write_dense(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        norms = np.linalg.norm(vectors, axis=1)
        scale = np.where(norms > _EPSILON, norms, np.float32(1.0)).astype(np.float32)
        self._dense[rows] = vectors / scale[:, None]

    def _write_sparse(self, rows: np.ndarray, sparse: Sequence[SparseLike]) -> None:
        lengths = np.array([len(s.indices) for s in sparse], dtype=np.int64)
        owner = np.repeat(np.arange(len(sparse)), lengths)
        terms = np.fromiter((t for s in sparse for t in s.indices), dtype=np.int64, count=int(lengths.sum()))
        weights = np.fromiter((w for s in sparse for w in s.values), dtype=np.float64, count=len(terms))
        order = np.lexsort((terms, owner))  # each row's terms ascending, as Qdrant stores them
        terms, weights = terms[order], weights[order]
        if self._used + len(terms) > len(self._terms):
            self.reserve(len(self._start), max(self._used + len(terms), 2 * len(self._terms)))
        self._terms[self._used:self._used + len(terms)] = terms
        self._weights[self._used:self._used + len(terms)] = weights
        self._start[rows] = self._used + np.cumsum(lengths) - lengths
        self._length[rows] = lengths
        self._used += len(terms)
        unique, counts = np.unique(terms, return_counts=True)
        for term, count in zip(unique.tolist(), counts.tolist()):
            self._df[term] = self._df.get(term, 0) + count

    def _write_payloads(self, rows: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        for name in _KEYWORDS:
            codes = self._codes[name]
            values = [p.get(name) for p in payloads]
            self._keyword[name][rows] = [codes.setdefault(v, len(codes)) if isinstance(v, str) else -1
                                         for v in values]
        self._price[rows] = [_number(p.get("price_cents")) for p in payloads]
        self._rating[rows] = [_number(p.get("rating")) for p in payloads]
        self._stock[rows] = [int(v) if isinstance(v := p.get("in_stock"), bool) else -1 for p in payloads]
        for row, code in zip(rows.tolist(), self._keyword["product_id"][rows].tolist()):
            if code >= 0:
                self._by_product.setdefault(code, []).append(row)

    # ---- reading ---------------------------------------------------------------------------------

    def count(self, where: SearchFilter = SearchFilter()) -> int:
        """Points matching a filter."""
        rows = self.select(where)
        return self._n if rows is None else len(rows)

    def select(self, where: SearchFilter) -> np.ndarray | None:
        """The rows matching a filter, ascending; None means every row (no filter)."""
        rows: np.ndarray | None = None
        if where.product_ids:
            codes = self._codes["product_id"]
            found = [self._by_product[c] for p in dict.fromkeys(where.product_ids) if (c := codes.get(p)) is not None]
            rows = np.sort(np.fromiter((r for part in found for r in part), dtype=np.int64))
        keep: np.ndarray | None = None
        for mask in self._conditions(where, rows):
            keep = mask if keep is None else np.logical_and(keep, mask, out=keep)
        if keep is None:
            return rows
        return rows[keep] if rows is not None else np.flatnonzero(keep)

    def _conditions(self, where: SearchFilter, rows: np.ndarray | None) -> list[np.ndarray]:
        def column(array: np.ndarray) -> np.ndarray:
            return array[: self._n] if rows is None else array[rows]

        masks = []
        for name, wanted in (("kind", where.kinds), ("category", where.categories)):
            if wanted:
                table = np.zeros(len(self._codes[name]) + 1, dtype=bool)  # slot 0: absent (code -1)
                for value in wanted:
                    if value in self._codes[name]:
                        table[self._codes[name][value] + 1] = True
                masks.append(table[column(self._keyword[name]) + 1])
        if where.min_price_cents is not None:
            masks.append(column(self._price) >= where.min_price_cents)
        if where.max_price_cents is not None:
            masks.append(column(self._price) <= where.max_price_cents)
        if where.min_rating is not None:
            masks.append(column(self._rating) >= where.min_rating)
        if where.in_stock_only:
            masks.append(column(self._stock) == 1)
        return masks

    def search(self, dense: Sequence[float], sparse: SparseLike, mode: SearchMode, where: SearchFilter,
               limit: int) -> Ranking | None:
        """The `limit` best points for the query vectors; None when no retriever can run (BM25 only,
        and the query has no terms). Raises ValueError for a dense query of the wrong dimension."""
        rows = self.select(where)
        depth = candidate_depth(mode, limit)
        lists: list[Ranking] = []
        if mode in ("dense", "hybrid"):
            lists.append(self.dense_ranking(dense, rows, depth))
        if mode in ("bm25", "hybrid") and len(sparse.indices):
            lists.append(self.bm25_ranking(sparse, rows, depth))
        if not lists:
            return None
        return combine(lists, fuse=mode == "hybrid", limit=limit)

    def dense_ranking(self, dense: Sequence[float], rows: np.ndarray | None, depth: int) -> Ranking:
        """The `depth` rows (of `rows`, or all) most cosine-similar to the query vector."""
        query = np.asarray(dense, dtype=np.float32)
        if query.shape != (self.dim,):
            raise ValueError(f"dense query has shape {query.shape}, the index holds {self.dim}-dim vectors")
        query = query / max(float(np.linalg.norm(query)), _EPSILON)
        matrix = self._dense[: self._n] if rows is None else self._dense[rows]
        # einsum, not `matrix @ query`: BLAS rounds the rows of an unfinished block differently, so
        # two identical vectors could score a last bit apart and their tie would break by position.
        return self._top(np.einsum("ij,j->i", matrix, query), rows, depth)

    def bm25_ranking(self, sparse: SparseLike, rows: np.ndarray | None, depth: int) -> Ranking:
        """The `depth` best BM25 rows (of `rows`, or all) among those sharing a term with the query."""
        candidates = np.arange(self._n) if rows is None else rows
        pairs = sorted(zip(sparse.indices, sparse.values))
        query_terms = np.array([t for t, _ in pairs], dtype=np.int64)
        query_weights = np.array([w * self._idf(t) for t, w in pairs], dtype=np.float64)
        if not len(candidates) or not len(query_terms):
            return []
        lengths = self._length[candidates].astype(np.int64)
        ends = np.cumsum(lengths)
        positions = np.arange(int(ends[-1])) + np.repeat(self._start[candidates] - (ends - lengths), lengths)
        owner = np.repeat(np.arange(len(candidates)), lengths)
        terms = self._terms[positions]
        slot = np.minimum(np.searchsorted(query_terms, terms), len(query_terms) - 1)
        match = query_terms[slot] == terms
        owner = owner[match]
        # bincount adds in array order: each row's terms ascending, as Qdrant's merge loop does.
        scores = np.bincount(owner, weights=query_weights[slot[match]] * self._weights[positions[match]],
                             minlength=len(candidates))
        found = np.flatnonzero(np.bincount(owner, minlength=len(candidates)))
        return self._top(scores[found].astype(np.float32), candidates[found], depth)

    def _idf(self, term: int) -> float:
        df = self._df.get(term, 0)
        return math.log((self._n - df + 0.5) / (df + 0.5) + 1)

    def _top(self, scores: np.ndarray, rows: np.ndarray | None, depth: int) -> Ranking:
        if len(scores) > depth:
            kth = np.partition(scores, len(scores) - depth)[len(scores) - depth]
            picked = np.flatnonzero(scores >= kth)  # every tie at the cut, so ids can break it
        else:
            picked = np.arange(len(scores))
        found = picked if rows is None else rows[picked]
        ids = self._ids
        return best_first((ids[r], s) for r, s in zip(found.tolist(), scores[picked].tolist()))[:depth]


def _resized(array: np.ndarray, rows: int, fill: float = 0) -> np.ndarray:
    grown = np.full((rows, *array.shape[1:]), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan

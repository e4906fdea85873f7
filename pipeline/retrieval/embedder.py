"""Dense (all-MiniLM-L6-v2, 384 dims, int8 ONNX) and sparse (BM25) embeddings, loaded offline.

Both models load from the folders `make models` assembles (pipeline/retrieval/model_files.py):
fastembed gets `specific_model_path` plus `local_files_only=True`, so it never calls a model hub.

Embedding is CPU work (about 560 sentences/s on 2 cores). The async methods run it on one
dedicated worker thread, so the event loop stays free and onnxruntime's own threads are not
oversubscribed by concurrent calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, DependencyError
from pipeline.retrieval.model_files import DENSE_DIM, ModelPaths

DENSE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SPARSE_MODEL = "Qdrant/bm25"
# fastembed's BM25 length normalisation assumes 256-token documents; our passages are sentences
# (median about 14 tokens), so a realistic average keeps long sentences from being over-rewarded.
BM25_AVG_LEN = 16.0


@dataclass(frozen=True)
class SparseVector:
    """BM25 term weights: hashed token ids and their weights (TF part only; IDF is the index's)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


class Embedder:
    """Turns texts into dense and sparse vectors. Models load on first use.

    Raises ConfigError when the model folders are missing (run `make models`), and DependencyError
    when onnxruntime fails on an input.
    """

    def __init__(self, models_dir: Path, batch_size: int = 64, threads: int | None = None) -> None:
        self._paths = ModelPaths.under(models_dir)
        self._batch_size = batch_size
        # onnxruntime sizes its pool by the machine's cores, not the ones this process may use; pinned
        # to one core (pipeline/runtime/affinity.py), two spinning threads made a query 3x slower.
        self._threads = threads if threads is not None else _usable_cores()
        self._dense: Any = None
        self._sparse: Any = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._queries: list[tuple[str, bool, asyncio.Future[tuple[list[float], SparseVector]]]] = []
        self._draining: asyncio.Task[None] | None = None

    dim = DENSE_DIM

    def _load(self) -> None:
        if self._dense is not None:
            return
        if not self._paths.is_complete():
            raise ConfigError(f"model files missing under {self._paths.dense_dir.parent}; run `make models`")
        try:
            from fastembed import SparseTextEmbedding, TextEmbedding
        except ImportError as exc:
            raise ConfigError("fastembed is not installed; run `make setup`") from exc
        self._dense = TextEmbedding(
            DENSE_MODEL,
            specific_model_path=str(self._paths.dense_dir),
            local_files_only=True,
            threads=self._threads,
        )
        self._sparse = SparseTextEmbedding(
            SPARSE_MODEL,
            specific_model_path=str(self._paths.sparse_dir),
            local_files_only=True,
            avg_len=BM25_AVG_LEN,
        )

    # ---- synchronous API (for scripts and the worker thread) ------------------------------------

    def dense(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length 384-dim vectors, one per text (cosine = dot product)."""
        self._load()
        # Batches pad to their longest text, so embedding in length order wastes far less work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        try:
            vectors = list(self._dense.embed([texts[i] for i in order], batch_size=self._batch_size))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DependencyError(f"dense embedding failed: {exc}") from exc
        result: list[list[float]] = [[] for _ in texts]
        for position, vector in zip(order, vectors):
            result[position] = vector.tolist()
        return result

    def sparse_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """BM25 document vectors (term frequencies with length normalisation)."""
        self._load()
        return [_sparse(e) for e in self._sparse.embed(list(texts), batch_size=self._batch_size)]

    def sparse_query(self, text: str) -> SparseVector:
        """A BM25 query vector: weight 1 for each distinct non-stopword stem."""
        self._load()
        return _sparse(next(iter(self._sparse.query_embed(text))))

    # ---- async API: the same work on the embedding thread ---------------------------------------

    async def adense(self, texts: Sequence[str]) -> list[list[float]]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.dense, texts)

    async def asparse_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.sparse_documents, texts)

    async def aquery(self, text: str, with_dense: bool = True) -> tuple[list[float], SparseVector]:
        """Both query vectors for one text; the dense one is [] when `with_dense` is False (BM25-only
        searches skip the model).

        Queries that arrive while the thread is busy are embedded together in one model call as soon
        as it is free: with many conversations at once, one batch of 8 short queries costs far less
        than 8 calls in a row, and a query that finds the thread idle starts at once (no added wait).
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[list[float], SparseVector]] = loop.create_future()
        self._queries.append((text, with_dense, answer))
        if self._draining is None or self._draining.done():
            self._draining = loop.create_task(self._drain_queries())
        return await answer

    async def _drain_queries(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queries:
            batch, self._queries = self._queries, []
            try:
                vectors = await loop.run_in_executor(self._executor, self._query_batch, [(t, d) for t, d, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each waiting caller gets the error
                for _, _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, _, answer), result in zip(batch, vectors):
                if not answer.done():  # a caller that was cancelled no longer waits
                    answer.set_result(result)

    def _query_batch(self, queries: Sequence[tuple[str, bool]]) -> list[tuple[list[float], SparseVector]]:
        wanted = [text for text, with_dense in queries if with_dense]
        dense = iter(self.dense(wanted) if wanted else [])
        return [((next(dense) if with_dense else []), self.sparse_query(text)) for text, with_dense in queries]

    def close(self) -> None:
        """Stop the worker thread (waits for a running batch)."""
        self._executor.shutdown(wait=True)


def _sparse(embedding: Any) -> SparseVector:
    return SparseVector(
        indices=tuple(int(i) for i in embedding.indices),
        values=tuple(float(v) for v in embedding.values),
    )


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

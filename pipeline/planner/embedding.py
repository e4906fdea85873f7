"""Intent by embedding similarity: the nearest intent example to the request, when rules are silent.

The embedder is injected (`embed`: texts to unit-length vectors, e.g. Embedder.adense from
pipeline/retrieval/embedder.py), so the planner works without the models: `IntentEmbeddings.load`
returns None when the embedder cannot run, and the planner then uses rules only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pipeline.errors import AisleError, DependencyError
from pipeline.planner import intents as I

log = logging.getLogger(__name__)

EmbedFn = Callable[[Sequence[str]], Awaitable[list[list[float]]]]
"""Texts to unit-length vectors (cosine similarity = dot product)."""

MIN_SIMILARITY = 0.45
"""Below this cosine similarity to every example, the embedding verdict is ignored."""
MAX_EMBED_CHARS = 512
"""Characters of the request that are embedded (MiniLM reads 256 tokens at most anyway)."""

# Actions are never chosen by similarity: they need the explicit words rules.cart_request checks.
_NOT_BY_SIMILARITY = frozenset({I.CART_ACTION, I.PRICE_ALERT, I.ACCOUNT_MEMORY})


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    similarity: float
    example: str


class IntentEmbeddings:
    """The intent examples' vectors, embedded once; `nearest` embeds one request."""

    def __init__(self, embed: EmbedFn, labels: Sequence[str], examples: Sequence[str],
                 vectors: Sequence[Sequence[float]], min_similarity: float = MIN_SIMILARITY) -> None:
        self._embed = embed
        self._labels = list(labels)
        self._examples = list(examples)
        self._vectors = [list(v) for v in vectors]
        self.min_similarity = min_similarity

    @classmethod
    async def load(cls, embed: EmbedFn, min_similarity: float = MIN_SIMILARITY) -> IntentEmbeddings | None:
        """Embed every intent example; None (with a warning) when the embedder cannot run."""
        labels: list[str] = []
        examples: list[str] = []
        for intent, texts in I.EXAMPLES.items():
            if intent in _NOT_BY_SIMILARITY:
                continue
            for text in texts:
                labels.append(intent)
                examples.append(text)
        try:
            vectors = await embed(examples)
        except AisleError as exc:
            log.warning("planner: intent embeddings unavailable (%s); planning with rules only", exc)
            return None
        return cls(embed, labels, examples, vectors, min_similarity)

    async def nearest(self, text: str) -> IntentMatch | None:
        """The closest example's intent, or None below `min_similarity`. Raises DependencyError when
        the embedder fails."""
        try:
            [vector] = await self._embed([text[:MAX_EMBED_CHARS]])
        except DependencyError:
            raise
        except AisleError as exc:
            raise DependencyError(f"embedding the request failed: {exc}") from exc
        best_index, best = -1, -1.0
        for index, example in enumerate(self._vectors):
            similarity = sum(a * b for a, b in zip(vector, example))
            if similarity > best:
                best_index, best = index, similarity
        if best_index < 0 or best < self.min_similarity:
            return None
        return IntentMatch(self._labels[best_index], best, self._examples[best_index])

"""A Qdrant server (QDRANT_URL) behind PassageIndex, through qdrant-client.

The server twin of edge.py's EdgeEngine: the same collection layout (named vectors `dense` and
`bm25`, a payload index per filter field) and the same requests, so both modes rank alike. The
server runs its own optimisers, with its default HNSW.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pipeline.retrieval.edge import BM25, DENSE, Scored, VectorQuery
from pipeline.retrieval.embedder import SparseVector
from pipeline.retrieval.passages import Passage
from pipeline.retrieval.query import FILTER_FIELDS, Range, SearchFilter, conditions

__all__ = ["ServerEngine", "server_filter"]


class ServerEngine:
    """A Qdrant server (QDRANT_URL) through qdrant-client: the same requests as EdgeEngine's."""

    ERRORS: tuple[type[BaseException], ...] = (UnexpectedResponse, ResponseHandlingException, ValueError,
                                               RuntimeError, OSError)
    _FIELD_SCHEMAS = {"kind": models.PayloadSchemaType.KEYWORD, "product_id": models.PayloadSchemaType.KEYWORD,
                      "category": models.PayloadSchemaType.KEYWORD, "price_cents": models.PayloadSchemaType.INTEGER,
                      "rating": models.PayloadSchemaType.FLOAT, "in_stock": models.PayloadSchemaType.BOOL}

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self._client = client
        self._collection = collection

    def exists(self) -> bool:
        return bool(self._client.collection_exists(self._collection))

    def create(self, dim: int) -> None:
        if self.exists():
            return
        self._client.create_collection(
            self._collection,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={BM25: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        for name in FILTER_FIELDS:
            self._client.create_payload_index(self._collection, name, self._FIELD_SCHEMAS[name])

    def upsert(self, batch: Sequence[Passage], dense: Sequence[Sequence[float]], sparse: Sequence[SparseVector]) -> None:
        points = [
            models.PointStruct(id=p.point_id, payload=dict(p.payload),
                               vector={DENSE: list(d), BM25: models.SparseVector(indices=list(s.indices),
                                                                                 values=list(s.values))})
            for p, d, s in zip(batch, dense, sparse, strict=True)
        ]
        self._client.upsert(self._collection, points=points, wait=True)

    def query(self, requests: Sequence[VectorQuery], where: SearchFilter, depth: int) -> list[list[Scored]]:
        qfilter = server_filter(where)
        batch = [models.QueryRequest(query=_server_vector(vector), using=using, filter=qfilter, limit=depth,
                                     with_payload=True)
                 for using, vector in requests]
        responses = self._client.query_batch_points(self._collection, requests=batch)
        return [[(str(p.id), float(p.score), p.payload or {}) for p in response.points] for response in responses]

    def count(self, where: SearchFilter) -> int:
        return int(self._client.count(self._collection, count_filter=server_filter(where), exact=True).count)

    def optimize(self) -> bool:
        return False  # a server runs its optimisers by itself

    def close(self) -> None:
        self._client.close()


def _server_vector(vector: Sequence[float] | SparseVector) -> list[float] | models.SparseVector:
    if isinstance(vector, SparseVector):
        return models.SparseVector(indices=list(vector.indices), values=list(vector.values))
    return list(vector)


def server_filter(where: SearchFilter) -> models.Filter | None:
    """The qdrant-client filter for query.conditions(where) (edge.edge_filter is its embedded twin)."""
    must: list[models.Condition] = []
    for condition in conditions(where):
        if isinstance(condition, Range):
            bounds = models.Range(gte=condition.gte, lte=condition.lte)
            must.append(models.FieldCondition(key=condition.key, range=bounds))
        elif len(condition.values) == 1:
            must.append(models.FieldCondition(key=condition.key, match=models.MatchValue(value=condition.values[0])))
        else:
            # several values only come from the id and name fields, which are strings
            anyof = models.MatchAny(any=list(condition.values))  # type: ignore[arg-type]
            must.append(models.FieldCondition(key=condition.key, match=anyof))
    return models.Filter(must=must) if must else None

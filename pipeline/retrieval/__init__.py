"""Retrieval: embeddings, the passage index (embedded Qdrant Edge or a Qdrant server) and hybrid
search over it, ingest of the catalog into passages, and the ranking metrics. See docs/retrieval.md."""

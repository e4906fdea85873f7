"""Aisle: a conversational shopping assistant built as a streaming dataflow on Kafka."""

__version__ = "0.1.0"

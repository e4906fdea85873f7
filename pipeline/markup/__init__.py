"""The display markup: its grammar, streaming parser and frame payloads (docs/markup.md)."""

from pipeline.markup.parser import (
    MARKUP_VERSION,
    Directive,
    Event,
    MarkupParser,
    ParseStats,
    Text,
    merge_text,
)

__all__ = [
    "MARKUP_VERSION",
    "Directive",
    "Event",
    "MarkupParser",
    "ParseStats",
    "Text",
    "merge_text",
]

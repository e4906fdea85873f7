"""The LLM side of the pipeline: a streaming client for OpenAI-compatible servers and a model router."""

from pipeline.llm.client import (
    ChatMessage,
    Choice,
    Grammar,
    JsonSchema,
    LlmClient,
    LlmRejectedError,
    Regex,
    StreamChunk,
)
from pipeline.llm.router import ModelRouter

__all__ = [
    "ChatMessage",
    "Choice",
    "Grammar",
    "JsonSchema",
    "LlmClient",
    "LlmRejectedError",
    "ModelRouter",
    "Regex",
    "StreamChunk",
]

"""The LLM client against the real vLLM server that `make llm-up` starts (skipped when none answers).

Checks what only a real server can show: tokens arrive as a stream, a JSON-schema response parses and
satisfies the schema, and grammar/regex/choice constraints hold. The model is a 135 M-parameter one,
so the tests check the shape of what comes back, never its wisdom. Timings live in bench/, not here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.llm.client import ChatMessage, Choice, Grammar, JsonSchema, LlmClient, LlmRejectedError, Regex

SETTINGS = Settings.from_env()
# A cold server compiles each new grammar on first use: allow for that in the first-token deadline.
CLIENT_SETTINGS = Settings(
    llm_url=SETTINGS.llm_url,
    llm_model_small=SETTINGS.llm_model_small,
    llm_first_token_timeout_s=max(SETTINGS.llm_first_token_timeout_s, 60.0),
    llm_token_timeout_s=max(SETTINGS.llm_token_timeout_s, 10.0),
)


def _served_models() -> tuple[set[str], str]:
    """The names the server answers to, or an empty set and why it is unusable."""
    try:
        response = httpx.get(f"{SETTINGS.llm_url.rstrip('/')}/models", timeout=2.0)
        response.raise_for_status()
        return {m["id"] for m in response.json()["data"]}, ""
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return set(), f"no OpenAI-compatible server at {SETTINGS.llm_url} ({exc!r}); start one with `make llm-up`"


_MODELS, _WHY_NOT = _served_models()
MODEL = SETTINGS.llm_model_small


@pytest.fixture
async def llm() -> AsyncIterator[LlmClient]:
    if not _MODELS:
        pytest.skip(_WHY_NOT)
    if MODEL not in _MODELS:
        pytest.skip(f"server at {SETTINGS.llm_url} does not serve {MODEL!r} (AISLE_LLM_MODEL_SMALL); it serves {_MODELS}")
    async with LlmClient(CLIENT_SETTINGS) as client:
        yield client


async def test_streams_tokens_one_by_one(llm: LlmClient) -> None:
    messages = [ChatMessage("user", "List five kinds of running shoes, one per line.")]
    texts: list[str] = []
    finish: str | None = None
    async with aclosing(llm.stream_chat(messages, model=MODEL, max_tokens=48)) as chunks:
        async for chunk in chunks:
            texts.append(chunk.text)
            finish = chunk.finish_reason or finish
    assert len([t for t in texts if t]) > 5, texts  # a stream, not one blob at the end
    assert "".join(texts).strip()
    assert finish in {"stop", "length"}


PRODUCT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["search", "compare", "question"]},
        "query": {"type": "string", "maxLength": 40},
        "max_price_cents": {"type": "integer", "minimum": 0},
    },
    "required": ["intent", "query", "max_price_cents"],
    "additionalProperties": False,
}


async def test_json_schema_output_parses_and_validates(llm: LlmClient) -> None:
    messages = [
        ChatMessage("system", "You turn shopping questions into JSON."),
        ChatMessage("user", "I want trail running shoes under 80 dollars."),
    ]
    value = await llm.complete_json(messages, JsonSchema("plan", PRODUCT_SCHEMA), model=MODEL, max_tokens=96)
    assert isinstance(value, dict)
    assert set(value) == {"intent", "query", "max_price_cents"}
    assert value["intent"] in {"search", "compare", "question"}
    assert isinstance(value["query"], str) and len(value["query"]) <= 40
    assert isinstance(value["max_price_cents"], int) and not isinstance(value["max_price_cents"], bool)
    assert value["max_price_cents"] >= 0


GRAMMAR = r"""
root ::= size " " color " x" count
size ::= "S" | "M" | "L" | "XL"
color ::= "red" | "blue" | "black"
count ::= [1-9]
"""
GRAMMAR_AS_REGEX = re.compile(r"(S|M|L|XL) (red|blue|black) x[1-9]")


async def test_grammar_constrained_output_matches(llm: LlmClient) -> None:
    messages = [ChatMessage("user", "Order t-shirts: give size, color and how many.")]
    text = await llm.complete_chat(messages, model=MODEL, max_tokens=16, constraint=Grammar(GRAMMAR))
    assert GRAMMAR_AS_REGEX.fullmatch(text), text


async def test_regex_and_choice_constraints_hold(llm: LlmClient) -> None:
    messages = [ChatMessage("user", "What is the order number?")]
    text = await llm.complete_chat(messages, model=MODEL, max_tokens=16, constraint=Regex(r"[A-Z]{2}-[0-9]{4}"))
    assert re.fullmatch(r"[A-Z]{2}-[0-9]{4}", text), text
    options = ("in stock", "out of stock")
    answer = await llm.complete_chat(
        [ChatMessage("user", "Is it available?")], model=MODEL, max_tokens=8, constraint=Choice(options)
    )
    assert answer in options


async def test_concurrent_streams_all_finish(llm: LlmClient) -> None:
    async def one(i: int) -> str:
        messages = [ChatMessage("user", f"Say something about product number {i}.")]
        return await llm.complete_chat(messages, model=MODEL, max_tokens=16)

    answers = await asyncio.gather(*(one(i) for i in range(4)))
    assert all(a.strip() for a in answers)


async def test_unknown_model_is_rejected_without_retry(llm: LlmClient) -> None:
    with pytest.raises(LlmRejectedError, match="HTTP 404"):
        await llm.complete_chat([ChatMessage("user", "hi")], model="no-such-model", max_tokens=4)


async def test_cancelled_stream_leaves_the_server_usable(llm: LlmClient) -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in llm.stream_chat([ChatMessage("user", "Write a long essay on socks.")], model=MODEL, max_tokens=400):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    text = await llm.complete_chat([ChatMessage("user", "Say hi.")], model=MODEL, max_tokens=4)
    assert text


async def test_unreachable_server_raises_dependency_error() -> None:
    settings = Settings(llm_url="http://127.0.0.1:9/v1", llm_retries=1, llm_retry_backoff_ms=1)
    async with LlmClient(settings) as client:
        with pytest.raises(DependencyError, match="unreachable"):
            await client.complete_chat([ChatMessage("user", "hi")], model=MODEL)

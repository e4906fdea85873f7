"""A streaming chat client for any OpenAI-compatible server (vLLM on CPU or Neuron, or a hosted API).

    async with LlmClient(settings) as llm:
        async with contextlib.aclosing(llm.stream_chat(messages, model=name)) as chunks:
            async for chunk in chunks:
                ...

Timeouts (from Settings): `llm_connect_timeout_s` to open a connection, `llm_first_token_timeout_s`
from sending a request to its first streamed event (queueing and prefill live here), and
`llm_token_timeout_s` for the longest gap between two events after that. The deadlines are on events,
not bytes: a server that sends only keep-alive comments still times out. Time the caller spends
between chunks does not count.

The stream is `text/event-stream`, read with httpx-sse (lines split anywhere by the network, `\r\n`,
comments); a reply with another content type is a DependencyError.

Retries: a request that fails before its first chunk reached the caller (connection refused, 5xx, 429,
first-token timeout) is tried again up to `llm_retries` times, with `llm_retry_backoff_ms` doubling each
time. Once text has reached the caller a failure is raised at once: replaying would repeat text the
caller already forwarded. Cancelling the caller's task (or closing the iterator) closes the HTTP
stream, which makes vLLM abort the request and free its KV cache.

Every failure is a `DependencyError`; a request the server refuses as invalid (4xx other than 429) is
an `LlmRejectedError`, which is not retriable.

Constrained output: `JsonSchema` is sent as OpenAI's `response_format` json_schema; `Grammar` (EBNF /
GBNF), `Regex` and `Choice` are sent in vLLM's `structured_outputs` request field (vLLM >= 0.12; the
older `guided_*` fields are ignored). vLLM must be started with
`--structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}'` (infra/vllm/vllm.sh).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from pipeline.config import Settings
from pipeline.errors import DependencyError


class LlmRejectedError(DependencyError):
    """The server refused the request itself (HTTP 4xx other than 429): sending it again cannot help."""

    retriable = False


@dataclass(frozen=True)
class ChatMessage:
    role: str
    """system | user | assistant"""
    content: str


@dataclass(frozen=True)
class StreamChunk:
    """Text the server streamed in one SSE event (usually one token)."""

    text: str
    finish_reason: str | None = None
    """Set on the last chunk: stop | length | abort ..."""
    model: str | None = None


@dataclass(frozen=True)
class JsonSchema:
    """Output must be JSON valid under `schema` (OpenAI `response_format` json_schema)."""

    name: str
    schema: Mapping[str, Any]
    strict: bool = True

    def request_fields(self) -> dict[str, Any]:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": self.name, "schema": dict(self.schema), "strict": self.strict},
            }
        }


@dataclass(frozen=True)
class Grammar:
    """Output must match a context-free grammar in EBNF/GBNF (vLLM `structured_outputs.grammar`)."""

    ebnf: str

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"grammar": self.ebnf}}


@dataclass(frozen=True)
class Regex:
    """Output must match a regular expression (vLLM `structured_outputs.regex`)."""

    pattern: str

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"regex": self.pattern}}


@dataclass(frozen=True)
class Choice:
    """Output is exactly one of `options` (vLLM `structured_outputs.choice`)."""

    options: tuple[str, ...] = field(default_factory=tuple)

    def request_fields(self) -> dict[str, Any]:
        return {"structured_outputs": {"choice": list(self.options)}}


Constraint = JsonSchema | Grammar | Regex | Choice


class LlmClient:
    """Streams chat completions from one OpenAI-compatible endpoint; owns its connection pool."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` replaces the network (tests pass an `httpx.MockTransport`)."""
        self._first_token_timeout_s = settings.llm_first_token_timeout_s
        self._token_timeout_s = settings.llm_token_timeout_s
        self._retries = max(0, settings.llm_retries)
        self._retry_backoff_s = settings.llm_retry_backoff_ms / 1000.0
        connect_s = settings.llm_connect_timeout_s
        self._http = httpx.AsyncClient(
            base_url=settings.llm_url.rstrip("/") + "/",
            transport=transport,
            # Reads are bounded by the first-token and per-token deadlines below, not by httpx; waiting
            # for a pooled connection is bounded by the first-token deadline around it.
            timeout=httpx.Timeout(connect=connect_s, read=None, write=connect_s, pool=None),
            # One stream per conversation in flight; vLLM queues what it cannot batch yet.
            limits=httpx.Limits(max_connections=settings.max_lanes, max_keepalive_connections=64),
        )

    async def __aenter__(self) -> LlmClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        max_tokens: int = 256,
        temperature: float = 0.0,
        constraint: Constraint | None = None,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> AsyncGenerator[StreamChunk, None]:
        """Yields the completion chunk by chunk (role-only chunks are skipped).

        Raises DependencyError (LlmRejectedError for an invalid request). Close the iterator (e.g. with
        `contextlib.aclosing`) or cancel the task to abort the request on the server.
        """
        body = _request_body(messages, model, max_tokens, temperature, constraint, stop, seed)
        attempt = 0
        while True:
            delivered = False
            try:
                async with aclosing(self._stream_once(body)) as chunks:
                    async for chunk in chunks:
                        delivered = True
                        yield chunk
                return
            except DependencyError as exc:
                if delivered or not exc.retriable or attempt >= self._retries:
                    raise
            await asyncio.sleep(self._retry_backoff_s * (2**attempt))
            attempt += 1

    async def complete_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        max_tokens: int = 256,
        temperature: float = 0.0,
        constraint: Constraint | None = None,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> str:
        """The whole completion as one string (streamed underneath, so the same timeouts apply)."""
        parts: list[str] = []
        async with aclosing(
            self.stream_chat(
                messages,
                model=model,
                max_tokens=max_tokens,
                temperature=temperature,
                constraint=constraint,
                stop=stop,
                seed=seed,
            )
        ) as chunks:
            async for chunk in chunks:
                parts.append(chunk.text)
        return "".join(parts)

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: JsonSchema, *, model: str, max_tokens: int = 256
    ) -> Any:
        """The completion under `schema`, parsed; raises DependencyError if it is not JSON (e.g. cut off
        by `max_tokens`)."""
        text = await self.complete_chat(messages, model=model, max_tokens=max_tokens, constraint=schema)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DependencyError(f"LLM returned invalid JSON for schema {schema.name!r}: {text[:200]!r}") from exc

    async def _stream_once(self, body: Mapping[str, Any]) -> AsyncGenerator[StreamChunk, None]:
        """One HTTP attempt: yields parsed chunks, enforcing the first-token and per-token deadlines."""
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self._first_token_timeout_s
        request = self._http.build_request("POST", "chat/completions", json=body)
        try:
            async with asyncio.timeout_at(first_deadline):
                response = await self._http.send(request, stream=True)
        except TimeoutError as exc:
            raise DependencyError(
                f"LLM at {request.url} sent no response within {self._first_token_timeout_s} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise DependencyError(f"LLM at {request.url} unreachable: {exc!r}") from exc
        try:
            await _raise_for_status(response)
            started = False
            async with aclosing(EventSource(response).aiter_sse()) as events:
                while True:
                    # One deadline per event: the budget is for the next token, not the next bytes.
                    deadline = loop.time() + self._token_timeout_s if started else first_deadline
                    try:
                        async with asyncio.timeout_at(deadline):
                            event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        limit = self._token_timeout_s if started else self._first_token_timeout_s
                        what = "next token" if started else "first token"
                        raise DependencyError(f"LLM stream stalled: no {what} within {limit} s") from exc
                    except SSEError as exc:
                        raise DependencyError(f"LLM at {request.url} did not stream events: {exc}") from exc
                    except httpx.HTTPError as exc:
                        raise DependencyError(f"LLM stream broke: {exc!r}") from exc
                    if not event.data:
                        continue  # an event without data (a lone `event:` or `id:` field) carries no token
                    if event.data == "[DONE]":
                        return
                    chunk = _parse_chunk(event.data)
                    started = True
                    if chunk is not None:
                        yield chunk
            raise DependencyError("LLM stream ended without [DONE]")
        finally:
            await response.aclose()


def _request_body(
    messages: Sequence[ChatMessage],
    model: str,
    max_tokens: int,
    temperature: float,
    constraint: Constraint | None,
    stop: Sequence[str],
    seed: int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    if stop:
        body["stop"] = list(stop)
    if seed is not None:
        body["seed"] = seed
    if constraint is not None:
        body.update(constraint.request_fields())
    return body


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = (await response.aread()).decode("utf-8", errors="replace")[:500]
    except httpx.HTTPError:
        detail = ""
    message = f"LLM returned HTTP {response.status_code}: {detail}"
    if 400 <= response.status_code < 500 and response.status_code != 429:
        raise LlmRejectedError(message)
    raise DependencyError(message)


def _parse_chunk(data: str) -> StreamChunk | None:
    """One `chat.completion.chunk` as a StreamChunk; None for chunks without text or finish reason."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise DependencyError(f"LLM sent a malformed stream event: {data[:200]!r}") from exc
    if not isinstance(payload, dict):
        raise DependencyError(f"LLM sent a malformed stream event: {data[:200]!r}")
    if "error" in payload:
        raise DependencyError(f"LLM failed mid-stream: {payload['error']!r}")
    choices = payload.get("choices") or []
    if not choices:
        return None  # e.g. the usage-only chunk
    choice = choices[0]
    text = (choice.get("delta") or {}).get("content") or ""
    finish_reason = choice.get("finish_reason")
    if not text and finish_reason is None:
        return None
    return StreamChunk(text=text, finish_reason=finish_reason, model=payload.get("model"))

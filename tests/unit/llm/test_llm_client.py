"""The streaming client against scripted servers (httpx.MockTransport): parsing, timeouts, retries,
cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing

import httpx
import pytest

from pipeline.config import Settings
from pipeline.errors import DependencyError
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

MESSAGES = [ChatMessage("user", "hi")]
Part = bytes | float | asyncio.Event
"""Bytes to send, seconds to pause, or an event to wait for before going on."""


class ScriptedStream(httpx.AsyncByteStream):
    """A response body that plays `parts` and records whether the client closed it."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts = parts
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, float):
                await asyncio.sleep(part)
            elif isinstance(part, asyncio.Event):
                await part.wait()
            else:
                yield part

    async def aclose(self) -> None:
        self.closed = True


def sse(*events: dict[str, object] | str) -> bytes:
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


def delta(text: str | None = None, finish: str | None = None, role: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {}
    if role is not None:
        d["role"] = role
    if text is not None:
        d["content"] = text
    return {"model": "m", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


GOOD = sse(delta(role="assistant", text=""), delta("Hel"), delta("lo"), delta("", finish="stop"), "[DONE]")


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm_url": "http://llm.test/v1",
        "llm_first_token_timeout_s": 0.5,
        "llm_token_timeout_s": 0.1,
        "llm_retries": 2,
        "llm_retry_backoff_ms": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Server:
    """Answers each request with the next scripted reply; records the request bodies."""

    def __init__(self, *replies: Callable[[], httpx.Response]) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        assert request.url.path == "/v1/chat/completions"
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply()


def streaming(stream: ScriptedStream) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)


def status(code: int) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(code, json={"error": {"message": f"status {code}"}})


def refused() -> httpx.Response:
    raise httpx.ConnectError("connection refused")


async def collect(client: LlmClient, **kwargs: object) -> list[StreamChunk]:
    async with aclosing(client.stream_chat(MESSAGES, model="m", **kwargs)) as chunks:  # type: ignore[arg-type]
        return [chunk async for chunk in chunks]


def make_client(server: Server, **overrides: object) -> LlmClient:
    return LlmClient(settings(**overrides), transport=httpx.MockTransport(server))


async def test_streams_text_split_across_network_reads() -> None:
    pieces = [GOOD[i : i + 7] for i in range(0, len(GOOD), 7)]
    server = Server(streaming(ScriptedStream(pieces)))
    async with make_client(server) as client:
        chunks = await collect(client)
    assert [c.text for c in chunks] == ["Hel", "lo", ""]
    assert chunks[-1].finish_reason == "stop"
    body = server.bodies[0]
    assert body["stream"] is True and body["model"] == "m"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_constraints_go_in_the_request_body() -> None:
    server = Server(streaming(ScriptedStream([GOOD])))
    schema = JsonSchema("answer", {"type": "object"})
    async with make_client(server) as client:
        for constraint in (schema, Grammar('root ::= "a"'), Regex("[0-9]+"), Choice(("yes", "no"))):
            server.replies = [streaming(ScriptedStream([GOOD]))]
            await collect(client, constraint=constraint)
    assert server.bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    }
    assert server.bodies[1]["structured_outputs"] == {"grammar": 'root ::= "a"'}
    assert server.bodies[2]["structured_outputs"] == {"regex": "[0-9]+"}
    assert server.bodies[3]["structured_outputs"] == {"choice": ["yes", "no"]}


async def test_complete_json_parses_and_rejects_invalid_json() -> None:
    ok = sse(delta('{"n": '), delta("1}"), "[DONE]")
    cut = sse(delta('{"n": '), delta("", finish="length"), "[DONE]")
    server = Server(streaming(ScriptedStream([ok])), streaming(ScriptedStream([cut])))
    schema = JsonSchema("n", {"type": "object"})
    async with make_client(server) as client:
        assert await client.complete_json(MESSAGES, schema, model="m") == {"n": 1}
        with pytest.raises(DependencyError, match="invalid JSON"):
            await client.complete_json(MESSAGES, schema, model="m")


async def test_retries_server_errors_before_the_first_token() -> None:
    server = Server(status(503), status(429), streaming(ScriptedStream([GOOD])))
    async with make_client(server) as client:
        chunks = await collect(client)
    assert "".join(c.text for c in chunks) == "Hello"
    assert len(server.bodies) == 3


async def test_gives_up_after_the_configured_retries() -> None:
    server = Server(refused)
    async with make_client(server, llm_retries=1) as client:
        with pytest.raises(DependencyError, match="unreachable") as caught:
            await collect(client)
    assert caught.value.retriable
    assert len(server.bodies) == 2


async def test_a_rejected_request_is_not_retried() -> None:
    server = Server(status(400))
    async with make_client(server) as client:
        with pytest.raises(LlmRejectedError, match="HTTP 400") as caught:
            await collect(client)
    assert not caught.value.retriable
    assert len(server.bodies) == 1


async def test_first_token_timeout_is_retried() -> None:
    slow = ScriptedStream([1.0, GOOD])
    server = Server(streaming(slow))
    async with make_client(server, llm_first_token_timeout_s=0.05) as client:
        with pytest.raises(DependencyError, match="first token"):
            await collect(client)
    assert len(server.bodies) == 3
    assert slow.closed


async def test_stall_after_the_first_token_fails_without_retry() -> None:
    stalls = ScriptedStream([sse(delta("Hel")), 1.0, sse(delta("lo"), "[DONE]")])
    server = Server(streaming(stalls))
    received: list[str] = []
    async with make_client(server) as client:
        with pytest.raises(DependencyError, match="next token"):
            async with aclosing(client.stream_chat(MESSAGES, model="m")) as chunks:
                async for chunk in chunks:
                    received.append(chunk.text)
    assert received == ["Hel"]
    assert len(server.bodies) == 1
    assert stalls.closed


async def test_time_spent_by_the_caller_does_not_count_as_a_stall() -> None:
    server = Server(streaming(ScriptedStream([GOOD])))
    async with make_client(server, llm_token_timeout_s=0.02) as client:
        texts = []
        async with aclosing(client.stream_chat(MESSAGES, model="m")) as chunks:
            async for chunk in chunks:
                texts.append(chunk.text)
                await asyncio.sleep(0.05)
    assert "".join(texts) == "Hello"


async def test_cancelling_the_caller_closes_the_stream() -> None:
    never = asyncio.Event()
    stream = ScriptedStream([sse(delta("Hel")), never])
    server = Server(streaming(stream))
    first = asyncio.Event()

    async def consume(client: LlmClient) -> None:
        async for _ in client.stream_chat(MESSAGES, model="m"):
            first.set()

    async with make_client(server, llm_token_timeout_s=30.0) as client:
        task = asyncio.create_task(consume(client))
        await asyncio.wait_for(first.wait(), 1.0)
        assert not stream.closed
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stream.closed
    assert len(server.bodies) == 1


async def test_error_event_mid_stream_raises() -> None:
    body = sse(delta("Hel"), {"error": {"message": "engine died", "code": 500}})
    server = Server(streaming(ScriptedStream([body])))
    async with make_client(server) as client:
        with pytest.raises(DependencyError, match="engine died"):
            await collect(client)
    assert len(server.bodies) == 1


async def test_stream_cut_before_done_raises() -> None:
    server = Server(streaming(ScriptedStream([sse(delta("Hel"))])))
    async with make_client(server) as client:
        with pytest.raises(DependencyError, match="without \\[DONE\\]"):
            await collect(client)


async def test_malformed_event_before_any_token_is_retried() -> None:
    server = Server(streaming(ScriptedStream([b"data: {not json\n\n"])), streaming(ScriptedStream([GOOD])))
    async with make_client(server) as client:
        chunks = await collect(client)
    assert "".join(c.text for c in chunks) == "Hello"
    assert len(server.bodies) == 2


# ---- the event stream as servers really send it (parsed by httpx-sse) -------------------------------

WIRE = (
    ": keep-alive comment\r\n"
    + f"data: {json.dumps(delta('héllo €'), ensure_ascii=False)}\r\n\r\n"
    + "event: lonely\n\n"  # an event without data carries no token
    + f"id: 7\ndata: {json.dumps(delta(' wörld'), ensure_ascii=False)}\r\r"
    + f"data: {json.dumps(delta('', finish='stop'))}\n\n"
    + "data: [DONE]\n\n"
).encode()


async def test_any_split_of_the_wire_gives_the_same_text() -> None:
    # Splits inside a line, between "\r" and "\n", and inside multi-byte UTF-8 characters.
    for cut in range(1, len(WIRE)):
        server = Server(streaming(ScriptedStream([WIRE[:cut], WIRE[cut:]])))
        async with make_client(server) as client:
            chunks = await collect(client)
        assert [c.text for c in chunks] == ["héllo €", " wörld", ""], cut
        assert chunks[-1].finish_reason == "stop"


async def test_keep_alive_comments_are_not_tokens() -> None:
    # The per-token deadline is on events: bytes that carry no token must not keep a stalled stream open.
    pings = [b": ping\n\n" if i % 2 == 0 else 0.03 for i in range(20)]
    stream = ScriptedStream([sse(delta("Hel")), *pings, sse(delta("lo"), "[DONE]")])
    server = Server(streaming(stream))
    received: list[str] = []
    async with make_client(server) as client:
        with pytest.raises(DependencyError, match="next token within 0.1 s"):
            async with aclosing(client.stream_chat(MESSAGES, model="m")) as chunks:
                async for chunk in chunks:
                    received.append(chunk.text)
    assert received == ["Hel"]
    assert stream.closed


async def test_a_reply_that_is_not_an_event_stream_fails_clearly() -> None:
    # e.g. a proxy that answers 200 with a JSON body: a retriable DependencyError, not a parse of nothing.
    plain = lambda: httpx.Response(200, json={"choices": []})  # noqa: E731
    server = Server(plain)
    async with make_client(server, llm_retries=0) as client:
        with pytest.raises(DependencyError, match="did not stream events") as caught:
            await collect(client)
    assert caught.value.retriable

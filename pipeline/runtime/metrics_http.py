"""A worker's `/metrics` page: a small HTTP server on the worker's own event loop.

It runs on the loop, not in a thread, so a scrape reads the worker's lanes and offsets between two of
its steps, never in the middle of one. It answers `GET /metrics` (the registry in the Prometheus text
format) and `GET /healthz`, one request per connection; anything else gets 404 or 405. A request
must arrive within `REQUEST_TIMEOUT_S` and fit in `MAX_REQUEST_BYTES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Every name Aisle registers is a classic Prometheus name, so the 0.0.4 text format carries it all."""
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192


class MetricsServer:
    """Serves `registry` on host:port (port 0: any free port, see `port` once started)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry, self._host, self._port = registry, host, port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on; raises RuntimeError before `start`."""
        if self._server is None:
            raise RuntimeError("the metrics server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen; raises OSError when the port cannot be bound (taken, or not allowed)."""
        self._server = await asyncio.start_server(self._answer, self._host, self._port, limit=MAX_REQUEST_BYTES)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            writer.write(self._response(head))
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                ValueError):
            pass  # a client that sends nothing useful gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _response(self, head: bytes) -> bytes:
        """The whole response to a request head; raises ValueError when the head is malformed."""
        method, path = _request_line(head)
        status, body, content_type = "200 OK", b"ok\n", "text/plain"
        if method not in {"GET", "HEAD"}:
            status, body = "405 Method Not Allowed", b"GET only\n"
        elif path == "/metrics":
            try:
                body, content_type = generate_latest(self._registry), CONTENT_TYPE
            except Exception:  # noqa: BLE001 - a broken collector must not take the worker down
                log.exception("rendering /metrics failed")
                status, body = "500 Internal Server Error", b""
        elif path != "/healthz":
            status, body = "404 Not Found", b"/metrics\n"
        return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode() + (b"" if method == "HEAD" else body)


def _request_line(head: bytes) -> tuple[str, str]:
    """(method, path without its query) from a request head; raises ValueError when malformed."""
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return method, target.split("?", 1)[0]


@contextlib.asynccontextmanager
async def serving(registry: CollectorRegistry, host: str, port: int | None, name: str) -> AsyncIterator[int | None]:
    """Serve `registry` while the block runs; yields the port, or None when off (`port` None) or when
    it could not be bound: a worker without a page still does its work, and says so in its log."""
    if port is None:
        yield None
        return
    server = MetricsServer(registry, host, port)
    try:
        await server.start()
    except OSError as exc:
        log.warning("%s: cannot serve /metrics on %s:%d (%s); running without it (aisle worker --metrics-port)",
                    name, host, port, exc)
        yield None
        return
    log.info("%s: serving /metrics on http://%s:%d/metrics", name, host, server.port)
    try:
        yield server.port
    finally:
        await server.stop()

"""The terminal client's link to a gateway: a session, one websocket, and reconnects that resume.

`ChatLink.start()` gets a session (POST /session) and starts one owned task that keeps a socket open:
it says hello with the transcript's resume map (so after a drop the gateway replays exactly what was
missed), puts every message it receives on `messages`, and on a drop waits (backoff 0.25 s doubling to
8 s) and connects again. A 1008 close (token refused) renews the session first. `stop()` cancels and
awaits the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pipeline.chat.state import Transcript
from pipeline.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SESSION_TIMEOUT_S = 5.0
"""Longest wait for one HTTP request to the gateway (POST /session, GET .../starters)."""
CLOSE_POLICY = 1008
STATUS = "_status"
"""Type of the messages the link itself puts on the queue: {"type": "_status", "text", "up"}."""


def http_base(ws_url: str) -> str:
    """http(s)://host:port of a ws(s)://host:port/path URL; raises ConfigError for anything else."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigError(f"not a websocket URL: {ws_url!r} (expected ws://host:port/ws)")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class ChatLink:
    """One conversation's socket, kept open until `stop()`."""

    def __init__(self, ws_url: str, transcript: Transcript) -> None:
        self.ws_url = ws_url
        self.base_url = http_base(ws_url)
        self.transcript = transcript
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.session: dict[str, Any] = {}
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def start(self) -> None:
        """Get a session and start the socket task; raises DependencyError when the gateway is unreachable."""
        self.session = await self._post_session({})
        self._task = asyncio.create_task(self._run(), name="chat-link")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    async def send(self, message: dict[str, Any]) -> bool:
        """Send a client message; False when the socket is down (the caller says so and the user retries)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(message))
        except ConnectionClosed:
            return False
        return True

    async def starters(self, product_id: str) -> tuple[int, dict[str, Any]]:
        """GET /products/{product_id}/starters: (HTTP status, JSON body). (0, {}) when the gateway is
        unreachable or the body is not a JSON object."""
        url = f"{self.base_url}/products/{quote(product_id, safe='')}/starters"
        try:
            async with httpx.AsyncClient(timeout=SESSION_TIMEOUT_S) as client:
                response = await client.get(url)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}
        return (response.status_code, body) if isinstance(body, dict) else (0, {})

    async def _run(self) -> None:
        attempts = 0
        while True:
            close_code: int | None = None
            try:
                async with connect(self.ws_url, max_size=1 << 20) as ws:
                    await ws.send(json.dumps(self.transcript.resume_hello(str(self.session["token"]))))
                    self._ws = ws
                    async for raw in ws:
                        message = _parse(raw)
                        if message is None:
                            continue
                        if message.get("type") == "welcome":
                            attempts = 0
                            self._status("connected", up=True)
                        self.messages.put_nowait(message)
            except ConnectionClosed as exc:
                close_code = exc.rcvd.code if exc.rcvd is not None else None
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.debug("connect to %s failed: %s", self.ws_url, exc)
            finally:
                self._ws = None
            # A normal close also ends here: the gateway closed us (shutdown, 1013 too slow): come back.
            delay_s = BACKOFF_S[min(attempts, len(BACKOFF_S) - 1)]
            attempts += 1
            self._status(f"disconnected; reconnecting in {delay_s:g} s", up=False)
            await asyncio.sleep(delay_s)
            if close_code == CLOSE_POLICY:
                with contextlib.suppress(DependencyError):
                    await self._renew()

    async def _renew(self) -> None:
        try:
            self.session = await self._post_session({"token": self.session.get("token")})
        except DependencyError:
            raise
        except ValueError:
            self.session = await self._post_session({})

    async def _post_session(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /session; raises DependencyError when unreachable, ValueError when the token is refused."""
        try:
            async with httpx.AsyncClient(timeout=SESSION_TIMEOUT_S) as client:
                response = await client.post(f"{self.base_url}/session", json=body)
        except httpx.HTTPError as exc:
            raise DependencyError(f"gateway at {self.base_url} is unreachable: {exc}") from exc
        if response.status_code == 401:
            raise ValueError("session token refused")
        if response.status_code != 200:
            raise DependencyError(f"gateway at {self.base_url} answered {response.status_code} to POST /session")
        session = response.json()
        if not isinstance(session, dict) or not isinstance(session.get("token"), str):
            raise DependencyError(f"gateway at {self.base_url} sent no session token")
        return session

    def _status(self, text: str, up: bool) -> None:
        self.messages.put_nowait({"type": STATUS, "text": text, "up": up})


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None

"""Talking to a gateway as a browser would: run its app on an ephemeral port, get a session, open a
socket, read messages. Shared by the gateway and alert-socket tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from pipeline.config import Settings
from pipeline.gateway import create_app

RECEIVE_TIMEOUT_S = 30.0


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[str]:
    """A gateway process's app on an ephemeral port; yields host:port."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def new_session(base: str, **body: Any) -> dict[str, Any]:
    """POST /session: no body for a new shopper; `token=..., new_conversation=True` for another conversation."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://{base}/session", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
    return message


async def open_socket(base: str, token: str, **hello: Any) -> ClientConnection:
    ws = await connect(f"ws://{base}/ws")
    await ws.send(json.dumps({"type": "hello", "token": token, **hello}))
    assert (await receive(ws))["type"] == "welcome"
    return ws

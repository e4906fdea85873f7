"""The gateway's web app: the websocket, sessions, health, metrics and the web chat's files.

    GET  /          the web chat (static/index.html); /static/* its script and styles
    POST /session   a signed session token (tokens.py): new conversation, renewal, or a new
                    conversation for the same user
    GET  /healthz   200 while the frames (and alerts) consumers run, 503 otherwise
    GET  /metrics   Prometheus text, from the app's own registry (metrics.py)
    GET  /products/{id}/starters   questions to open a product page with (products.py)
    GET  /products/{id}            the product view: card, price history, attributes, reviews, Q&A
    GET  /me        the "You" panel: the session's shopper's cart, orders, alerts, memory (account.py)
    WS   /ws        the chat protocol (protocol.py), one conversation per socket

`create_app(settings)` builds the app around a KafkaBus; tests pass their own bus. The app's lifespan
owns its background tasks, the frames pump (bus -> hub), the alerts pump (bus -> hub, when the bus is
an AlertSource, as KafkaBus is) and the resume-buffer sweep, and cancels and awaits them on shutdown
before stopping the bus (and closing the store, if the product endpoints opened it). Tests pass a
`reader` for the product endpoints too, and `tables` (account_tables.py) for GET /me; by default they
follow `alert-registry` and `user-memory` when the bus is the gateway's own KafkaBus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from pipeline.config import Settings
from pipeline.gateway._socket import SocketContext, serve_socket
from pipeline.gateway.account import AccountPages
from pipeline.gateway.account_tables import AccountTables
from pipeline.gateway.bus import AlertSource, GatewayBus, KafkaBus
from pipeline.gateway.hub import Hub, HubLimits, WireAlert, WireFrame
from pipeline.gateway.limits import AskGate, AskLimits
from pipeline.gateway.metrics import CONTENT_TYPE, GatewayCounters, GatewayMetrics
from pipeline.gateway.products import ProductPages
from pipeline.gateway.protocol import account_changed_json, alert_json, frame_json
from pipeline.gateway.tokens import InvalidTokenError, SessionSigner, new_id, random_secret
from pipeline.markup.resolve import CatalogReader
from pipeline.messages import Alert, Frame
from pipeline.replay.recorder import TrafficRecorder
from pipeline.store.base import Store
from pipeline.store.pages import StoreWithPages

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SWEEP_INTERVAL_S = 5.0
"""How often expired frames leave the resume buffers."""
MAX_SESSION_BODY_BYTES = 4096
WS_MAX_SIZE_BYTES = 64 * 1024
"""uvicorn's hard cap per websocket message (closes with 1009); protocol.py answers 16 KiB+ with an error."""
# The chat builds its DOM with textContent; this header is the second line of defence.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    settings: Settings,
    bus: GatewayBus | None = None,
    hub_clock: Callable[[], float] | None = None,
    reader: CatalogReader | None = None,
    tables: AccountTables | None = None,
) -> Starlette:
    """The gateway app; `bus` defaults to a KafkaBus over `settings`, `reader` (the product endpoints'
    store and catalog) to the store file and catalog of `settings`, opened on first use."""
    secret = settings.session_secret
    if not secret:
        log.warning(
            "AISLE_SESSION_SECRET is not set: using a random per-process secret, so session tokens "
            "work only on this process and die with it"
        )
        secret = random_secret()
    limits = HubLimits(
        send_queue_frames=settings.gateway_send_queue_frames,
        resume_frames=settings.gateway_resume_frames,
        resume_age_s=settings.gateway_resume_age_s,
        resume_conversations=settings.gateway_resume_conversations,
    )
    hub = Hub(limits) if hub_clock is None else Hub(limits, hub_clock)
    ctx = SocketContext(
        hub=hub,
        bus=bus if bus is not None else KafkaBus(settings),
        signer=SessionSigner(secret, settings.session_ttl_s, renew_grace_s=settings.session_renew_grace_s),
        counters=GatewayCounters(),
        recorder=TrafficRecorder(Path(settings.record_path)) if settings.record_path else None,
        turn_timeout_s=settings.gateway_turn_timeout_s,
        gate=AskGate(AskLimits(
            socket_asks_per_s=settings.gateway_socket_asks_per_s, socket_ask_burst=settings.gateway_socket_ask_burst,
            user_asks_per_s=settings.gateway_user_asks_per_s, user_ask_burst=settings.gateway_user_ask_burst,
            turns_in_flight_max=settings.gateway_turns_in_flight_max,
            turn_in_flight_max_s=settings.turn_hold_timeout_s)),
        sockets_max=settings.gateway_sockets_max,
    )
    products = ProductPages(settings, reader)
    metrics = GatewayMetrics(hub, ctx.counters)
    if tables is None:
        tables = AccountTables.over_kafka(settings) if bus is None else AccountTables(None)

    async def account_store() -> Store | None:
        opened = await products.open()
        return opened.store if isinstance(opened, StoreWithPages) else None

    account = AccountPages(ctx.signer, account_store, tables)
    pump: list[asyncio.Task[None]] = []

    def on_frame(frame: Frame) -> None:
        hub.publish(WireFrame(frame.conversation_id, frame.turn, frame.seq, frame_json(frame)))
        if frame.type == "done" and ctx.gate is not None:
            ctx.gate.ended(frame.conversation_id, frame.turn)
        # A finished turn or a confirmed action may have changed the cart, alerts or memory: every
        # open "You" panel of the shopper reads GET /me again.
        notice = account_changed_json(frame)
        if notice is not None:
            hub.publish_to_owner(frame.conversation_id, notice)

    def on_bad_frame(exc: Exception) -> None:
        ctx.counters.errors["bad_frame"] += 1

    def on_alert(alert: Alert) -> None:
        data = alert_json(alert)
        hub.publish_alert(WireAlert(alert.alert_id, alert.seq, alert.user_id, alert.conversation_id, data))

    def on_bad_alert(exc: Exception) -> None:
        ctx.counters.errors["bad_alert"] += 1

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.bus.start()
        pump[:] = [asyncio.create_task(ctx.bus.run_frames(on_frame, on_bad_frame), name="gateway-frames")]
        if isinstance(ctx.bus, AlertSource):
            pump.append(asyncio.create_task(ctx.bus.run_alerts(on_alert, on_bad_alert), name="gateway-alerts"))
        tasks = [*pump, asyncio.create_task(_sweep_forever(hub, ctx.gate), name="gateway-sweep")]
        tables.start()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            await tables.stop()
            try:
                await ctx.bus.stop()
            finally:
                await products.close()

    async def healthz(request: Request) -> Response:
        stopped = [task.get_name().removeprefix("gateway-") for task in pump if task.done()]
        running = bool(pump) and not stopped
        status = "ok" if running else " and ".join(stopped or ["frames"]) + " consumer stopped"
        return JSONResponse({"status": status, "sockets_open": hub.sockets_open}, status_code=200 if running else 503)

    async def metrics_page(request: Request) -> Response:
        return Response(metrics.page(), media_type=CONTENT_TYPE)

    async def session(request: Request) -> Response:
        return await _issue_session(request, ctx.signer)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=_SECURITY_HEADERS)

    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await serve_socket(ws, ctx)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/metrics", metrics_page),
            Route("/session", session, methods=["POST"]),
            Route("/products/{product_id}/starters", products.starters),
            Route("/products/{product_id}", products.view),
            Route("/me", account.me),
            WebSocketRoute("/ws", ws_endpoint),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
    )


async def _issue_session(request: Request, signer: SessionSigner) -> Response:
    """POST /session: `{}` starts a new user and conversation; `{"token": t}` renews t;
    `{"token": t, "new_conversation": true}` starts a new conversation for t's user.

    Tokens are never issued for a conversation the caller names, so holding one proves it is yours.
    A token expired within AISLE_SESSION_RENEW_GRACE_S renews for its own user; one that cannot be
    renewed (forged, another secret, expired longer) is 401, never silently a new user: the client
    decides, and the web chat tells the shopper before it starts over.
    """
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SESSION_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        fields = json.loads(body) if body.strip() else {}
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    except RecursionError:
        # 4 KiB of `[` fits the size limit but not the parser's stack.
        return JSONResponse({"error": "body is nested too deeply"}, status_code=400)
    if not isinstance(fields, dict):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    old_token = fields.get("token")
    if old_token is None:
        user_id, conversation_id = new_id("u"), new_id("c")
    else:
        try:
            old = signer.renewable(old_token)
        except InvalidTokenError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        user_id = old.user_id
        conversation_id = new_id("c") if fields.get("new_conversation") is True else old.conversation_id
    token, issued = signer.issue(user_id, conversation_id)
    return JSONResponse(
        {
            "token": token,
            "user_id": issued.user_id,
            "conversation_id": issued.conversation_id,
            "expires_at_s": issued.expires_at_s,
        },
        headers={"Cache-Control": "no-store"},
    )


async def _sweep_forever(hub: Hub, gate: AskGate | None) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        hub.sweep()
        if gate is not None:
            gate.sweep()


async def serve(settings: Settings) -> None:
    """Run the gateway until cancelled or signalled (uvicorn handles SIGINT/SIGTERM)."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        ws_max_size=WS_MAX_SIZE_BYTES,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_level="info",
    )
    await uvicorn.Server(config).serve()


def run(settings: Settings) -> None:
    """Blocking entry point: `serve` on a uvloop event loop, off the local LLM server's cores."""
    from pipeline.runtime.affinity import pin_this_process

    pin_this_process(settings)
    uvloop.run(serve(settings))

"""One websocket's life: hello (auth and resume), then asks and feedback in, frames out.

Three tasks per socket, one owner (`run_socket`) that starts, watches, cancels and awaits them:
the sender drains the socket's hub subscription (its conversation's frames, and its user's alerts
fired in other conversations), the receiver validates client messages and produces
records, and the watcher wakes when the hub closes the subscription (a full queue). Everything the
socket sends after hello goes through the subscription's queue, so one task writes to the socket and
the gateway's own replies count against the same bound as frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketDisconnect

from pipeline.clock import now_ms
from pipeline.errors import AisleError
from pipeline.gateway.account_actions import Click
from pipeline.gateway.bus import GatewayBus
from pipeline.gateway.hub import Hub, Subscription, SubscriptionClosed
from pipeline.gateway.limits import AskGate, TokenBucket
from pipeline.gateway.metrics import GatewayCounters
from pipeline.gateway.protocol import (
    AccountRequest,
    Ask,
    FeedbackRequest,
    Hello,
    Ping,
    ProtocolError,
    error_json,
    parse_client_message,
    reply_json,
)
from pipeline.gateway.tokens import InvalidTokenError, Session, SessionSigner
from pipeline.messages import Feedback, UserTurn
from pipeline.replay.recorder import TrafficRecorder

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
"""A socket that has not said hello within this many seconds is closed (1008)."""
CLOSE_TIMEOUT_S = 1.0
"""How long closing a socket may take; a client that stopped reading cannot hold the gateway."""
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013


@dataclass
class SocketContext:
    """What every socket shares: the process's hub, bus, signer and counters."""

    hub: Hub
    bus: GatewayBus
    signer: SessionSigner
    counters: GatewayCounters
    recorder: TrafficRecorder | None = None
    """AISLE_RECORD: appends each produced ask and client event to a traffic file (docs/replay.md)."""
    turn_timeout_s: float = 60.0
    """AISLE_GATEWAY_TURN_TIMEOUT_S, told to clients in `welcome`."""
    gate: AskGate | None = None
    """Rate limits and turns in flight (limits.py); None: no limits."""
    sockets_max: int = 0
    """AISLE_GATEWAY_SOCKETS_MAX; 0: no bound."""
    sockets_active: int = 0
    """Sockets being served now, hello or not."""


async def serve_socket(ws: WebSocket, ctx: SocketContext) -> None:
    """Serve one accepted websocket, or turn it away (busy, 1013) when the process has sockets_max."""
    if ctx.sockets_max and ctx.sockets_active >= ctx.sockets_max:
        ctx.counters.errors["busy"] += 1
        with contextlib.suppress(Exception):
            await ws.send_text(error_json("busy", "this server is full; reconnect in a moment", fatal=True))
        await _close(ws, CLOSE_TRY_AGAIN, "too many sockets")
        return
    ctx.sockets_active += 1
    try:
        await run_socket(ws, ctx)
    finally:
        ctx.sockets_active -= 1


async def run_socket(ws: WebSocket, ctx: SocketContext) -> None:
    """Serve one accepted websocket until either side closes it."""
    try:
        opened = await asyncio.wait_for(_hello(ws, ctx), HELLO_TIMEOUT_S)
    except TimeoutError:
        await _close(ws, CLOSE_POLICY, "no hello")
        return
    except WebSocketDisconnect:
        return
    if opened is None:
        return
    session, hello = opened
    ctx.counters.sockets_opened += 1
    await ws.send_text(
        reply_json("welcome", conversation_id=session.conversation_id, user_id=session.user_id,
                   turn_timeout_s=ctx.turn_timeout_s)
    )
    sub, gaps = ctx.hub.subscribe(session.conversation_id, hello.after_seq, user_id=session.user_id)
    for turn in gaps:
        sub.push(error_json("resume_gap", "some frames of this turn are no longer available", turn=turn))
    client_last_turn = max(hello.last_turn, max(hello.after_seq or {}, default=-1))
    tasks = [
        asyncio.create_task(_send_loop(ws, sub), name="ws-send"),
        asyncio.create_task(_receive_loop(ws, ctx, session, sub, client_last_turn), name="ws-receive"),
        asyncio.create_task(sub.closed.wait(), name="ws-closed"),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # wait, not gather: gather re-raises a child's CancelledError in place of the caller's own,
        # which hides whose cancellation it was (anyio's cancel scopes then let it escape).
        await asyncio.wait(tasks)
        ctx.hub.unsubscribe(sub)
    if sub.close_reason == "overflow":
        # The client reconnects and resumes from its last seq; the resume buffer has the rest.
        await _close(ws, CLOSE_TRY_AGAIN, "too slow: reconnect and resume")
    else:
        await _close(ws, 1000, "")


async def _hello(ws: WebSocket, ctx: SocketContext) -> tuple[Session, Hello] | None:
    """Wait for a valid hello; errors on anything else. None (socket closed) on a bad token."""
    while True:
        raw = await _receive_raw(ws)
        if raw is None:
            return None
        try:
            message = parse_client_message(raw)
        except ProtocolError as exc:
            ctx.counters.errors["protocol"] += 1
            await ws.send_text(error_json(exc.code, str(exc)))
            continue
        if not isinstance(message, Hello):
            ctx.counters.errors["protocol"] += 1
            await ws.send_text(error_json("hello_first", "send hello with a session token first"))
            continue
        try:
            return ctx.signer.verify(message.token), message
        except InvalidTokenError as exc:
            ctx.counters.errors["auth"] += 1
            await ws.send_text(error_json("auth", str(exc), fatal=True))
            await _close(ws, CLOSE_POLICY, "bad session token")
            return None


async def _send_loop(ws: WebSocket, sub: Subscription) -> None:
    with contextlib.suppress(SubscriptionClosed):
        while True:
            for data in await sub.take():
                await ws.send_text(data)


async def _receive_loop(
    ws: WebSocket, ctx: SocketContext, session: Session, sub: Subscription, client_last_turn: int
) -> None:
    conversation_id = session.conversation_id
    bucket = ctx.gate.socket_bucket() if ctx.gate is not None else None
    while True:
        raw = await _receive_raw(ws)
        if raw is None:
            return
        received_at_ms = now_ms()
        try:
            message = parse_client_message(raw)
        except ProtocolError as exc:
            ctx.counters.errors["protocol"] += 1
            sub.push(error_json(exc.code, str(exc)))
            continue
        if isinstance(message, (Ask, AccountRequest, FeedbackRequest)) and not _admitted(
                ctx, sub, bucket, session, starts_turn=not isinstance(message, FeedbackRequest)):
            continue
        if isinstance(message, Ask):
            turn = ctx.hub.next_turn(conversation_id, client_last_turn)
            client_last_turn = turn
            await _ask(ctx, sub, session, turn, message.text, message.page_product_id, received_at_ms)
        elif isinstance(message, AccountRequest):
            # A panel change is a turn of its own, made of the records its words or button make.
            turn = ctx.hub.next_turn(conversation_id, client_last_turn)
            client_last_turn = turn
            change = message.change
            if isinstance(change, Click):
                click = Feedback(conversation_id, turn, _feedback_seq(), session.user_id, "action_clicked",
                                 change.value, received_at_ms)
                if await _produce(ctx, sub, ctx.bus.send_feedback(click), turn):
                    ctx.counters.feedback_produced += 1
                    if ctx.recorder is not None:
                        ctx.recorder.record_feedback(click)
                    sub.push(reply_json("accepted", turn=turn, account=True, action=change.value))
            else:
                await _ask(ctx, sub, session, turn, change.text, None, received_at_ms, account=True)
        elif isinstance(message, FeedbackRequest):
            feedback = Feedback(
                conversation_id=conversation_id,
                turn=message.turn,
                seq=_feedback_seq(),
                user_id=session.user_id,
                kind=message.kind,
                value=message.value,
                sent_at_ms=received_at_ms,
            )
            if await _produce(ctx, sub, ctx.bus.send_feedback(feedback), message.turn):
                ctx.counters.feedback_produced += 1
                if ctx.recorder is not None:
                    ctx.recorder.record_feedback(feedback)
                sub.push(reply_json("feedback_ok", turn=message.turn, kind=message.kind))
        elif isinstance(message, Ping):
            sub.push(reply_json("pong"))
        else:
            ctx.counters.errors["protocol"] += 1
            sub.push(error_json("already_subscribed", "hello is only the first message"))


def _admitted(ctx: SocketContext, sub: Subscription, bucket: TokenBucket | None, session: Session,
              starts_turn: bool) -> bool:
    """Whether the limits let this message through; if not, the client gets an error frame saying why."""
    if ctx.gate is None:
        return True
    refusal = ctx.gate.admit(bucket, session.user_id, session.conversation_id, starts_turn)
    if refusal is None:
        return True
    ctx.counters.errors[refusal.code] += 1
    sub.push(error_json(refusal.code, refusal.message, **refusal.fields))
    return False


async def _ask(ctx: SocketContext, sub: Subscription, session: Session, turn: int, text: str,
               page_product_id: str | None, received_at_ms: int, account: bool = False) -> None:
    record = UserTurn(
        conversation_id=session.conversation_id,
        turn=turn,
        seq=0,
        user_id=session.user_id,
        text=text,
        page_product_id=page_product_id,
        client="web",
        sent_at_ms=received_at_ms,
    )
    if await _produce(ctx, sub, ctx.bus.send_request(record, received_at_ms), turn):
        ctx.counters.requests_produced += 1
        if ctx.gate is not None:
            ctx.gate.started(session.conversation_id, turn)
        if ctx.recorder is not None:
            ctx.recorder.record_turn(record)
        fields: dict[str, object] = {"account": True, "text": text} if account else {}
        sub.push(reply_json("accepted", turn=turn, **fields))


async def _produce(ctx: SocketContext, sub: Subscription, send: Awaitable[None], turn: int) -> bool:
    try:
        await send
    except AisleError as exc:
        ctx.counters.errors["broker"] += 1
        log.warning("produce failed for turn %s: %s", turn, exc)
        sub.push(error_json("unavailable", "the assistant is unavailable; try again", turn=turn))
        return False
    return True


async def _receive_raw(ws: WebSocket) -> str | bytes | None:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes")
    return bytes(data) if data is not None else b""


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code, reason), CLOSE_TIMEOUT_S)


_last_feedback_seq = 0


def _feedback_seq() -> int:
    """A millisecond timestamp, made strictly increasing within the process.

    Feedback needs a seq unique within (conversation, turn) so consumers' duplicate filters keep two
    different clicks on one turn; a clock works across reconnects without any shared state.
    """
    global _last_feedback_seq
    _last_feedback_seq = max(now_ms(), _last_feedback_seq + 1)
    return _last_feedback_seq



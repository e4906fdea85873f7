"""The websocket protocol: client messages in (validated), JSON frames out.

Client -> gateway, one JSON object per text message, at most MAX_MESSAGE_BYTES:

    {"type": "hello", "token": "...", "after_seq": {"3": 12}, "last_turn": 3}   first message, always
    {"type": "ask", "text": "...", "page_product_id": "B07..."}
    {"type": "feedback", "turn": 3, "kind": "thumbs_up", "value": "..."}
    {"type": "account", "action": "remove_from_cart:B07..."}   a "You" panel change (account_actions.py)
    {"type": "ping"}

`after_seq` is optional: absent or null means live frames only; an object (maybe empty) asks for a
resume (hub.py gives the contract). `last_turn` is the highest turn the client knows of (turns count
from 0; absent means none), so turn numbers keep rising across reconnects to any gateway process.

Gateway -> client: every Frame from the frames topic as
`{"type", "conversation_id", "turn", "seq", "text", "payload"}` (payload is the parsed JSON object), plus
the gateway's own replies, which carry no seq: `welcome`, `accepted` (the turn number of an ask),
`error` (`code`, `message`; the socket stays open unless said otherwise) and `pong`. `welcome` carries
`turn_timeout_s`, how long the web chat waits for a turn's next frame. An `account` change is answered
`accepted` with its own `turn` and `"account": true`; then `account_changed` (`conversation_id`, `turn`,
no seq) goes to every socket of the shopper, in any conversation, each time one of their turns
finishes or an action is confirmed, so an open "You" panel reads GET /me again.

A fired alert set in another conversation of the same user arrives as `alert_json` builds it: an
`alert` frame whose `conversation_id` is that other conversation, with `turn` (the turn it was set in)
and no `seq`. It is outside the socket's own resume and dedupe (the gateway has already dropped repeats),
and clients that track seqs per turn of their own conversation ignore it rather than mix it in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.alerts.notify import alert_record_message
from pipeline.errors import ContractError
from pipeline.gateway.account_actions import PanelChange, panel_change
from pipeline.messages import Alert, Frame

MAX_MESSAGE_BYTES = 16 * 1024
"""Largest client message accepted (UTF-8 bytes)."""
MAX_TEXT_CHARS = 4000
"""Longest question."""
MAX_VALUE_CHARS = 2000
"""Longest feedback value (an action's parameters as JSON, a comment)."""
MAX_PRODUCT_ID_CHARS = 64
MAX_RESUME_TURNS = 256
"""Most turns an `after_seq` map may list."""
SEQ_LIMIT = 2**63
"""Frame seqs are Avro longs: alert frames and action confirmations use millisecond timestamps
(about 1.8e12, above any 32-bit bound), and a client resuming after one sends that seq back."""
FEEDBACK_KINDS = frozenset({"thumbs_up", "thumbs_down", "action_clicked"})
"""Feedback a client may send. `action_done` and `action_failed` say how a click went: only the actions
stage knows, and writes them; from a client they would count actions nobody took."""
STAGE_FEEDBACK_KINDS = frozenset({"action_done", "action_failed"})


class ProtocolError(ContractError):
    """A client message the gateway refuses; `code` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Hello:
    token: str
    after_seq: dict[int, int] | None
    last_turn: int


@dataclass(frozen=True)
class Ask:
    text: str
    page_product_id: str | None


@dataclass(frozen=True)
class FeedbackRequest:
    turn: int
    kind: str
    value: str


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class AccountRequest:
    """A "You" panel change, already checked to be one the panel may make."""

    change: PanelChange


ClientMessage = Hello | Ask | FeedbackRequest | Ping | AccountRequest


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Validate one websocket message; raises ProtocolError saying what is wrong."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", "message is not JSON") from exc
    except RecursionError as exc:
        # `[[[[…` 16 KiB deep fits the size limit but not the parser's stack.
        raise ProtocolError("bad_json", "message is nested too deeply") from exc
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "message must be a JSON object")
    kind = message.get("type")
    if kind == "ask":
        text = _string(message, "text", MAX_TEXT_CHARS, required=True).strip()
        if not text:
            raise ProtocolError("bad_field", "text must not be empty")
        product = _string(message, "page_product_id", MAX_PRODUCT_ID_CHARS).strip() or None
        return Ask(text, product)
    if kind == "feedback":
        feedback_kind = _string(message, "kind", 32, required=True)
        if feedback_kind in STAGE_FEEDBACK_KINDS:
            raise ProtocolError("not_allowed", f"{feedback_kind} comes from the actions stage, not from clients")
        if feedback_kind not in FEEDBACK_KINDS:
            raise ProtocolError("bad_field", f"kind must be one of {', '.join(sorted(FEEDBACK_KINDS))}")
        return FeedbackRequest(
            _int(message, "turn", required=True), feedback_kind, _string(message, "value", MAX_VALUE_CHARS)
        )
    if kind == "hello":
        return Hello(
            _string(message, "token", 1024, required=True),
            _after_seq(message.get("after_seq")),
            # -1 is "no turn yet", what the web chat sends before its first ask.
            _int(message, "last_turn", default=-1, minimum=-1),
        )
    if kind == "ping":
        return Ping()
    if kind == "account":
        change = panel_change(_string(message, "action", MAX_VALUE_CHARS, required=True))
        if change is None:
            raise ProtocolError("bad_field", "action must be a cart change, cancel_alert:<id> or forget:<key>")
        return AccountRequest(change)
    raise ProtocolError("bad_type", "type must be one of hello, ask, feedback, account, ping")


def frame_json(frame: Frame) -> str:
    """The JSON text a client receives for a frame. A payload that is not a JSON object becomes {}.

    The payload is spliced in as the encoded text hydrate wrote (`orjson.Fragment`), not parsed and
    encoded again: every producer of `frames` writes it with `markup.payloads.to_json` or `json.dumps`
    of a dict. The check here is the cheap one, that it is braced: it keeps an empty payload or an
    array out of the client's message, not an object that is malformed inside.
    """
    payload = frame.payload
    if not (payload.startswith("{") and payload.endswith("}")):
        payload = "{}"
    return orjson.dumps(
        {
            "type": frame.type,
            "conversation_id": frame.conversation_id,
            "turn": frame.turn,
            "seq": frame.seq,
            "text": frame.text,
            "payload": orjson.Fragment(payload),
        }
    ).decode()


def alert_json(alert: Alert) -> str:
    """The JSON text a socket on another conversation of the alert's user receives for a fired alert.

    The payload has the alert frame's fields (docs/alerts.md) plus `firing` (the alert's firing count)
    and `fired_at_ms`; there is deliberately no `seq` (see the module docstring).
    """
    message = alert_record_message(alert)
    payload = {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "product_id": alert.product_id,
        "price_cents": alert.price_cents,
        "threshold_cents": alert.threshold_cents,
        "currency": alert.currency,
        "order_id": alert.order_id,
        "message": message,
        "firing": alert.seq,
        "fired_at_ms": alert.fired_at_ms,
    }
    return json.dumps(
        {
            "type": "alert",
            "conversation_id": alert.conversation_id,
            "turn": alert.turn,
            "text": message,
            "payload": payload,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def account_changed_json(frame: Frame) -> str | None:
    """The `account_changed` notice a frame calls for, or None: a turn's `done`, or an action's
    confirmation (a text frame whose payload has `action` and `ok`, from the actions stage)."""
    if frame.type != "done":
        if frame.type != "text" or '"action"' not in frame.payload:
            return None
        try:
            payload = json.loads(frame.payload)
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
            return None
    return reply_json("account_changed", conversation_id=frame.conversation_id, turn=frame.turn)


def reply_json(reply_type: str, /, **fields: object) -> str:
    """A gateway reply (welcome, accepted, error, pong): no seq, so clients never dedupe it away."""
    return json.dumps({"type": reply_type, **fields}, separators=(",", ":"), ensure_ascii=False)


def error_json(code: str, message: str, **fields: object) -> str:
    return reply_json("error", code=code, message=message, **fields)


def _string(message: Mapping[str, Any], name: str, max_chars: int, required: bool = False) -> str:
    value = message.get(name)
    if value is None:
        if required:
            raise ProtocolError("bad_field", f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_field", f"{name} must be a string")
    if len(value) > max_chars:
        raise ProtocolError("too_long", f"{name} is {len(value)} characters; the limit is {max_chars}")
    return value


def _int(message: Mapping[str, Any], name: str, required: bool = False, default: int = 0, minimum: int = 0) -> int:
    value = message.get(name)
    if value is None:
        if required:
            raise ProtocolError("bad_field", f"{name} is required")
        return default
    # bool is an int subclass; `true` is not a turn number.
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        raise ProtocolError("bad_field", f"{name} must be an integer >= {minimum}")
    return value


def _after_seq(value: object) -> dict[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("bad_field", "after_seq must be an object of turn -> seq")
    if len(value) > MAX_RESUME_TURNS:
        raise ProtocolError("too_long", f"after_seq lists more than {MAX_RESUME_TURNS} turns")
    result: dict[int, int] = {}
    for turn, seq in value.items():
        # isdigit() alone admits "²" and other digits int() refuses: ASCII digits only.
        if not (isinstance(turn, str) and turn.isascii() and turn.isdigit() and len(turn) <= 10):
            raise ProtocolError("bad_field", "after_seq keys must be turn numbers")
        if isinstance(seq, bool) or not isinstance(seq, int) or not -1 <= seq < SEQ_LIMIT:
            raise ProtocolError("bad_field", "after_seq values must be integers >= -1")
        result[int(turn)] = seq
    return result

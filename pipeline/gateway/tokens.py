"""Signed session tokens: who may read and write which conversation.

A token is `<payload>.<signature>`, both unpadded base64url. The payload is compact JSON
`{"u": user_id, "c": conversation_id, "e": expires_at_s}`; the signature is HMAC-SHA256 of the payload
bytes under the gateway's secret. A socket presents its token in its first message, and the gateway
binds the socket to the token's conversation: nobody without a token for a conversation can read its
frames or ask in it. Tokens are only issued for fresh conversations or renewed from a valid token
(see app.py), so holding one proves the conversation is yours.

An expired token still proves who its holder was: for `renew_grace_s` after it expires, `renewable`
accepts it, so POST /session renews it for the same user and conversation instead of the shopper losing
their cart, orders and running auto-buys to a new user id. A socket's hello never accepts one.

Every gateway process must share the secret (`AISLE_SESSION_SECRET`) so a client can reconnect to any
of them; without it, each process makes up its own and tokens only work on the process that issued them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.errors import AisleError, ConfigError

MIN_SECRET_BYTES = 16
"""Shortest secret accepted: anything shorter can be brute-forced offline from one token."""
MAX_TOKEN_CHARS = 1024
"""Longer strings are rejected before any decoding (ids are at most 128 characters each)."""
MAX_ID_CHARS = 128


class InvalidTokenError(AisleError):
    """A session token that is malformed, tampered with or expired (not retriable)."""


@dataclass(frozen=True)
class Session:
    """What a valid token says."""

    user_id: str
    conversation_id: str
    expires_at_s: int
    """Unix time in seconds after which the token is refused."""


def random_secret() -> str:
    """A fresh 256-bit secret, for a process started without AISLE_SESSION_SECRET."""
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    """An unguessable id such as `c-3q2…` (128 random bits)."""
    return f"{prefix}-{secrets.token_urlsafe(16)}"


class SessionSigner:
    """Issues and checks session tokens with one secret.

    `clock` returns Unix time in seconds; tests pass a fake one.
    Raises ConfigError when the secret is shorter than MIN_SECRET_BYTES.
    """

    def __init__(
        self, secret: str, ttl_s: int, clock: Callable[[], float] = time.time, renew_grace_s: int = 0
    ) -> None:
        key = secret.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(f"session secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl_s <= 0:
            raise ConfigError(f"session ttl must be positive, got {ttl_s}")
        self._key = key
        self._ttl_s = ttl_s
        self._clock = clock
        self._renew_grace_s = max(0, renew_grace_s)

    def issue(self, user_id: str, conversation_id: str) -> tuple[str, Session]:
        """A token for this user and conversation, valid for ttl_s from now."""
        _check_id(user_id)
        _check_id(conversation_id)
        session = Session(user_id, conversation_id, int(self._clock()) + self._ttl_s)
        payload = json.dumps(
            {"u": session.user_id, "c": session.conversation_id, "e": session.expires_at_s},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}", session

    def verify(self, token: str) -> Session:
        """The session a token grants; raises InvalidTokenError if it is malformed, forged or expired."""
        session = self._signed(token)
        if self._clock() >= session.expires_at_s:
            raise InvalidTokenError("token expired")
        return session

    def renewable(self, token: str) -> Session:
        """The session a token may be renewed for: a valid one, or one expired less than renew_grace_s
        ago. Raises InvalidTokenError if it is malformed, forged (another secret) or expired longer."""
        session = self._signed(token)
        if self._clock() >= session.expires_at_s + self._renew_grace_s:
            raise InvalidTokenError("token expired too long ago to renew")
        return session

    def _signed(self, token: str) -> Session:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise InvalidTokenError("malformed token")
        payload_b64, signature_b64 = token.split(".")
        try:
            payload = _unb64(payload_b64)
            signature = _unb64(signature_b64)
        except (binascii.Error, ValueError) as exc:
            raise InvalidTokenError("malformed token") from exc
        # Check the signature before parsing anything the client wrote.
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidTokenError("bad signature")
        try:
            fields = json.loads(payload)
            session = Session(str(fields["u"]), str(fields["c"]), int(fields["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidTokenError("malformed token payload") from exc
        return session

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _check_id(value: str) -> None:
    if not value or len(value) > MAX_ID_CHARS:
        raise InvalidTokenError(f"an id must be 1 to {MAX_ID_CHARS} characters")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

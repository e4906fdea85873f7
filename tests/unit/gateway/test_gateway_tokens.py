"""Session tokens: signed, bound to one conversation, expiring, tamper-evident."""

from __future__ import annotations

import base64
import json

import pytest

from pipeline.errors import ConfigError
from pipeline.gateway.tokens import InvalidTokenError, SessionSigner

SECRET = "s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_grants_its_user_and_conversation() -> None:
    signer = SessionSigner(SECRET, ttl_s=60)
    token, issued = signer.issue("u-1", "c-1")
    session = signer.verify(token)
    assert (session.user_id, session.conversation_id) == ("u-1", "c-1")
    assert session == issued


def test_an_expired_token_stays_renewable_for_the_grace_period_only() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, ttl_s=60, clock=clock, renew_grace_s=3600)
    token, issued = signer.issue("u-1", "c-1")
    clock.now += 60 + 3599
    with pytest.raises(InvalidTokenError, match="expired"):
        signer.verify(token)  # a socket never takes it
    assert signer.renewable(token) == issued
    clock.now += 1
    with pytest.raises(InvalidTokenError, match="too long ago"):
        signer.renewable(token)
    other, _ = SessionSigner("o" * 32, ttl_s=60, clock=clock, renew_grace_s=3600).issue("u-1", "c-1")
    with pytest.raises(InvalidTokenError, match="signature"):
        signer.renewable(other)


def test_a_token_expires_after_its_ttl() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, ttl_s=60, clock=clock)
    token, _ = signer.issue("u-1", "c-1")
    clock.now += 59
    signer.verify(token)
    clock.now += 1
    with pytest.raises(InvalidTokenError, match="expired"):
        signer.verify(token)


def _forge(token: str, **changes: object) -> str:
    payload_b64, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    payload.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize("changes", [{"c": "c-someone-else"}, {"u": "u-2"}, {"e": 4_000_000_000}])
def test_a_changed_payload_is_refused(changes: dict[str, object]) -> None:
    signer = SessionSigner(SECRET, ttl_s=60)
    token, _ = signer.issue("u-1", "c-1")
    with pytest.raises(InvalidTokenError, match="signature"):
        signer.verify(_forge(token, **changes))


def test_a_token_from_another_secret_is_refused() -> None:
    token, _ = SessionSigner("t" * 32, ttl_s=60).issue("u-1", "c-1")
    with pytest.raises(InvalidTokenError):
        SessionSigner(SECRET, ttl_s=60).verify(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "x" * 2000, "e30.AAAA"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        SessionSigner(SECRET, ttl_s=60).verify(token)


def test_a_short_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SessionSigner("short", ttl_s=60)

"""How much one client may ask: rate limits and turns in flight. No network, no Kafka.

Three bounds, each answered with an `error` frame that says which and when to try again (the socket
stays open):

- Per socket, a token bucket of `socket_ask_burst` asks refilled at `socket_asks_per_s` (code
  `rate_limited`, `scope: "connection"`). Asks, panel changes and feedback all take from it: each is a
  record the pipeline must process.
- Per user, the same over every socket of the user on this process (`scope: "user"`), so opening more
  sockets does not multiply the rate. At most `users_remembered` users' buckets are kept, least recently
  used forgotten first; a forgotten user starts with a full bucket again.
- Per conversation, at most `turns_in_flight_max` turns accepted and not yet ended by their `done` frame
  (code `too_many_turns`). One shopper cannot queue hundreds of turns on their conversation's lane,
  where they would wait behind each other and hold the partition's commit position. A turn whose `done`
  never comes stops counting after `turn_in_flight_max_s` (the pipeline's own turn hold bound).

Limits are per gateway process: a client spread over N processes gets N times the rate. A refused
message takes nothing from any bucket. 0 turns a bound off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class AskLimits:
    """The bounds; raises ConfigError on a negative one."""

    socket_asks_per_s: float = 2.0
    socket_ask_burst: int = 10
    user_asks_per_s: float = 4.0
    user_ask_burst: int = 20
    turns_in_flight_max: int = 4
    turn_in_flight_max_s: float = 120.0
    users_remembered: int = 65_536

    def __post_init__(self) -> None:
        if min(self.socket_asks_per_s, self.socket_ask_burst, self.user_asks_per_s, self.user_ask_burst,
               self.turns_in_flight_max, self.turn_in_flight_max_s) < 0 or self.users_remembered < 1:
            raise ConfigError("gateway rate limits must not be negative")


@dataclass(frozen=True)
class Refusal:
    """Why a message was not taken: the error frame's code, message and fields."""

    code: str
    message: str
    fields: dict[str, object]


class TokenBucket:
    """`burst` tokens, refilled at `rate_per_s`; seconds are the caller's clock."""

    def __init__(self, rate_per_s: float, burst: int, now_s: float) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at_s = now_s

    def wait_s(self, now_s: float) -> float:
        """Seconds until one token is there (0.0: now). Takes nothing."""
        self._tokens = min(self._burst, self._tokens + (now_s - self._at_s) * self._rate_per_s)
        self._at_s = now_s
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self._rate_per_s if self._rate_per_s > 0 else float("inf")

    def take(self) -> None:
        """Take one token; call right after `wait_s` said 0.0."""
        self._tokens -= 1.0


class AskGate:
    """The process's limits: per-user buckets, per-conversation turns in flight.

    Single-threaded (one event loop). `clock` returns monotonic seconds; tests pass a fake one.
    """

    def __init__(self, limits: AskLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._users: LRUCache[str, TokenBucket] = LRUCache(maxsize=limits.users_remembered)
        self._in_flight: dict[str, dict[int, float]] = {}
        """Per conversation, turn -> when it was accepted (monotonic s)."""

    def socket_bucket(self) -> TokenBucket | None:
        """A new socket's own bucket; None when the per-socket limit is off."""
        limits = self.limits
        if limits.socket_asks_per_s <= 0 or limits.socket_ask_burst <= 0:
            return None
        return TokenBucket(limits.socket_asks_per_s, limits.socket_ask_burst, self._clock())

    def admit(self, socket: TokenBucket | None, user_id: str, conversation_id: str, turn: bool) -> Refusal | None:
        """Take one message from the socket's and the user's buckets, or say why not (taking nothing).

        `turn`: the message starts a turn (an ask, a panel change), so the in-flight cap applies too.
        """
        now = self._clock()
        limits = self.limits
        if turn and limits.turns_in_flight_max > 0:
            if self._count_in_flight(conversation_id, now) >= limits.turns_in_flight_max:
                return Refusal("too_many_turns",
                               f"{limits.turns_in_flight_max} answers are still coming in this conversation; "
                               "ask again when one is done", {"limit": limits.turns_in_flight_max})
        user = self._user_bucket(user_id, now)
        for scope, bucket in (("connection", socket), ("user", user)):
            wait_s = bucket.wait_s(now) if bucket is not None else 0.0
            if wait_s > 0:
                return Refusal("rate_limited", "too many messages; wait a moment and try again",
                               {"scope": scope, "retry_after_s": round(min(wait_s, 3600.0), 3)})
        for bucket in (socket, user):
            if bucket is not None:
                bucket.take()
        return None

    def started(self, conversation_id: str, turn: int) -> None:
        """A turn was accepted (its ask is on the requests topic)."""
        if self.limits.turns_in_flight_max > 0:
            self._in_flight.setdefault(conversation_id, {})[turn] = self._clock()

    def ended(self, conversation_id: str, turn: int) -> None:
        """A turn's `done` frame went by (from any process: every gateway reads every frame)."""
        turns = self._in_flight.get(conversation_id)
        if turns is not None and turns.pop(turn, None) is not None and not turns:
            del self._in_flight[conversation_id]

    def in_flight(self, conversation_id: str) -> int:
        return self._count_in_flight(conversation_id, self._clock())

    def sweep(self) -> None:
        """Forget turns past turn_in_flight_max_s everywhere (the map stays bounded by live turns)."""
        now = self._clock()
        for conversation_id in list(self._in_flight):
            self._count_in_flight(conversation_id, now)

    def _count_in_flight(self, conversation_id: str, now: float) -> int:
        turns = self._in_flight.get(conversation_id)
        if not turns:
            return 0
        oldest = now - self.limits.turn_in_flight_max_s
        for turn in [t for t, at in turns.items() if at < oldest]:
            del turns[turn]
        if not turns:
            del self._in_flight[conversation_id]
            return 0
        return len(turns)

    def _user_bucket(self, user_id: str, now: float) -> TokenBucket | None:
        limits = self.limits
        if limits.user_asks_per_s <= 0 or limits.user_ask_burst <= 0:
            return None
        bucket = self._users.get(user_id)
        if bucket is None:
            bucket = self._users[user_id] = TokenBucket(limits.user_asks_per_s, limits.user_ask_burst, now)
        return bucket

"""The gateway's routing core: which socket gets which frame, with bounds. No Kafka, no network.

Frames come in through `Hub.publish` (from the frames topic, in partition order, so in seq order within
a turn); each goes only to the subscriptions of its own conversation. Three bounds keep one process's
memory fixed whatever the clients do:

- Each subscription has a send queue of `HubLimits.send_queue_frames`. When a frame would overflow it,
  the subscription is closed with reason `overflow` and removed from routing, and the socket layer
  closes the socket with code 1013 (try again later). The client reconnects and resumes from its last
  seq, which the resume buffer serves. A slow client therefore costs only itself: publish never waits.
- Each conversation keeps its recent frames in a resume buffer of at most `resume_frames` frames, none
  older than `resume_age_s`. At most `resume_conversations` conversations are kept; the least recently
  active one without sockets is forgotten first.
- Duplicates (the at-least-once bus may deliver a frame twice) are dropped by (turn, seq): within one
  turn frames arrive in seq order, so a seq at or below the turn's high-water mark has been seen.

Fired alerts also reach their user's sockets on other conversations (`Hub.publish_alert`, from the
alerts topic): the alert's own conversation gets the alert frame from the frames topic, with resume,
and every other socket of the same user (the session token binds each socket to one user) gets it
once, live. Redelivered alerts are dropped by (alert id, firing seq): one alert's firings are keyed by
its conversation, so they arrive in order, and the hub keeps the last firing seq of at most
`alerts_remembered` alerts.

Resume contract (`after_seq`): a client sends, per turn it has seen anything of, the last seq it
received. A buffered frame (turn, seq) is replayed iff the turn is listed and seq is greater, or the turn
is above every listed turn. Turns below the highest listed one and not listed count as complete (a
client drops a turn from its map only once that turn is done). `None` means "live frames only".
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cachetools import LRUCache

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class HubLimits:
    """The hub's bounds; raises ConfigError when they cannot work together."""

    send_queue_frames: int = 1024
    """Frames queued for one socket before it is closed as too slow."""
    resume_frames: int = 512
    """Recent frames kept per conversation for resume (at most send_queue_frames)."""
    resume_age_s: float = 300.0
    """Seconds a frame stays resumable."""
    resume_conversations: int = 2048
    """Conversations whose resume buffers one process keeps."""
    alerts_remembered: int = 65536
    """Alerts whose last firing seq is kept to drop redelivered ones (~12 MiB when full, tracemalloc)."""

    def __post_init__(self) -> None:
        if min(self.send_queue_frames, self.resume_frames, self.resume_conversations, self.alerts_remembered) < 1:
            raise ConfigError("gateway queue and buffer sizes must be at least 1")
        if self.resume_age_s <= 0:
            raise ConfigError("gateway resume age must be positive")
        # A whole replay must fit in a fresh send queue, or resuming would overflow at once.
        if self.resume_frames > self.send_queue_frames:
            raise ConfigError(
                f"resume buffer ({self.resume_frames}) larger than send queue ({self.send_queue_frames})"
            )


@dataclass(frozen=True)
class WireFrame:
    """A frame as sent on the socket: its routing key and its JSON text, serialised once."""

    conversation_id: str
    turn: int
    seq: int
    data: str


@dataclass(frozen=True)
class WireAlert:
    """A fired alert for its user's sockets on other conversations: routing keys and its JSON text."""

    alert_id: str
    firing_seq: int
    """The alert's firing count (Alert.seq), from 0: the same for a firing sent twice."""
    user_id: str
    conversation_id: str
    """The conversation the alert was set in; its sockets get the alert frame from the frames topic."""
    data: str


@dataclass
class HubStats:
    """Counters since the process started (read by /metrics)."""

    frames_published: int = 0
    frames_delivered: int = 0
    frames_duplicate: int = 0
    frames_dropped: int = 0
    """Frames not queued for a socket because its queue was full (the socket is then closed)."""
    queue_overflows: int = 0
    resume_gaps: int = 0
    alerts_published: int = 0
    alerts_delivered: int = 0
    """Alert frames queued for sockets of the alert's user on other conversations."""
    alerts_duplicate: int = 0


class SubscriptionClosed(Exception):
    """Raised by `Subscription.take` once the subscription is closed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscription:
    """One socket's view of one conversation (and its user's alerts): a bounded queue of JSON texts."""

    def __init__(
        self, conversation_id: str, capacity: int, after_seq: Mapping[int, int] | None, user_id: str | None = None
    ) -> None:
        self.conversation_id = conversation_id
        self.user_id = user_id
        self._capacity = capacity
        self._queue: deque[str] = deque()
        self._ready = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self._seen: dict[int, int] = dict(after_seq or {})
        """Per turn, the last seq this socket has (been sent or had before resuming)."""
        self._floor_turn = max(self._seen, default=-1)
        """Turns at or below this one and missing from _seen count as complete."""

    def wants(self, frame: WireFrame) -> bool:
        """Whether this socket still lacks the frame (resume contract in the module docstring)."""
        last = self._seen.get(frame.turn)
        if last is None:
            return frame.turn > self._floor_turn
        return frame.seq > last

    def offer(self, frame: WireFrame) -> bool:
        """Queue a frame it lacks; False (and close) if the queue is full. No-op once closed."""
        if self.close_reason is not None or not self.wants(frame):
            return True
        if not self.push(frame.data):
            return False
        self._seen[frame.turn] = frame.seq
        return True

    def push(self, data: str) -> bool:
        """Queue a JSON text (frames and the gateway's own replies share the bound)."""
        if self.close_reason is not None:
            return True
        if len(self._queue) >= self._capacity:
            self.close("overflow")
            return False
        self._queue.append(data)
        self._ready.set()
        return True

    def close(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
            self.closed.set()
            self._ready.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def take(self) -> list[str]:
        """Wait for and return everything queued, oldest first; raises SubscriptionClosed once closed."""
        while True:
            if self.close_reason is not None:
                raise SubscriptionClosed(self.close_reason)
            if self._queue:
                batch = list(self._queue)
                self._queue.clear()
                self._ready.clear()
                return batch
            self._ready.clear()
            await self._ready.wait()


@dataclass
class _Conversation:
    frames: deque[tuple[float, WireFrame]] = field(default_factory=deque)
    high_water: dict[int, int] = field(default_factory=dict)
    """Per turn, the highest seq published (duplicate filter)."""
    evicted_through: dict[int, int] = field(default_factory=dict)
    """Per turn, the highest seq dropped from the buffer (a resume below it has a gap)."""
    subscriptions: set[Subscription] = field(default_factory=set)
    last_turn: int = -1
    """Highest turn number seen in frames or handed out by `next_turn` (turns count from 0)."""
    user_id: str | None = None
    """The shopper of the last socket subscribed (a session token binds a conversation to one user)."""


class Hub:
    """Routes frames to subscriptions by conversation. Single-threaded: call it from one event loop.

    `clock` returns seconds (monotonic); tests pass a fake one.
    """

    def __init__(self, limits: HubLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.stats = HubStats()
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._users: dict[str, set[Subscription]] = {}
        """Per user, the open subscriptions (any conversation): alert routing. Holds only live sockets."""
        self._alert_firings: LRUCache[str, int] = LRUCache(maxsize=limits.alerts_remembered)
        """Per alert id, the highest firing seq published (duplicate filter), least recent first."""

    @property
    def sockets_open(self) -> int:
        return sum(len(c.subscriptions) for c in self._conversations.values())

    @property
    def conversations_buffered(self) -> int:
        return len(self._conversations)

    def subscribe(
        self, conversation_id: str, after_seq: Mapping[int, int] | None = None, user_id: str | None = None
    ) -> tuple[Subscription, list[int]]:
        """Register a socket and queue the frames it missed, in publish order.

        `user_id` (the session's user) also routes that user's alerts from other conversations to it;
        None leaves the socket out of alert routing. Returns the subscription and the turns whose missed
        frames are partly gone from the buffer (a gap the client should be told about); empty when the
        replay is complete.
        """
        sub = Subscription(conversation_id, self.limits.send_queue_frames, after_seq, user_id)
        conv = self._touch(conversation_id)
        gaps: list[int] = []
        if after_seq is not None:
            self._expire(conv, self._clock())
            for turn, evicted in sorted(conv.evicted_through.items()):
                if sub.wants(WireFrame(conversation_id, turn, evicted, "")):
                    gaps.append(turn)
            self.stats.resume_gaps += len(gaps)
            for _, frame in conv.frames:
                # Fits: resume_frames <= send_queue_frames, checked by HubLimits.
                sub.offer(frame)
        conv.subscriptions.add(sub)
        if user_id is not None:
            conv.user_id = user_id
            self._users.setdefault(user_id, set()).add(sub)
        return sub, gaps

    def unsubscribe(self, sub: Subscription) -> None:
        self._unroute(sub)
        sub.close("unsubscribed")

    def publish(self, frame: WireFrame) -> int:
        """Buffer a frame and queue it for its conversation's sockets; returns how many got it.

        Never waits. A socket whose queue is full is closed (reason `overflow`) and unrouted.
        """
        now = self._clock()
        self.stats.frames_published += 1
        conv = self._touch(frame.conversation_id)
        if frame.seq <= conv.high_water.get(frame.turn, -1):
            self.stats.frames_duplicate += 1
            return 0
        conv.high_water[frame.turn] = frame.seq
        conv.last_turn = max(conv.last_turn, frame.turn)
        conv.frames.append((now, frame))
        self._expire(conv, now)
        delivered = 0
        for sub in list(conv.subscriptions):
            if not sub.wants(frame):
                continue
            if sub.offer(frame):
                delivered += 1
            else:
                self.stats.frames_dropped += 1
                self.stats.queue_overflows += 1
                self._unroute(sub)
        self.stats.frames_delivered += delivered
        self._evict_conversations()
        return delivered

    def publish_alert(self, alert: WireAlert) -> int:
        """Queue a fired alert for its user's sockets on other conversations; returns how many got it.

        Sockets on the alert's own conversation are skipped: they get its frame from the frames topic.
        A firing already published (same alert id, firing seq at or below the last) is dropped. Never
        waits; a socket whose queue is full is closed (reason `overflow`) and unrouted, as in publish.
        """
        self.stats.alerts_published += 1
        last = self._alert_firings.get(alert.alert_id)
        if last is not None and alert.firing_seq <= last:
            self.stats.alerts_duplicate += 1
            return 0
        self._alert_firings[alert.alert_id] = alert.firing_seq
        delivered = 0
        for sub in list(self._users.get(alert.user_id, ())):
            if sub.conversation_id == alert.conversation_id:
                continue
            if sub.push(alert.data):
                delivered += 1
            else:
                self.stats.frames_dropped += 1
                self.stats.queue_overflows += 1
                self._unroute(sub)
        self.stats.alerts_delivered += delivered
        return delivered

    def publish_to_owner(self, conversation_id: str, data: str) -> int:
        """Queue `data` for every socket of the conversation's shopper, in any of their conversations;
        returns how many got it. The shopper is known once a socket has subscribed to the conversation
        (while the hub keeps it); otherwise nobody gets it. Never waits; overflow as in publish."""
        conv = self._conversations.get(conversation_id)
        if conv is None or conv.user_id is None:
            return 0
        delivered = 0
        for sub in list(self._users.get(conv.user_id, ())):
            if sub.push(data):
                delivered += 1
            else:
                self.stats.frames_dropped += 1
                self.stats.queue_overflows += 1
                self._unroute(sub)
        return delivered

    def next_turn(self, conversation_id: str, client_last_turn: int = -1) -> int:
        """Hand out the next turn number: one above every turn this process or the client has seen.

        Turns count from 0; `client_last_turn` is -1 when the client knows of none.
        """
        conv = self._touch(conversation_id)
        conv.last_turn = max(conv.last_turn, client_last_turn) + 1
        return conv.last_turn

    def sweep(self) -> None:
        """Drop expired frames everywhere, and conversations left with no frames and no sockets."""
        now = self._clock()
        for conversation_id, conv in list(self._conversations.items()):
            self._expire(conv, now)
            if not conv.frames and not conv.subscriptions:
                del self._conversations[conversation_id]

    def _unroute(self, sub: Subscription) -> None:
        conv = self._conversations.get(sub.conversation_id)
        if conv is not None:
            conv.subscriptions.discard(sub)
        if sub.user_id is not None:
            subs = self._users.get(sub.user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._users[sub.user_id]

    def _touch(self, conversation_id: str) -> _Conversation:
        conv = self._conversations.get(conversation_id)
        if conv is None:
            conv = self._conversations[conversation_id] = _Conversation()
        else:
            self._conversations.move_to_end(conversation_id)
        return conv

    def _expire(self, conv: _Conversation, now: float) -> None:
        frames = conv.frames
        oldest_allowed = now - self.limits.resume_age_s
        while frames and (len(frames) > self.limits.resume_frames or frames[0][0] < oldest_allowed):
            _, old = frames.popleft()
            conv.evicted_through[old.turn] = max(conv.evicted_through.get(old.turn, -1), old.seq)

    def _evict_conversations(self) -> None:
        excess = len(self._conversations) - self.limits.resume_conversations
        if excess <= 0:
            return
        for conversation_id, conv in list(self._conversations.items()):
            if excess <= 0:
                break
            if not conv.subscriptions:
                del self._conversations[conversation_id]
                excess -= 1

"""The routing core: isolation between conversations, the bounded queue, resume, dedupe."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.gateway.hub import Hub, HubLimits, Subscription, SubscriptionClosed, WireFrame


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frame(conversation_id: str, turn: int, seq: int) -> WireFrame:
    data = json.dumps({"c": conversation_id, "turn": turn, "seq": seq})
    return WireFrame(conversation_id, turn, seq, data)


def keys(batch: list[str]) -> list[tuple[int, int]]:
    return [(json.loads(d)["turn"], json.loads(d)["seq"]) for d in batch]


async def drain(sub: Subscription) -> list[tuple[int, int]]:
    return keys(await sub.take()) if sub.queued else []


def make_hub(**limits: float) -> tuple[Hub, FakeClock]:
    clock = FakeClock()
    return Hub(HubLimits(**limits), clock), clock  # type: ignore[arg-type]


async def test_frames_reach_only_their_conversation() -> None:
    hub, _ = make_hub()
    a1, _ = hub.subscribe("A")
    a2, _ = hub.subscribe("A")
    b, _ = hub.subscribe("B")
    for seq in range(3):
        hub.publish(frame("A", 0, seq))
    hub.publish(frame("B", 0, 0))
    assert await drain(a1) == [(0, 0), (0, 1), (0, 2)]
    assert await drain(a2) == [(0, 0), (0, 1), (0, 2)]
    assert [json.loads(d)["c"] for d in await b.take()] == ["B"]
    assert hub.stats.frames_delivered == 7


async def test_duplicate_frames_are_dropped_by_turn_and_seq() -> None:
    hub, _ = make_hub()
    sub, _ = hub.subscribe("A")
    for seq in [0, 1, 1, 0, 2]:
        hub.publish(frame("A", 0, seq))
    hub.publish(frame("A", 1, 0))  # a new turn starts its own seq
    assert await drain(sub) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert hub.stats.frames_duplicate == 2


async def test_full_queue_closes_only_the_slow_socket() -> None:
    hub, _ = make_hub(send_queue_frames=4, resume_frames=4)
    slow, _ = hub.subscribe("A")
    fast, _ = hub.subscribe("A")
    for seq in range(6):
        hub.publish(frame("A", 0, seq))
        await drain(fast)  # the fast client keeps up
    assert slow.close_reason == "overflow"
    assert fast.close_reason is None
    assert hub.stats.queue_overflows == 1
    assert hub.stats.frames_dropped == 1
    assert hub.sockets_open == 1
    with pytest.raises(SubscriptionClosed):
        await slow.take()
    hub.publish(frame("A", 0, 6))
    assert await drain(fast) == [(0, 6)]


async def test_replies_count_against_the_same_bound() -> None:
    hub, _ = make_hub(send_queue_frames=2, resume_frames=2)
    sub, _ = hub.subscribe("A")
    assert sub.push("x") and sub.push("y")
    assert not sub.push("z")
    assert sub.closed.is_set()


async def test_resume_replays_every_missed_frame_once_in_order() -> None:
    hub, _ = make_hub()
    first, _ = hub.subscribe("A", {})
    for seq in range(5):
        hub.publish(frame("A", 0, seq))
    received = keys(await first.take())[:3]  # the socket died after three frames reached the client
    hub.unsubscribe(first)
    hub.publish(frame("A", 0, 5))  # arrives while the client is away
    last_turn, last_seq = received[-1]
    second, gaps = hub.subscribe("A", {last_turn: last_seq})
    hub.publish(frame("A", 0, 5))  # a redelivery of what the replay already holds
    hub.publish(frame("A", 0, 6))  # live again
    seen = received + await drain(second)
    assert gaps == []
    assert seen == [(0, s) for s in range(7)]


async def test_resume_skips_completed_turns_and_sends_newer_ones() -> None:
    hub, _ = make_hub()
    for turn, seq in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (1, 2)]:
        hub.publish(frame("A", turn, seq))
    # The client finished turn 0 and dropped it; it saw turn 1 up to seq 0.
    sub, _ = hub.subscribe("A", {1: 0})
    assert await drain(sub) == [(1, 1), (2, 0), (1, 2)]


async def test_live_only_subscription_gets_no_replay() -> None:
    hub, _ = make_hub()
    hub.publish(frame("A", 0, 0))
    sub, _ = hub.subscribe("A", None)
    hub.publish(frame("A", 0, 1))
    assert await drain(sub) == [(0, 1)]


async def test_resume_reports_a_gap_when_frames_were_evicted() -> None:
    hub, _ = make_hub(resume_frames=3)
    for seq in range(6):
        hub.publish(frame("A", 0, seq))  # seqs 0..2 evicted by count
    _, gaps = hub.subscribe("A", {0: 1})
    assert gaps == [0]
    ok, gaps = hub.subscribe("A", {0: 2})
    assert gaps == []
    assert await drain(ok) == [(0, 3), (0, 4), (0, 5)]
    assert hub.stats.resume_gaps == 1


async def test_frames_expire_by_age() -> None:
    hub, clock = make_hub(resume_age_s=60)
    hub.publish(frame("A", 0, 0))
    clock.now += 30
    hub.publish(frame("A", 0, 1))
    clock.now += 40  # seq 0 is now 70 s old
    sub, gaps = hub.subscribe("A", {})
    assert await drain(sub) == [(0, 1)]
    assert gaps == [0]
    hub.unsubscribe(sub)
    clock.now += 100
    hub.sweep()
    assert hub.conversations_buffered == 0


async def test_least_recent_idle_conversation_is_forgotten_first() -> None:
    hub, _ = make_hub(resume_conversations=2)
    held, _ = hub.subscribe("held")
    hub.publish(frame("held", 0, 0))
    hub.publish(frame("idle", 0, 0))
    hub.publish(frame("new", 0, 0))
    assert hub.conversations_buffered == 2
    replay, _ = hub.subscribe("idle", {})
    assert await drain(replay) == []
    hub.publish(frame("held", 0, 1))
    assert await drain(held) == [(0, 0), (0, 1)]


async def test_turn_numbers_rise_past_frames_and_client_hints() -> None:
    hub, _ = make_hub()
    assert hub.next_turn("A") == 0
    assert hub.next_turn("A") == 1
    hub.publish(frame("A", 5, 0))  # another process handed out turn 5
    assert hub.next_turn("A") == 6
    assert hub.next_turn("B", client_last_turn=9) == 10


def test_limits_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError):
        HubLimits(send_queue_frames=10, resume_frames=11)
    with pytest.raises(ConfigError):
        HubLimits(send_queue_frames=0)
    with pytest.raises(ConfigError):
        HubLimits(resume_age_s=0)

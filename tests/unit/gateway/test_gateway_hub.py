"""The routing core: isolation between conversations, the bounded queue, resume, dedupe, and fired
alerts to every socket of their user."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.gateway.hub import Hub, HubLimits, Subscription, SubscriptionClosed, WireAlert, WireFrame


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frame(conversation_id: str, turn: int, seq: int) -> WireFrame:
    data = json.dumps({"c": conversation_id, "turn": turn, "seq": seq})
    return WireFrame(conversation_id, turn, seq, data)


def alert(alert_id: str, firing_seq: int, user_id: str = "u1", conversation_id: str = "A") -> WireAlert:
    data = json.dumps({"alert": alert_id, "firing": firing_seq})
    return WireAlert(alert_id, firing_seq, user_id, conversation_id, data)


def alerts_in(batch: list[str]) -> list[tuple[str, int]]:
    return [(m["alert"], m["firing"]) for m in map(json.loads, batch) if "alert" in m]


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
    with pytest.raises(ConfigError):
        HubLimits(alerts_remembered=0)


async def test_an_alert_reaches_its_users_sockets_on_other_conversations_once_each() -> None:
    hub, _ = make_hub()
    home, _ = hub.subscribe("A", user_id="u1")  # the conversation the alert was set in
    b1, _ = hub.subscribe("B", user_id="u1")  # two tabs on another conversation
    b2, _ = hub.subscribe("B", user_id="u1")
    c, _ = hub.subscribe("C", user_id="u1")
    stranger, _ = hub.subscribe("D", user_id="u2")
    anonymous, _ = hub.subscribe("E")  # no user: not routed alerts
    assert hub.publish_alert(alert("al-1", 0)) == 3
    for sub in (b1, b2, c):
        assert alerts_in(await sub.take()) == [("al-1", 0)]
    # The alert's own conversation gets the frame from the frames topic, not a second copy from here.
    assert (home.queued, stranger.queued, anonymous.queued) == (0, 0, 0)
    assert hub.stats.alerts_delivered == 3
    assert hub.sockets_open == 6  # the user index does not count a socket twice


async def test_alert_frames_leave_the_sockets_resume_state_alone() -> None:
    hub, _ = make_hub()
    sub, _ = hub.subscribe("B", {0: 3}, user_id="u1")
    hub.publish_alert(alert("al-1", 0))  # set in conversation A, turn 0
    hub.publish(frame("B", 0, 4))  # B's own turn 0 goes on
    batch = await sub.take()
    assert alerts_in(batch) == [("al-1", 0)]
    assert keys(batch[1:]) == [(0, 4)]


async def test_redelivered_alerts_are_dropped_and_later_firings_pass() -> None:
    hub, _ = make_hub()
    sub, _ = hub.subscribe("B", user_id="u1")
    for alert_id, firing in [("al-1", 0), ("al-1", 0), ("al-2", 0), ("al-1", 1), ("al-1", 0), ("al-2", 0)]:
        hub.publish_alert(alert(alert_id, firing))
    assert alerts_in(await sub.take()) == [("al-1", 0), ("al-2", 0), ("al-1", 1)]
    assert (hub.stats.alerts_published, hub.stats.alerts_duplicate) == (6, 3)


async def test_the_alert_duplicate_filter_is_bounded() -> None:
    hub, _ = make_hub(alerts_remembered=2)
    sub, _ = hub.subscribe("B", user_id="u1")
    for alert_id in ["al-1", "al-2", "al-3"]:
        hub.publish_alert(alert(alert_id, 0))
    hub.publish_alert(alert("al-3", 0))  # remembered: dropped
    hub.publish_alert(alert("al-1", 0))  # forgotten (least recent of three, limit two): goes out again
    assert alerts_in(await sub.take()) == [("al-1", 0), ("al-2", 0), ("al-3", 0), ("al-1", 0)]


async def test_closed_sockets_leave_the_user_index() -> None:
    hub, _ = make_hub(send_queue_frames=1, resume_frames=1)
    gone, _ = hub.subscribe("B", user_id="u1")
    hub.unsubscribe(gone)
    full, _ = hub.subscribe("C", user_id="u1")
    assert full.push("a reply")  # the queue (one message) is now full
    assert hub.publish_alert(alert("al-1", 0)) == 0
    assert full.close_reason == "overflow"
    assert hub.stats.queue_overflows == 1
    assert hub.publish_alert(alert("al-2", 0)) == 0  # nobody left to route to
    assert hub.sockets_open == 0
    with pytest.raises(SubscriptionClosed):
        await gone.take()


async def test_a_socket_overflowed_by_frames_gets_no_more_alerts() -> None:
    hub, _ = make_hub(send_queue_frames=1, resume_frames=1)
    sub, _ = hub.subscribe("B", user_id="u1")
    hub.publish(frame("B", 0, 0))
    hub.publish(frame("B", 0, 1))  # overflows
    assert sub.close_reason == "overflow"
    assert hub.publish_alert(alert("al-1", 0)) == 0

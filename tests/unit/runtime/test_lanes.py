import asyncio

import pytest

from pipeline.runtime.lanes import KeyedLanes


async def test_items_of_one_key_run_in_order_and_keys_run_concurrently() -> None:
    log: list[tuple[str, int, str]] = []

    async def handler(item: tuple[str, int]) -> None:
        key, n = item
        log.append((key, n, "start"))
        await asyncio.sleep(0.01 if key == "slow" else 0)
        log.append((key, n, "end"))

    lanes: KeyedLanes[tuple[str, int]] = KeyedLanes(handler, max_lanes=10, queue_size=10)
    for n in range(3):
        assert lanes.offer("slow", ("slow", n))
        assert lanes.offer("fast", ("fast", n))
    await lanes.drain()

    for key in ("slow", "fast"):
        events = [(n, what) for k, n, what in log if k == key]
        assert events == [(0, "start"), (0, "end"), (1, "start"), (1, "end"), (2, "start"), (2, "end")]
    # "fast" finished everything while "slow" was still on its first item.
    assert log.index(("fast", 2, "end")) < log.index(("slow", 0, "end"))


async def test_offer_refuses_when_a_lane_or_the_lane_count_is_full() -> None:
    release = asyncio.Event()

    async def handler(item: int) -> None:
        await release.wait()

    room_calls = 0

    def on_room() -> None:
        nonlocal room_calls
        room_calls += 1

    lanes: KeyedLanes[int] = KeyedLanes(handler, max_lanes=2, queue_size=2, on_room=on_room)
    assert lanes.offer("a", 1) and lanes.offer("a", 2)
    assert not lanes.offer("a", 3), "lane 'a' holds queue_size items"
    assert lanes.offer("b", 1)
    assert not lanes.offer("c", 1), "max_lanes keys are active"
    assert lanes.queued == 3 and lanes.active_lanes == 2
    release.set()
    await lanes.drain()
    assert lanes.active_lanes == 0 and room_calls >= 3
    assert lanes.offer("c", 1)
    await lanes.drain()


async def test_a_raising_handler_does_not_stop_its_lane() -> None:
    seen: list[int] = []

    async def handler(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        seen.append(item)

    lanes: KeyedLanes[int] = KeyedLanes(handler, max_lanes=1, queue_size=5)
    for n in range(3):
        lanes.offer("k", n)
    await lanes.drain()
    assert seen == [0, 2]


def test_bounds_must_be_positive() -> None:
    async def handler(item: int) -> None: ...

    with pytest.raises(ValueError):
        KeyedLanes(handler, max_lanes=0, queue_size=1)


async def test_revoke_stops_running_and_queued_items_and_keeps_the_rest() -> None:
    started: list[tuple[str, int]] = []
    finished: list[tuple[str, int]] = []
    gate = asyncio.Event()

    async def handler(item: tuple[str, int]) -> None:
        started.append(item)
        await gate.wait()
        finished.append(item)

    lanes: KeyedLanes[tuple[str, int]] = KeyedLanes(handler, max_lanes=10, queue_size=10)
    for key in ("old", "kept"):
        for n in range(2):
            assert lanes.offer(key, (key, n))
    for _ in range(10):
        await asyncio.sleep(0)
    assert set(started) == {("old", 0), ("kept", 0)}

    dropped = await lanes.revoke(lambda item: item[0] == "old")

    assert dropped == 2
    gate.set()
    await lanes.drain()
    assert finished == [("kept", 0), ("kept", 1)], "a revoked item ran on after the revoke"
    assert ("old", 1) not in started
    assert lanes.active_lanes == 0

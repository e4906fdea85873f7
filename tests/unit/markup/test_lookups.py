"""Lookups: each read once per turn, settled once, waits bounded together."""

from __future__ import annotations

import asyncio

from pipeline.markup.lookups import Lookups
from tests.unit.stages.test_hydrate import A, B, FakeReader


async def test_each_read_is_made_once_and_reads_run_together() -> None:
    reader = FakeReader(delay_s={"offer": 0.05, "rating": 0.05})
    lookups = Lookups(reader, 1.0)
    fetched = await lookups.fetch([("offer", A), ("rating", A), ("offer", A)])
    again = await lookups.fetch([("offer", A), ("product", B)])
    assert reader.calls["offer"] == 1 and reader.calls["rating"] == 1
    assert fetched.offer(A) is not None and fetched.ok("rating", A) and not fetched.ok("product", B)
    assert again.product(B) is not None and again.offer(A) == fetched.offer(A)


async def test_a_late_read_is_cancelled_and_missing_for_good_a_failing_one_is_failed() -> None:
    reader = FakeReader()
    reader.gates[("offer", A)] = gate = asyncio.Event()
    lookups = Lookups(reader, 0.02)
    fetched = await lookups.fetch([("offer", A), ("product", A)])
    assert fetched.missing == {("offer", A): "timeout"} and fetched.product(A) is not None
    gate.set()
    assert (await lookups.fetch([("offer", A)])).missing == {("offer", A): "timeout"}
    assert reader.calls["offer"] == 1
    failing = Lookups(FakeReader(fail=True), 1.0)
    assert (await failing.fetch([("page", B)])).missing == {("page", B): "failed"}


async def test_a_fetch_with_nothing_outstanding_does_not_suspend() -> None:
    lookups = Lookups(FakeReader(), 1.0)
    await lookups.fetch([("product", A)])
    step = lookups.fetch([("product", A)])
    try:
        step.send(None)
    except StopIteration as done:
        assert done.value.product(A) is not None
    else:
        raise AssertionError("the fetch suspended although the read was settled")


async def test_close_cancels_reads_still_running() -> None:
    reader = FakeReader()
    reader.gates[("history", A)] = asyncio.Event()
    lookups = Lookups(reader, 60.0)
    fetching = asyncio.ensure_future(lookups.fetch([("history", A)]))
    while reader.calls["history"] == 0:  # the read has started
        await asyncio.sleep(0)
    lookups.close()
    assert (await fetching).missing == {("history", A): "failed"}

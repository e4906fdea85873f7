"""Applying the retry rule (runtime/retry.py) to one message inside its lane."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from pipeline.runtime._producer import RenewableProducer
from pipeline.runtime.retry import RetryPolicy, Verdict, classify


class Abandoned(Exception):
    """The worker is stopping while a message waits to be retried: leave it uncommitted."""


async def with_retries(
    attempt: Callable[[], Awaitable[None]],
    *,
    policy: RetryPolicy,
    producer: RenewableProducer,
    stopping: asyncio.Event,
    clock_s: Callable[[], float],
    rng: random.Random,
    on_retry: Callable[[BaseException, int, float], None],
) -> None:
    """Await `attempt()` until it succeeds or the policy gives up (then its last error is raised, with
    a note of the tries). A fatal idempotence error renews `producer` before the next try. Raises
    Abandoned when `stopping` is set during a backoff: the message is redelivered after a restart."""
    tries = 0
    first_failure_s: float | None = None
    while True:
        generation = producer.generation
        try:
            await attempt()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            verdict = classify(exc)
            now_s = clock_s()
            first_failure_s = now_s if first_failure_s is None else first_failure_s
            delay_s = policy.next_delay_s(verdict, tries, now_s - first_failure_s, rng.random())
            if delay_s is None:
                if tries:
                    exc.add_note(f"gave up after {tries + 1} tries in {now_s - first_failure_s:.1f} s")
                raise
            if verdict is Verdict.RENEW_PRODUCER:
                await producer.renew(generation)
            tries += 1
            on_retry(exc, tries, delay_s)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=delay_s)
            except asyncio.TimeoutError:
                continue
            raise Abandoned() from exc

"""librdkafka's lines once per state change (pipeline/_kafka_log.py), on a fake clock."""

from __future__ import annotations

import logging

from pipeline._kafka_log import OncePerState

REFUSED = "[thrd:b:9/bootstrap]: b:9/bootstrap: Connect to ipv4#b:9 failed: Connection refused (after {}ms in state CONNECT)"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def record(facility: str, client: str, text: str) -> logging.LogRecord:
    return logging.LogRecord("pipeline.librdkafka", logging.ERROR, __file__, 1, "%s [%s] %s", (facility, client, text), None)


def test_a_repeated_failure_is_logged_once_and_a_new_state_again() -> None:
    clock = Clock()
    once = OncePerState(quiet_s=30.0, clock=clock)
    passed = []
    for n in range(200):  # a second client on the same broker repeats it too
        clock.now += 0.05
        passed.append(once.filter(record("FAIL", f"rdkafka#producer-{1 + n % 2}", REFUSED.format(n))))
    assert passed.count(True) == 1
    first = record("FAIL", "c", REFUSED.format(0) + " (3 identical error(s) suppressed)")
    assert not once.filter(first)  # librdkafka's counters do not make it new
    assert once.filter(record("FAIL", "c", "[thrd:x]: b:9/bootstrap: Disconnected (after 5ms in state UP)"))
    assert once.filter(record("FAIL", "c", REFUSED.format(1)))  # refused again after a change: news
    assert once.filter(record("FAIL", "c", "[thrd:x]: other:9/1: Connect to other failed: Connection refused"))


def test_the_same_failure_after_a_quiet_spell_is_a_new_outage() -> None:
    clock = Clock()
    once = OncePerState(quiet_s=30.0, clock=clock)
    assert once.filter(record("FAIL", "c", REFUSED.format(0)))
    clock.now += 29
    assert not once.filter(record("FAIL", "c", REFUSED.format(0)))
    clock.now += 31
    kept = record("FAIL", "c", REFUSED.format(0))
    assert once.filter(kept)
    assert kept.getMessage().startswith("FAIL [c] b:9/bootstrap: Connect")  # the thread tag is dropped


def test_other_records_pass() -> None:
    once = OncePerState()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    assert once.filter(plain) and once.filter(plain)

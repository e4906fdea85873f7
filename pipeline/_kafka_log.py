"""librdkafka's own log lines (confluent-kafka's clients in admin.py) through Python logging, once per
state change.

Left alone, librdkafka writes every failed connection attempt to stderr: `aisle topics list` against a
stopped broker printed 285 lines of "Connection refused" in 15 s, `aisle tail` 359 in 20 s. Each client
is given `kafka_logger()` instead (confluent-kafka's `logger` setting; the lines are handed over when the
client is polled), and its filter passes a line only when it says something new about its broker: the
first "Connection refused", then nothing while the same failure repeats, then whatever comes next. The
counters librdkafka puts in a line ("after 0ms in state CONNECT, 3 identical error(s) suppressed") do
not make it new. librdkafka says nothing when a broker comes back, so a repeat after `quiet_s` of
silence from that broker counts as a new outage and is logged again.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable

LOGGER_NAME = "pipeline.librdkafka"
QUIET_S = 30.0
"""Silence from a broker after which the same line is news again (librdkafka retries a down broker at
least every 10 s, its reconnect.backoff.max.ms, so an outage that goes on is never this quiet)."""
BROKERS_REMEMBERED = 256

_THREAD = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_COUNTERS = re.compile(r"\s*\((?:after \d+ms[^)]*|\d+ identical error\(s\) suppressed)\)")


class OncePerState(logging.Filter):
    """Drops a librdkafka line that repeats the last one about the same broker. `clock`: seconds."""

    def __init__(self, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._quiet_s = quiet_s
        self._clock = clock
        self._last: OrderedDict[str, tuple[str, float]] = OrderedDict()
        """Per broker (as librdkafka names it), the last line's gist and when it was seen."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 3):
            return True  # not the "%s [%s] %s" (facility, client, text) confluent-kafka logs
        facility, client, text = (str(a) for a in args)
        text = _THREAD.sub("", text)
        where, _, what = text.partition(": ")
        gist = f"{facility} {_COUNTERS.sub('', what)}"
        now = self._clock()
        last = self._last.pop(where, None)
        self._last[where] = (gist, now)
        if len(self._last) > BROKERS_REMEMBERED:
            self._last.popitem(last=False)
        if last is not None and last[0] == gist and now - last[1] < self._quiet_s:
            return False
        record.args = (facility, client, text)
        return True


def kafka_logger() -> logging.Logger:
    """The logger every confluent-kafka client of the process shares, with its one filter."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, OncePerState) for f in logger.filters):
        logger.addFilter(OncePerState())
    return logger

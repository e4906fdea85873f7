"""A tiny faust app for tests/integration/test_faust_compat.py: counts events per key in a
changelog-backed table and reports every new count on an output topic.

Run as a real worker: `python -m tests.integration.faust_app worker -l info`.

Environment (test-only knobs, set by the test for each run, so they stay out of pipeline.Settings):
- AISLE_FAUST_APP_ID: the app id, unique per test run; it is also the consumer group and the
  prefix of every topic the app uses.
- AISLE_FAUST_DATADIR: faust's data directory (it writes one even with the memory store).
- KAFKA_BOOTSTRAP_SERVERS: the broker, read through pipeline.config.Settings.

Topics (all created by faust itself):
- `<app id>-events`: input, key = the counted key (raw bytes), value ignored.
- `<app id>-counts`: output, key = the key, value = the key's count after this event (ASCII int).
- `<app id>-counts-changelog`: the table's changelog (compacted), which faust restores from.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import faust

from pipeline.config import Settings

PARTITIONS = 4
APP_ID = os.environ["AISLE_FAUST_APP_ID"]
EVENTS_TOPIC = f"{APP_ID}-events"
COUNTS_TOPIC = f"{APP_ID}-counts"
TABLE_NAME = "counts"

app = faust.App(
    APP_ID,
    broker=f"kafka://{Settings.from_env().kafka_bootstrap_servers}",
    store="memory://",
    datadir=os.environ["AISLE_FAUST_DATADIR"],
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    # No web server: the test needs no HTTP and parallel runs must not fight over port 6066.
    web_enabled=False,
    # Commit after every event and often, so a graceful stop leaves nothing to reprocess and a
    # replay after the restart cannot hide behind a count that merely happens to match.
    broker_commit_every=1,
    broker_commit_interval=0.5,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    consumer_auto_offset_reset="earliest",
)

# internal=True makes faust create the topic itself: faust declares only internal topics (the
# changelog, the assignor leader, repartition topics) and leaves the rest to the broker's
# auto-creation, which our broker turns off (auto.create.topics.enable=false).
events = app.topic(
    EVENTS_TOPIC,
    key_type=bytes,
    value_type=bytes,
    value_serializer="raw",
    partitions=PARTITIONS,
    internal=True,
)
counts_out = app.topic(
    COUNTS_TOPIC,
    key_type=bytes,
    value_type=bytes,
    value_serializer="raw",
    partitions=PARTITIONS,
    internal=True,
)
counts = app.Table(TABLE_NAME, default=int, key_type=str, value_type=int, partitions=PARTITIONS)


@app.agent(events)
async def count_events(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    """Adds one to the key's count and publishes the new count (concurrency 1: per-key order)."""
    async for key, _value in stream.items():
        name = key.decode()
        counts[name] += 1
        await counts_out.send(key=key, value=str(counts[name]).encode())
        yield None



@app.task  # type: ignore[untyped-decorator]  # faust types app.task loosely
async def declare_output() -> None:
    """Creates the output topic at start: faust declares internal topics only when it subscribes
    to them, and this one is written, never read."""
    await counts_out.maybe_declare()


if __name__ == "__main__":
    app.main()

"""faust-streaming 0.15.3 and aiokafka 0.14 against our broker (Kafka 4.1.1, KRaft, one node).

Kafka 4 removed old protocol versions (KIP-896) and ZooKeeper; these tests check the pieces the
project relies on still work there: aiokafka's admin client and group offsets, and a real faust
worker that creates its own topics, joins its group and restores a changelog-backed table after a
restart. The outcome is recorded in docs/decisions.md.

The faust worker runs in a subprocess (tests/integration/faust_app.py), so faust is never imported
into the pytest process and its import-time warnings cannot trip filterwarnings=error here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
FAUST_PARTITIONS = 4  # tests/integration/faust_app.py PARTITIONS
_READY_LINE = "[^Worker]: Ready"
_WORKER_READY_TIMEOUT_S = 90.0
_WORKER_STOP_TIMEOUT_S = 60.0
_WAIT_TIMEOUT_S = 120.0
# find_spec, not an import: faust's import-time warnings would trip filterwarnings=error here.
_FAUST_MISSING = importlib.util.find_spec("faust") is None


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    async with admin_client(bootstrap) as admin:
        mine = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)


async def topic_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    resources = [res for response in responses for res in response.to_object()["resources"]]
    return {entry["config_names"]: entry["config_value"] for res in resources for entry in res["config_entries"]}


async def partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics) if t["error_code"] == 0}


async def wait_for(what: str, probe: Any, wanted: Any = True, timeout_s: float = _WAIT_TIMEOUT_S) -> None:
    """Awaits `probe()` every 0.25 s until it returns `wanted`; fails showing its last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last == wanted:
            return
        await asyncio.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; wanted {wanted!r}, last value: {last!r}")


async def read_all(bootstrap: str, topic: str, *, partitions: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on `topic` from the beginning up to its end now (no group, no commits)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[tuple[bytes, bytes]] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            records += [(r.key or b"", r.value or b"") for rs in batch.values() for r in rs]
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, keys: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        for key in keys:
            await producer.send(topic, b"event", key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@asynccontextmanager
async def faust_worker(env: Mapping[str, str], log_path: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A real `faust worker` process; yields once it logs Ready, stops it with SIGTERM on exit."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.faust_app", "worker", "-l", "info"],
            cwd=REPO,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + _WORKER_READY_TIMEOUT_S
        while _READY_LINE not in log_path.read_text(errors="replace"):
            if proc.poll() is not None:
                pytest.fail(f"faust worker exited with {proc.returncode} before Ready:\n{tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"faust worker not Ready after {_WORKER_READY_TIMEOUT_S} s:\n{tail(log_path)}")
            await asyncio.sleep(0.2)
        yield proc
        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(proc.wait, _WORKER_STOP_TIMEOUT_S)
        assert returncode == 0, f"faust worker exited with {returncode} on SIGTERM:\n{tail(log_path)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_aiokafka_admin_topics_and_group_offsets(kafka_bootstrap: str) -> None:
    prefix = f"test-compat-{uuid.uuid4().hex[:10]}."
    topic, group = f"{prefix}events", f"{prefix}group"
    try:
        async with admin_client(kafka_bootstrap) as admin:
            response = await admin.create_topics([NewTopic(topic, 3, 1)])
            assert [(t[0], t[1]) for t in response.topic_errors] == [(topic, 0)]
            # create_topics answers before every broker's metadata has the topic: wait for it.
            await wait_for("the new topic's metadata", lambda: partition_counts(admin, [topic]), {topic: 3})

            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                for i in range(9):
                    await producer.send_and_wait(topic, f"v{i}".encode(), partition=i % 3)
            finally:
                await producer.stop()

            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=kafka_bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=6_000,
                heartbeat_interval_ms=1_000,
            )
            await consumer.start()
            try:
                seen: list[bytes] = []
                deadline = time.monotonic() + _WAIT_TIMEOUT_S
                while len(seen) < 9 and time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    seen += [r.value or b"" for rs in batch.values() for r in rs]
                assert sorted(seen) == [f"v{i}".encode() for i in range(9)]
                # Distinct offsets per partition, so a read-back that mixes partitions up shows.
                wanted = {TopicPartition(topic, p): p + 1 for p in range(3)}
                await consumer.commit(wanted)
                assert {tp: await consumer.committed(tp) for tp in wanted} == wanted
            finally:
                await consumer.stop()

            # Read back from the broker by a different client, after the member left the group.
            stored = await admin.list_consumer_group_offsets(group)
            assert {tp: meta.offset for tp, meta in stored.items()} == wanted
            assert group in [g[0] for g in await admin.list_consumer_groups()]
    finally:
        await delete_topics(kafka_bootstrap, prefix)


@pytest.mark.slow  # two faust worker starts and stops: about 15 s
@pytest.mark.skipif(_FAUST_MISSING, reason="faust-streaming is not installed: pip install -e '.[faust]' (make setup does)")
async def test_faust_worker_creates_topics_joins_group_and_restores_table(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    app_id = f"test-faust-{uuid.uuid4().hex[:10]}"
    events, counts, changelog = f"{app_id}-events", f"{app_id}-counts", f"{app_id}-counts-changelog"
    env = {
        **os.environ,
        "AISLE_FAUST_APP_ID": app_id,
        "AISLE_FAUST_DATADIR": str(tmp_path / "faust-data"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    # 16 keys, 1 to 5 events each; k0..k15 hash to all 4 partitions (checked, so every partition
    # of the changelog has something to restore).
    first = {f"k{n}": n % 5 + 1 for n in range(16)}
    hashed = {DefaultPartitioner()(key.encode(), list(range(FAUST_PARTITIONS)), []) for key in first}
    assert hashed == set(range(FAUST_PARTITIONS))
    first_keys = [key for key, times in first.items() for _ in range(times)]

    def latest_counts(records: list[tuple[bytes, bytes]]) -> dict[str, int]:
        return {key.decode(): int(value) for key, value in records}

    try:
        async with admin_client(kafka_bootstrap) as admin:
            async with faust_worker(env, tmp_path / "worker-1.log"):
                # faust declared every topic itself (the broker does not auto-create topics).
                leader = f"{app_id}-__assignor-__leader"

                async def faust_topics() -> dict[str, int]:
                    return await partition_counts(admin, [events, counts, changelog, leader])

                wanted_topics = {events: FAUST_PARTITIONS, counts: FAUST_PARTITIONS, changelog: FAUST_PARTITIONS}
                await wait_for("faust's topics", faust_topics, {**wanted_topics, leader: 1})
                assert (await topic_configs(admin, changelog))["cleanup.policy"] == "compact"

                [described] = await admin.describe_consumer_groups([app_id])
                [group] = described.to_object()["groups"]
                assert (group["error_code"], group["state"], group["protocol"]) == (0, "Stable", "faust")
                assert len(group["members"]) == 1

                await produce(kafka_bootstrap, events, first_keys)

                async def latest() -> dict[str, int]:
                    return latest_counts(await read_all(kafka_bootstrap, counts, partitions=FAUST_PARTITIONS))

                await wait_for("the first counts", latest, first)

                async def committed_events() -> int:
                    offsets = await admin.list_consumer_group_offsets(app_id)
                    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == events)

                await wait_for("faust to commit every event", committed_events, len(first_keys))

            # A new worker process: its table starts empty and can only know the counts by
            # restoring them from the changelog.
            async with faust_worker(env, tmp_path / "worker-2.log"):
                await produce(kafka_bootstrap, events, list(first))
                second = {key: n + 1 for key, n in first.items()}
                await wait_for("counts continued from the restored table", latest, second)

            # Each key's counts went 1, 2, ..., n+1 exactly once: nothing was replayed or lost.
            outputs: dict[str, list[int]] = {}
            for key, value in await read_all(kafka_bootstrap, counts, partitions=FAUST_PARTITIONS):
                outputs.setdefault(key.decode(), []).append(int(value))
            assert outputs == {key: list(range(1, n + 1)) for key, n in second.items()}

            # The changelog holds the state the table was restored from (faust JSON-encodes both
            # the table's keys and its values there).
            changelog_records = await read_all(kafka_bootstrap, changelog, partitions=FAUST_PARTITIONS)
            assert {json.loads(key): json.loads(value) for key, value in changelog_records} == second
    finally:
        await delete_topics(kafka_bootstrap, app_id)

"""Shared fixtures. The Kafka broker comes from, in order:

1. KAFKA_BOOTSTRAP_SERVERS, if set (CI's `make test` starts infra/kafka and sets nothing: see 3);
2. a testcontainers Kafka, when a Docker engine answers;
3. the project's own broker (infra/kafka/kafka.sh up), started here if it is not running yet.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings

REPO = Path(__file__).resolve().parent.parent


def _docker_answers() -> bool:
    """True when a Docker engine answers /_ping on its unix socket (DOCKER_HOST or the default)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # a remote engine was configured on purpose: let testcontainers use it
    path = host.removeprefix("unix://")
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(64)
        except OSError:
            return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    if not _port_open("127.0.0.1", 9092):
        subprocess.run([str(REPO / "infra" / "kafka" / "kafka.sh"), "up"], check=True)
    yield "127.0.0.1:9092"


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> Settings:
    """Settings with a fresh topic prefix, so each test sees only its own messages; topics applied."""
    from pipeline.admin import apply_topics
    from pipeline.topics import load_topics

    settings = dataclasses.replace(
        Settings.from_env(),
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"test-{uuid.uuid4().hex[:10]}.",
        default_partitions=6,
        session_timeout_ms=6_000,
        connect_retry_max_s=20.0,
    )
    apply_topics(settings, load_topics(settings.default_partitions))
    return settings

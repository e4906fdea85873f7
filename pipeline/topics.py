"""The topic declarations in topics/topics.toml, as data.

topics/ is the single place where a topic is declared: its key, value schema, partitions, retention
or compaction, and purpose. `aisle topics apply` makes the broker match it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.contracts import TOPICS_FILE
from pipeline.errors import ConfigError

_CLEANUP_POLICIES = {"delete", "compact"}

# The declared names, for code that names a topic (a stage's `input_topic` and `output_topics`, the
# tables it follows); without the deployment's prefix, which `Settings.topic(name)` adds. A test
# checks that each is declared in topics/topics.toml.
REQUESTS = "requests"
PLANS = "plans"
EVIDENCE = "evidence"
TOKENS = "tokens"
HYDRATED = "hydrated"
FRAMES = "frames"
RESPONSES = "responses"
FEEDBACK = "feedback"
STORE_EVENTS = "store-events"
ALERTS = "alerts"
ALERT_REGISTRY = "alert-registry"
CONVERSATION_STATE = "conversation-state"
USER_MEMORY = "user-memory"
DEAD_LETTERS = "dead-letters"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    """Declared name, without the deployment's prefix."""
    purpose: str
    key: str
    value: str
    """The Avro record name in schemas/ (aisle.<value>)."""
    partitions: int
    cleanup: str
    retention_ms: int | None

    def broker_config(self) -> dict[str, str]:
        """Topic-level configs to set on the broker."""
        config = {"cleanup.policy": self.cleanup}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        if self.cleanup == "compact":
            # Small segments and a low dirty ratio so compaction keeps up with chatty conversations.
            config["segment.ms"] = str(3_600_000)
            config["min.cleanable.dirty.ratio"] = "0.1"
        return config


def load_topics(default_partitions: int, path: Path = TOPICS_FILE) -> list[TopicSpec]:
    """Parse the declarations; raises ConfigError on a missing field or an unknown policy."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read topic declarations {path}: {exc}") from exc
    specs = []
    for name, entry in raw.items():
        try:
            spec = TopicSpec(
                name=name,
                purpose=str(entry["purpose"]),
                key=str(entry["key"]),
                value=str(entry["value"]),
                partitions=int(entry.get("partitions", default_partitions)),
                cleanup=str(entry["cleanup"]),
                retention_ms=int(entry["retention_ms"]) if "retention_ms" in entry else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: topic [{name}] is missing or has a bad {exc}") from exc
        if spec.cleanup not in _CLEANUP_POLICIES:
            raise ConfigError(f"{path}: topic [{name}] has cleanup={spec.cleanup!r}; use delete or compact")
        if spec.partitions < 1:
            raise ConfigError(f"{path}: topic [{name}] needs at least one partition")
        specs.append(spec)
    return specs

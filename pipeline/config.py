"""All configuration, in one place.

`Settings.from_env()` is the only code in the package that reads the environment. The CLI builds one
frozen `Settings` and passes it down; every other module receives what it needs as arguments. Each
variable, its default and its unit is listed in docs/config.md (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError

_REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Every tunable of the system. Field names carry their units."""

    # --- where things live ---
    home: Path = _REPO_ROOT / ".aisle"
    """AISLE_HOME: run-time state (broker data, store, vector index, models, logs)."""
    shared_data: Path = _REPO_ROOT.parent / "shared" / "data"
    """AISLE_SHARED_DATA: the read-only catalog and evaluation sets."""

    # --- the store ---
    store_seed: int = 0
    """AISLE_STORE_SEED: seed of the store simulator (simulated prices, stock and ratings)."""

    # --- the bus ---
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    """KAFKA_BOOTSTRAP_SERVERS: comma-separated host:port list."""
    topic_prefix: str = "aisle."
    """AISLE_TOPIC_PREFIX: prepended to every topic name (tests use a fresh prefix per run)."""
    default_partitions: int = 12
    """AISLE_DEFAULT_PARTITIONS: partitions for topics that do not set their own."""
    replication_factor: int = 1
    """AISLE_REPLICATION_FACTOR: replicas per topic; 1 on the single-node embedded broker, 3 in production
    (`make kafka-cluster-up`; docs/operations.md)."""
    min_insync_replicas: int = 0
    """AISLE_MIN_INSYNC_REPLICAS: replicas that must have a record before the broker acknowledges it (the
    topics' `min.insync.replicas`; producers send with acks=all). 0: one less than the replication factor,
    at least 1 (2 at replication factor 3: one broker can fail and writes go on, nothing acknowledged lost)."""

    # --- the stage runtime ---
    max_lanes: int = 512
    """AISLE_MAX_LANES: conversations a worker process keeps in flight at once."""
    lane_queue_size: int = 64
    """AISLE_LANE_QUEUE_SIZE: messages buffered per conversation before its partition pauses."""
    commit_interval_ms: int = 200
    """AISLE_COMMIT_INTERVAL_MS: how often finished offsets are committed."""
    producer_linger_ms: int = 0
    """AISLE_PRODUCER_LINGER_MS: producer batching delay; 0 sends at once (four produces lie on a turn's
    path to its first token, and a lingering batch waits on an event-loop timer)."""
    fetch_max_wait_ms: int = 500
    """AISLE_FETCH_MAX_WAIT_MS: how long the broker holds a consumer's fetch when no record is waiting.
    A record that arrives ends the wait at once, so a short wait buys no latency: it only makes every
    idle consumer poll (`python -m bench polling` measures both; docs/benchmarks.md). The one case that
    waits: a partition resumed after backpressure joins the next fetch, up to this long later."""
    session_timeout_ms: int = 10_000
    """AISLE_SESSION_TIMEOUT_MS: consumer group session timeout."""
    connect_retry_max_s: float = 60.0
    """AISLE_CONNECT_RETRY_MAX_S: how long a worker retries an unreachable broker before giving up."""
    retry_backoff_ms: int = 100
    """AISLE_RETRY_BACKOFF_MS: wait before a worker's first retry of a message that failed with a transient
    error (a leader change, a broker timeout, a locked store); doubles for each further retry."""
    retry_backoff_max_ms: int = 5_000
    """AISLE_RETRY_BACKOFF_MAX_MS: the longest wait between two retries of one message."""
    retry_jitter: float = 0.5
    """AISLE_RETRY_JITTER: each wait is shortened by a random part of up to this fraction, so workers that
    failed together do not retry together (0 to 1)."""
    retry_max_s: float = 30.0
    """AISLE_RETRY_MAX_S: how long a message is retried, from its first failure, before it is dead-lettered
    (covers a broker restart; only that conversation waits meanwhile)."""
    turn_hold_timeout_s: float = 120.0
    """AISLE_TURN_HOLD_TIMEOUT_S: hydrate and render commit a turn's offsets only when the turn ends; a turn
    with no new message for this long is dead-lettered (reason: unfinished turn) and its offsets committed,
    so it stops pinning its partition's commit position."""
    chat_turn_timeout_s: float = 150.0
    """AISLE_CHAT_TURN_TIMEOUT_S: `aisle chat` stops waiting for an answer this long after the ask, even while
    frames trickle in, and says so; above AISLE_TURN_HOLD_TIMEOUT_S and AISLE_RETRY_MAX_S, so the pipeline's own
    error frame comes first when the pipeline is alive."""
    dedupe_window: int = 100_000
    """AISLE_DEDUPE_WINDOW: conversations remembered by a consumer's duplicate filter."""
    metrics_host: str = "127.0.0.1"
    """AISLE_METRICS_HOST: interface each stage worker serves its Prometheus /metrics on."""
    metrics_port: int = 9410
    """AISLE_METRICS_PORT: base port of the workers' /metrics: plan serves on this + 1, then retrieve, generate, hydrate, render, alerts, actions, feedback up to + 8 (pipeline/runtime/metrics.py); a `module:factory` stage on any free port; 0 turns the workers' pages off. The gateway serves its own on AISLE_GATEWAY_PORT, vLLM on its port (docs/operations.md, "Metrics")."""

    # --- models and retrieval ---
    llm_url: str = "http://127.0.0.1:8000/v1"
    """AISLE_LLM_URL: any OpenAI-compatible endpoint."""
    llm_model: str = "aisle-shop-135m"
    """AISLE_LLM_MODEL: the local model `make llm-up` serves, under this name: aisle-shop-135m (Aisle's own,
    SmolLM2-135M-Instruct tuned on shopping data; docs/training.md) or smollm2-135m-instruct (the base)."""
    llm_model_small: str = ""
    """AISLE_LLM_MODEL_SMALL: served model name for simple intents and planning (empty: AISLE_LLM_MODEL)."""
    llm_model_large: str = ""
    """AISLE_LLM_MODEL_LARGE: served model name for complex intents (empty: AISLE_LLM_MODEL)."""
    llm_connect_timeout_s: float = 2.0
    """AISLE_LLM_CONNECT_TIMEOUT_S: seconds to open a connection to the LLM server."""
    llm_first_token_timeout_s: float = 10.0
    """AISLE_LLM_FIRST_TOKEN_TIMEOUT_S: seconds from sending a request to its first streamed token."""
    llm_token_timeout_s: float = 2.0
    """AISLE_LLM_TOKEN_TIMEOUT_S: longest gap in seconds between two streamed tokens."""
    llm_retries: int = 2
    """AISLE_LLM_RETRIES: extra attempts for a request that fails before its first token."""
    llm_retry_backoff_ms: int = 100
    """AISLE_LLM_RETRY_BACKOFF_MS: backoff before the first retry; doubles for each further one."""
    llm_cpus: str = "0"
    """AISLE_LLM_CPUS: cores the local vLLM server is pinned to (infra/vllm/vllm.sh), e.g. 0 or 0-3."""
    worker_cpus: str = "auto"
    """AISLE_WORKER_CPUS: cores for workers, the gateway and the broker: auto (every core but AISLE_LLM_CPUS when the LLM server is local), all (no pinning), or a list such as 1-3."""
    qdrant_url: str | None = None
    """QDRANT_URL: a Qdrant server; unset means embedded (a Qdrant Edge shard under AISLE_HOME/qdrant-edge)."""
    planner_deadline_ms: int = 300
    """AISLE_PLANNER_DEADLINE_MS: after this the deterministic planner answers."""
    planner_mode: str = "rules"
    """AISLE_PLANNER_MODE: rules (never ask the LLM), auto (the LLM within the deadline, else rules) or llm (wait for it). Rules by default: on CPU the 135M model misses the 300 ms deadline and is less accurate (docs/planner.md)."""
    planner_embeddings: bool = False
    """AISLE_PLANNER_EMBEDDINGS: where rules are silent, pick the intent by MiniLM similarity (needs `make models`)."""
    generate_max_tokens: int = 200
    """AISLE_GENERATE_MAX_TOKENS: longest answer, in tokens."""
    hydrate_lookup_timeout_ms: int = 200
    """AISLE_HYDRATE_LOOKUP_TIMEOUT_MS: longest wait for the store reads of one chunk (they run together); a read
    not done by then stays missing for the turn, and a card then shows without a live price."""
    generate_grammar: bool = True
    """AISLE_GENERATE_GRAMMAR: constrain answers with the markup grammar (product ids limited to the evidence)."""
    answer_judge: bool = False
    """AISLE_ANSWER_JUDGE: before a product question's answer shows, ask the answerability judge (pipeline/llm/judge.py; build it with `make judge-model`) whether any passage answers it, and say "not sure" with the closest passage when none does. Off: on ePQA it did not tell answered from unanswered questions (docs/training.md, "The answerability judge")."""

    # --- the front door ---
    gateway_host: str = "127.0.0.1"
    """AISLE_GATEWAY_HOST: interface the websocket gateway listens on."""
    gateway_port: int = 8080
    """AISLE_GATEWAY_PORT: port of the websocket gateway and web chat."""
    session_secret: str = field(default="", repr=False, metadata={"secret": True})
    """AISLE_SESSION_SECRET: HMAC key for gateway session tokens; empty means a random key per process."""
    session_ttl_s: int = 86_400
    """AISLE_SESSION_TTL_S: seconds a gateway session token stays valid."""
    session_renew_grace_s: int = 30 * 86_400
    """AISLE_SESSION_RENEW_GRACE_S: seconds after a token expires that POST /session still renews it for the same user and conversation (its signature must check), so a shopper back after a while keeps their cart, orders and auto-buys; 0: never."""
    gateway_send_queue_frames: int = 1024
    """AISLE_GATEWAY_SEND_QUEUE_FRAMES: frames queued per socket before a slow client is closed (1013)."""
    gateway_resume_frames: int = 512
    """AISLE_GATEWAY_RESUME_FRAMES: recent frames kept per conversation for clients that reconnect."""
    gateway_resume_age_s: float = 300.0
    """AISLE_GATEWAY_RESUME_AGE_S: seconds a frame stays in the resume buffer."""
    gateway_resume_conversations: int = 2048
    """AISLE_GATEWAY_RESUME_CONVERSATIONS: conversations whose recent frames a gateway process keeps."""
    gateway_turn_timeout_s: float = 60.0
    """AISLE_GATEWAY_TURN_TIMEOUT_S: seconds the web chat waits for the next frame of a turn before it says the answer is not coming and lets the shopper ask again (sent in `welcome`)."""
    gateway_socket_asks_per_s: float = 2.0
    """AISLE_GATEWAY_SOCKET_ASKS_PER_S: asks, panel changes and feedback one socket may send per second, sustained; more get `error {code: rate_limited, scope: connection}` (pipeline/gateway/limits.py); 0: no limit."""
    gateway_socket_ask_burst: int = 10
    """AISLE_GATEWAY_SOCKET_ASK_BURST: ... and how many of them at once, after a quiet spell."""
    gateway_user_asks_per_s: float = 4.0
    """AISLE_GATEWAY_USER_ASKS_PER_S: the same over all of one user's sockets on a gateway process (`scope: user`); 0: no limit."""
    gateway_user_ask_burst: int = 20
    """AISLE_GATEWAY_USER_ASK_BURST: ... and how many of them at once."""
    gateway_turns_in_flight_max: int = 4
    """AISLE_GATEWAY_TURNS_IN_FLIGHT_MAX: turns of one conversation accepted and not yet done; another ask gets `error {code: too_many_turns}`. A turn stops counting at its `done` frame or after AISLE_TURN_HOLD_TIMEOUT_S; 0: no cap."""
    gateway_sockets_max: int = 10_000
    """AISLE_GATEWAY_SOCKETS_MAX: open websockets per gateway process (said hello or not); one more gets `error {code: busy}` and close 1013; 0: no bound."""
    record_path: str = ""
    """AISLE_RECORD: a traffic file the gateway appends every ask and client event to (docs/replay.md); empty: off."""

    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Unrecognised AISLE_* variables, kept so `aisle config` can warn about typos."""

    def __post_init__(self) -> None:
        # The router's two names follow the local model unless a deployment names its own.
        for name in ("llm_model_small", "llm_model_large"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.llm_model)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; raises ConfigError on a bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        known: set[str] = set()
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            var = env_var_name(f.name)
            known.add(var)
            if var in env:
                values[f.name] = _parse(var, env[var], f.default)
        extra = {k: v for k, v in env.items() if k.startswith("AISLE_") and k not in known}
        return cls(**values, extra=extra)  # type: ignore[arg-type]

    def display(self) -> list[tuple[str, str]]:
        """(variable, value) for every setting, for `aisle config`. Secrets show only whether they
        are set: the output ends up in terminals, screenshots and bug reports."""
        rows: list[tuple[str, str]] = []
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.metadata.get("secret"):
                rows.append((env_var_name(f.name), "(set, hidden)" if value else "(empty)"))
            else:
                rows.append((env_var_name(f.name), str(value)))
        return rows

    @property
    def topic_min_insync_replicas(self) -> int:
        """`min.insync.replicas` for every topic: AISLE_MIN_INSYNC_REPLICAS, or its default for the
        replication factor. Raises ConfigError when no write could ever be acknowledged."""
        if self.replication_factor < 1:
            raise ConfigError(f"AISLE_REPLICATION_FACTOR={self.replication_factor} must be at least 1")
        wanted = self.min_insync_replicas or max(1, self.replication_factor - 1)
        if not 1 <= wanted <= self.replication_factor:
            raise ConfigError(f"AISLE_MIN_INSYNC_REPLICAS={self.min_insync_replicas} must be between 1 and "
                              f"AISLE_REPLICATION_FACTOR ({self.replication_factor}), or 0 for the default")
        return wanted

    def topic(self, name: str) -> str:
        """The full Kafka topic name for a declared topic ('requests' -> 'aisle.requests')."""
        return f"{self.topic_prefix}{name}"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def store_path(self) -> Path:
        """The store's SQLite file: <AISLE_HOME>/store.sqlite."""
        return self.home / "store.sqlite"


# Variables whose names are conventions of other tools keep those names.
_CONVENTIONAL = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "qdrant_url": "QDRANT_URL",
    "record_path": "AISLE_RECORD",
}


def env_var_name(field_name: str) -> str:
    return _CONVENTIONAL.get(field_name, f"AISLE_{field_name.upper()}")


def _parse(var: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        if default is None:
            return raw or None
        return raw
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not a valid {type(default).__name__}") from exc

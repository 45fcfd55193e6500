"""The single home of every default, and how settings are read from the environment.

Precedence, highest first: command-line flags > environment variables > profile > preset >
the defaults below.

Why it is this long: it is the settings model, one declarative field per setting (default,
range, help, `--help` section, live or not) for produce, consume and capacity runs, with the
presets, profiles and checks beside them; flags, environment variables and docs/settings.md
are derived from it. Split up, the defaults would have several homes again.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulsarload.client import choices
from pulsarload.errors import ConfigError

#: Pulsar release the local standalone broker and pulsar-perf are assembled from (4.0.x LTS).
PULSAR_VERSION = "4.0.8"

DEFAULT_BROKER_URL = "pulsar://localhost:6650"
DEFAULT_ADMIN_URL = "http://localhost:8080"
DEFAULT_BROKER_PORT = 6650
DEFAULT_WEB_PORT = 8080
#: How long `broker start` waits for readiness before it gives up (seconds).
DEFAULT_BROKER_START_TIMEOUT_S = 180.0
DEFAULT_BROKER_STOP_TIMEOUT_S = 30.0
#: Kubernetes defaults for `pulsarload k8s port-forward` (the Helm chart's proxy service).
DEFAULT_K8S_NAMESPACE = "pulsar"
DEFAULT_K8S_SERVICE = "pulsar-proxy"
DEFAULT_TOPIC = "persistent://public/default/pulsarload"


def cache_dir() -> Path:
    """Where downloads and builds are kept, outside the work tree (`PULSARLOAD_CACHE`)."""
    return Path(os.environ.get("PULSARLOAD_CACHE") or Path.home() / ".cache" / "pulsarload")


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """Read an integer environment variable, refusing bad values with a clear message."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={raw!r} is not an integer; "
            f"set a whole number between {minimum} and {maximum}"
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"environment variable {name}={value} is out of range {minimum}..{maximum}"
        )
    return value


def broker_url_from_env() -> str:
    return env_str("PULSAR_BROKER_URL", DEFAULT_BROKER_URL)


def admin_url_from_env() -> str:
    return env_str("PULSAR_ADMIN_URL", DEFAULT_ADMIN_URL)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where the cluster is: binary protocol URL and admin REST URL."""

    service_url: str = field(default_factory=broker_url_from_env)
    admin_url: str = field(default_factory=admin_url_from_env)


@dataclass(frozen=True, slots=True)
class LocalBrokerSettings:
    """The local Apache Pulsar standalone that tests, the demo and users without a cluster run."""

    pulsar_version: str = PULSAR_VERSION
    broker_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_BROKER_PORT", DEFAULT_BROKER_PORT, minimum=1, maximum=65535
        )
    )
    web_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_WEB_PORT", DEFAULT_WEB_PORT, minimum=1, maximum=65535
        )
    )
    #: Data, logs and the pid file live here (outside the work tree by default).
    home: Path = field(default_factory=lambda: cache_dir() / "standalone")
    start_timeout_s: float = DEFAULT_BROKER_START_TIMEOUT_S
    stop_timeout_s: float = DEFAULT_BROKER_STOP_TIMEOUT_S

    @property
    def service_url(self) -> str:
        return f"pulsar://localhost:{self.broker_port}"

    @property
    def admin_url(self) -> str:
        return f"http://localhost:{self.web_port}"


#: The local cluster's port range (`pulsarload broker start --brokers N`), clear of the
#: standalone's 6650/8080: the proxy takes the first binary and web port, broker i the i-th next
#: ones, ZooKeeper base+20 and the bookie base+21.
DEFAULT_CLUSTER_PORT = 6660
DEFAULT_CLUSTER_WEB_PORT = 8660
DEFAULT_CLUSTER_BROKERS = 2
MAX_CLUSTER_BROKERS = 9
#: Heaps small enough for a laptop: about 1.6 GiB for ZooKeeper, a bookie, two brokers and a proxy.
DEFAULT_CLUSTER_MEM = {
    "zookeeper": "-Xms32m -Xmx128m",
    "bookie": "-Xms64m -Xmx256m -XX:MaxDirectMemorySize=256m",
    "broker": "-Xms128m -Xmx384m -XX:MaxDirectMemorySize=256m",
    "proxy": "-Xms64m -Xmx192m -XX:MaxDirectMemorySize=128m",
}


@dataclass(frozen=True, slots=True)
class LocalClusterSettings:
    """The local multi-broker cluster: ZooKeeper, one bookie, N brokers and a proxy, each its
    own JVM (for tests and users who need lookups, topic moves and a proxy on one machine)."""

    pulsar_version: str = PULSAR_VERSION
    brokers: int = DEFAULT_CLUSTER_BROKERS
    proxy: bool = True
    base_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_CLUSTER_PORT", DEFAULT_CLUSTER_PORT, minimum=1, maximum=65500
        )
    )
    web_base_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_CLUSTER_WEB_PORT", DEFAULT_CLUSTER_WEB_PORT, minimum=1, maximum=65500
        )
    )
    #: Each part's configuration, data, log and pid file live in a folder of its own here.
    home: Path = field(default_factory=lambda: cache_dir() / "cluster")
    cluster_name: str = "pulsarload-cluster"
    #: The whole start (every part ready), not counting a first fetch of the jars.
    start_timeout_s: float = 600.0
    stop_timeout_s: float = DEFAULT_BROKER_STOP_TIMEOUT_S
    #: A broker that dies loses its topics after this (its metadata session expires); short so
    #: a lost broker's topics move within seconds, long enough for a GC pause on busy cores.
    session_timeout_ms: int = 10_000
    #: JVM memory flags per role (PULSARLOAD_CLUSTER_MEM_<ROLE> overrides one).
    mem: Mapping[str, str] = field(
        default_factory=lambda: {
            role: env_str(f"PULSARLOAD_CLUSTER_MEM_{role.upper()}", flags)
            for role, flags in DEFAULT_CLUSTER_MEM.items()
        }
    )

    def __post_init__(self) -> None:
        if not 1 <= self.brokers <= MAX_CLUSTER_BROKERS:
            raise ConfigError(
                f"a local cluster has 1 to {MAX_CLUSTER_BROKERS} brokers, not {self.brokers}"
            )

    def broker_port(self, i: int) -> int:
        """Binary port of broker i (1-based)."""
        return self.base_port + i

    def broker_web_port(self, i: int) -> int:
        return self.web_base_port + i

    @property
    def zookeeper_port(self) -> int:
        return self.base_port + 20

    @property
    def bookie_port(self) -> int:
        return self.base_port + 21

    @property
    def broker_service_url(self) -> str:
        """Every broker, as one multi-host URL: a client tries the next host when one is gone."""
        hosts = ",".join(f"127.0.0.1:{self.broker_port(i)}" for i in range(1, self.brokers + 1))
        return f"pulsar://{hosts}"

    @property
    def proxy_service_url(self) -> str:
        return f"pulsar://127.0.0.1:{self.base_port}"

    @property
    def proxy_admin_url(self) -> str:
        return f"http://127.0.0.1:{self.web_base_port}"

    @property
    def admin_url(self) -> str:
        """The proxy's admin API when there is one (it follows the brokers' redirects itself),
        else broker 1's (which redirects a request about a topic to the topic's owner)."""
        return self.proxy_admin_url if self.proxy else f"http://127.0.0.1:{self.broker_web_port(1)}"

    @property
    def service_url(self) -> str:
        """What a client should be given: the proxy when there is one, else every broker."""
        return self.proxy_service_url if self.proxy else self.broker_service_url


# =========================================================================== load settings
#
# One settings model for both controllers. Every field's metadata says how it may be set:
# `env` (environment variable), `min`/`max`, `choices`. Sources merge with the precedence
# flags > environment > profile > preset > defaults (`resolve_settings`).


ENGINES = ("native", "official")
COMPRESSIONS = tuple(choices.COMPRESSION)
ROUTING_MODES = tuple(choices.ROUTING)
HASHING_SCHEMES = tuple(choices.HASHING)
SUBSCRIPTION_TYPES = tuple(choices.SUBSCRIPTION_TYPE)
INITIAL_POSITIONS = tuple(choices.INITIAL_POSITION)
CONSUMER_MODES = ("poll", "listener")
ACK_STRATEGIES = ("immediate", "grouped", "delayed", "cumulative", "none")
SCENARIOS = ("sustained", "ramp", "spike", "chaos", "backpressure", "max-rate")
#: Scenarios that only remain as a spelling pointing elsewhere (refused with that pointer).
RETIRED_SCENARIOS = {
    "max-rate": "the max-rate scenario is replaced by `pulsarload capacity TOPIC --slo "
    "'p99_ms<50'` (a ramp then a bisection, with a warm-up per step); run that instead"
}
DEFAULT_MAX_THREADS = 32
#: A local bookie refuses writes at 99 % disk use: a run (or the bench suite) against a broker
#: on this machine stops when the disk holding the broker's data has less than this free.
DEFAULT_DISK_MIN_FREE_GIB = 4.0
#: What `broker start` lets the local namespace keep, so a long demo cannot grow without end:
#: unacknowledged messages expire after this, and a subscription's backlog is capped here.
LOCAL_MESSAGE_TTL_S = 3600
LOCAL_BACKLOG_QUOTA_MB = 1024
#: What a cluster run does when a Dask worker holding a shard is lost.
ON_WORKER_LOSS = ("continue", "abort")
#: The browser dashboard (`--web`): where it listens when only a port is given, how much history
#: it keeps for late viewers, how many snapshots wait per viewer before older ones are dropped,
#: how many viewers may stream at once, and the largest control request it reads.
DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_HISTORY_S = 900.0
WEB_VIEWER_QUEUE = 16
WEB_MAX_VIEWERS = 32
WEB_MAX_BODY_BYTES = 4096


def _opt(default: Any, *, env: str | None = None, help: str = "", **limits: Any) -> Any:
    """A settings field with its environment variable, limits and help in one place."""
    meta = {"env": env, "help": help, **limits}
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    # A secret (the auth token) stays out of repr(), so a logged settings object cannot leak it.
    return field(default=default, metadata=meta, repr=not limits.get("secret", False))


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What both controllers share: where, with which engine, for how long, and what to write."""

    topic: str = _opt(
        DEFAULT_TOPIC, env="PULSARLOAD_TOPIC", help="topic to load", flag="TOPIC", group="run"
    )
    service_url: str = _opt(
        DEFAULT_BROKER_URL, env="PULSAR_BROKER_URL", help="broker URL", short="-u"
    )
    admin_url: str = _opt(DEFAULT_ADMIN_URL, env="PULSAR_ADMIN_URL", help="admin REST URL")
    engine: str = _opt(
        "native",
        env="PULSARLOAD_ENGINE",
        choices=ENGINES,
        help="client: native (ours) or official (pulsar-client, GIL build)",
    )
    auth_token: str | None = _opt(
        None, env="PULSARLOAD_AUTH_TOKEN", help="JWT for token auth", secret=True
    )
    auth_token_file: str | None = _opt(
        None, env="PULSARLOAD_AUTH_TOKEN_FILE", help="read the JWT from this file"
    )
    tls_ca_file: str | None = _opt(
        None, env="PULSARLOAD_TLS_CA_FILE", help="CA bundle for pulsar+ssl://"
    )
    tls_validate_hostname: bool = _opt(
        True,
        env="PULSARLOAD_TLS_VALIDATE_HOSTNAME",
        help="check the broker certificate's host name",
    )
    threads: int = _opt(
        1, env="PULSARLOAD_THREADS", min=0, max=1024, short="-t", live=True, help="worker threads"
    )
    max_threads: int = _opt(
        DEFAULT_MAX_THREADS,
        env="PULSARLOAD_MAX_THREADS",
        min=1,
        max=1024,
        help="upper bound for threads added live",
    )
    duration_s: float = _opt(
        0.0,
        env="PULSARLOAD_DURATION",
        min=0,
        short="-d",
        help="seconds after warm-up; 0 = until stopped",
    )
    messages: int = _opt(
        0, env="PULSARLOAD_MESSAGES", min=0, short="-m", help="stop after this many; 0 = no limit"
    )
    warmup_s: float = _opt(
        0.0, env="PULSARLOAD_WARMUP", min=0, help="seconds before measuring starts"
    )
    stats_interval_s: float = _opt(
        1.0, env="PULSARLOAD_STATS_INTERVAL", min=0.1, max=3600, help="seconds between status lines"
    )
    verify: bool = _opt(
        False, env="PULSARLOAD_VERIFY", help="end-to-end verification of every message"
    )
    schema: str = _opt(
        "",
        env="PULSARLOAD_SCHEMA",
        help="payload schema: avro:FILE, json:FILE (or inline JSON), string, bytes, "
        "protobuf-native:FILE:pkg.Message (FILE a descriptor set from protoc --include_imports "
        "--descriptor_set_out; native engine only), or key-value:KEY,VALUE[,separated] (two of "
        "avro/json/string/bytes; the key inside the payload, or with separated in the message "
        "key, base64; native engine only); '' = raw bytes, no schema",
    )
    schema_registry_check: bool = _opt(
        False,
        env="PULSARLOAD_SCHEMA_REGISTRY_CHECK",
        help="before the run, ask the topic's schema registry whether it takes --schema",
    )
    headless: bool = _opt(
        False, env="PULSARLOAD_HEADLESS", help="no dashboard: status lines and a summary"
    )
    report: str | None = _opt(
        None, env="PULSARLOAD_REPORT", help="write the final report here (.json or .html)"
    )
    export_dir: str | None = _opt(
        None, env="PULSARLOAD_EXPORT_DIR", help="directory for the e key and the CSV series"
    )
    histogram_log: str | None = _opt(
        None, env="PULSARLOAD_HISTOGRAM_LOG", help="write an HdrHistogram interval log (.hlog) here"
    )
    prometheus_port: int = _opt(
        0,
        env="PULSARLOAD_PROMETHEUS_PORT",
        min=0,
        max=65535,
        help="serve Prometheus metrics; 0 = off",
    )
    prometheus_addr: str = _opt(
        "127.0.0.1", env="PULSARLOAD_PROMETHEUS_ADDR", help="0.0.0.0 to be scraped from elsewhere"
    )
    thresholds: tuple[str, ...] = _opt(
        (), help="pass/fail condition, e.g. p99_ms<50 (repeatable)", flag="--threshold"
    )
    operation_timeout_s: float = _opt(
        30.0,
        env="PULSARLOAD_OPERATION_TIMEOUT",
        min=0.1,
        max=3600,
        help="seconds a lookup, subscribe or create may take",
    )
    connect_timeout_s: float = _opt(
        10.0,
        env="PULSARLOAD_CONNECT_TIMEOUT",
        min=0.1,
        max=3600,
        help="seconds to reach the broker",
    )
    connections_per_broker: int = _opt(
        1,
        env="PULSARLOAD_CONNECTIONS",
        min=1,
        max=64,
        flag="--connections",
        help="connections per broker",
    )
    pin_cpus: bool = _opt(False, env="PULSARLOAD_PIN_CPUS", help="pin worker i to CPU i mod n")
    stall_s: float = _opt(
        10.0,
        min=0,
        max=3600,
        help="a worker that should progress but has not for this long is stalled; 0 = off",
    )
    # One run spread over a Dask cluster (cluster/): `local` starts a LocalCluster of worker
    # processes on this machine; tcp://HOST:8786 uses a running scheduler. Without it, one process.
    cluster: str | None = _opt(
        None, env="PULSARLOAD_CLUSTER", help="local, or a Dask scheduler address tcp://HOST:8786"
    )
    workers: int | None = _opt(
        None,
        env="PULSARLOAD_WORKERS",
        max=4096,
        help="shards (one per Dask worker); unset: local = one per core, else every worker",
    )
    cluster_wait_s: float = _opt(
        30.0, env="PULSARLOAD_CLUSTER_WAIT", min=0, max=3600, help="wait for enough Dask workers"
    )
    cluster_timeout_s: float = _opt(
        10.0, env="PULSARLOAD_CLUSTER_TIMEOUT", min=0.1, max=3600, help="reach the scheduler"
    )
    cluster_poll_s: float = _opt(
        0.5, min=0.05, max=10, help="seconds between collecting the shards' metrics"
    )
    on_worker_loss: str = _opt(
        "continue",
        env="PULSARLOAD_ON_WORKER_LOSS",
        choices=ON_WORKER_LOSS,
        help="a lost Dask worker: continue with the rest, or abort (exit 1)",
    )
    web: str | None = _opt(
        None,
        env="PULSARLOAD_WEB",
        help="[HOST:]PORT of the browser dashboard (host: 127.0.0.1)",
        metavar="[HOST:]PORT",
    )
    web_token: str | None = _opt(
        None, env="PULSARLOAD_WEB_TOKEN", help="token for the browser dashboard", secret=True
    )
    web_view_without_token: bool = _opt(
        False, env="PULSARLOAD_WEB_VIEW_WITHOUT_TOKEN", help="let anyone watch; controls need it"
    )
    web_history_s: float = _opt(
        DEFAULT_WEB_HISTORY_S, min=60, max=86_400, help="seconds of charts a late viewer gets"
    )


@dataclass(frozen=True, slots=True)
class ProduceSettings(RunSettings):
    """The producer controller's settings."""

    rate: float = _opt(
        0.0,
        env="PULSARLOAD_RATE",
        min=0,
        short="-r",
        live=True,
        help="target msg/s over all threads; 0 = as fast as possible",
    )
    size: int = _opt(
        1024, env="PULSARLOAD_SIZE", min=0, max=100 * 1024 * 1024, short="-s", help="bytes"
    )
    size_distribution: str = _opt(
        "fixed", choices=("fixed", "uniform", "normal"), help="how sizes vary around --size"
    )
    size_max: int = _opt(
        0, min=0, max=100 * 1024 * 1024, help="upper size (uniform) or stddev (normal)"
    )
    payload: str = _opt(
        "random",
        env="PULSARLOAD_PAYLOAD",
        choices=("random", "sequential", "pattern", "compressible", "file"),
        help="what the message bodies hold",
    )
    payload_file: str | None = _opt(
        None, env="PULSARLOAD_PAYLOAD_FILE", help="messages from this file (one per line)"
    )
    batching: bool = _opt(True, env="PULSARLOAD_BATCHING", help="batch messages per producer")
    batch_max_messages: int = _opt(
        1000, env="PULSARLOAD_BATCH_MAX_MESSAGES", min=1, max=100_000, help="messages per batch"
    )
    batch_max_bytes: int = _opt(
        128 * 1024,
        env="PULSARLOAD_BATCH_MAX_BYTES",
        min=1,
        max=5 * 1024 * 1024,
        help="bytes per batch",
    )
    batch_delay_ms: float = _opt(
        1.0, env="PULSARLOAD_BATCH_DELAY_MS", min=0, max=60_000, help="longest a batch waits"
    )
    compression: str = _opt(
        "none", env="PULSARLOAD_COMPRESSION", choices=COMPRESSIONS, short="-z", help="codec"
    )
    routing: str = _opt(
        "round_robin",
        env="PULSARLOAD_ROUTING",
        choices=ROUTING_MODES,
        help="partition routing; key_hash needs --key-mode",
    )
    hashing: str = _opt("java_string", choices=HASHING_SCHEMES, help="key hash for key_hash")
    key_mode: str = _opt(
        "none",
        env="PULSARLOAD_KEY_MODE",
        choices=("none", "sequential", "random", "set"),
        help="message keys",
    )
    keys: tuple[str, ...] = _opt((), flag="--key", help="a key for --key-mode set (repeatable)")
    properties: tuple[str, ...] = _opt(
        (), flag="--property", help="K=V message property (repeatable)"
    )
    send_timeout_ms: int = _opt(
        30_000, env="PULSARLOAD_SEND_TIMEOUT_MS", min=0, max=3_600_000, help="0 = no timeout"
    )
    max_pending: int = _opt(
        1000, env="PULSARLOAD_MAX_PENDING", min=1, max=10_000_000, help="pending sends per producer"
    )
    block_if_queue_full: bool = _opt(
        True, help="wait when max-pending is reached (else the send fails at once)"
    )
    partitions: int = _opt(
        0, env="PULSARLOAD_PARTITIONS", min=0, max=10_000, help="create the topic with N partitions"
    )
    producer_name: str | None = _opt(
        None, env="PULSARLOAD_PRODUCER_NAME", help="name prefix (a stable name enables dedup)"
    )
    scenario: str = _opt(
        "sustained", env="PULSARLOAD_SCENARIO", choices=SCENARIOS, help="how the rate moves"
    )
    burst_multiplier: float = _opt(
        5.0, min=1, max=1000, live=True, help="the b key multiplies the rate by this"
    )
    burst_seconds: float = _opt(
        5.0, min=0.1, max=3600, live=True, help="how long a burst lasts (b again ends it)"
    )
    ramp_seconds: float = _opt(30.0, min=0.1, help="ramp: time from ramp_start_rate to rate")
    ramp_start_rate: float = _opt(0.0, min=0, help="ramp: the rate it starts from")
    spike_every_s: float = _opt(30.0, min=0.1, help="spike: a burst every N seconds")
    chaos_seed: int = _opt(1, min=0, help="chaos: seed for the random changes")
    chaos_change_s: float = _opt(5.0, min=0.1, help="chaos: seconds between changes")
    chaos_min_rate: float = _opt(100.0, min=0, help="chaos: lowest rate")
    chaos_max_rate: float = _opt(10_000.0, min=1, help="chaos: highest rate")
    chaos_sizes: bool = _opt(False, help="chaos: vary the message size too (up to --size-max)")
    chaos_threads: bool = _opt(False, help="chaos: vary the thread count too (1..--max-threads)")
    rate_step_fine: float = _opt(100.0, min=1, live=True, help="↑/↓ change the rate by this")
    rate_step_coarse: float = _opt(
        1000.0, min=1, live=True, help="PgUp/PgDn change the rate by this"
    )
    disk_min_free_gib: float = _opt(
        DEFAULT_DISK_MIN_FREE_GIB,
        min=0,
        max=1024,
        help="a local broker: stop when its disk has less free (GiB); 0 = never",
    )

    @property
    def key_based_batching(self) -> bool:
        """Batch per key (the clients' key-based batcher) when messages have keys: every entry
        then carries one key, which a Key_Shared subscription dispatches on."""
        return self.batching and self.key_mode != "none"


@dataclass(frozen=True, slots=True)
class ConsumeSettings(RunSettings):
    """The consumer controller's settings."""

    pattern: str | None = _opt(None, env="PULSARLOAD_PATTERN", help="topic regex instead of TOPIC")
    subscription: str = _opt("pulsarload-sub", env="PULSARLOAD_SUBSCRIPTION", help="name")
    subscription_type: str = _opt(
        "exclusive", env="PULSARLOAD_SUBSCRIPTION_TYPE", choices=SUBSCRIPTION_TYPES, help="type"
    )
    initial_position: str = _opt(
        "latest",
        env="PULSARLOAD_INITIAL_POSITION",
        choices=INITIAL_POSITIONS,
        help="where a new subscription starts",
    )
    receiver_queue_size: int = _opt(
        1000,
        env="PULSARLOAD_RECEIVER_QUEUE_SIZE",
        min=1,
        max=1_000_000,
        help="permits per consumer",
    )
    mode: str = _opt(
        "poll", env="PULSARLOAD_CONSUMER_MODE", choices=CONSUMER_MODES, help="poll or listener"
    )
    ack: str = _opt("immediate", env="PULSARLOAD_ACK", choices=ACK_STRATEGIES, help="ack strategy")
    ack_delay_ms: float = _opt(0.0, min=0, max=3_600_000, help="delayed: wait this long to ack")
    nack_ratio: float = _opt(
        0.0, env="PULSARLOAD_NACK_RATIO", min=0, max=1, help="fraction negatively acknowledged"
    )
    #: The official clients' negativeAckRedeliveryDelay (60 s): short for a quick DLQ test.
    nack_redelivery_delay_ms: int = _opt(
        60_000, min=0, max=86_400_000, help="a nacked message comes back after this"
    )
    #: The official clients' ackTimeout (0 = off; at least 1 s when on).
    ack_timeout_ms: int = _opt(
        0, min=0, max=86_400_000, help="redeliver what is unacked this long; 0 = off (>= 1000)"
    )
    processing_ms: float = _opt(
        0.0, env="PULSARLOAD_PROCESSING_MS", min=0, max=3_600_000, help="simulated work per message"
    )
    dlq_topic: str | None = _opt(None, help="dead-letter topic (with --max-redeliveries)")
    max_redeliveries: int = _opt(
        0, min=0, max=1_000_000, help="deliveries before the dead-letter topic; 0 = no DLQ"
    )
    seek: str | None = _opt(None, help="earliest, latest, a message id ledger:entry, or a time")
    priority: int = _opt(0, min=0, max=1_000_000, help="priority level of every consumer")
    worker_priorities: tuple[str, ...] = _opt(
        (),
        flag="--worker-priority",
        help="priority level of worker i (repeatable; the last one repeats)",
    )
    consumer_name: str | None = _opt(None, env="PULSARLOAD_CONSUMER_NAME", help="name prefix")
    verify_against: str | None = _opt(
        None, help="producer report: also count its unseen tail as missing"
    )
    peek: int = _opt(
        0,
        min=0,
        max=1000,
        help="a sample of N received messages: printed at the end (headless), the m panel "
        "open from the start (dashboard)",
    )


@dataclass(frozen=True, slots=True)
class CapacitySettings(ProduceSettings):
    """`pulsarload capacity`: a producer load whose rate a search moves (see load/capacity).

    The step defaults are long enough for p99 to settle after a rate change on a local
    standalone (a 5 s step was mostly the transition from the step before); the confirmation
    repeat guards the two steps that decide the answer against one noisy sample.
    """

    slos: tuple[str, ...] = _opt(
        ("p99_ms<50", "error_rate<0.001"),
        flag="--slo",
        help="service level objective, e.g. p99_ms<50 (repeatable)",
    )
    resolution: float = _opt(
        0.05,
        min=0.001,
        max=0.5,
        parse="fraction",
        help="stop when (fail-pass)/pass <= this (5% or 0.05)",
    )
    step_warmup_s: float = _opt(5.0, min=0, max=3600, help="seconds discarded after each change")
    step_window_s: float = _opt(10.0, min=1, max=3600, help="seconds measured per step")
    #: A new topic is slower in its first minute than later: on a local standalone, p99 jumped
    #: to 50-250 ms every 7-8 s for about 50 s after the topic was created, then held 10-15 ms
    #: at the same rate. Measured, that minute fails the first step at a rate the broker holds.
    prime_s: float = _opt(
        60.0, min=0, max=3600, help="seconds at the start rate before the first step, unmeasured"
    )
    start_rate: float = _opt(1000.0, min=1, help="first rate of the ramp (msg/s)")
    max_rate: float = _opt(1_000_000.0, min=1, help="ceiling: the ramp stops passing here")
    ramp_factor: float = _opt(2.0, min=1.1, max=10, help="rate multiplier per ramp step")
    confirm: bool = _opt(True, help="repeat the last passing and first failing step")
    with_consumer: bool = _opt(False, help="consume in the same run: e2e SLOs, backlog check")
    capacity_subscription: str = _opt("pulsarload-capacity", help="--with-consumer's subscription")
    #: A step reaching less than (1 - this) x its target fails ("rate not reached").
    achieved_tolerance: float = _opt(
        0.05, min=0, max=0.5, help="a step short of its rate by more fails"
    )
    #: Backlog growth above this fraction of the target rate fails a step (--with-consumer).
    backlog_tolerance: float = _opt(
        0.02, min=0, max=1, help="backlog growth (fraction of the rate) that fails a step"
    )
    #: A worker thread this busy (% of one core), or the process this busy per core, is
    #: saturated: a failing step is then put down to the client, not the broker.
    client_cpu_busy_percent: float = _opt(
        90.0, min=1, max=100, help="a thread this busy means the client is the limit"
    )
    #: Pending sends above this fraction of max_pending mean the producer waits on the broker.
    pending_full_fraction: float = _opt(
        0.5, min=0.01, max=1, help="pending sends above this share: waiting on the broker"
    )
    #: A 1-minute load average above this many per CPU is a busy machine: a deciding step that
    #: passed and failed at one rate then makes the answer "not decidable under this load".
    busy_load_per_cpu: float = _opt(
        1.5, min=0.1, max=100, help="load average per CPU above which a flip is not decidable"
    )


#: Presets: named starting points below profiles and flags.
PRESETS: dict[str, dict[str, Any]] = {
    "low": {"rate": 100.0, "threads": 1, "size": 256},
    "medium": {"rate": 10_000.0, "threads": 2, "size": 1024},
    "high": {"rate": 0.0, "threads": 4, "size": 1024, "batch_max_messages": 1000},
    "stress": {"rate": 0.0, "threads": 8, "size": 1024, "compression": "lz4"},
    "sustained": {"rate": 5_000.0, "threads": 2, "size": 1024, "duration_s": 600.0},
    # `make demo`: enough to move the charts (↑/PgUp raise it), little for the local bookie.
    "demo": {"rate": 500.0, "threads": 1, "size": 1024},
}


def settings_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


#: Sections of `--help` and of docs/settings.md, in order; every setting is in exactly one.
SETTING_GROUPS: dict[str, tuple[str, ...]] = {
    "Run": (
        "topic", "threads", "max_threads", "duration_s", "messages", "warmup_s",
        "stats_interval_s", "verify", "headless", "thresholds", "pin_cpus", "stall_s",
    ),
    "Connection": (
        "service_url", "admin_url", "engine", "auth_token", "auth_token_file", "tls_ca_file",
        "tls_validate_hostname", "operation_timeout_s", "connect_timeout_s",
        "connections_per_broker",
    ),
    "Output": ("report", "export_dir", "histogram_log", "prometheus_port", "prometheus_addr"),
    "Messages": (
        "rate", "size", "size_distribution", "size_max", "payload", "payload_file", "schema",
        "schema_registry_check",
        "key_mode",
        "keys", "properties", "routing", "hashing", "partitions", "producer_name",
    ),
    "Producer": (
        "batching", "batch_max_messages", "batch_max_bytes", "batch_delay_ms", "compression",
        "send_timeout_ms", "max_pending", "block_if_queue_full", "disk_min_free_gib",
    ),
    "Scenario and dashboard keys": (
        "scenario", "burst_multiplier", "burst_seconds", "ramp_seconds", "ramp_start_rate",
        "spike_every_s", "chaos_seed", "chaos_change_s", "chaos_min_rate", "chaos_max_rate",
        "chaos_sizes", "chaos_threads", "rate_step_fine", "rate_step_coarse",
    ),
    "Subscription": (
        "pattern", "subscription", "subscription_type", "initial_position",
        "receiver_queue_size", "mode", "consumer_name", "priority", "worker_priorities", "seek",
    ),
    "Acknowledgement and redelivery": (
        "ack", "ack_delay_ms", "nack_ratio", "nack_redelivery_delay_ms", "ack_timeout_ms",
        "processing_ms", "dlq_topic", "max_redeliveries", "verify_against", "peek",
    ),
    "Capacity search": (
        "slos", "resolution", "step_warmup_s", "step_window_s", "prime_s", "start_rate", "max_rate",
        "ramp_factor", "confirm", "with_consumer", "capacity_subscription",
        "achieved_tolerance", "backlog_tolerance", "client_cpu_busy_percent",
        "pending_full_fraction", "busy_load_per_cpu",
    ),
    "Cluster (Dask)": (
        "cluster", "workers", "cluster_wait_s", "cluster_timeout_s", "cluster_poll_s",
        "on_worker_loss",
    ),
    "Browser dashboard": ("web", "web_token", "web_view_without_token", "web_history_s"),
}  # fmt: skip


def setting_group(name: str) -> str:
    """The section a setting is listed under (KeyError: a setting no section names)."""
    for group, names in SETTING_GROUPS.items():
        if name in names:
            return group
    raise KeyError(name)


def setting_flag(f: dataclasses.Field[Any]) -> str:
    """The command-line flag of a setting: `--name` (a trailing `_s` dropped) unless the model
    names another (`TOPIC` is the positional argument)."""
    return f.metadata.get("flag") or "--" + f.name.removesuffix("_s").replace("_", "-")


def setting_env(f: dataclasses.Field[Any]) -> str:
    """The environment variable of a setting: `PULSARLOAD_NAME` unless the model names another."""
    return f.metadata.get("env") or "PULSARLOAD_" + f.name.removesuffix("_s").upper()


def live_fields(cls: type) -> frozenset[str]:
    """Settings a running load takes without restarting its workers."""
    return frozenset(n for n, f in settings_fields(cls).items() if f.metadata.get("live"))


def _field_type(cls: type, name: str) -> Any:
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0]
    return hint


def _coerce(cls: type, name: str, value: Any, source: str) -> Any:
    """Turn a string (environment) or a TOML value into the field's type, or say what's wrong."""
    kind = _field_type(cls, name)
    origin = typing.get_origin(kind)
    label = f"{name} (from {source})"
    if value is None:
        return None
    if origin is tuple:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{label}: expected a list of strings, got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{label}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{label}: expected a whole number, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{label}: expected a whole number, got {value!r}") from None
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{label}: expected a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{label}: expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{label}: expected text, got {value!r}")
    return value


def validate_settings(settings: RunSettings) -> None:
    """Check every field against its limits; the error names the setting and the allowed range."""
    for name, f in settings_fields(type(settings)).items():
        value = getattr(settings, name)
        meta = f.metadata
        if value is None:
            continue
        if "choices" in meta and value not in meta["choices"]:
            raise ConfigError(
                f"{name}={value!r} is not allowed; use one of {', '.join(meta['choices'])}"
            )
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and value < lo or hi is not None and value > hi:
            bounds = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
            raise ConfigError(f"{name}={value} is out of range {bounds}")
    if not getattr(settings, "pattern", None):
        from pulsarload.client.topics import TopicName  # raises InvalidTopicName (a ConfigError)

        TopicName.parse(settings.topic)
    if settings.engine == "native":  # the official client also takes http:// lookup URLs
        from pulsarload.client.urls import parse_service_url  # raises InvalidUrl (a ConfigError)

        parse_service_url(settings.service_url)
    if not settings.admin_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"admin_url={settings.admin_url!r} must start with http:// or https:// "
            "(e.g. http://localhost:8080)"
        )
    if settings.threads > settings.max_threads:
        raise ConfigError(f"threads={settings.threads} exceeds max_threads={settings.max_threads}")
    _validate_cluster(settings)
    if settings.schema:
        _validate_schema(settings)
    if isinstance(settings, ProduceSettings):
        _validate_producer(settings)
    if isinstance(settings, ConsumeSettings):
        _validate_consumer(settings)
    retired = RETIRED_SCENARIOS.get(getattr(settings, "scenario", ""))
    if retired and not isinstance(settings, CapacitySettings):
        raise ConfigError(retired)
    if isinstance(settings, CapacitySettings):
        _validate_capacity(settings)


def _validate_schema(s: RunSettings) -> None:
    """The schema spec parses (file, JSON, Avro), and --verify has a field for its stamp."""
    from pulsarload.client.schema import (
        AvroSchema,
        JsonSchema,
        KeyValueSchema,
        SchemaType,
        StringSchema,
        parse_schema_spec,
    )
    from pulsarload.client.schema.spec import first_text_field

    schema = parse_schema_spec(s.schema)  # raises ConfigError naming the spec
    protobuf = schema is not None and schema.schema_type == SchemaType.ProtobufNative
    if protobuf and s.engine != "native":
        raise ConfigError(
            f"--schema {s.schema!r}: the official Python client has no PROTOBUF_NATIVE schema; "
            "use --engine native"
        )
    if isinstance(schema, KeyValueSchema):
        if s.engine != "native":
            raise ConfigError(
                f"--schema {s.schema!r}: the official client has no KeyValueSchema; "
                "use --engine native"
            )
        if not isinstance(schema.value_schema, AvroSchema | JsonSchema | StringSchema):
            raise ConfigError(
                f"--schema {s.schema!r}: the value must be avro:, json: or string (records "
                "are generated for it)"
            )
        if schema.separated and isinstance(s, ProduceSettings) and s.key_mode != "none":
            raise ConfigError(
                f"--schema {s.schema!r}: with separated, the message key is the encoded key "
                "of each record; drop --key-mode"
            )
    if (
        s.verify
        and isinstance(s, ProduceSettings)
        and (isinstance(schema, AvroSchema | JsonSchema | KeyValueSchema) or protobuf)
        and first_text_field(schema) is None
    ):
        raise ConfigError(
            f"--verify with --schema {s.schema!r}: the record needs a string or bytes field "
            "to carry the verification stamp"
        )


def _validate_producer(s: ProduceSettings) -> None:
    """Combinations that would silently do something other than what they say."""
    if s.routing == "key_hash" and s.key_mode == "none":
        raise ConfigError(
            "--routing key_hash routes by message key, but the messages have none (it would "
            "behave like round_robin); add --key-mode sequential, random or set"
        )
    if s.key_mode == "set" and not s.keys:
        raise ConfigError("--key-mode set needs at least one key: add --key K (repeatable)")
    if s.chaos_min_rate > s.chaos_max_rate:
        raise ConfigError(
            f"chaos_min_rate={s.chaos_min_rate:g} is above chaos_max_rate={s.chaos_max_rate:g}"
        )
    if s.chaos_sizes and s.size_max <= s.size:
        raise ConfigError(
            "--chaos-sizes draws sizes between --size and --size-max; set --size-max above "
            f"--size ({s.size})"
        )


#: The clients' smallest ack timeout (a shorter one is refused by the official clients too).
MIN_ACK_TIMEOUT_MS = 1000


def _validate_consumer(s: ConsumeSettings) -> None:
    if 0 < s.ack_timeout_ms < MIN_ACK_TIMEOUT_MS:
        raise ConfigError(
            f"ack_timeout_ms={s.ack_timeout_ms} is below the clients' minimum of "
            f"{MIN_ACK_TIMEOUT_MS} ms; use 0 (off) or {MIN_ACK_TIMEOUT_MS} or more"
        )
    for level in s.worker_priorities:
        if not level.isdigit() or int(level) > 1_000_000:
            raise ConfigError(
                f"--worker-priority {level!r}: a priority level is a whole number 0..1000000 "
                "(0 is served first)"
            )
    if s.dlq_topic and not s.max_redeliveries:
        raise ConfigError(
            f"--dlq-topic {s.dlq_topic} is used only after --max-redeliveries N deliveries; "
            "add --max-redeliveries"
        )


def worker_priority(s: ConsumeSettings, index: int) -> int:
    """The priority level of consumer worker `index`: its entry of --worker-priority (the last
    one repeats), else --priority."""
    if not s.worker_priorities:
        return s.priority
    return int(s.worker_priorities[min(index, len(s.worker_priorities) - 1)])


def _validate_cluster(settings: RunSettings) -> None:
    """A cluster run's own checks, each one line (the Dask side is checked when it connects)."""
    if settings.cluster is None:
        if settings.workers is not None:
            raise ConfigError(
                f"--workers {settings.workers} needs --cluster local or --cluster "
                "tcp://HOST:8786 (without it the run is one process: use --threads)"
            )
        return
    if settings.workers is not None and settings.workers < 1:
        raise ConfigError(
            f"--workers {settings.workers}: a cluster run needs at least one shard "
            "(one per Dask worker); use --workers 1 or more"
        )
    address = settings.cluster
    if address != "local" and not address.startswith(("tcp://", "tls://", "ws://", "wss://")):
        raise ConfigError(
            f"--cluster {address!r}: use local, or a Dask scheduler address like "
            "tcp://scheduler:8786"
        )
    shards = settings.workers or 1
    if settings.messages and settings.messages < shards:
        raise ConfigError(
            f"--messages {settings.messages} is fewer than the {shards} shards; "
            "give each shard at least one message"
        )
    sub_type = getattr(settings, "subscription_type", None)
    if sub_type == "exclusive" and shards > 1:
        raise ConfigError(
            f"--subscription-type exclusive lets one consumer in, but --workers {shards} "
            "starts one per shard; use --subscription-type shared, key_shared or failover"
        )


def _validate_capacity(s: CapacitySettings) -> None:
    """Refuse settings that contradict a search that sets the rate and the length itself."""
    if s.start_rate > s.max_rate:
        raise ConfigError(
            f"start_rate={s.start_rate:g} is above max_rate={s.max_rate:g}; "
            "lower --start-rate or raise --max-rate"
        )
    conflicts = (
        ("rate", s.rate, "the search sets the rate; use --start-rate and --max-rate"),
        ("duration_s", s.duration_s, "the search decides its length; use --step-window"),
        ("messages", s.messages, "the search decides its length; use --step-window"),
        ("warmup_s", s.warmup_s, "each step has its own warm-up; use --step-warmup"),
    )
    for name, value, why in conflicts:
        if value:
            raise ConfigError(f"{name}={value:g} contradicts a capacity search ({why})")
    if s.thresholds:
        raise ConfigError(
            "thresholds contradict a capacity search (it judges each step); use --slo instead"
        )
    if s.scenario != "sustained":
        raise ConfigError(
            f"scenario={s.scenario!r} contradicts a capacity search (it moves the rate itself)"
        )
    if s.threads < 1:
        raise ConfigError("threads=0: a capacity search needs at least one producer thread")
    if not s.slos:
        raise ConfigError("no SLO: give at least one --slo, e.g. --slo 'p99_ms<50'")


def _check_known(cls: type, values: Mapping[str, Any], source: str) -> None:
    known = settings_fields(cls)
    for key in values:
        if key not in known:
            raise ConfigError(
                f"unknown setting {key!r} in {source}; known settings: {', '.join(sorted(known))}"
            )


def env_values(cls: type, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, f in settings_fields(cls).items():
        var = setting_env(f)
        if environ.get(var, "") != "":
            found[name] = _coerce(cls, name, environ[var], f"environment variable {var}")
    return found


def profile_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pulsarload" / "profiles"


def profile_path(name_or_path: str) -> Path:
    """A profile is a TOML file: a path, or a name under ~/.config/pulsarload/profiles/."""
    if "/" in name_or_path or name_or_path.endswith(".toml"):
        return Path(name_or_path)
    return profile_dir() / f"{name_or_path}.toml"


def load_profile(cls: type, name_or_path: str) -> dict[str, Any]:
    path = profile_path(name_or_path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"profile {name_or_path!r} not found at {path}; save one with --save-profile"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"profile {path} cannot be read: {err}") from None
    _check_known(cls, raw, f"profile {path}")
    return {k: _coerce(cls, k, v, f"profile {path}") for k, v in raw.items()}


def save_profile(settings: RunSettings, name_or_path: str) -> Path:
    """Write the settings that differ from the defaults as a TOML profile (atomically)."""
    import tomli_w

    defaults = type(settings)()
    data = {
        name: (list(value) if isinstance(value, tuple) else value)
        for name, f in settings_fields(type(settings)).items()
        if (value := getattr(settings, name)) != getattr(defaults, name)
        and value is not None
        and not f.metadata.get("secret")  # a token never goes into a file
    }
    path = profile_path(name_or_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomli_w.dumps(data))
    tmp.replace(path)
    return path


def _read_token_file(path: str) -> str:
    """The token from a file (Pulsar's `file:///path` form accepted); never echoed back."""
    path = path.removeprefix("file://")
    try:
        token = Path(path).read_text().strip()
    except OSError as err:
        raise ConfigError(f"cannot read auth token file {path}: {err.strerror or err}") from None
    if not token:
        raise ConfigError(f"auth token file {path} is empty")
    return token


def resolve_settings[S: RunSettings](
    cls: type[S],
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    preset: str | None = None,
) -> S:
    """Merge defaults < preset < profile < environment < flags, then validate."""
    merged: dict[str, Any] = {}
    known = settings_fields(cls)
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"preset {preset!r} is unknown; use one of {', '.join(PRESETS)}")
        merged.update({k: v for k, v in PRESETS[preset].items() if k in known})
    if profile is not None:
        merged.update(load_profile(cls, profile))
    merged.update(env_values(cls, environ))
    if flags:
        _check_known(cls, flags, "flags")
        merged.update({k: v for k, v in flags.items() if v is not None})
    if merged.get("auth_token_file") and not merged.get("auth_token"):
        merged["auth_token"] = _read_token_file(merged["auth_token_file"])
    settings = cls(**merged)
    validate_settings(settings)
    return settings

"""The one small interface the load layer needs from a Pulsar client.

A worker thread owns one `EngineProducer` or `EngineConsumer`. Sends complete through a callback
that may run on another thread (the client's reader or I/O thread); it must be cheap and must not
touch the worker's recorder, so the load layer hands in a callback that only queues the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pulsarload.client.redeliveries import RedeliveryCounts
from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.errors import ConfigError

#: on_done(count, error_category): error_category is None on success, else a short category
#: name such as "timeout", "queue_full", "TopicTerminated" (counted by category in the metrics).
SendDone = Callable[[int, str | None], None]


class ReceivedMessage:
    """What the load layer reads from a received message; `handle` is the engine's own object.

    The per-message fields a worker reads (`data`, `publish_time_ms`, `redelivery_count`, and
    `intended_us`: the producer's intended send time from a pulsarload stamp, µs since the
    epoch, 0 when the message has none) are plain slots; the rest (`topic`, `message_id`, `event_time_ms`, `key`, `properties`) are
    properties, so that an engine can subclass this and work them out only when asked: the
    consumer hot path creates one of these per message and reads none of them.
    """

    __slots__ = (
        "data",
        "publish_time_ms",
        "redelivery_count",
        "intended_us",
        "handle",
        "_topic",
        "_message_id",
        "_event_time_ms",
        "_key",
        "_properties",
    )

    def __init__(
        self,
        data: bytes,
        topic: str,
        message_id: str,
        publish_time_ms: int,
        event_time_ms: int,
        redelivery_count: int,
        key: str | None = None,
        properties: Mapping[str, str] | None = None,
        handle: Any = None,
        intended_us: int = 0,
    ) -> None:
        self.data = data
        self.publish_time_ms = publish_time_ms
        self.redelivery_count = redelivery_count
        self.intended_us = intended_us
        self.handle = handle
        self._topic = topic
        self._message_id = message_id
        self._event_time_ms = event_time_ms
        self._key = key
        self._properties = {} if properties is None else properties

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def message_id(self) -> str:
        return self._message_id

    @property
    def event_time_ms(self) -> int:
        return self._event_time_ms

    @property
    def key(self) -> str | None:
        return self._key

    @property
    def properties(self) -> Mapping[str, str]:
        return self._properties

    @property
    def e2e_origin_us(self) -> int:
        """Where this message's end-to-end latency starts (µs since the epoch): the intended
        send time when the producer stamped it, else the publish time."""
        return self.intended_us or self.publish_time_ms * 1000

    def __repr__(self) -> str:
        return (
            f"ReceivedMessage(id={self.message_id}, topic={self.topic!r}, "
            f"{len(self.data)} bytes, redelivery_count={self.redelivery_count})"
        )


#: (origin ns since the epoch, message count, intended, step ns): `count` messages whose
#: end-to-end latency starts at `origin + k * step` (k = 0, 1, ...): the producer's intended
#: send time when `intended`, else the publish time. The messages of one batch entry share a
#: run: one time (step 0) or evenly spaced times (a rate-limited batch).
type E2ERun = tuple[int, int, bool, int]


def e2e_runs_of(messages: Iterable[ReceivedMessage]) -> list[E2ERun]:
    """The end-to-end origins of `messages`, runs of equal origins merged."""
    runs: list[E2ERun] = []
    for m in messages:
        stamped = bool(m.intended_us)
        origin = (m.intended_us if stamped else m.publish_time_ms * 1000) * 1000
        if runs and runs[-1][0] == origin and runs[-1][2] == stamped:
            runs[-1] = (origin, runs[-1][1] + 1, stamped, 0)
        else:
            runs.append((origin, 1, stamped, 0))
    return runs


class ReceivedBatch:
    """The messages one `receive_many` call took, with what a worker records per batch worked
    out once: `count`, payload bytes (`n_bytes`), `redelivered` messages, and `e2e_runs`:
    where each message's end-to-end latency starts (`E2ERun`s: the messages of one batch entry
    sent at one intended time, or with one publish time, share a run).

    This base class is built from `ReceivedMessage`s; an engine may subclass it to work the
    figures out from its own messages and build `messages` only when asked (the native engine
    does: a batch then costs no object per message on the worker's side).
    """

    __slots__ = ("_messages", "count", "e2e_runs", "n_bytes", "redelivered")

    def __init__(self, messages: Sequence[ReceivedMessage]) -> None:
        self._messages: list[ReceivedMessage] | None = list(messages)
        self.count = len(messages)
        self.n_bytes = sum(len(m.data) for m in messages)
        self.redelivered = sum(1 for m in messages if m.redelivery_count)
        self.e2e_runs = e2e_runs_of(messages)

    def __len__(self) -> int:
        return self.count

    @property
    def messages(self) -> list[ReceivedMessage]:
        messages = self._messages
        assert messages is not None
        return messages

    def payloads(self) -> list[bytes]:
        """Each message's payload, in order (for end-to-end verification)."""
        return [m.data for m in self.messages]

    def head(self, n: int) -> ReceivedBatch:
        """The first `n` messages as a batch of their own (a message budget ran out)."""
        return ReceivedBatch(self.messages[:n])


class EngineProducer(Protocol):
    def send_batch(
        self,
        payloads: Sequence[bytes],
        on_done: SendDone,
        *,
        key: str | None = None,
        properties: Mapping[str, str] | None = None,
        intended_ns: int | None = None,
        interval_ns: float = 0.0,
        key_bytes: bytes | None = None,
    ) -> None:
        """Queue the payloads for sending (blocks while the pending queue is full, if so set).

        `key_bytes`: the encoded key of a KEY_VALUE SEPARATED schema, which goes (base64,
        flagged) into the message key instead of `key`.

        `intended_ns`: when the rate schedule meant the first payload to go (wall clock, ns
        since the epoch), payload i at `intended_ns + i * interval_ns`; the engine stamps it
        on what it sends (`engines.stamp`) so that consumers measure end-to-end latency from
        it. None: no stamp."""

    def pending(self) -> int:
        """Messages sent but not yet acknowledged or failed (backpressure)."""

    def flush(self, timeout_s: float) -> None: ...

    def reconnect_attempt(self) -> int:
        """0 while connected, n during the client's n-th reconnect attempt."""

    def close(self) -> None: ...


class EngineConsumer(Protocol):
    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        """The next message, or None when none arrived within the timeout."""

    def acknowledge(self, message: ReceivedMessage) -> None: ...

    def receive_many(self, max_messages: int, timeout_ms: int) -> ReceivedBatch | None:
        """Messages already received, up to `max_messages`, waiting at most `timeout_ms` for
        the first (None: none came). Lets a worker handle whole batch entries per call."""

    def acknowledge_many(self, batch: ReceivedBatch) -> None:
        """Acknowledge every message of `batch` (same semantics as `acknowledge` each)."""

    def acknowledge_cumulative(self, message: ReceivedMessage) -> None: ...

    def negative_acknowledge(self, message: ReceivedMessage) -> None: ...

    def seek(self, target: str) -> None:
        """`earliest`, `latest`, a message id `ledger:entry[:partition]`, or ms since the epoch."""

    def queue_fill(self) -> int:
        """Messages waiting in the receiver queue (backpressure)."""

    def reconnect_attempt(self) -> int:
        """0 while subscribed, n during the client's n-th re-subscribe attempt."""

    def redelivery_counts(self) -> RedeliveryCounts | None:
        """Messages redelivered per reason since the consumer was made; None where the
        client does not say why it redelivers (read with `engine_redelivery_counts`)."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NetBytes:
    """Bytes on an engine's broker sockets since it was made, and its open connections."""

    bytes_in: int
    bytes_out: int
    connections: int


class Engine(Protocol):
    """A client library behind the load layer. Optional: ``net_bytes() -> NetBytes | None``
    (socket byte totals for the resource figures; read with `engine_net_bytes`)."""

    name: str

    def create_producer(self, settings: ProduceSettings, name: str | None) -> EngineProducer: ...

    def create_consumer(
        self,
        settings: ConsumeSettings,
        name: str | None,
        listener: Callable[[ReceivedMessage], None] | None = None,
    ) -> EngineConsumer: ...

    def close(self) -> None: ...


def engine_redelivery_counts(consumer: object) -> RedeliveryCounts | None:
    """The consumer's redeliveries by reason, or None where they are not known (an
    optional capability, so fakes need not implement it)."""
    probe = getattr(consumer, "redelivery_counts", None)
    return None if probe is None else probe()


def engine_net_bytes(engine: object) -> NetBytes | None:
    """The engine's socket byte totals, or None where it cannot count them (the official
    engine, test fakes): an optional capability, so fakes need not implement it."""
    probe = getattr(engine, "net_bytes", None)
    return None if probe is None else probe()


#: Result names both clients share, mapped to the categories the metrics count.
_RESULT_CATEGORIES = {"Timeout": "timeout", "ProducerQueueIsFull": "queue_full"}


def result_category(result_name: str) -> str | None:
    """The failure category of a client `Result` by name ("Ok" is success: None)."""
    name = result_name.rsplit(".", 1)[-1]
    return None if name == "Ok" else _RESULT_CATEGORIES.get(name, name)


def error_category(exc: BaseException) -> str:
    """A short, stable name for counting failures by kind."""
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return "timeout"
    if "QueueIsFull" in name:
        return "queue_full"
    if isinstance(exc, (ConnectionError, OSError)) or "Connect" in name:
        return "connection"
    return name


def parse_properties(pairs: Sequence[str]) -> dict[str, str]:
    """`K=V` strings from the command line into message properties."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"property {pair!r} is not of the form KEY=VALUE")
        out[key] = value
    return out

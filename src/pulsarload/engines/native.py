"""The `native` engine: pulsarload's own client, the one that runs on free-threaded builds.

Each worker gets its own `Client` (so its own connection and reader thread): producers on
different workers share nothing, not even a socket write lock. A claimed batch goes out through
the producer's bulk path (`send_batch`: one entry, per-message work done by a join), split only
where it would exceed the batch byte limit. Keyed messages with batching on go one by one
into the producer's key-based batcher instead (one batch per key, each entry carrying its key),
so that a Key_Shared subscription sees every key on one consumer. Each bulk entry carries its
messages' intended send time as one stamp on the entry (`engines.stamp`); messages sent one by
one carry their own.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulsarload.client import AuthenticationToken, Client, PulsarError, choices
from pulsarload.client.schema import AutoProduceBytesSchema, parse_schema_spec
from pulsarload.config import ConsumeSettings, ProduceSettings, RunSettings
from pulsarload.engines.base import (
    EngineConsumer,
    NetBytes,
    ReceivedMessage,
    SendDone,
    error_category,
    result_category,
)
from pulsarload.engines.native_consumer import create_native_consumer
from pulsarload.engines.stamp import STAMP_KEY, encode_stamp
from pulsarload.wire.batch import FRAME_RESERVE, MessageShape


def _result_category(result: Any) -> str | None:
    return result_category(getattr(result, "name", str(result)))


def client_for(settings: RunSettings) -> Client:
    kwargs: dict[str, Any] = {
        "operation_timeout_seconds": settings.operation_timeout_s,
        "connection_timeout_ms": int(settings.connect_timeout_s * 1000),
        "tls_validate_hostname": settings.tls_validate_hostname,
    }
    if settings.auth_token:
        kwargs["authentication"] = AuthenticationToken(settings.auth_token)
    if settings.tls_ca_file:
        kwargs["tls_trust_certs_file_path"] = settings.tls_ca_file
    return Client(settings.service_url, **kwargs)


_PLAIN_SHAPE = MessageShape()  # messages without keys or properties


def registry_schema(spec: str) -> AutoProduceBytesSchema | None:
    """The producer's schema for a `--schema` spec: told to the broker, payloads as given."""
    schema = parse_schema_spec(spec)
    return AutoProduceBytesSchema(schema) if schema is not None else None


class NativeProducer:
    def __init__(self, client: Client, producer: Any, settings: ProduceSettings) -> None:
        self._client = client
        self._producer = producer
        self._batching = settings.batching
        self._key_based = settings.key_based_batching
        self._max_bytes = settings.batch_max_bytes
        self._max_messages = settings.batch_max_messages
        self._shapes: dict[tuple[str | None, tuple[tuple[str, str], ...], bool], MessageShape] = {}

    def _shape(
        self, key: str | None, properties: Mapping[str, str] | None, b64: bool = False
    ) -> MessageShape | None:
        if key is None and not properties:
            return None
        cache_key = (key, tuple(sorted((properties or {}).items())), b64)
        shape = self._shapes.get(cache_key)
        if shape is None:
            if len(self._shapes) > 4096:  # random keys: do not grow without bound
                self._shapes.clear()
            shape = self._shapes[cache_key] = MessageShape(
                properties=properties or {},
                partition_key=key,
                partition_key_b64_encoded=True if b64 else None,
            )
        return shape

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
        b64 = key_bytes is not None
        if b64:  # KEY_VALUE SEPARATED: the encoded key, base64, as the Java client sends it
            key = base64.b64encode(key_bytes).decode("ascii")  # type: ignore[arg-type]

        def batch_done(result: Any, _msg_id: Any, count: int) -> None:
            on_done(count, _result_category(result))

        if not self._batching or (self._key_based and key is not None):

            def one_done(result: Any, _msg_id: Any) -> None:
                on_done(1, _result_category(result))

            for i, payload in enumerate(payloads):
                props = properties
                if intended_ns is not None:  # each message carries its own time
                    props = dict(properties or {})
                    props[STAMP_KEY] = encode_stamp((intended_ns + int(i * interval_ns)) // 1000)
                if b64:  # the schema takes (key, value) and sets the key and its flag
                    send = lambda p=payload, pr=props: self._producer.send_async(  # noqa: E731
                        (key_bytes, p), one_done, properties=pr
                    )
                else:
                    send = lambda p=payload, pr=props: self._producer.send_async(  # noqa: E731
                        p, one_done, properties=pr, partition_key=key
                    )
                self._send_guarded(
                    send,
                    on_done,
                    1,
                )
            return
        shape = self._shape(key, properties, b64)
        step_ns = round(interval_ns)
        offset = 0
        for chunk in self._split(payloads, shape):
            entry = None
            if intended_ns is not None:  # one stamp per entry gives every message's time
                first_us = (intended_ns + int(offset * interval_ns)) // 1000
                entry = {STAMP_KEY: encode_stamp(first_us, step_ns if len(chunk) > 1 else 0)}
            offset += len(chunk)
            self._send_guarded(
                lambda c=chunk, e=entry: self._producer.send_batch(
                    c, batch_done, shape=shape, entry_properties=e
                ),
                on_done,
                len(chunk),
            )

    @staticmethod
    def _send_guarded(send: Callable[[], Any], on_done: SendDone, count: int) -> None:
        try:
            send()
        except PulsarError as err:  # queue full (not blocking), closed, too big: a failed send
            on_done(count, error_category(err))

    def _split(
        self, payloads: Sequence[bytes], shape: MessageShape | None = None
    ) -> list[Sequence[bytes]]:
        """Pieces within the batch message limit and whose whole SEND frame (payloads, their
        per-message metadata and `FRAME_RESERVE`) stays within the batch byte limit; most
        batches are one piece."""
        n = len(payloads)
        if n == 0:
            return []
        sizes = list(map(len, payloads))
        per_message = (shape or _PLAIN_SHAPE).per_message_overhead(max(sizes))
        budget = self._max_bytes - FRAME_RESERVE
        if n <= self._max_messages and sum(sizes) + n * per_message <= budget:
            return [payloads]
        pieces: list[Sequence[bytes]] = []
        start = size = 0
        for i, p_size in enumerate(sizes):
            cost = p_size + per_message
            if i > start and (size + cost > budget or i - start >= self._max_messages):
                pieces.append(payloads[start:i])
                start, size = i, 0
            size += cost
        pieces.append(payloads[start:])
        return pieces

    def pending(self) -> int:
        return self._producer.pending_messages

    def reconnect_attempt(self) -> int:
        return self._producer.reconnect_attempt

    def flush(self, timeout_s: float) -> None:
        self._producer.flush(timeout_s)

    def close(self) -> None:
        try:
            self._producer.close()
        finally:
            self._client.close()


class NativeEngine:
    name = "native"
    #: Whether its consumers count redeliveries by reason (`redelivery_counts`).
    redelivery_reasons = True

    def __init__(self, settings: RunSettings) -> None:
        self._settings = settings
        # Every client made, for the byte totals; folded into _retired once closed for good.
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()  # client creation and sampling: not per message
        self._retired_in = 0
        self._retired_out = 0

    def _track(self, client: Client) -> Client:
        with self._clients_lock:
            self._clients.append(client)
        return client

    def net_bytes(self) -> NetBytes:
        """Bytes on the broker sockets of every client this engine made, closed ones too."""
        total_in = total_out = connections = 0
        with self._clients_lock:
            live = []
            for c in self._clients:
                done = c.io_done  # read first: counts taken after it are final
                c_in, c_out = c.byte_counts()
                if done:
                    self._retired_in += c_in
                    self._retired_out += c_out
                    continue
                live.append(c)
                total_in += c_in
                total_out += c_out
                connections += len(c.connections())
            self._clients = live
            total_in += self._retired_in
            total_out += self._retired_out
        return NetBytes(total_in, total_out, connections)

    def create_producer(self, settings: ProduceSettings, name: str | None) -> NativeProducer:
        """A producer on its own client; with `--schema` it registers the schema and sends
        the payloads the load layer encoded (`AutoProduceBytesSchema`)."""
        client = self._track(client_for(settings))
        try:
            producer = client.create_producer(
                settings.topic,
                producer_name=name,
                send_timeout_millis=settings.send_timeout_ms,
                compression_type=choices.COMPRESSION[settings.compression],
                max_pending_messages=settings.max_pending,
                block_if_queue_full=settings.block_if_queue_full,
                batching_enabled=settings.batching,
                batching_type="KeyBased" if settings.key_based_batching else "Default",
                batching_max_messages=settings.batch_max_messages,
                batching_max_allowed_size_in_bytes=settings.batch_max_bytes,
                batching_max_publish_delay_ms=settings.batch_delay_ms,
                message_routing_mode=choices.ROUTING[settings.routing],
                hashing_scheme=choices.HASHING[settings.hashing],
                schema=registry_schema(settings.schema),
            )
        except BaseException:
            client.close()
            raise
        return NativeProducer(client, producer, settings)

    def create_consumer(
        self,
        settings: ConsumeSettings,
        name: str | None,
        listener: Callable[[ReceivedMessage], None] | None = None,
    ) -> EngineConsumer:
        return create_native_consumer(self._track(client_for(settings)), settings, name, listener)

    def close(self) -> None:
        """Clients belong to their producers/consumers and close with them."""

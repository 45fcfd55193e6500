"""`PartitionedProducer`: one `Producer` per partition of a topic, behind a router.

Partitions can be added to a topic while it is in use (never removed); a watcher thread asks
the broker for the count and starts producers for new partitions.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pulsarload.client.errors import PulsarError
from pulsarload.client.handler import ClientServices
from pulsarload.client.pending import BatchCallback, SendCallback
from pulsarload.client.producer import Producer
from pulsarload.client.routing import Router
from pulsarload.client.settings import ProducerConfig
from pulsarload.client.topics import partition_name
from pulsarload.wire.batch import MessageShape
from pulsarload.wire.message_id import MessageId

__all__ = ["PartitionedProducer"]

log = logging.getLogger(__name__)


class PartitionedProducer:
    """A producer on a partitioned topic: one `Producer` per partition and a router.

    Partitions can be added to a topic while it is in use (never removed). A watcher thread asks
    the broker every `partitions_update_interval_seconds` and starts producers for new ones,
    then publishes the longer list with one assignment: senders read `_producers` without a
    lock and see the old list or the new one, both valid for the index they route to.
    """

    @property
    def reconnect_attempt(self) -> int:
        """The furthest reconnect attempt among the partitions (0 when all are connected)."""
        return max((p.reconnect_attempt for p in self._producers), default=0)

    def __init__(self, client: ClientServices, config: ProducerConfig, partitions: int) -> None:
        self._client = client
        self._conf = config
        self._topic = config.topic
        self._router = Router(
            config.message_routing_mode, config.hashing_scheme, config.message_router
        )
        self._producers: list[Producer] = []
        self._grow_lock = threading.Lock()
        self._stopped = threading.Event()
        try:
            for i in range(partitions):
                p = Producer(client, config, partition_name(self._topic, i), i)
                p._start()
                self._producers.append(p)
        except BaseException:
            for p in self._producers:
                p.close()
            raise
        interval = client.config.partitions_update_interval_seconds
        if interval > 0:
            client.spawn(
                self._watch_partitions,
                f"pulsar-partitions-{self._topic.rsplit('/', 1)[-1]}",
                interval,
            )

    def _watch_partitions(self, interval: float) -> None:
        while not self._stopped.wait(interval):
            if self._client.closed:
                return
            try:
                count = self._client.partition_count(self._topic)
            except PulsarError as err:  # the next round tries again
                log.debug("partition check of %s failed: %s", self._topic, err)
                continue
            self.grow_to(count)

    def grow_to(self, count: int) -> int:
        """Start producers for partitions ``len(partitions)..count-1``; returns how many were
        added (0 if the topic has no new partitions or the producer is closing). A partition
        that cannot be started now is tried again at the next check."""
        with self._grow_lock:
            current = self._producers
            if count <= len(current) or self._stopped.is_set():
                return 0
            added: list[Producer] = []
            for i in range(len(current), count):
                p = Producer(self._client, self._conf, partition_name(self._topic, i), i)
                try:
                    p._start()
                except PulsarError as err:
                    log.warning("cannot start a producer on new partition %d of %s: %s",
                                i, self._topic, err)  # fmt: skip
                    break
                added.append(p)
            if added:
                self._producers = current + added
                log.info("%s: %d partitions now (%d new)", self._topic, len(self._producers),
                         len(added))  # fmt: skip
            return len(added)

    @property
    def partitions(self) -> list[Producer]:
        return list(self._producers)

    def topic(self) -> str:
        return self._topic

    def producer_name(self) -> str:
        return self._producers[0].producer_name() if self._producers else ""

    def last_sequence_id(self) -> int:
        return max((p.last_sequence_id() for p in self._producers), default=-1)

    def is_connected(self) -> bool:
        return all(p.is_connected() for p in self._producers)

    @property
    def pending_messages(self) -> int:
        return sum(p.pending_messages for p in self._producers)

    def _pick(
        self, content: Any, key: str | None, props: Mapping[str, str] | None, okey: Any
    ) -> Producer:
        n = len(self._producers)
        schema = self._conf.schema
        if key is None and content is not None and schema is not None:
            # KEY_VALUE SEPARATED: route on the key the message will carry (base64), as Java.
            kb = schema.separated_key(content)
            if kb is not None:
                key = base64.b64encode(kb).decode("ascii")
        okey_s = okey.decode(errors="replace") if isinstance(okey, bytes) else okey
        index = self._router.choose(n, key, content, dict(props) if props else None, okey_s)
        return self._producers[index]

    def send(
        self,
        content: bytes | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> MessageId:
        p = self._pick(content, partition_key, properties, kwargs.get("ordering_key"))
        return p.send(content, properties, partition_key, **kwargs)

    def send_async(
        self,
        content: bytes | None,
        callback: SendCallback | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        p = self._pick(content, partition_key, properties, kwargs.get("ordering_key"))
        p.send_async(content, callback, properties, partition_key, **kwargs)

    def send_batch(
        self,
        payloads: Sequence[bytes],
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
        entry_properties: Mapping[str, str] | None = None,
    ) -> int:
        """One batch to one partition: by the shape's partition key if it has one (so keyed
        batches land where keyed single messages do), else by the routing mode."""
        return self._for_shape(shape).send_batch(
            payloads, callback, shape=shape, entry_properties=entry_properties
        )

    def send_repeated(
        self,
        payload: bytes,
        count: int,
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
    ) -> int:
        return self._for_shape(shape).send_repeated(payload, count, callback, shape=shape)

    def _for_shape(self, shape: MessageShape | None) -> Producer:
        key = shape.metadata(0).partition_key if shape is not None else None
        return self._producers[self._router.choose(len(self._producers), key)]

    def flush(self, timeout: float | None = None) -> None:
        for p in self._producers:
            p.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Close every partition's producer within one shared `timeout`."""
        if timeout is None:
            timeout = self._client.config.operation_timeout_seconds
        deadline = time.monotonic() + timeout
        self._stopped.set()
        self._client.forget(self)
        with self._grow_lock:  # no partition is being added while we close
            producers = self._producers
        for p in producers:
            p.close(max(0.0, deadline - time.monotonic()))

    def __repr__(self) -> str:
        return f"<PartitionedProducer {self._topic} x{len(self._producers)}>"

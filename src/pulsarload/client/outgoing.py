"""What one `send` carries: the message's fields, checked once before anything is queued.

The official client's argument rules (types, ranges, the `None` tombstone, delivery times)
live here, so every send path and `PartitionedProducer`'s router see the same checked values.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from pulsarload.client.errors import InvalidMessage, MessageArgumentType

__all__ = ["OutgoingMessage", "check_content", "check_props", "deliver_at_ms", "now_ms"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_content(content: object) -> bytes | bytearray | memoryview:
    if not isinstance(content, bytes | bytearray | memoryview):
        raise MessageArgumentType(f"content: expected bytes, got {type(content).__name__}")
    return content


def check_props(properties: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if not properties:
        return None
    if not isinstance(properties, Mapping):
        raise MessageArgumentType(f"properties: expected a dict of str -> str, got {properties!r}")
    for k, v in properties.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise MessageArgumentType(f"properties: keys and values must be str, got {k!r}: {v!r}")
    return properties


def deliver_at_ms(deliver_at: object, deliver_after: object) -> int | None:
    """Absolute delivery time in ms; `deliver_at` is epoch ms, `deliver_after` a timedelta
    or milliseconds (the official client takes a timedelta)."""
    if deliver_at is not None:
        if isinstance(deliver_at, bool) or not isinstance(deliver_at, int):
            raise InvalidMessage(
                f"deliver_at: expected epoch milliseconds (int), got {deliver_at!r}"
            )
        return deliver_at
    if deliver_after is not None:
        if isinstance(deliver_after, timedelta):
            ms = deliver_after.total_seconds() * 1000
        elif isinstance(deliver_after, int | float) and not isinstance(deliver_after, bool):
            ms = float(deliver_after)
        else:
            raise InvalidMessage(
                f"deliver_after: expected a timedelta or milliseconds, got {deliver_after!r}"
            )
        if ms < 0:
            raise InvalidMessage(f"deliver_after: must be >= 0, got {deliver_after!r}")
        return now_ms() + int(ms)
    return None


class OutgoingMessage:
    """The per-message fields of a `send`, validated once."""

    __slots__ = (
        "content",
        "deliver_at",
        "null_value",
        "event_time",
        "key",
        "key_b64",
        "ordering_key",
        "properties",
        "replicate_to",
        "seq",
    )

    def __init__(
        self,
        content: object,
        properties: Mapping[str, str] | None,
        partition_key: str | None,
        ordering_key: str | bytes | None,
        sequence_id: int | None,
        event_timestamp: int | None,
        deliver_at: object,
        deliver_after: object,
        replication_clusters: Sequence[str] | None = None,
        disable_replication: bool = False,
        partition_key_b64: bool = False,
    ) -> None:
        # The key is base64 of bytes (a KEY_VALUE SEPARATED schema's encoded key): the
        # metadata says so (partition_key_b64_encoded), so consumers decode it back to bytes.
        self.key_b64 = partition_key_b64
        # None is a tombstone (the official client's null value): an empty payload with
        # null_value set, which compaction reads as "delete this key".
        self.null_value = content is None
        if content is None:
            content = b""
        elif not isinstance(content, bytes | bytearray | memoryview):
            raise MessageArgumentType(
                f"content: expected bytes (or None for a null value), got {type(content).__name__}"
            )
        self.content = content
        if (
            properties is None
            and partition_key is None
            and ordering_key is None
            and sequence_id is None
            and event_timestamp is None
            and deliver_at is None
            and deliver_after is None
            and replication_clusters is None
            and not disable_replication
        ):  # the common case, checked in one go
            self.properties = self.key = self.ordering_key = None
            self.seq = self.event_time = self.deliver_at = self.replicate_to = None
            return
        self.properties = check_props(properties)
        if partition_key is not None and not isinstance(partition_key, str):
            raise InvalidMessage(f"partition_key: expected str, got {partition_key!r}")
        self.key = partition_key
        if isinstance(ordering_key, str):
            ordering_key = ordering_key.encode()
        if ordering_key is not None and not isinstance(ordering_key, bytes):
            raise InvalidMessage(f"ordering_key: expected str or bytes, got {ordering_key!r}")
        self.ordering_key = ordering_key
        if sequence_id is not None and (
            isinstance(sequence_id, bool) or not isinstance(sequence_id, int) or sequence_id < 0
        ):
            raise InvalidMessage(f"sequence_id: expected an int >= 0, got {sequence_id!r}")
        self.seq = sequence_id
        if event_timestamp is not None and (
            isinstance(event_timestamp, bool)
            or not isinstance(event_timestamp, int)
            or event_timestamp < 0
        ):
            raise InvalidMessage(
                f"event_timestamp: expected epoch milliseconds >= 0, got {event_timestamp!r}"
            )
        self.event_time = event_timestamp
        self.deliver_at = deliver_at_ms(deliver_at, deliver_after)
        if disable_replication:
            self.replicate_to: tuple[str, ...] | None = ("__local__",)
        elif replication_clusters is not None:
            if isinstance(replication_clusters, str) or not all(
                isinstance(c, str) for c in replication_clusters
            ):
                raise InvalidMessage(
                    f"replication_clusters: expected a list of cluster names, "
                    f"got {replication_clusters!r}"
                )
            self.replicate_to = tuple(replication_clusters)
        else:
            self.replicate_to = None

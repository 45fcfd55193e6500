"""`Message`: one received message, shaped like the official client's `pulsar.Message`.

A message is built on the connection's reader thread with as little work as possible: it keeps
the decoded metadata objects and a view of its payload, and works out properties, keys and
bytes only when asked. The messages of one batch share their entry's `MessageMetadata` and a
`BatchInfo` (the entry's size and which indexes are acknowledged) so that the consumer can ack
the whole entry once every message in it is acknowledged.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata, properties_dict

if TYPE_CHECKING:
    from pulsarload.client.consumer import Consumer
    from pulsarload.client.crypto import EncryptionContext
    from pulsarload.client.schema.schemas import SchemaInfo

__all__ = ["BatchInfo", "Message"]


class BatchInfo:
    """The shared state of one received batch entry: its size and an acked-index bitmask.

    `acked` starts with the indexes the broker reported as acked (CommandMessage.ack_set) and
    the ones skipped locally; the consumer sets bits as the application acknowledges.
    """

    __slots__ = ("acked", "full", "size")

    def __init__(self, size: int, acked: int = 0) -> None:
        self.size = size
        self.full = (1 << size) - 1
        self.acked = acked

    def ack(self, index: int) -> bool:
        """Mark `index` acked; True once every index of the entry is."""
        self.acked |= 1 << index
        return self.acked == self.full

    def ack_up_to(self, index: int) -> bool:
        """Mark indexes 0..index acked (cumulative); True once every index is."""
        self.acked |= (1 << (index + 1)) - 1
        return self.acked == self.full

    def unacked_indexes(self) -> list[int]:
        return [i for i in range(self.size) if not (self.acked >> i) & 1]


class Message:
    """A received message. Accessors follow the official client; `data()` copies the payload
    out of the received buffer once and caches it."""

    __slots__ = (
        "_batch",
        "_chunk_ids",
        "_data",
        "_decrypt_failed",
        "_generation",
        "_id",
        "_md",
        "_owner",
        "_payload",
        "_props",
        "_rc",
        "_smd",
        "_topic",
    )

    def __init__(
        self,
        payload: bytes | memoryview,
        metadata: MessageMetadata,
        single: SingleMessageMetadata | None,
        message_id: MessageId,
        redelivery_count: int,
        topic: str,
        owner: Consumer | None = None,
        batch: BatchInfo | None = None,
        generation: int = 0,
        chunk_ids: tuple[MessageId, ...] | None = None,
    ) -> None:
        self._payload = payload
        self._data: bytes | None = None
        self._md = metadata
        self._smd = single
        self._id = message_id
        self._rc = redelivery_count
        self._topic = topic
        self._owner = owner
        self._batch = batch
        self._generation = generation
        self._chunk_ids = chunk_ids
        self._props: dict[str, str] | None = None
        self._decrypt_failed = False

    # --- the official accessors ---------------------------------------------------------------

    def data(self) -> bytes:
        """The payload bytes."""
        data = self._data
        if data is None:
            p = self._payload
            data = self._data = p if type(p) is bytes else bytes(p)
            self._payload = b""
        return data

    def value(self) -> Any:
        """The payload decoded with the consumer's schema (a Record, a dict, a str...);
        without a schema the payload bytes, as `data()`. A tombstone's value is None.
        Raises `SchemaDecodeError` naming the message and its schema version."""
        owner = self._owner
        schema = owner.schema if owner is not None else None
        if schema is None:
            return self.data()
        src = self._smd if self._smd is not None else self._md
        if src.null_value:
            return None
        return schema.decode_message(self)

    def properties(self) -> dict[str, str]:
        """The message's properties (a fresh dict each call is not needed: treat as read-only)."""
        props = self._props
        if props is None:
            src = self._smd.properties if self._smd is not None else self._md.properties
            props = self._props = properties_dict(src) if src else {}
        return props

    def partition_key(self) -> str:
        """The message key, or "" when it has none (as the official client)."""
        src = self._smd if self._smd is not None else self._md
        return src.partition_key or ""

    def has_base64_encoded_key(self) -> bool:
        """Whether the key is base64 of bytes (a KEY_VALUE SEPARATED schema's encoded key)."""
        src = self._smd if self._smd is not None else self._md
        return bool(src.partition_key_b64_encoded)

    def key_bytes(self) -> bytes:
        """The key as bytes: base64-decoded when the metadata says it is base64 (as the Java
        client's `getKeyBytes`), else its UTF-8 bytes; b"" when there is none."""
        key = self.partition_key()
        if self.has_base64_encoded_key():
            return base64.b64decode(key)
        return key.encode()

    def ordering_key(self) -> str:
        """The ordering key (Key_Shared routing prefers it over the partition key), or "" when
        it has none; text, as the official client gives it."""
        src = self._smd if self._smd is not None else self._md
        key = src.ordering_key
        return key.decode("utf-8", "replace") if key else ""

    def message_id(self) -> MessageId:
        return self._id

    def publish_timestamp(self) -> int:
        """When the producer published the entry (ms since the epoch)."""
        return self._md.publish_time

    def event_timestamp(self) -> int:
        """The producer's event time in ms, or 0 when none was set."""
        src = self._smd if self._smd is not None else self._md
        return src.event_time or 0

    def redelivery_count(self) -> int:
        """How many times the broker delivered this message before (Shared / Key_Shared)."""
        return self._rc

    def topic_name(self) -> str:
        """The topic (for a partitioned topic: the partition) the message came from."""
        return self._topic

    def has_null_value(self) -> bool:
        """True for a tombstone: sent as `send(None)`, it has an empty payload and tells
        compaction to delete its key."""
        src = self._smd if self._smd is not None else self._md
        return bool(src.null_value)

    def encryption_context(self) -> EncryptionContext | None:
        """How the message was encrypted end to end, or None if it was not; for a message
        delivered still encrypted (crypto_failure_action CONSUME) `is_decryption_failed()`."""
        if not self._md.encryption_keys:
            return None
        from pulsarload.client.crypto import EncryptionContext

        return EncryptionContext(self._md, self._decrypt_failed)

    # --- extras ---------------------------------------------------------------------------------

    def producer_name(self) -> str:
        return self._md.producer_name

    def sequence_id(self) -> int:
        """The producer's sequence id (batch messages: the entry's first id plus the index)."""
        smd = self._smd
        if smd is not None:
            if smd.sequence_id is not None:
                return smd.sequence_id
            return self._md.sequence_id + max(self._id.batch_index, 0)
        return self._md.sequence_id

    def schema_version(self) -> bytes:
        """The registry version the payload was written with (8 bytes; b"" for none)."""
        return self._md.schema_version or b""

    def int_schema_version(self) -> int:
        """The schema version as a number (-1: none), as the official client's."""
        v = self._md.schema_version
        return int.from_bytes(v, "big", signed=True) if v else -1

    def fetch_schema_info(self) -> SchemaInfo | None:
        """The registry's schema this message was written with (asked of the broker once per
        version by its consumer); None when it has no version or no consumer."""
        version = self._md.schema_version
        if not version or self._owner is None:
            return None
        return self._owner.writer_schema(version)

    def is_chunked(self) -> bool:
        return self._chunk_ids is not None

    def size(self) -> int:
        """Payload size in bytes (without copying it)."""
        if self._data is not None:
            return len(self._data)
        return len(self._payload)

    def __len__(self) -> int:
        return self.size()

    def __repr__(self) -> str:
        return f"<Message {self._id} on {self._topic} ({self.size()} bytes)>"

    def __reduce__(self) -> Any:  # pragma: no cover - messages are not meant to be pickled
        raise TypeError("a received Message cannot be pickled; copy data() and message_id()")

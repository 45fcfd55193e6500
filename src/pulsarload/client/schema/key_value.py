"""`KeyValueSchema`: a pair of schemas, one for the key and one for the value, as the Java
client's `Schema.KeyValue(key, value, encoding)` (the official Python client has none).

A KEY_VALUE registry entry names its halves' types by their Java names ("AVRO", "STRING"...);
`key_value_schema_of` builds the pair back from such an entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    Schema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
    StringSchema,
    join_key_value,
    registry_type_name,
    split_key_value,
)
from pulsarload.wire.enums import SchemaType

if TYPE_CHECKING:
    from pulsarload.client.message import Message

__all__ = ["KeyValue", "KeyValueEncodingType", "KeyValueSchema", "key_value_schema_of"]


class KeyValueEncodingType(IntEnum):
    """Where a key/value pair's key goes: inside the payload (INLINE) or in the message key."""

    INLINE = 0
    SEPARATED = 1


class KeyValue(NamedTuple):
    """A decoded key/value pair."""

    key: Any
    value: Any


class KeyValueSchema(Schema):
    """A pair of schemas, one for the key and one for the value, as the Java client's
    `Schema.KeyValue(key, value, encoding)`. INLINE: the payload is the encoded key and the
    encoded value, each after a 4-byte big-endian length. SEPARATED: the payload is the encoded
    value and the encoded key is the message key (base64, flagged in the metadata), so that
    key-based routing, Key_Shared and compaction see it."""

    def __init__(
        self,
        key_schema: Schema,
        value_schema: Schema,
        encoding: KeyValueEncodingType = KeyValueEncodingType.INLINE,
    ) -> None:
        if not isinstance(key_schema, Schema) or not isinstance(value_schema, Schema):
            raise TypeError("KeyValueSchema: key_schema and value_schema must be schemas")
        self.encoding = KeyValueEncodingType(encoding)
        self.key_schema = key_schema
        self.value_schema = value_schema
        k, v = key_schema.schema_info(), value_schema.schema_info()
        kd, vd = k.schema_bytes(), v.schema_bytes()
        data = join_key_value(kd, vd)
        props = {
            "key.schema.name": k.name(),
            "key.schema.type": registry_type_name(k.schema_type()),
            "key.schema.properties": json.dumps(k.properties()),
            "value.schema.name": v.name(),
            "value.schema.type": registry_type_name(v.schema_type()),
            "value.schema.properties": json.dumps(v.properties()),
            "kv.encoding.type": self.encoding.name,
        }
        super().__init__(KeyValue, SchemaInfo(SchemaType.KeyValue, "KeyValue", data, props))

    @property
    def separated(self) -> bool:
        return self.encoding is KeyValueEncodingType.SEPARATED

    def _halves(self, obj: Any) -> tuple[bytes, bytes]:
        if not isinstance(obj, tuple) or len(obj) != 2:
            raise SchemaEncodeError(
                f"KeyValueSchema: expected a (key, value) pair, got {type(obj).__name__}"
            )
        return self.key_schema.encode(obj[0]), self.value_schema.encode(obj[1])

    def encode(self, obj: Any) -> bytes:
        """The payload: INLINE both halves; SEPARATED the value only (see `encode_message`)."""
        kb, vb = self._halves(obj)
        if self.separated:
            return vb
        return join_key_value(kb, vb)

    def encode_message(self, obj: Any) -> tuple[bytes, bytes | None]:
        if not self.separated:
            return self.encode(obj), None
        kb, vb = self._halves(obj)
        return vb, kb

    def separated_key(self, obj: Any) -> bytes | None:
        if not self.separated or not isinstance(obj, tuple) or len(obj) != 2:
            return None
        return self.key_schema.encode(obj[0])

    def decode(self, data: bytes, key: bytes | None = None) -> Any:
        """A pair from a payload; SEPARATED needs the key bytes too (None: the key is None)."""
        if self.separated:
            return KeyValue(
                None if key is None else self.key_schema.decode(key), self.value_schema.decode(data)
            )
        kb, vb = split_key_value(data)
        return KeyValue(self.key_schema.decode(kb), self.value_schema.decode(vb))

    def decode_message(self, msg: Message) -> Any:
        if not self.separated:
            return self.decode(msg.data())
        try:
            key = msg.key_bytes() if msg.partition_key() else None
        except ValueError as err:
            raise SchemaDecodeError(
                f"KeyValueSchema: message {msg.message_id()}: the key is not base64: {err}"
            ) from None
        return self.decode(msg.data(), key)

    def __str__(self) -> str:
        return f"KeyValueSchema({self.key_schema}, {self.value_schema}, {self.encoding.name})"


def _schema_from_java_name(name: str, data: bytes) -> Schema:
    """The schema a key/value half names ("AVRO", "JSON", "STRING", "PROTOBUF_NATIVE", "BYTES")."""
    if name == "AVRO":
        return AvroSchema(None, json.loads(data))
    if name == "JSON":
        return JsonSchema(None, json.loads(data))
    if name == "STRING":
        return StringSchema()
    if name == "PROTOBUF_NATIVE":
        return _protobuf_native_from_data(data)
    return BytesSchema()


def key_value_schema_of(info: SchemaInfo) -> KeyValueSchema:
    """The pair a KEY_VALUE registry entry describes (its halves by their Java type names)."""
    kb, vb = split_key_value(info.schema_bytes())
    props = info.properties()
    return KeyValueSchema(
        _schema_from_java_name(props.get("key.schema.type", "BYTES"), kb),
        _schema_from_java_name(props.get("value.schema.type", "BYTES"), vb),
        _encoding_of(props),
    )


def _encoding_of(props: Mapping[str, str]) -> KeyValueEncodingType:
    """A KEY_VALUE registry entry's encoding (INLINE when the property is missing, as Java)."""
    name = props.get("kv.encoding.type", "INLINE").upper()
    return KeyValueEncodingType.SEPARATED if name == "SEPARATED" else KeyValueEncodingType.INLINE


def _protobuf_native_from_data(data: bytes) -> Schema:
    """Imports `protobuf_native` (and the `protobuf` package) only when such an entry is met."""
    from pulsarload.client.schema.protobuf_native import (  # noqa: PLC0415 - on first use only
        protobuf_native_from_data,
    )

    return protobuf_native_from_data(data)

"""The schemas that take the topic's schema as it is: `AutoProduceBytesSchema` (payloads
encoded elsewhere) and `AutoConsumeSchema` (each message decoded with the version it was
written with), as the Java client's `AUTO_PRODUCE_BYTES` and `AUTO_CONSUME`.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from pulsarload.client.schema.key_value import KeyValueSchema, key_value_schema_of
from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    Schema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
    StringSchema,
    schema_version_int,
)
from pulsarload.wire.enums import SchemaType

if TYPE_CHECKING:
    from pulsarload.client.message import Message

__all__ = ["AutoConsumeSchema", "AutoProduceBytesSchema", "schema_for_info"]


class AutoProduceBytesSchema(Schema):
    """Payloads already encoded with `schema` (the Java client's `AUTO_PRODUCE_BYTES`): the
    registry is told `schema`, `send` takes the encoded bytes as they are and consumers decode
    with `schema`. For a producer whose values are encoded elsewhere (the load tool encodes
    each record itself, to time it)."""

    def __init__(self, schema: Schema) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"AutoProduceBytesSchema: expected a schema, got {schema!r}")
        super().__init__(bytes, schema.schema_info())
        self.schema = schema

    def encode(self, obj: Any) -> bytes:
        if not isinstance(obj, bytes | bytearray | memoryview):
            raise SchemaEncodeError(
                f"AutoProduceBytesSchema: expected encoded bytes, got {type(obj).__name__}"
            )
        return bytes(obj)

    def encode_message(self, obj: Any) -> tuple[bytes, bytes | None]:
        """For a SEPARATED key/value schema, `obj` may be the pair (encoded key, encoded
        value): the value is the payload and the key goes into the message key."""
        inner = self.schema
        if isinstance(obj, tuple) and isinstance(inner, KeyValueSchema) and inner.separated:
            if len(obj) != 2 or not all(isinstance(b, bytes | bytearray) for b in obj):
                raise SchemaEncodeError(
                    "AutoProduceBytesSchema: expected (encoded key, encoded value) bytes"
                )
            return bytes(obj[1]), bytes(obj[0])
        return self.encode(obj), None

    def separated_key(self, obj: Any) -> bytes | None:
        inner = self.schema
        if isinstance(obj, tuple) and isinstance(inner, KeyValueSchema) and inner.separated:
            key = obj[0] if len(obj) == 2 else None
            return bytes(key) if isinstance(key, bytes | bytearray) else None
        return None

    def decode(self, data: bytes) -> Any:
        return self.schema.decode(data)

    def decode_message(self, msg: Message) -> Any:
        return self.schema.decode_message(msg)

    def __str__(self) -> str:
        return f"AutoProduceBytesSchema({self.schema})"


class AutoConsumeSchema(Schema):
    """Decodes each message with the schema version it was written with, whatever the topic's
    schema is: Avro, JSON and PROTOBUF_NATIVE records become dicts, strings str, key/value pairs `KeyValue`,
    anything else bytes (the Java client's `Schema.AUTO_CONSUME()`)."""

    def __init__(self) -> None:
        super().__init__(object, SchemaInfo(SchemaType.AutoConsume, "AUTO_CONSUME", b""))
        self._versions: dict[bytes, Schema] = {}
        self._lock = threading.Lock()

    def encode(self, obj: Any) -> bytes:
        raise SchemaEncodeError("AutoConsumeSchema is for consumers; producers cannot use it")

    def decode(self, data: bytes) -> Any:
        return data

    def decode_message(self, msg: Message) -> Any:
        version = msg.schema_version()
        schema = self._versions.get(version)
        if schema is None:
            info = msg.fetch_schema_info() if version else None
            schema = schema_for_info(info)
            with self._lock:
                self._versions[version] = schema
        try:
            if isinstance(schema, KeyValueSchema):  # SEPARATED: the key is in the message key
                return schema.decode_message(msg)
            return schema.decode(msg.data())
        except (ValueError, TypeError) as err:
            raise SchemaDecodeError(
                f"AutoConsumeSchema: message {msg.message_id()} (schema version "
                f"{schema_version_int(version)}, {schema}) does not decode: {err}"
            ) from None


def schema_for_info(info: SchemaInfo | None) -> Schema:
    """A schema object that decodes payloads written with `info` into plain values."""
    if info is None:
        return BytesSchema()
    t = info.schema_type()
    if t == SchemaType.Avro:
        return AvroSchema(None, json.loads(info.schema_bytes()))
    if t == SchemaType.Json:
        return JsonSchema(None, json.loads(info.schema_bytes()))
    if t == SchemaType.String:
        return StringSchema()
    if t == SchemaType.ProtobufNative:
        return _protobuf_native_from_data(info.schema_bytes())
    if t == SchemaType.KeyValue:
        return key_value_schema_of(info)
    return BytesSchema()


def _protobuf_native_from_data(data: bytes) -> Schema:
    """Imports `protobuf_native` (and the `protobuf` package) only when such an entry is met."""
    from pulsarload.client.schema.protobuf_native import (  # noqa: PLC0415 - on first use only
        protobuf_native_from_data,
    )

    return protobuf_native_from_data(data)

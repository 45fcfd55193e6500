"""A schema object from a registry entry, and AUTO_CONSUME, which decodes every message with the
schema version it was written with.

Apart from `schemas` because a PROTOBUF_NATIVE entry needs `protobuf_native`, which builds on
`schemas`; that module (and the `protobuf` package) is imported only when such an entry is met.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    KeyValueEncodingType,
    KeyValueSchema,
    Schema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
    StringSchema,
    schema_version_int,
    split_key_value,
)
from pulsarload.wire.enums import SchemaType

if TYPE_CHECKING:
    from pulsarload.client.message import Message

__all__ = ["AutoConsumeSchema", "schema_for_info"]


def _schema_from_java_name(name: str, data: bytes) -> Schema:
    """The schema a key/value half names ("AVRO", "JSON", "STRING", "BYTES")."""
    if name == "AVRO":
        return AvroSchema(None, json.loads(data))
    if name == "JSON":
        return JsonSchema(None, json.loads(data))
    if name == "STRING":
        return StringSchema()
    if name == "PROTOBUF_NATIVE":
        return _protobuf_native(data)
    return BytesSchema()


def _protobuf_native(data: bytes) -> Schema:
    """A PROTOBUF_NATIVE schema from its registry data (imports `protobuf` only then)."""
    from pulsarload.client.schema.protobuf_native import (
        ProtobufNativeSchema,
        ProtobufNativeSchemaError,
    )

    try:
        return ProtobufNativeSchema.from_schema_data(data)
    except ProtobufNativeSchemaError as err:
        raise SchemaDecodeError(f"PROTOBUF_NATIVE schema: {err}") from None


class AutoConsumeSchema(Schema):
    """Decodes each message with the schema version it was written with, whatever the topic's
    schema is: Avro, JSON and PROTOBUF_NATIVE records become dicts, strings str, key/value
    pairs `KeyValue`, anything else bytes (the Java client's `Schema.AUTO_CONSUME()`)."""

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
        return _protobuf_native(info.schema_bytes())
    if t == SchemaType.KeyValue:
        kb, vb = split_key_value(info.schema_bytes())
        props = info.properties()
        return KeyValueSchema(
            _schema_from_java_name(props.get("key.schema.type", "BYTES"), kb),
            _schema_from_java_name(props.get("value.schema.type", "BYTES"), vb),
            _encoding_of(props),
        )
    return BytesSchema()


def _encoding_of(props: Mapping[str, str]) -> KeyValueEncodingType:
    """A KEY_VALUE registry entry's encoding (INLINE when the property is missing, as Java)."""
    name = props.get("kv.encoding.type", "INLINE").upper()
    return KeyValueEncodingType.SEPARATED if name == "SEPARATED" else KeyValueEncodingType.INLINE

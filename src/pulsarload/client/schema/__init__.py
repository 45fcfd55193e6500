"""Schemas for the native client, shaped like the official client's `pulsar.schema`.

    from pulsarload.client.schema import AvroSchema, Record, String, Integer

    class User(Record):
        name = String()
        age = Integer()

    producer = client.create_producer(topic, schema=AvroSchema(User))
    producer.send(User(name="ada", age=36))
    consumer = client.subscribe(topic, "sub", schema=AvroSchema(User))
    user = consumer.receive().value()

Modules: `definition` (record classes and field types), `avro` (the Avro binary codec),
`schemas` (the schema classes: what goes to the registry, encode, decode), `key_value` (a pair
of schemas), `auto` (a schema from a registry entry, AUTO_PRODUCE_BYTES, AUTO_CONSUME),
`protobuf_native`
(PROTOBUF_NATIVE, on the `protobuf` package: imported on first use of `ProtobufNativeSchema`,
so a client without protobuf schemas never loads it), `spec` (a schema from a one-line spec
such as ``avro:user.avsc``).
"""

from typing import TYPE_CHECKING, Any

from pulsarload.client.schema.auto import (
    AutoConsumeSchema,
    AutoProduceBytesSchema,
    schema_for_info,
)
from pulsarload.client.schema.avro import AvroDecodeError, AvroEncodeError, AvroSchemaError
from pulsarload.client.schema.definition import (
    Array,
    Boolean,
    Bytes,
    CustomEnum,
    Double,
    Field,
    Float,
    Integer,
    Long,
    Map,
    Null,
    Record,
    String,
)
from pulsarload.client.schema.key_value import KeyValue, KeyValueEncodingType, KeyValueSchema
from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    Schema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
    StringSchema,
    registry_type_name,
    schema_version_bytes,
    schema_version_int,
)
from pulsarload.client.schema.spec import parse_schema_spec
from pulsarload.wire.enums import SchemaType

if TYPE_CHECKING:
    from pulsarload.client.schema.protobuf_native import ProtobufNativeSchema


def __getattr__(name: str) -> Any:
    if name == "ProtobufNativeSchema":
        from pulsarload.client.schema.protobuf_native import ProtobufNativeSchema

        return ProtobufNativeSchema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Array",
    "AutoConsumeSchema",
    "AutoProduceBytesSchema",
    "AvroDecodeError",
    "AvroEncodeError",
    "AvroSchema",
    "AvroSchemaError",
    "Boolean",
    "Bytes",
    "BytesSchema",
    "CustomEnum",
    "Double",
    "Field",
    "Float",
    "Integer",
    "JsonSchema",
    "KeyValue",
    "KeyValueEncodingType",
    "KeyValueSchema",
    "Long",
    "Map",
    "Null",
    "ProtobufNativeSchema",
    "Record",
    "Schema",
    "SchemaDecodeError",
    "SchemaEncodeError",
    "SchemaInfo",
    "SchemaType",
    "String",
    "StringSchema",
    "parse_schema_spec",
    "registry_type_name",
    "schema_for_info",
    "schema_version_bytes",
    "schema_version_int",
]

"""A schema from a one-line spec, as a command line gives it.

    ""  or "none"            no schema: bytes, nothing registered
    "bytes", "string"        BytesSchema(), StringSchema()
    "avro:FILE" "json:FILE"  an Avro definition read from FILE (.avsc / .json)
    "avro:{...}"             ... or given inline as JSON text
    "protobuf-native:FILE:pkg.Msg"
                             PROTOBUF_NATIVE: messages of pkg.Msg, from a descriptor set FILE
                             (protoc --include_imports --descriptor_set_out=FILE)
    "key-value:KEY,VALUE[,separated|,inline]"
                             KeyValueSchema of two of the above (the key and the value spec,
                             split at the first comma outside inline JSON); INLINE by default

A spec that cannot be used raises `ConfigError` with one line naming the spec and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from pulsarload.client.schema.avro import AvroSchemaError
from pulsarload.client.schema.key_value import KeyValueEncodingType, KeyValueSchema
from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    Schema,
    StringSchema,
)
from pulsarload.errors import ConfigError
from pulsarload.wire.enums import SchemaType

__all__ = ["SCHEMA_KINDS", "first_text_field", "parse_schema_spec"]

SCHEMA_KINDS = ("avro", "json", "string", "bytes", "protobuf-native", "key-value")


def parse_schema_spec(spec: str | None) -> Schema | None:
    """The schema a spec names (None for no schema)."""
    text = (spec or "").strip()
    if text in ("", "none"):
        return None
    if text == "bytes":
        return BytesSchema()
    if text == "string":
        return StringSchema()
    kind, sep, rest = text.partition(":")
    if kind == "key-value":
        return _key_value(text, rest)
    if kind == "protobuf-native":
        return _protobuf_native(text, rest)
    if not sep or kind not in ("avro", "json") or not rest.strip():
        raise ConfigError(
            f"schema {text!r} is not a schema spec; use avro:FILE, json:FILE (an Avro "
            "definition, in a file or inline as JSON), string, bytes, "
            "protobuf-native:FILE:pkg.Message or key-value:KEY,VALUE"
        )
    rest = rest.strip()
    if rest.startswith(("{", "[", '"')):
        source, where = rest, "inline definition"
    else:
        try:
            source = Path(rest).expanduser().read_text()
        except OSError as err:
            raise ConfigError(
                f"schema {text!r}: cannot read {rest}: {err.strerror or err}"
            ) from None
        where = rest
    try:
        definition = json.loads(source)
    except json.JSONDecodeError as err:
        raise ConfigError(f"schema {text!r}: {where} is not JSON: {err}") from None
    try:
        return AvroSchema(None, definition) if kind == "avro" else JsonSchema(None, definition)
    except AvroSchemaError as err:
        raise ConfigError(f"schema {text!r}: {where} is not a valid Avro schema: {err}") from None


def _protobuf_native(text: str, rest: str) -> Schema:
    """protobuf-native:FILE:pkg.Msg (the message name after the last colon: a path may hold
    colons, a message name cannot)."""
    path, sep, message = rest.strip().rpartition(":")
    path, message = path.strip(), message.strip()
    if not sep or not path or not message:
        raise ConfigError(
            f"schema {text!r}: use protobuf-native:FILE:pkg.Message, FILE a descriptor set "
            "(protoc --include_imports --descriptor_set_out=FILE) and pkg.Message its root "
            "message's full name"
        )
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as err:
        raise ConfigError(f"schema {text!r}: cannot read {path}: {err.strerror or err}") from None
    # Imported here: the protobuf runtime loads only for a protobuf schema.
    from pulsarload.client.schema.protobuf_native import (
        ProtobufNativeSchema,
        ProtobufNativeSchemaError,
    )

    try:
        return ProtobufNativeSchema.from_descriptor_set(data, message)
    except ProtobufNativeSchemaError as err:
        raise ConfigError(f"schema {text!r}: {path}: {err}") from None


def _key_value(text: str, rest: str) -> KeyValueSchema:
    parts = [p.strip() for p in _split_top_level(rest)]
    if any(p.startswith("key-value") for p in parts):
        raise ConfigError(f"schema {text!r}: a key-value half cannot be a key-value")
    if any(p.startswith("protobuf-native") for p in parts):
        raise ConfigError(
            f"schema {text!r}: a key-value half cannot be protobuf-native (the load tool "
            "generates key/value pairs of avro:, json:, string and bytes)"
        )
    encoding = KeyValueEncodingType.INLINE
    if len(parts) == 3 and parts[2].lower() in ("separated", "inline"):
        encoding = KeyValueEncodingType[parts[2].upper()]
        parts = parts[:2]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"schema {text!r}: use key-value:KEY,VALUE[,separated|,inline], KEY and VALUE "
            "each a schema spec (avro:FILE, json:FILE, string, bytes)"
        )
    halves = []
    for part in parts:
        half = parse_schema_spec(part)
        halves.append(half if half is not None else BytesSchema())
    return KeyValueSchema(halves[0], halves[1], encoding)


def _split_top_level(text: str) -> list[str]:
    """`text` split at commas outside brackets and JSON strings (inline definitions)."""
    parts, depth, start, quoted, escaped = [], 0, 0, False, False
    for i, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def first_text_field(schema: Schema) -> tuple[str, str] | None:
    """(name, "string" | "bytes") of the first string or bytes field (optional ones too) of an
    Avro or JSON schema's top-level record (a key/value schema: of its value; a protobuf
    schema: of its root message, a singular field not sharing a oneof); None when it has none."""
    if isinstance(schema, KeyValueSchema):
        return first_text_field(schema.value_schema)
    if schema.schema_type == SchemaType.ProtobufNative:
        return _first_proto_text_field(schema)
    if not isinstance(schema, AvroSchema | JsonSchema):
        return None
    avro = schema.avro_type
    node = avro.named.get(avro.root) if isinstance(avro.root, str) else None
    if node is None or node["type"] != "record":
        return None
    for f in node["fields"]:
        t = f["type"]
        for branch in t if isinstance(t, list) else [t]:
            if branch in ("string", "bytes"):
                return f["name"], branch
    return None


def _first_proto_text_field(schema: Schema) -> tuple[str, str] | None:
    descriptor = schema.descriptor  # type: ignore[attr-defined]
    for f in descriptor.fields:
        oneof = f.containing_oneof  # proto3 `optional` is a oneof of one field: it qualifies
        if f.is_repeated or (oneof is not None and len(oneof.fields) > 1):
            continue
        if f.type == f.TYPE_STRING:
            return f.name, "string"
        if f.type == f.TYPE_BYTES:
            return f.name, "bytes"
    return None

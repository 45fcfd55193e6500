"""The schema classes handed to `create_producer(schema=...)` and `subscribe(schema=...)`.

Each says how values become payload bytes (`encode`), how payloads become values again
(`decode`, or `decode_message`, which also sees the message's schema version), and what the
broker's registry is told (`schema_info`). Names and behaviour follow `pulsar.schema`:
`BytesSchema`, `StringSchema`, `JsonSchema`, `AvroSchema`. A pair of schemas
(`key_value.py`) and the schemas that take the topic's (`auto.py`) build on these.

A message written with another version of the schema (the topic's schema evolved) is decoded
with the writer's definition, fetched once per version from the broker, and its fields are
matched to the reader's by name: fields the reader lacks are dropped, fields the writer lacks
take the reader's default (or None).
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from pulsarload.client.errors import InvalidMessage, PulsarError
from pulsarload.client.schema.avro import AvroDecodeError, AvroEncodeError, AvroType, parse
from pulsarload.client.schema.definition import Record
from pulsarload.wire.enums import SchemaType
from pulsarload.wire.messages import Schema as WireSchema
from pulsarload.wire.messages import key_values, properties_dict

if TYPE_CHECKING:
    from pulsarload.client.message import Message

__all__ = [
    "AvroSchema",
    "BytesSchema",
    "JsonSchema",
    "Schema",
    "SchemaDecodeError",
    "SchemaEncodeError",
    "SchemaInfo",
    "StringSchema",
    "join_key_value",
    "registry_type_name",
    "schema_version_bytes",
    "schema_version_int",
    "split_key_value",
]


class SchemaEncodeError(InvalidMessage):
    """A value does not fit the producer's schema (the message names the field)."""


class SchemaDecodeError(PulsarError, ValueError):
    """A payload could not be decoded with its schema version (the message says which)."""


def schema_version_int(version: bytes | None) -> int:
    """A registry version as a number (the broker sends 8 bytes, big-endian); -1 for none."""
    if not version:
        return -1
    return int.from_bytes(version, "big", signed=True)


def schema_version_bytes(version: int) -> bytes:
    return version.to_bytes(8, "big", signed=True)


class SchemaInfo:
    """A schema as the registry keeps it (the official client's `SchemaInfo` accessors)."""

    __slots__ = ("_data", "_name", "_props", "_type")

    def __init__(
        self,
        schema_type: SchemaType,
        name: str,
        data: bytes | str,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self._type = SchemaType(schema_type)
        self._name = name
        self._data = data.encode() if isinstance(data, str) else bytes(data)
        self._props = dict(properties or {})

    def schema_type(self) -> SchemaType:
        return self._type

    def name(self) -> str:
        return self._name

    def schema(self) -> str:
        """The definition as text (Avro/JSON: the Avro schema's JSON)."""
        return self._data.decode("utf-8", "replace")

    def schema_bytes(self) -> bytes:
        return self._data

    def properties(self) -> dict[str, str]:
        return dict(self._props)

    def admin_definition(self) -> str:
        """The definition as the admin REST API takes and shows it: KEY_VALUE as JSON
        `{"key": ..., "value": ...}` of its halves' definitions ("" for one without), the
        rest as `schema()`."""
        if self._type != SchemaType.KeyValue:
            return self.schema()
        halves = split_key_value(self._data)

        def half(data: bytes) -> Any:
            try:
                return json.loads(data) if data else ""
            except ValueError:
                return data.decode("utf-8", "replace")

        return json.dumps({"key": half(halves[0]), "value": half(halves[1])})

    def to_wire(self) -> WireSchema:
        return WireSchema(
            name=self._name,
            schema_data=self._data,
            type=self._type,
            properties=key_values(self._props),
        )

    @classmethod
    def from_wire(cls, s: WireSchema) -> SchemaInfo:
        return cls(s.type, s.name, s.schema_data, properties_dict(s.properties))

    def __repr__(self) -> str:
        return f"SchemaInfo({self._type.name}, {self._name!r}, {self.schema()[:60]!r})"


#: Fetches the registry's schema for (topic, version bytes); None when there is none.
type SchemaFetcher = Callable[[str, bytes], SchemaInfo | None]


class Schema:
    """Base of the schema classes."""

    def __init__(self, record_cls: Any, info: SchemaInfo) -> None:
        self._record_cls = record_cls
        self._info = info

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

    def encode_message(self, obj: Any) -> tuple[bytes, bytes | None]:
        """The payload and, for a schema that keeps the key apart (KEY_VALUE SEPARATED), the
        encoded key the producer puts in the message key; None otherwise."""
        return self.encode(obj), None

    def separated_key(self, obj: Any) -> bytes | None:
        """The encoded key `encode_message` would put in the message key (None: none), for a
        partitioned producer that picks the partition by key before encoding."""
        return None

    def decode_message(self, msg: Message) -> Any:
        """The value of a received message (a schema may look at its version)."""
        return self.decode(msg.data())

    def schema_info(self) -> SchemaInfo:
        return self._info

    @property
    def schema_type(self) -> SchemaType:
        return self._info.schema_type()

    def _validate_object_type(self, obj: Any) -> None:
        if not isinstance(obj, self._record_cls):
            raise SchemaEncodeError(
                f"{self}: expected a {getattr(self._record_cls, '__name__', self._record_cls)}, "
                f"got {type(obj).__name__}"
            )

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self}>"


class BytesSchema(Schema):
    """Payloads as they are (no schema in the registry)."""

    def __init__(self) -> None:
        super().__init__(bytes, SchemaInfo(SchemaType.None_, "BYTES", b""))

    def encode(self, data: Any) -> bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SchemaEncodeError(f"BytesSchema: expected bytes, got {type(data).__name__}")
        return bytes(data)

    def decode(self, data: bytes) -> Any:
        return data


class StringSchema(Schema):
    """UTF-8 text."""

    def __init__(self) -> None:
        super().__init__(str, SchemaInfo(SchemaType.String, "STRING", b""))

    def encode(self, obj: Any) -> bytes:
        if not isinstance(obj, str):
            raise SchemaEncodeError(f"StringSchema: expected str, got {type(obj).__name__}")
        return obj.encode()

    def decode(self, data: bytes) -> Any:
        try:
            return data.decode()
        except UnicodeDecodeError as err:
            raise SchemaDecodeError(f"StringSchema: payload is not UTF-8: {err}") from None


def _definition_of(record_cls: Any, schema_definition: Any, what: str) -> Any:
    if record_cls is None and schema_definition is None:
        raise ValueError(f"{what}: give a Record class or a schema_definition")
    if record_cls is not None:
        if not (isinstance(record_cls, type) and issubclass(record_cls, Record)):
            raise TypeError(f"{what}: record_cls must be a Record subclass, got {record_cls!r}")
        return record_cls.schema()
    if isinstance(schema_definition, str):
        try:
            return json.loads(schema_definition)
        except json.JSONDecodeError as err:
            raise ValueError(f"{what}: schema_definition is not JSON: {err}") from None
    return schema_definition


class _RecordSchema(Schema):
    """What Avro and JSON share: an Avro definition, a record class (optional) and the
    decoding of other versions by field name."""

    _type: SchemaType = SchemaType.None_
    _name: str = ""

    def __init__(self, record_cls: Any = None, schema_definition: Any = None) -> None:
        what = type(self).__name__
        definition = _definition_of(record_cls, schema_definition, what)
        self._avro: AvroType = parse(definition)
        self._definition = definition
        data = json.dumps(definition, separators=(",", ":"))
        super().__init__(record_cls, SchemaInfo(self._type, self._name, data))
        self._fields = self._avro.field_names()
        self._defaults = _field_defaults(definition)
        # version bytes -> decoder of that version's payloads into our values
        self._versions: dict[bytes, Callable[[bytes], Any]] = {}
        self._versions_lock = threading.Lock()

    @property
    def avro_type(self) -> AvroType:
        """The compiled Avro definition (JSON schemas too: their registry entry is Avro)."""
        return self._avro

    def _to_value(self, d: Any) -> Any:
        cls = self._record_cls
        if cls is not None and isinstance(d, dict):
            return cls(**d)
        return d

    def _payload_to_dict(self, data: bytes) -> Any:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        return self._to_value(self._payload_to_dict(data))

    def decode_message(self, msg: Message) -> Any:
        version = msg.schema_version()
        if not version:
            return self.decode(msg.data())
        decoder = self._versions.get(version)
        if decoder is None:
            decoder = self._decoder_for(msg, version)
        try:
            return decoder(msg.data())
        except (AvroDecodeError, ValueError, TypeError) as err:
            raise SchemaDecodeError(
                f"{self}: message {msg.message_id()} (schema version "
                f"{schema_version_int(version)}) does not decode: {err}"
            ) from None

    def _decoder_for(self, msg: Message, version: bytes) -> Callable[[bytes], Any]:
        writer = msg.fetch_schema_info()
        decoder: Callable[[bytes], Any] = self.decode
        if writer is not None and writer.schema_type() == self._type:
            try:
                writer_def = json.loads(writer.schema_bytes())
            except ValueError:
                writer_def = None
            if writer_def is not None and writer_def != self._definition:
                decoder = self._projecting_decoder(writer_def)
        with self._versions_lock:
            self._versions[version] = decoder
        return decoder

    def _projecting_decoder(self, writer_def: Any) -> Callable[[bytes], Any]:
        raise NotImplementedError

    def _project(self, d: Any) -> Any:
        if not isinstance(d, dict) or not self._fields:
            return self._to_value(d)
        out = {name: d.get(name, self._defaults.get(name)) for name in self._fields}
        return self._to_value(out)


def _field_defaults(definition: Any) -> dict[str, Any]:
    if isinstance(definition, Mapping) and isinstance(definition.get("fields"), list):
        return {f["name"]: f.get("default") for f in definition["fields"] if "name" in f}
    return {}


class AvroSchema(_RecordSchema):
    """Avro binary payloads of a `Record` class or of a given Avro definition (then values
    are dicts), as the official client's `AvroSchema(record_cls, schema_definition=None)`."""

    _type = SchemaType.Avro
    _name = "AVRO"

    def encode(self, obj: Any) -> bytes:
        if self._record_cls is not None:
            self._validate_object_type(obj)
        elif not isinstance(obj, Mapping):
            raise SchemaEncodeError(
                f"AvroSchema: with a schema definition, values are dicts; got {type(obj).__name__}"
            )
        try:
            return self._avro.encode(obj)
        except AvroEncodeError as err:
            raise SchemaEncodeError(f"AvroSchema: {err}") from None

    def _payload_to_dict(self, data: bytes) -> Any:
        try:
            return self._avro.decode(data)
        except AvroDecodeError as err:
            raise SchemaDecodeError(f"AvroSchema: {err}") from None

    def _projecting_decoder(self, writer_def: Any) -> Callable[[bytes], Any]:
        writer = parse(writer_def)
        return lambda data: self._project(writer.decode(data))


class JsonSchema(_RecordSchema):
    """JSON payloads; the registry gets the record's Avro definition (as the official client
    and the Java client do)."""

    _type = SchemaType.Json
    _name = "JSON"

    def encode(self, obj: Any) -> bytes:
        if self._record_cls is not None:
            self._validate_object_type(obj)
            obj = obj.to_dict()
        elif not isinstance(obj, Mapping):
            raise SchemaEncodeError(
                f"JsonSchema: with a schema definition, values are dicts; got {type(obj).__name__}"
            )
        try:
            return json.dumps(obj, separators=(",", ":"), default=_json_default).encode()
        except (TypeError, ValueError) as err:
            raise SchemaEncodeError(f"JsonSchema: {err}") from None

    def _payload_to_dict(self, data: bytes) -> Any:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise SchemaDecodeError(f"JsonSchema: payload is not JSON: {err}") from None

    def _projecting_decoder(self, writer_def: Any) -> Callable[[bytes], Any]:
        return lambda data: self._project(self._payload_to_dict(data))


def _json_default(o: Any) -> Any:
    if isinstance(o, Enum):
        return o.name
    if isinstance(o, bytes):
        return o.decode()
    if isinstance(o, Record):
        return o.to_dict()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


#: An INLINE key/value payload (and a KEY_VALUE schema's definition): the key's bytes and the
#: value's, each after its length as a 4-byte big-endian int.
_LEN = struct.Struct(">i")


def join_key_value(key: bytes, value: bytes) -> bytes:
    """An INLINE key/value payload from its two halves."""
    return b"".join((_LEN.pack(len(key)), key, _LEN.pack(len(value)), value))


def split_key_value(data: bytes) -> tuple[bytes, bytes]:
    """The two halves of an INLINE key/value payload."""
    try:
        (kn,) = _LEN.unpack_from(data, 0)
        kb = data[4 : 4 + max(kn, 0)]
        (vn,) = _LEN.unpack_from(data, 4 + max(kn, 0))
        start = 8 + max(kn, 0)
        vb = data[start : start + max(vn, 0)]
    except struct.error:
        raise SchemaDecodeError("KeyValueSchema: payload is shorter than its lengths") from None
    if len(kb) != max(kn, 0) or len(vb) != max(vn, 0):
        raise SchemaDecodeError("KeyValueSchema: payload is shorter than its lengths")
    return kb, vb


_REGISTRY_NAMES = {
    SchemaType.None_: "BYTES",
    SchemaType.String: "STRING",
    SchemaType.Json: "JSON",
    SchemaType.Avro: "AVRO",
    SchemaType.Protobuf: "PROTOBUF",
    SchemaType.KeyValue: "KEY_VALUE",
    SchemaType.ProtobufNative: "PROTOBUF_NATIVE",
    SchemaType.AutoConsume: "AUTO_CONSUME",
}


def registry_type_name(t: SchemaType) -> str:
    """A schema type as the registry and the admin API spell it ("AVRO", "PROTOBUF_NATIVE")."""
    return _REGISTRY_NAMES.get(t, t.name.upper())

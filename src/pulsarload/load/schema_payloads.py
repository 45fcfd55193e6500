"""Payloads that fit a schema: records generated from the schema, encoded once per message.

A producer with `--schema avro:...` (or json:, protobuf-native:, string) sends records a real
consumer of the topic would accept: every field gets a value of its type (nested records,
optional fields, enums, arrays and maps included; for protobuf also one member of each oneof),
drawn from a seeded generator so runs repeat. One string or bytes field of the top-level record
is the *filler*: it is sized so that the encoded record is near `--size`, and under `--verify`
it starts with the verification stamp (producer id and sequence, as text in a string field),
which the consumer finds again after decoding.

A key/value schema (`key-value:KEY,VALUE`) pairs a generated key (from a pool of keys of the
key schema) with a generated value; the value carries the filler and the stamp. INLINE: the
payload holds both; SEPARATED: the payload is the value and `last_keys` holds each message's
encoded key, which the producer puts in the message key.

Each message is encoded when it is handed out (the cost of a typed producer is part of what a
run measures); the values come from a small pool of records made at start.
"""

from __future__ import annotations

import base64
import random
import string
import struct
import time
from collections.abc import Callable
from typing import Any

from pulsarload.client.schema import (
    AvroSchema,
    JsonSchema,
    KeyValueSchema,
    Schema,
    SchemaType,
    StringSchema,
)
from pulsarload.client.schema.avro import AvroType
from pulsarload.client.schema.spec import first_text_field
from pulsarload.errors import ConfigError
from pulsarload.load.payloads import PayloadSettings

__all__ = ["SchemaPayloads", "StampReader", "decodes_records"]

RECORD_POOL = 16
#: Draws per pool record to find one small enough for `--size` (see `_fitting`).
FIT_TRIES = 32
#: Distinct keys of a key/value schema (cycled apart from the values).
KEY_POOL = 64
_LEN = struct.Struct(">i")
_STAMP_TEXT = "PLv1{:016x}{:016x}"
_STAMP_TEXT_LEN = 36
_ALPHABET = string.ascii_letters + string.digits
_MAX_DEPTH = 4


def _record_schema(schema: Schema) -> AvroType | None:
    return schema.avro_type if isinstance(schema, AvroSchema | JsonSchema) else None


def _is_protobuf(schema: Schema | None) -> bool:
    return schema is not None and schema.schema_type == SchemaType.ProtobufNative


def decodes_records(schema: Schema | None) -> bool:
    """Whether payloads of `schema` are generated and decoded here (Avro, JSON, PROTOBUF_NATIVE,
    string, and key/value pairs of them); bytes (and no schema) go through the plain payload
    generator."""
    if isinstance(schema, KeyValueSchema) or _is_protobuf(schema):
        return True
    return isinstance(schema, AvroSchema | JsonSchema | StringSchema)


def _varint_len(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def _value_half(schema: Schema) -> Schema:
    return schema.value_schema if isinstance(schema, KeyValueSchema) else schema


class _ValueMaker:
    """Random values of an Avro type (the parsed tree of `AvroType`)."""

    def __init__(self, avro: AvroType, rng: random.Random, *, text_bytes: bool = False) -> None:
        self.named = avro.named
        self.rng = rng
        #: JSON carries bytes as text: then bytes values are ASCII.
        self.text_bytes = text_bytes

    def value(self, t: Any, depth: int = 0) -> Any:
        rng = self.rng
        if isinstance(t, list):
            non_null = [b for b in t if b != "null"]
            if not non_null or ("null" in t and (depth >= _MAX_DEPTH or rng.random() < 0.1)):
                return None
            return self.value(rng.choice(non_null), depth)
        if isinstance(t, dict):
            if depth >= _MAX_DEPTH:
                return [] if t["type"] == "array" else {}
            n = rng.randint(0, 3)
            if t["type"] == "array":
                return [self.value(t["items"], depth + 1) for _ in range(n)]
            return {self._text(6): self.value(t["values"], depth + 1) for _ in range(n)}
        if t == "null":
            return None
        if t == "boolean":
            return rng.random() < 0.5
        if t == "int":
            return rng.randint(-(2**31), 2**31 - 1)
        if t == "long":
            return rng.randint(-(2**63), 2**63 - 1)
        if t in ("float", "double"):
            return float(rng.randint(-(2**20), 2**20)) / 8  # exact in both widths
        if t == "string":
            return self._text(rng.randint(4, 16))
        if t == "bytes":
            return self._bytes(rng.randint(4, 16))
        node = self.named[t]
        if node["type"] == "enum":
            return rng.choice(node["symbols"])
        if node["type"] == "fixed":
            return self._bytes(node["size"])
        if depth >= _MAX_DEPTH:
            raise ConfigError(f"schema: record {t} nests deeper than {_MAX_DEPTH} levels")
        return {f["name"]: self.value(f["type"], depth + 1) for f in node["fields"]}

    def _bytes(self, n: int) -> bytes:
        return self._text(n).encode() if self.text_bytes else self.rng.randbytes(n)

    def _text(self, n: int) -> str:
        return "".join(self.rng.choices(_ALPHABET, k=n))


class _ProtoValueMaker:
    """Random values of a protobuf message (a descriptor), as the dicts `ProtobufNativeSchema`
    encodes: one member of each oneof, proto3 `optional` fields sometimes unset, enums by name,
    nested messages to a depth."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def value(self, descriptor: Any, depth: int = 0) -> dict[str, Any]:
        rng = self.rng
        chosen = {o.full_name: rng.choice(o.fields) for o in descriptor.oneofs if len(o.fields) > 1}
        out: dict[str, Any] = {}
        for f in descriptor.fields:
            oneof = f.containing_oneof
            if oneof is not None and len(oneof.fields) > 1:
                if chosen[oneof.full_name] is not f:
                    continue
            elif oneof is not None and rng.random() < 0.1:  # proto3 optional: sometimes unset
                continue
            is_message = f.type in (f.TYPE_MESSAGE, f.TYPE_GROUP)
            if is_message and depth >= _MAX_DEPTH:
                if f.is_required:
                    raise ConfigError(
                        f"schema: message {descriptor.full_name} nests deeper than "
                        f"{_MAX_DEPTH} levels"
                    )
                continue
            mt = f.message_type
            if mt is not None and f.is_repeated and mt.GetOptions().map_entry:
                k, v = mt.fields_by_name["key"], mt.fields_by_name["value"]
                n = rng.randint(0, 3)
                out[f.name] = {self._one(k, depth + 1): self._one(v, depth + 1) for _ in range(n)}
            elif f.is_repeated:
                out[f.name] = [self._one(f, depth + 1) for _ in range(rng.randint(0, 3))]
            else:
                out[f.name] = self._one(f, depth + 1)
        return out

    def _one(self, f: Any, depth: int) -> Any:
        rng = self.rng
        t = f.type
        if t in (f.TYPE_MESSAGE, f.TYPE_GROUP):
            return self.value(f.message_type, depth)
        if t == f.TYPE_ENUM:
            return rng.choice(f.enum_type.values).name
        if t == f.TYPE_BOOL:
            return rng.random() < 0.5
        if t in (f.TYPE_DOUBLE, f.TYPE_FLOAT):
            return float(rng.randint(-(2**20), 2**20)) / 8  # exact in both widths
        if t == f.TYPE_STRING:
            return "".join(rng.choices(_ALPHABET, k=rng.randint(4, 16)))
        if t == f.TYPE_BYTES:
            return rng.randbytes(rng.randint(4, 16))
        if t in (f.TYPE_INT32, f.TYPE_SINT32, f.TYPE_SFIXED32):
            return rng.randint(-(2**31), 2**31 - 1)
        if t in (f.TYPE_UINT32, f.TYPE_FIXED32):
            return rng.randint(0, 2**32 - 1)
        if t in (f.TYPE_UINT64, f.TYPE_FIXED64):
            return rng.randint(0, 2**64 - 1)
        return rng.randint(-(2**63), 2**63 - 1)  # int64, sint64, sfixed64


class SchemaPayloads:
    """Hands out encoded records for one worker (`next_batch(n)`), as `PayloadGenerator`."""

    def __init__(
        self,
        schema: Schema,
        size: int,
        *,
        seed: int | None = None,
        verify_producer_id: int | None = None,
    ) -> None:
        self.schema = schema
        #: The key/value schema, when the records are pairs (the rest works on the value).
        self._kv = schema if isinstance(schema, KeyValueSchema) else None
        self._separated = self._kv is not None and self._kv.separated
        #: SEPARATED: the encoded key of each payload of the last `next_batch`.
        self.last_keys: list[bytes] | None = None
        schema = self._value = _value_half(schema)
        #: What the worker reads back (`settings.size`), as from a `PayloadGenerator`.
        self.settings = PayloadSettings(size=size)
        self.size = size
        self._verify_id = verify_producer_id
        #: CPU nanoseconds spent making and encoding records, and how many (for the report).
        self.encode_ns = 0
        self.encoded = 0
        self._seq = 0
        self._pos = 0
        self._rng = random.Random(seed)
        self._string = isinstance(schema, StringSchema)
        self._filler = first_text_field(schema)
        self._protobuf = _is_protobuf(schema)
        if not self._string and not self._protobuf and _record_schema(schema) is None:
            what = "the value of a key-value schema" if self._kv is not None else "schema"
            raise ConfigError(
                f"{what}: {schema} has no records to generate; use avro:, json:, protobuf-native:"
            )
        if verify_producer_id is not None and not self._string and self._filler is None:
            raise ConfigError(
                "--verify with --schema needs a string or bytes field in the record, to carry "
                "the verification stamp"
            )
        self._keys = self._make_keys() if self._kv is not None else []
        self._key_pos = 0
        #: INLINE pairs: the bytes of the key (and both lengths) the value makes room for.
        self._overhead = 0
        if self._kv is not None and not self._separated:
            encode_key = self._kv.key_schema.encode
            self._overhead = 8 + sum(len(encode_key(k)) for k in self._keys) // len(self._keys)
        self._records = self._make_records()

    @property
    def separated(self) -> bool:
        """Whether each payload's key goes apart, in `last_keys` (KEY_VALUE SEPARATED)."""
        return self._separated

    def _make_keys(self) -> list[Any]:
        """Values of the key schema (encoded per message, as the values are)."""
        assert self._kv is not None
        key_schema = self._kv.key_schema
        maker_rng = random.Random(self._rng.random())
        if isinstance(key_schema, StringSchema):
            return [
                f"key-{i:04d}-" + "".join(maker_rng.choices(_ALPHABET, k=8))
                for i in range(KEY_POOL)
            ]
        avro = _record_schema(key_schema)
        if avro is None:  # bytes
            return [maker_rng.randbytes(12) for _ in range(KEY_POOL)]
        maker = _ValueMaker(avro, maker_rng, text_bytes=isinstance(key_schema, JsonSchema))
        return [maker.value(avro.root) for _ in range(KEY_POOL)]

    @property
    def sequence(self) -> int:
        return self._seq

    def resize(self, size: int) -> None:
        self.settings = PayloadSettings(size=size)
        self.size = size
        self._records = self._make_records()

    def _make_records(self) -> list[tuple[dict[str, Any], int]]:
        """(record, filler length) pairs: each record's filler makes it about `size` bytes."""
        if self._string:
            return [({}, self.size)]
        if self._protobuf:
            return self._make_protobuf_records()
        avro = _record_schema(self._value)
        assert avro is not None
        maker = _ValueMaker(avro, self._rng, text_bytes=isinstance(self._value, JsonSchema))

        def draw() -> tuple[dict[str, Any], int]:
            rec = maker.value(avro.root)
            if self._filler is None:
                return rec, 0
            name, kind = self._filler
            rec[name] = "" if kind == "string" else b""
            base = len(self._value.encode(rec))
            # The length prefix grows with the filler (1-3 bytes for common sizes).
            return rec, self.size - self._overhead - base - (len(str(self.size)) // 2)

        return [self._fitting(draw) for _ in range(RECORD_POOL)]

    def _make_protobuf_records(self) -> list[tuple[dict[str, Any], int]]:
        """As `_make_records`; the filler's length is measured with one character in it (an
        empty proto3 string is not written at all), then its length prefix is counted."""
        descriptor = self._value.descriptor  # type: ignore[attr-defined]
        maker = _ProtoValueMaker(self._rng)

        def draw() -> tuple[dict[str, Any], int]:
            rec = maker.value(descriptor)
            if self._filler is None:
                return rec, 0
            name, kind = self._filler
            rec[name] = "x" if kind == "string" else b"x"
            # Bytes of everything but the filler's characters and its one-byte length.
            base = len(self._value.encode(rec)) - 2
            return rec, self.size - base - _varint_len(self.size)

        return [self._fitting(draw) for _ in range(RECORD_POOL)]

    def _fitting(
        self, draw: Callable[[], tuple[dict[str, Any], int]]
    ) -> tuple[dict[str, Any], int]:
        """A (record, filler length) whose filler has room for the stamp (under `--verify`),
        from up to `FIT_TRIES` draws, else the smallest drawn. Arrays and maps of nested records
        can make a random record bigger than a small `--size` without its filler; redrawing
        keeps payloads at the size asked for rather than a stamp's length over it."""
        need = _STAMP_TEXT_LEN if self._verify_id is not None else 0
        best: tuple[dict[str, Any], int] | None = None
        for _ in range(FIT_TRIES):
            rec, room = draw()
            if self._filler is None or room >= need:
                return rec, max(0, room)
            if best is None or room > best[1]:
                best = (rec, room)
        assert best is not None
        return best[0], max(0, best[1])

    def _filler_value(self, fill: int, seq: int) -> Any:
        kind = "string" if self._string else self._filler[1]  # type: ignore[index]
        vid = self._verify_id
        # The stamp is text in bytes fields too: a JSON payload carries bytes as text.
        stamp = _STAMP_TEXT.format(vid, seq) if vid is not None else ""
        text = stamp + "x" * max(0, fill - len(stamp))
        return text if kind == "string" else text.encode()

    def next_batch(self, count: int) -> list[bytes]:
        t0 = time.thread_time_ns()
        out = self._make_batch(count)
        self.encode_ns += time.thread_time_ns() - t0
        self.encoded += count
        return out

    def _make_batch(self, count: int) -> list[bytes]:
        values = self._make_values(count)
        kv = self._kv
        if kv is None:
            return values
        encode_key = kv.key_schema.encode
        keys = self._keys
        pos = self._key_pos
        kbs = []
        for _ in range(count):
            kbs.append(encode_key(keys[pos]))
            pos = (pos + 1) % len(keys)
        self._key_pos = pos
        if self._separated:
            self.last_keys = kbs
            return values
        pack = _LEN.pack
        return [
            b"".join((pack(len(k)), k, pack(len(v)), v)) for k, v in zip(kbs, values, strict=True)
        ]

    def _make_values(self, count: int) -> list[bytes]:
        encode = self._value.encode
        records = self._records
        out = []
        for _ in range(count):
            rec, fill = records[self._pos]
            self._pos = (self._pos + 1) % len(records)
            seq = self._seq
            self._seq = seq + 1
            if self._string:
                out.append(encode(self._filler_value(fill, seq)))
            elif self._filler is not None:
                rec = dict(rec)
                rec[self._filler[0]] = self._filler_value(fill, seq)
                out.append(encode(rec))
            else:
                out.append(encode(rec))
        return out


class StampReader:
    """A consumer's side: decode a payload with the schema and find its verification stamp."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        #: CPU nanoseconds spent decoding, and how many payloads (for the report).
        self.decode_ns = 0
        self.decoded = 0
        self._kv = schema if isinstance(schema, KeyValueSchema) else None
        #: SEPARATED: `decode` wants each message's key too (base64 of the encoded key).
        self.needs_key = self._kv is not None and self._kv.separated
        self._string = isinstance(_value_half(schema), StringSchema)
        self._filler = first_text_field(schema)

    def decode(self, data: bytes, key: str | None = None) -> Any:
        """The decoded value (a key/value schema: the value half, after decoding the key too);
        raises the schema's `SchemaDecodeError` when it does not decode."""
        t0 = time.thread_time_ns()
        try:
            kv = self._kv
            if kv is None:
                return self.schema.decode(data)
            if kv.separated:
                kb = base64.b64decode(key, validate=True) if key else None
                return kv.decode(data, kb).value
            return kv.decode(data).value
        finally:
            self.decode_ns += time.thread_time_ns() - t0
            self.decoded += 1

    def stamp(self, value: Any) -> tuple[int, int] | None:
        """(producer id, sequence) from a decoded value, or None when it carries none."""
        if self._string:
            field = value
        elif self._filler is not None:
            field = value.get(self._filler[0]) if isinstance(value, dict) else None
        else:
            return None
        if isinstance(field, bytes):
            field = field[:_STAMP_TEXT_LEN].decode("ascii", "replace")
        if not isinstance(field, str) or len(field) < _STAMP_TEXT_LEN or field[:4] != "PLv1":
            return None
        try:
            return int(field[4:20], 16), int(field[20:36], 16)
        except ValueError:
            return None

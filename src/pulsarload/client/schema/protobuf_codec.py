"""Protobuf messages as dicts to bytes and back, compiled once per message type from its
descriptor (as `avro.py` compiles an Avro schema into closures).

Why not the `protobuf` package's own codec: on a free-threaded interpreter it runs its pure-Python
implementation, which builds a message object field by field and walks it again to serialize;
for a dict of values the work here is a few closures per field, several times faster. The
`protobuf` package still parses the descriptor set (`protobuf_native.py`), and the tests check
both codecs read each other's bytes.

    ``compile_codec(descriptor)``  -> ``MessageCodec`` (``encode(dict)``, ``decode(bytes)``);
                                     ``Unsupported`` for group fields (proto2's legacy groups)

The dict shape is `protobuf_native.message_to_dict`'s: every field present, nested messages as
dicts, repeated fields as lists, maps as dicts, enums by name (an unknown number stays a
number), fields with presence None when unset. Encoding writes fields in field-number order,
packs repeated scalars where the field is packed, and leaves out a proto3 field at its default;
decoding takes packed and unpacked repeated scalars alike, skips unknown fields, and lets the
last member of a oneof win.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from typing import Any

from pulsarload.wire.errors import DecodeError
from pulsarload.wire.protobuf import (
    WIRE_FIXED32,
    WIRE_FIXED64,
    WIRE_LEN,
    WIRE_VARINT,
    decode_varint,
    encode_varint,
    skip_field,
    to_int32,
    to_int64,
)

__all__ = ["MessageCodec", "Unsupported", "compile_codec"]

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1

# FieldDescriptor.TYPE_* values (descriptor.proto's FieldDescriptorProto.Type).
T_DOUBLE, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL = range(1, 9)
T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM = range(9, 15)
T_SFIXED32, T_SFIXED64, T_SINT32, T_SINT64 = range(15, 19)

_FIXED = {
    T_DOUBLE: struct.Struct("<d"),
    T_FLOAT: struct.Struct("<f"),
    T_FIXED64: struct.Struct("<Q"),
    T_FIXED32: struct.Struct("<I"),
    T_SFIXED64: struct.Struct("<q"),
    T_SFIXED32: struct.Struct("<i"),
}
_RANGES = {
    T_INT32: (-(1 << 31), (1 << 31) - 1),
    T_SINT32: (-(1 << 31), (1 << 31) - 1),
    T_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    T_INT64: (-(1 << 63), (1 << 63) - 1),
    T_SINT64: (-(1 << 63), (1 << 63) - 1),
    T_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    T_UINT32: (0, _U32),
    T_FIXED32: (0, _U32),
    T_UINT64: (0, _U64),
    T_FIXED64: (0, _U64),
}


class Unsupported(Exception):
    """A message this codec does not handle (the schema then uses the `protobuf` package's)."""


def _wire_type(t: int) -> int:
    if t in (T_DOUBLE, T_FIXED64, T_SFIXED64):
        return WIRE_FIXED64
    if t in (T_FLOAT, T_FIXED32, T_SFIXED32):
        return WIRE_FIXED32
    if t in (T_STRING, T_BYTES, T_MESSAGE):
        return WIRE_LEN
    return WIRE_VARINT


type Writer = Callable[[Any], bytes]
type Reader = Callable[[Any, int, int], tuple[Any, int]]
type _FieldReader = Callable[[Any, int, int, dict[str, Any]], int]


class MessageCodec:
    """The encoder and decoder of one message type (filled in by `compile_codec`)."""

    __slots__ = (
        "_fields",
        "_fresh",
        "_known",
        "_readers",
        "_required",
        "_static",
        "_template",
        "name",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        #: (name, emit(value, out)), in field-number order.
        self._fields: list[tuple[str, Callable[[Any, list[bytes]], None]]] = []
        self._known: frozenset[str] = frozenset()
        self._required: tuple[str, ...] = ()  # proto2 `required`
        #: field number -> (wire type, read(buf, pos, end, out) -> pos, the packed reader of a
        #: repeated scalar or None)
        self._readers: dict[int, tuple[int, _FieldReader, _FieldReader | None]] = {}
        #: the dict of an empty message: (name, value or a factory of a fresh one), split by
        #: `compile_codec` into the values copied as they are and the factories
        self._template: list[tuple[str, Any]] = []
        self._static: dict[str, Any] = {}
        self._fresh: tuple[tuple[str, Callable[[], Any]], ...] = ()

    def encode(self, value: Mapping[str, Any]) -> bytes:
        out: list[bytes] = []
        self._emit(value, out)
        return b"".join(out)

    def _emit(self, value: Mapping[str, Any], out: list[bytes]) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a dict for {self.name}, got {type(value).__name__}")
        if not value.keys() <= self._known:
            unknown = next(k for k in value if k not in self._known)
            raise TypeError(f"{self.name} has no field {unknown!r}")
        get = value.get
        for name in self._required:
            if get(name) is None:
                raise TypeError(f"field {name}: required, and missing")
        for name, emit in self._fields:
            v = get(name)
            if v is not None:
                try:
                    emit(v, out)
                except (TypeError, ValueError, OverflowError, struct.error) as err:
                    text = str(err)
                    if text.startswith("field "):  # a nested field's: put our name in front
                        raise TypeError(f"field {name}.{text[6:]}") from None
                    raise TypeError(f"field {name}: {text}") from None

    def decode(self, buf: Any) -> dict[str, Any]:
        return self._read(buf, 0, len(buf))

    def _read(self, buf: Any, pos: int, end: int) -> dict[str, Any]:
        out = self._static.copy()
        for name, make in self._fresh:
            out[name] = make()
        readers = self._readers
        while pos < end:
            key = buf[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = decode_varint(buf, pos)
            number, wire = key >> 3, key & 7
            entry = readers.get(number)
            if entry is None:
                pos = skip_field(buf, pos, wire, number, end)
            elif wire == entry[0]:
                pos = entry[1](buf, pos, end, out)
            elif wire == WIRE_LEN and entry[2] is not None:
                pos = entry[2](buf, pos, end, out)
            else:
                raise DecodeError(f"{self.name}: field {number} has wire type {wire}")
        if pos != end:
            raise DecodeError(f"{self.name}: a field runs past the end of the message")
        return out


def compile_codec(descriptor: Any) -> MessageCodec:
    """The codec of a message descriptor (a `google.protobuf.descriptor.Descriptor`)."""
    return _Compiler().codec(descriptor)


class _Compiler:
    def __init__(self) -> None:
        self.done: dict[str, MessageCodec] = {}

    def codec(self, descriptor: Any) -> MessageCodec:
        known = self.done.get(descriptor.full_name)
        if known is not None:
            return known
        codec = self.done[descriptor.full_name] = MessageCodec(descriptor.full_name)
        for f in sorted(descriptor.fields, key=lambda f: f.number):
            if f.type == T_GROUP:
                raise Unsupported(f"{descriptor.full_name}.{f.name} is a group field")
            self._field(codec, f)
        codec._known = frozenset(name for name, _ in codec._fields)
        codec._required = tuple(f.name for f in descriptor.fields if f.is_required)
        # Every field in the static dict (factories' fields as None, filled per decode), so
        # that a decoded dict lists the fields in the message's order.
        codec._static = {k: None if callable(v) else v for k, v in codec._template}
        codec._fresh = tuple((k, v) for k, v in codec._template if callable(v))
        return codec

    # -- one field ----------------------------------------------------------------------------

    def _field(self, codec: MessageCodec, f: Any) -> None:
        name, number = f.name, f.number
        mt = f.message_type
        if mt is not None and f.is_repeated and mt.GetOptions().map_entry:
            self._map_field(codec, f)
            return
        write = self._writer(f)
        read = self._reader(f)
        t = f.type
        wire = _wire_type(t)
        tag = encode_varint((number << 3) | wire)
        if f.is_repeated:
            packed = wire != WIRE_LEN and f.is_packed
            len_tag = encode_varint((number << 3) | WIRE_LEN)

            def emit_repeated(v: Any, out: list[bytes]) -> None:
                if isinstance(v, str | bytes | Mapping):
                    raise TypeError(f"expected a list, got {type(v).__name__}")
                if packed:
                    body = b"".join([write(x) for x in v])
                    if body:
                        out += (len_tag, encode_varint(len(body)), body)
                else:
                    for x in v:
                        out += (tag, write(x))

            codec._fields.append((name, emit_repeated))
            codec._template.append((name, list))

            def read_one(buf: Any, pos: int, end: int, out: dict[str, Any]) -> int:
                value, pos = read(buf, pos, end)
                out[name].append(value)
                return pos

            def read_packed(buf: Any, pos: int, end: int, out: dict[str, Any]) -> int:
                size, pos = decode_varint(buf, pos)
                stop = pos + size
                if stop > end:
                    raise DecodeError(f"packed field {name} runs past its message")
                items = out[name]
                while pos < stop:
                    value, pos = read(buf, pos, stop)
                    items.append(value)
                return pos

            # A repeated scalar is read packed or not, whichever the writer chose.
            codec._readers[number] = (wire, read_one, read_packed if wire != WIRE_LEN else None)
            return

        oneof = f.containing_oneof
        siblings = (
            tuple(o.name for o in oneof.fields if o.name != name) if oneof is not None else ()
        )
        if f.has_presence:
            codec._template.append((name, None))

            def emit_present(v: Any, out: list[bytes]) -> None:
                out += (tag, write(v))

            codec._fields.append((name, emit_present))
        else:
            default = self._default(f)
            codec._template.append((name, default))
            defaults = (default, 0) if t == T_ENUM else (default,)

            def emit_implicit(v: Any, out: list[bytes]) -> None:
                # proto3 leaves a field at its default out (-0.0 is not the default).
                if v in defaults and not (isinstance(v, float) and math.copysign(1.0, v) < 0):
                    return
                out += (tag, write(v))

            codec._fields.append((name, emit_implicit))

        def read_singular(buf: Any, pos: int, end: int, out: dict[str, Any]) -> int:
            out[name], pos = read(buf, pos, end)
            for s in siblings:
                out[s] = None
            return pos

        codec._readers[number] = (wire, read_singular, None)

    def _map_field(self, codec: MessageCodec, f: Any) -> None:
        name, number = f.name, f.number
        kf, vf = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
        kwrite, vwrite = self._writer(kf), self._writer(vf)
        kread, vread = self._reader(kf), self._reader(vf)
        ktag = encode_varint((1 << 3) | _wire_type(kf.type))
        vtag = encode_varint((2 << 3) | _wire_type(vf.type))
        kwire, vwire = _wire_type(kf.type), _wire_type(vf.type)
        tag = encode_varint((number << 3) | WIRE_LEN)
        kdefault, vdefault = self._default(kf), self._default(vf)

        def emit_map(v: Any, out: list[bytes]) -> None:
            if not isinstance(v, Mapping):
                raise TypeError(f"expected a dict, got {type(v).__name__}")
            for k, x in v.items():
                entry = b"".join((ktag, kwrite(k), vtag, vwrite(x)))
                out += (tag, encode_varint(len(entry)), entry)

        def read_entry(buf: Any, pos: int, end: int, out: dict[str, Any]) -> int:
            size, pos = decode_varint(buf, pos)
            stop = pos + size
            if stop > end:
                raise DecodeError(f"map field {name} runs past its message")
            k, x = kdefault, vdefault
            while pos < stop:
                key, pos = decode_varint(buf, pos)
                if key >> 3 == 1 and key & 7 == kwire:
                    k, pos = kread(buf, pos, stop)
                elif key >> 3 == 2 and key & 7 == vwire:
                    x, pos = vread(buf, pos, stop)
                else:
                    pos = skip_field(buf, pos, key & 7, key >> 3, stop)
            if callable(x):  # a message value left out: an empty message
                x = x()
            out[name][k] = x
            return pos

        codec._fields.append((name, emit_map))
        codec._template.append((name, dict))
        codec._readers[number] = (WIRE_LEN, read_entry, None)

    def _default(self, f: Any) -> Any:
        t = f.type
        if t == T_MESSAGE:
            sub = self.codec(f.message_type)
            return lambda: sub._read(b"", 0, 0)
        if t == T_ENUM:
            return f.enum_type.values[0].name
        if t in (T_DOUBLE, T_FLOAT):
            return 0.0
        if t == T_BOOL:
            return False
        if t == T_STRING:
            return ""
        if t == T_BYTES:
            return b""
        return 0

    # -- one value ----------------------------------------------------------------------------

    def _writer(self, f: Any) -> Writer:
        t = f.type
        if t == T_STRING:

            def w_string(v: Any) -> bytes:
                if not isinstance(v, str):
                    raise TypeError(f"expected a str, got {type(v).__name__}")
                b = v.encode()
                return encode_varint(len(b)) + b

            return w_string
        if t == T_BYTES:

            def w_bytes(v: Any) -> bytes:
                if not isinstance(v, bytes | bytearray | memoryview):
                    raise TypeError(f"expected bytes, got {type(v).__name__}")
                return encode_varint(len(v)) + bytes(v)

            return w_bytes
        if t == T_MESSAGE:
            sub = self.codec(f.message_type)

            def w_message(v: Any) -> bytes:
                out: list[bytes] = []
                sub._emit(v, out)
                b = b"".join(out)
                return encode_varint(len(b)) + b

            return w_message
        if t == T_BOOL:

            def w_bool(v: Any) -> bytes:
                if not isinstance(v, bool | int):
                    raise TypeError(f"expected a bool, got {type(v).__name__}")
                return b"\x01" if v else b"\x00"

            return w_bool
        if t == T_ENUM:
            by_name = {v.name: v.number for v in f.enum_type.values}
            enum_name = f.enum_type.full_name

            def w_enum(v: Any) -> bytes:
                if isinstance(v, str):
                    number = by_name.get(v)
                    if number is None:
                        raise ValueError(f"{v!r} is not a symbol of {enum_name}")
                    return encode_varint(number)
                if not isinstance(v, int) or not -(1 << 31) <= v < (1 << 31):
                    raise TypeError(f"expected a symbol of {enum_name}, got {v!r}")
                return encode_varint(v)

            return w_enum
        if t in (T_DOUBLE, T_FLOAT):
            pack = _FIXED[t].pack

            def w_float(v: Any) -> bytes:
                if not isinstance(v, float | int) or isinstance(v, bool):
                    raise TypeError(f"expected a float, got {type(v).__name__}")
                return pack(v)

            return w_float
        lo, hi = _RANGES[t]

        def check(v: Any) -> int:
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"expected an int, got {type(v).__name__}")
            if not lo <= v <= hi:
                raise ValueError(f"{v} is out of range")
            return v

        if t in _FIXED:
            pack = _FIXED[t].pack
            return lambda v: pack(check(v))
        if t == T_SINT32:
            return lambda v: encode_varint(((check(v) << 1) ^ (v >> 31)) & _U32)
        if t == T_SINT64:
            return lambda v: encode_varint(((check(v) << 1) ^ (v >> 63)) & _U64)
        return lambda v: encode_varint(check(v))  # int32/int64 (negatives: 10 bytes), uint

    def _reader(self, f: Any) -> Reader:
        t = f.type
        if t in (T_STRING, T_BYTES, T_MESSAGE):
            sub = self.codec(f.message_type) if t == T_MESSAGE else None

            def r_len(buf: Any, pos: int, end: int) -> tuple[Any, int]:
                size, pos = decode_varint(buf, pos)
                stop = pos + size
                if stop > end:
                    raise DecodeError(f"field {f.name} runs past its message")
                if sub is not None:
                    return sub._read(buf, pos, stop), stop
                raw = bytes(buf[pos:stop])
                return (raw.decode() if t == T_STRING else raw), stop

            return r_len
        if t in _FIXED:
            s = _FIXED[t]
            unpack, size = s.unpack_from, s.size

            def r_fixed(buf: Any, pos: int, end: int) -> tuple[Any, int]:
                if pos + size > end:
                    raise DecodeError(f"field {f.name} runs past its message")
                return unpack(buf, pos)[0], pos + size

            return r_fixed
        if t == T_ENUM:
            names = {v.number: v.name for v in f.enum_type.values}

            def r_enum(buf: Any, pos: int, end: int) -> tuple[Any, int]:
                v, pos = decode_varint(buf, pos)
                v = to_int32(v)
                return names.get(v, v), pos

            return r_enum
        convert: Callable[[int], Any] = {
            T_INT32: to_int32,
            T_INT64: to_int64,
            T_UINT32: lambda v: v & _U32,
            T_UINT64: lambda v: v,
            T_BOOL: bool,
            T_SINT32: lambda v: ((v & _U32) >> 1) ^ -(v & 1),
            T_SINT64: lambda v: (v >> 1) ^ -(v & 1),
        }[t]

        def r_varint(buf: Any, pos: int, end: int) -> tuple[Any, int]:
            v, pos = decode_varint(buf, pos)
            return convert(v), pos

        return r_varint

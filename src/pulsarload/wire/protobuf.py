"""Hand-written proto2 primitives and a small table-driven message codec (no protobuf runtime).

Why our own: the protobuf runtime has no free-threaded wheel we can rely on, and Pulsar's
schema needs only a handful of types (varints, strings, bytes, nested messages). This module is
the only place that knows the protobuf wire format.

Primitives:
    ``encode_varint(value)``      int -> bytes; a negative int32/int64 becomes a 10-byte varint
    ``decode_varint(buf, pos)``   -> (value, new_pos), unsigned 64-bit; DecodeError when bad
    ``to_int64`` / ``to_int32``   reinterpret a decoded varint as a signed proto int64 / int32
    ``encode_tag(number, wire)``  the field key as bytes
    ``skip_field(buf, pos, wire_type, number, end)``  step over an unknown field of any wire type

Messages: a message type is a slotted, keyword-only dataclass built with the
``@protobuf_message`` decorator, each field declared with ``required(n, kind)``,
``optional(n, kind)`` or ``repeated(n, kind)``; ``n`` is the proto field number, ``kind`` one of
``UINT`` (uint32/uint64), ``INT32``, ``INT64``, ``BOOL``, ``STRING``, ``BYTES``, an ``IntEnum``
subclass, or another message class. Rules, the same for every message:

- an optional field is ``None`` when absent and is emitted only when not ``None`` (proto2
  presence carries meaning, e.g. ``num_messages_in_batch``); proto defaults are NOT filled in;
- a repeated field is a tuple when decoded (``()`` when absent); the encoder takes any iterable,
  and a repeated ``KeyValue`` field also takes a ``dict``;
- decoding skips unknown fields of any wire type, accepts packed and unpacked repeated scalars,
  keeps an unknown enum value as a plain ``int``, and raises ``DecodeError`` (naming the message,
  the field and the offset) for anything malformed or for a missing required field;
- encoding a required field left as ``None`` raises ``ValueError`` (our bug, not the peer's).

``msg.encode()`` returns bytes; ``Type.decode(buf)`` takes bytes, bytearray or memoryview and
decodes the whole buffer as one message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from typing import Any, ClassVar, Self, dataclass_transform

from pulsarload.wire.errors import DecodeError

__all__ = [
    "BOOL",
    "BYTES",
    "INT32",
    "INT64",
    "STRING",
    "UINT",
    "WIRE_FIXED32",
    "WIRE_FIXED64",
    "WIRE_LEN",
    "WIRE_VARINT",
    "Message",
    "decode_varint",
    "encode_length_delimited",
    "encode_tag",
    "encode_varint",
    "optional",
    "protobuf_message",
    "repeated",
    "required",
    "skip_field",
    "to_int32",
    "to_int64",
]

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LEN = 2
WIRE_START_GROUP = 3
WIRE_END_GROUP = 4
WIRE_FIXED32 = 5

_U64 = 1 << 64
_I64_MIN = -(1 << 63)
_I64_SIGN = 1 << 63
_U32_MASK = 0xFFFFFFFF
_I32_SIGN = 1 << 31
_U32 = 1 << 32

# One-byte varints are by far the most common (tags, small ids, booleans, enum values):
# a table lookup beats building a new bytes object.
_ONE_BYTE: tuple[bytes, ...] = tuple(bytes((i,)) for i in range(128))


# --------------------------------------------------------------------------------------------
# Primitives


def encode_varint(value: int) -> bytes:
    """Encode an int as a base-128 varint; negatives (int32/int64) as 10-byte two's complement."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if value < 0:
        if value < _I64_MIN:
            raise ValueError(f"varint value {value} is below the int64 range")
        value += _U64
    elif value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    elif value >= _U64:
        raise ValueError(f"varint value {value} is above the uint64 range")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint_slow(buf: Any, pos: int) -> tuple[int, int]:
    """The multi-byte varint path; the caller has checked nothing. IndexError means truncated."""
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result >= _U64:
                raise DecodeError(f"varint ending at offset {pos} overflows 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError(f"varint at offset {pos - 10} is longer than 10 bytes")


def decode_varint(buf: Any, pos: int = 0) -> tuple[int, int]:
    """Decode an unsigned varint at ``pos``; return (value, position after it)."""
    try:
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
        return _read_varint_slow(buf, pos)
    except IndexError:
        raise DecodeError(
            f"truncated varint at offset {pos} (buffer of {len(buf)} bytes)"
        ) from None


def to_int64(value: int) -> int:
    """Reinterpret a decoded 64-bit varint as a signed proto int64."""
    return value - _U64 if value >= _I64_SIGN else value


def to_int32(value: int) -> int:
    """Reinterpret a decoded varint as a signed proto int32 (low 32 bits, as proto does)."""
    value &= _U32_MASK
    return value - _U32 if value >= _I32_SIGN else value


def encode_tag(number: int, wire_type: int) -> bytes:
    """The key of a field: (number << 3) | wire_type as a varint."""
    return encode_varint((number << 3) | wire_type)


def encode_length_delimited(number: int, data: bytes) -> bytes:
    """A complete length-delimited field: tag, length, data."""
    return encode_varint((number << 3) | WIRE_LEN) + encode_varint(len(data)) + data


def skip_field(buf: Any, pos: int, wire_type: int, number: int, end: int) -> int:
    """Step over one field's value (any wire type, groups included); return the new position.

    ``pos`` points just after the field's key; ``end`` bounds the enclosing message.
    """
    if wire_type == WIRE_VARINT:
        _, pos = decode_varint(buf, pos)
    elif wire_type == WIRE_LEN:
        size, pos = decode_varint(buf, pos)
        pos += size
    elif wire_type == WIRE_FIXED64:
        pos += 8
    elif wire_type == WIRE_FIXED32:
        pos += 4
    elif wire_type == WIRE_START_GROUP:
        # Groups are deprecated but legal: skip nested fields until the matching end-group key.
        # Iterative (a stack of open groups), so deep nesting cannot exhaust the C stack.
        open_groups = [number]
        while open_groups:
            if pos >= end:
                raise DecodeError(
                    f"group field {open_groups[-1]} is not closed before offset {end}"
                )
            key, pos = decode_varint(buf, pos)
            wire, inner = key & 7, key >> 3
            if wire == WIRE_END_GROUP:
                if inner != open_groups[-1]:
                    raise DecodeError(
                        f"group field {open_groups[-1]} closed by end-group of field {inner} "
                        f"at offset {pos}"
                    )
                open_groups.pop()
            elif wire == WIRE_START_GROUP:
                open_groups.append(inner)
            else:
                pos = skip_field(buf, pos, wire, inner, end)
    else:
        raise DecodeError(f"field {number} has invalid wire type {wire_type} at offset {pos}")
    if pos > end:
        raise DecodeError(f"field {number} runs past the end of the message ({pos} > {end})")
    return pos


# --------------------------------------------------------------------------------------------
# Message machinery

# Scalar kinds (enum classes and message classes are kinds too).
UINT = "uint"  # uint32 / uint64: plain varint, never negative on the wire side we accept
INT32 = "int32"  # negatives are 10-byte varints; decoded by sign-extending the low 32 bits
INT64 = "int64"
BOOL = "bool"
STRING = "string"
BYTES = "bytes"

_SCALAR_KINDS = {UINT, INT32, INT64, BOOL, STRING, BYTES}

# Internal decode codes, so the decode loop compares small ints.
_D_UINT, _D_INT32, _D_INT64, _D_BOOL, _D_ENUM, _D_STRING, _D_BYTES, _D_MESSAGE = range(8)

_PB_KEY = "pb"


def required(number: int, kind: Any) -> Any:
    """A proto2 ``required`` field: a keyword argument without default."""
    return dataclasses.field(metadata={_PB_KEY: (number, kind, "required")})


def optional(number: int, kind: Any) -> Any:
    """A proto2 ``optional`` field: ``None`` when absent, emitted only when not ``None``."""
    return dataclasses.field(default=None, metadata={_PB_KEY: (number, kind, "optional")})


def repeated(number: int, kind: Any) -> Any:
    """A proto2 ``repeated`` field: a tuple (``()`` when absent)."""
    return dataclasses.field(default=(), metadata={_PB_KEY: (number, kind, "repeated")})


class Message:
    """Base of every protobuf message class (see the module docstring for the rules)."""

    __slots__ = ()

    # Filled in by @protobuf_message.
    _pb_encode_plan: ClassVar[tuple[tuple[str, bytes, Callable[..., None], bool, bool], ...]]
    _pb_decode_plan: ClassVar[dict[int, tuple[str, int, int, bool, Any]]]
    _pb_required: ClassVar[tuple[str, ...]]
    _pb_repeated: ClassVar[tuple[str, ...]]

    def encode(self) -> bytes:
        """Serialize to protobuf bytes (fields in field-number order)."""
        return encode_message(self)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview) -> Self:
        """Parse a whole buffer as one message of this type."""
        return decode_message(cls, buf)


@dataclass_transform(kw_only_default=True, field_specifiers=(required, optional, repeated))
def protobuf_message[T: type](cls: T) -> T:
    """Class decorator: make a slotted keyword-only dataclass and attach its wire plan."""
    dc: Any = dataclasses.dataclass(slots=True, kw_only=True)(cls)
    specs = []
    for f in dataclasses.fields(dc):
        pb = f.metadata.get(_PB_KEY)
        if pb is None:
            raise TypeError(f"{dc.__name__}.{f.name} has no protobuf field declaration")
        number, kind, label = pb
        specs.append((number, f.name, kind, label))
    specs.sort()
    numbers = [s[0] for s in specs]
    if len(set(numbers)) != len(numbers):
        raise TypeError(f"{dc.__name__} declares a field number twice")

    encode_plan = []
    decode_plan: dict[int, tuple[str, int, int, bool, Any]] = {}
    for number, name, kind, label in specs:
        is_repeated = label == "repeated"
        if kind in _SCALAR_KINDS:
            wire = WIRE_LEN if kind in (STRING, BYTES) else WIRE_VARINT
            code = {
                UINT: _D_UINT,
                INT32: _D_INT32,
                INT64: _D_INT64,
                BOOL: _D_BOOL,
                STRING: _D_STRING,
                BYTES: _D_BYTES,
            }[kind]
            extra: Any = None
            encoder: Callable[..., None] = {
                UINT: _enc_varint,
                INT32: _enc_varint,
                INT64: _enc_varint,
                BOOL: _enc_bool,
                STRING: _enc_string,
                BYTES: _enc_bytes,
            }[kind]
        elif isinstance(kind, type) and issubclass(kind, IntEnum):
            wire, code, encoder = WIRE_VARINT, _D_ENUM, _enc_varint
            extra = {int(m): m for m in kind}
        elif isinstance(kind, type) and issubclass(kind, Message):
            wire, code, encoder, extra = WIRE_LEN, _D_MESSAGE, _enc_message, kind
            if is_repeated and kind.__name__ == "KeyValue":
                encoder = _enc_key_value
        else:
            raise TypeError(f"{dc.__name__}.{name}: unsupported protobuf kind {kind!r}")
        encode_plan.append(
            (name, encode_tag(number, wire), encoder, label == "required", is_repeated)
        )
        decode_plan[number] = (name, code, wire, is_repeated, extra)

    dc._pb_encode_plan = tuple(encode_plan)
    dc._pb_decode_plan = decode_plan
    dc._pb_required = tuple(s[1] for s in specs if s[3] == "required")
    dc._pb_repeated = tuple(s[1] for s in specs if s[3] == "repeated")
    return dc  # type: ignore[no-any-return]


# Field encoders: append tag + value to a bytearray.


def _enc_varint(out: bytearray, tag: bytes, value: int) -> None:
    out += tag
    out += encode_varint(value)


def _enc_bool(out: bytearray, tag: bytes, value: bool) -> None:
    out += tag
    out += b"\x01" if value else b"\x00"


def _enc_string(out: bytearray, tag: bytes, value: str | bytes) -> None:
    data = value.encode() if isinstance(value, str) else value
    out += tag
    out += encode_varint(len(data))
    out += data


def _enc_bytes(out: bytearray, tag: bytes, value: bytes | str) -> None:
    data = value.encode() if isinstance(value, str) else value
    out += tag
    out += encode_varint(len(data))
    out += data


def _enc_message(out: bytearray, tag: bytes, value: Message) -> None:
    data = encode_message(value)
    out += tag
    out += encode_varint(len(data))
    out += data


def _enc_key_value(out: bytearray, tag: bytes, value: Any) -> None:
    if isinstance(value, Message):
        data = encode_message(value)
    else:  # a (key, value) pair, e.g. from dict.items()
        key, val = value
        k = key.encode()
        v = val.encode()
        data = b"\x0a" + encode_varint(len(k)) + k + b"\x12" + encode_varint(len(v)) + v
    out += tag
    out += encode_varint(len(data))
    out += data


def encode_message(msg: Message) -> bytes:
    """Serialize a message (see ``Message.encode``)."""
    out = bytearray()
    for name, tag, encoder, is_required, is_repeated in msg._pb_encode_plan:
        value = getattr(msg, name)
        if value is None:
            if is_required:
                raise ValueError(f"{type(msg).__name__}.{name} is required but is None")
            continue
        if is_repeated:
            if isinstance(value, Mapping):
                value = value.items()
            for item in value:
                encoder(out, tag, item)
        else:
            encoder(out, tag, value)
    return bytes(out)


def decode_message[M: Message](cls: type[M], buf: bytes | bytearray | memoryview) -> M:
    """Parse ``buf`` as one ``cls`` message (see ``Message.decode``)."""
    plan = cls._pb_decode_plan
    values: dict[str, Any] = {}
    pos = 0
    end = len(buf)
    name = "?"
    try:
        while pos < end:
            key = buf[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = _read_varint_slow(buf, pos)
            wire = key & 7
            spec = plan.get(key >> 3)
            if spec is None:
                name = "?"
                pos = skip_field(buf, pos, wire, key >> 3, end)
                continue
            name, code, spec_wire, is_repeated, extra = spec
            if wire == WIRE_VARINT and spec_wire == WIRE_VARINT:
                value = buf[pos]
                if value < 0x80:
                    pos += 1
                else:
                    value, pos = _read_varint_slow(buf, pos)
                if code != _D_UINT:
                    value = _convert_varint(code, value, extra)
                if is_repeated:
                    values.setdefault(name, []).append(value)
                else:
                    values[name] = value
            elif wire == WIRE_LEN:
                size = buf[pos]
                if size < 0x80:
                    pos += 1
                else:
                    size, pos = _read_varint_slow(buf, pos)
                stop = pos + size
                if stop > end:
                    raise DecodeError(
                        f"{cls.__name__}.{name}: length {size} at offset {pos} runs past the "
                        f"end of the {end}-byte message"
                    )
                if spec_wire == WIRE_LEN:
                    if code == _D_STRING:
                        try:
                            value = str(buf[pos:stop], "utf-8")
                        except UnicodeDecodeError as err:
                            raise DecodeError(
                                f"{cls.__name__}.{name}: invalid UTF-8 string at offset {pos}: {err}"
                            ) from None
                    elif code == _D_BYTES:
                        value = bytes(buf[pos:stop])
                    else:
                        value = decode_message(extra, buf[pos:stop])
                    if is_repeated:
                        values.setdefault(name, []).append(value)
                    else:
                        values[name] = value
                elif is_repeated:  # packed repeated scalar
                    items = values.setdefault(name, [])
                    while pos < stop:
                        value, pos = decode_varint(buf, pos)
                        if code != _D_UINT:
                            value = _convert_varint(code, value, extra)
                        items.append(value)
                    if pos != stop:
                        raise DecodeError(
                            f"{cls.__name__}.{name}: packed varints overrun their length"
                        )
                pos = stop
            else:  # a known number with an unexpected wire type: treat as unknown
                pos = skip_field(buf, pos, wire, key >> 3, end)
    except IndexError:
        raise DecodeError(
            f"{cls.__name__}.{name}: truncated protobuf at offset {pos} of {end} bytes"
        ) from None
    except DecodeError as err:
        if str(err).startswith(cls.__name__):
            raise
        raise DecodeError(f"{cls.__name__}.{name}: {err}") from None
    for req in cls._pb_required:
        if req not in values:
            raise DecodeError(f"{cls.__name__}: required field {req} is missing")
    for rep in cls._pb_repeated:
        items = values.get(rep)
        if items is not None:
            values[rep] = tuple(items)
    return cls(**values)


def _convert_varint(code: int, value: int, extra: Any) -> Any:
    if code == _D_INT64:
        return value - _U64 if value >= _I64_SIGN else value
    if code == _D_INT32:
        value &= _U32_MASK
        return value - _U32 if value >= _I32_SIGN else value
    if code == _D_BOOL:
        return value != 0
    # enum: known value -> member; unknown (newer peer) -> plain int
    return extra.get(value, value)


def iter_fields(buf: Any) -> Iterable[tuple[int, int, Any]]:
    """Yield (number, wire_type, value) for every field; value is an int or a memoryview.

    For tests and debugging (slow path): shows a message's raw content without a schema.
    """
    view = memoryview(buf)
    pos = 0
    end = len(view)
    while pos < end:
        key, pos = decode_varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == WIRE_VARINT:
            value, pos = decode_varint(view, pos)
            yield number, wire, value
        elif wire == WIRE_LEN:
            size, pos = decode_varint(view, pos)
            if pos + size > end:
                raise DecodeError(f"field {number}: length {size} runs past the end")
            yield number, wire, view[pos : pos + size]
            pos += size
        else:
            start = pos
            pos = skip_field(view, pos, wire, number, end)
            yield number, wire, view[start:pos]

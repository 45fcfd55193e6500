"""Avro's binary encoding: a schema is compiled once into one encoder and one decoder function.

Why our own codec rather than a library: fastavro (what the official client uses) ships a cp313t
wheel, but importing its compiled reader turns the GIL back on in a free-threaded interpreter
(CPython warns and re-enables it for the whole process), which would serialize every worker
thread of a load run; the pure-Python `avro` package walks the schema anew for every datum.
The binary encoding is small and fully specified (Avro 1.11 specification, "Binary Encoding"),
so a compiler from schema to closures is short and keeps the GIL off.

    ``parse(schema)``            a JSON text, dict, list or type name -> ``AvroType`` (checked)
    ``AvroType.encode(datum)``   -> bytes; ``AvroEncodeError`` names the field path
    ``AvroType.decode(data)``    -> the datum (records as dicts, enums as symbol strings);
                                    ``AvroDecodeError`` says where the bytes went wrong

Encoding rules, as the specification: int and long are zig-zag varints, float and double
little-endian IEEE 754, bytes and string a long length then the bytes, arrays and maps blocks of
items ended by a zero count, a union the branch index then the value, an enum its symbol index,
a fixed its bytes. Logical types are encoded as their underlying type.

Why it is this long: it is one job, a schema in and its encoder and decoder out, in three
steps that share one form of the schema (the checked node tree): the primitive types' codecs,
the parser that checks a definition into nodes, and the compiler that turns nodes into
closures (a record into generated code, so that encoding one costs one call). Each step is
useful only with the others; the error types name where a datum or a byte went wrong.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

__all__ = ["AvroDecodeError", "AvroEncodeError", "AvroSchemaError", "AvroType", "parse"]


class AvroSchemaError(ValueError):
    """The schema definition is not valid Avro."""


class AvroEncodeError(ValueError):
    """A datum does not fit the schema; the message names the field path."""


class AvroDecodeError(ValueError):
    """The bytes are not a datum of the schema (truncated, bad index, bad UTF-8...)."""


type Encoder = Callable[[bytearray, Any], None]
type Decoder = Callable[[bytes, int], tuple[Any, int]]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_MISSING = object()


# --- primitives --------------------------------------------------------------------------------


def _put_long(out: bytearray, n: int) -> None:
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _get_long(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise AvroDecodeError(f"varint longer than 10 bytes at offset {pos}")
    return (n >> 1) ^ -(n & 1), pos


def _enc_null(out: bytearray, v: Any) -> None:
    if v is not None:
        raise AvroEncodeError(f"expected None for null, got {type(v).__name__}")


def _dec_null(buf: bytes, pos: int) -> tuple[Any, int]:
    return None, pos


def _enc_boolean(out: bytearray, v: Any) -> None:
    if v is True:
        out.append(1)
    elif v is False:
        out.append(0)
    else:
        raise AvroEncodeError(f"expected a bool for boolean, got {type(v).__name__}")


def _dec_boolean(buf: bytes, pos: int) -> tuple[Any, int]:
    b = buf[pos]
    if b > 1:
        raise AvroDecodeError(f"boolean byte {b} at offset {pos} is neither 0 nor 1")
    return b == 1, pos + 1


def _integer_encoder(low: int, high: int, bits: int, name: str) -> Encoder:
    """The encoder of an Avro integer type: a Python int within its range, as a zig-zag varint."""

    def encode(out: bytearray, v: Any) -> None:
        if v.__class__ is not int or not low <= v <= high:
            raise AvroEncodeError(f"expected an int in the {bits}-bit range for {name}, got {v!r}")
        _put_long(out, v)

    return encode


def _ieee_codec(packer: struct.Struct, name: str) -> tuple[Encoder, Decoder]:
    """The encoder and decoder of an Avro floating-point type: little-endian IEEE 754."""
    pack, unpack_from, size = packer.pack, packer.unpack_from, packer.size

    def encode(out: bytearray, v: Any) -> None:
        if v.__class__ is not float and (v.__class__ is not int):
            raise AvroEncodeError(f"expected a float for {name}, got {type(v).__name__}")
        out += pack(v)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return unpack_from(buf, pos)[0], pos + size

    return encode, decode


_enc_int = _integer_encoder(_INT_MIN, _INT_MAX, 32, "int")
_enc_long = _integer_encoder(_LONG_MIN, _LONG_MAX, 64, "long")
_enc_float, _dec_float = _ieee_codec(_F32, "float")
_enc_double, _dec_double = _ieee_codec(_F64, "double")


def _enc_bytes(out: bytearray, v: Any) -> None:
    if v.__class__ is str:
        v = v.encode()
    elif not isinstance(v, bytes | bytearray | memoryview):
        raise AvroEncodeError(f"expected bytes for bytes, got {type(v).__name__}")
    _put_long(out, len(v))
    out += v


def _span(buf: bytes, pos: int) -> tuple[int, int]:
    """Where the bytes behind a length (a long) start and end, checked against the buffer."""
    n, pos = _get_long(buf, pos)
    end = pos + n
    if n < 0 or end > len(buf):
        raise AvroDecodeError(f"length {n} at offset {pos} runs past the end ({len(buf)} bytes)")
    return pos, end


def _dec_bytes(buf: bytes, pos: int) -> tuple[Any, int]:
    pos, end = _span(buf, pos)
    return buf[pos:end], end


def _enc_string(out: bytearray, v: Any) -> None:
    if v.__class__ is str:
        b = v.encode()
    elif isinstance(v, bytes):
        b = v
    else:
        raise AvroEncodeError(f"expected a str for string, got {type(v).__name__}")
    _put_long(out, len(b))
    out += b


def _dec_string(buf: bytes, pos: int) -> tuple[Any, int]:
    pos, end = _span(buf, pos)
    try:
        return buf[pos:end].decode(), end
    except UnicodeDecodeError as err:
        raise AvroDecodeError(f"string at offset {pos} is not UTF-8: {err}") from None


_PRIMITIVE_CODECS: dict[str, tuple[Encoder, Decoder]] = {
    "null": (_enc_null, _dec_null),
    "boolean": (_enc_boolean, _dec_boolean),
    "int": (_enc_int, _get_long),
    "long": (_enc_long, _get_long),
    "float": (_enc_float, _dec_float),
    "double": (_enc_double, _dec_double),
    "bytes": (_enc_bytes, _dec_bytes),
    "string": (_enc_string, _dec_string),
}


# --- parsing -------------------------------------------------------------------------------------


def _fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


class _Parser:
    """Turns a schema into a normalized tree: every named type once as a dict, later uses of
    it as its full name (a str), primitives as their name."""

    def __init__(self) -> None:
        self.named: dict[str, dict[str, Any]] = {}

    def parse(self, s: Any, namespace: str | None) -> Any:
        if isinstance(s, str):
            if s in PRIMITIVES:
                return s
            full = _fullname(s, namespace)
            for candidate in (full, s):
                if candidate in self.named:
                    return candidate
            raise AvroSchemaError(f"unknown type name {s!r}")
        if isinstance(s, list):
            branches = [self.parse(b, namespace) for b in s]
            if not branches:
                raise AvroSchemaError("a union needs at least one branch")
            if any(isinstance(b, list) for b in branches):
                raise AvroSchemaError("a union may not directly contain a union")
            return branches
        if not isinstance(s, Mapping):
            raise AvroSchemaError(f"a schema is a type name, a list or an object, not {s!r}")
        t = s.get("type")
        if t in PRIMITIVES:
            return t  # {"type": "long", "logicalType": ...}: the underlying type
        if t == "record" or t == "error":
            return self._record(s, namespace)
        if t == "enum":
            symbols = s.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(x, str) for x in symbols):
                raise AvroSchemaError(f"enum {s.get('name')!r}: 'symbols' must be a list of str")
            return self._named(s, namespace, {"type": "enum", "symbols": list(symbols)})
        if t == "fixed":
            size = s.get("size")
            if not isinstance(size, int) or size < 0:
                raise AvroSchemaError(f"fixed {s.get('name')!r}: 'size' must be an int >= 0")
            return self._named(s, namespace, {"type": "fixed", "size": size})
        if t == "array":
            if "items" not in s:
                raise AvroSchemaError("array: 'items' is missing")
            return {"type": "array", "items": self.parse(s["items"], namespace)}
        if t == "map":
            if "values" not in s:
                raise AvroSchemaError("map: 'values' is missing")
            return {"type": "map", "values": self.parse(s["values"], namespace)}
        if isinstance(t, str | list | Mapping):
            return self.parse(t, namespace)
        raise AvroSchemaError(f"unknown type {t!r}")

    def _named(self, s: Mapping[str, Any], namespace: str | None, node: dict[str, Any]) -> str:
        name = s.get("name")
        if not isinstance(name, str) or not name:
            raise AvroSchemaError(f"a {node['type']} needs a 'name'")
        full = _fullname(name, s.get("namespace") or namespace)
        if full in self.named:
            raise AvroSchemaError(f"type {full!r} is defined twice")
        node["name"] = full
        self.named[full] = node
        return full

    def _record(self, s: Mapping[str, Any], namespace: str | None) -> str:
        node: dict[str, Any] = {"type": "record", "fields": []}
        full = self._named(s, namespace, node)
        inner_ns = full.rpartition(".")[0] or None
        fields = s.get("fields")
        if not isinstance(fields, list):
            raise AvroSchemaError(f"record {full!r}: 'fields' must be a list")
        seen: set[str] = set()
        for f in fields:
            if not isinstance(f, Mapping) or not isinstance(f.get("name"), str):
                raise AvroSchemaError(f"record {full!r}: every field needs a 'name'")
            fname = f["name"]
            if fname in seen:
                raise AvroSchemaError(f"record {full!r}: field {fname!r} appears twice")
            seen.add(fname)
            if "type" not in f:
                raise AvroSchemaError(f"record {full!r}: field {fname!r} has no 'type'")
            ftype = self.parse(f["type"], inner_ns)
            node["fields"].append(
                {"name": fname, "type": ftype, "default": f.get("default", _MISSING)}
            )
        return full


# --- compiling -------------------------------------------------------------------------------------


def _field_error(rname: str, name: str, x: Any, err: BaseException) -> AvroEncodeError:
    if x is _MISSING:
        return AvroEncodeError(f"{rname}.{name}: missing (no default)")
    return AvroEncodeError(f"{rname}.{name}: {err}")


def _varint_lines(indent: str) -> list[str]:
    return [
        f"{indent}while n > 127:",
        f"{indent}    app((n & 127) | 128)",
        f"{indent}    n >>= 7",
        f"{indent}app(n)",
    ]


def _read_long_lines(target: str) -> list[str]:
    return [
        "    b = buf[pos]",
        "    pos += 1",
        "    if b < 128:",
        f"        {target} = (b >> 1) ^ -(b & 1)",
        "    else:",
        f"        {target}, pos = _get_long(buf, pos - 1)",
    ]


def _int_snippet(kind: str, shift: int) -> tuple[list[str], list[str]]:
    enc = [
        # The range check compares with -1 and 0 only: small ints are immortal, so threads
        # running this code do not contend on reference counts of shared constants.
        f"        if x.__class__ is not int or not -1 <= (x >> {shift}) <= 0:",
        f"            raise AvroEncodeError('expected an int in the {kind} range, got ' + repr(x))",
        "        n = (x << 1) ^ (x >> 63)",
        *_varint_lines("        "),
    ]
    return enc, _read_long_lines("x")


_STRING_ENC = [
    "        if x.__class__ is str:",
    "            b = x.encode()",
    "        elif isinstance(x, bytes):",
    "            b = x",
    "        else:",
    "            raise AvroEncodeError('expected a str for string, got ' + type(x).__name__)",
    "        n = len(b) << 1",
    *_varint_lines("        "),
    "        out += b",
]
_STRING_DEC = [
    *_read_long_lines("n"),
    "    end = pos + n",
    "    if n < 0 or end > len(buf):",
    "        raise AvroDecodeError(f'length {n} at offset {pos} runs past the end')",
    "    x = buf[pos:end].decode()",
    "    pos = end",
]

#: Avro type -> (encoder lines, decoder lines), for fields written inline in a record's code.
_INLINE: dict[str, tuple[list[str], list[str]]] = {
    "long": _int_snippet("64-bit", 63),
    "int": _int_snippet("32-bit", 31),
    "string": (_STRING_ENC, _STRING_DEC),
    "boolean": (
        [
            "        if x is True:",
            "            app(1)",
            "        elif x is False:",
            "            app(0)",
            "        else:",
            "            raise AvroEncodeError('expected a bool for boolean, got ' + repr(x))",
        ],
        [
            "    b = buf[pos]",
            "    if b > 1:",
            "        raise AvroDecodeError(f'boolean byte {b} at offset {pos} is not 0 or 1')",
            "    x = b == 1",
            "    pos += 1",
        ],
    ),
    "double": (
        [
            "        if x.__class__ is not float and x.__class__ is not int:",
            "            raise AvroEncodeError('expected a float for double, got ' + repr(x))",
            "        out += _F64P(x)",
        ],
        ["    x = _F64U(buf, pos)[0]", "    pos += 8"],
    ),
    "float": (
        [
            "        if x.__class__ is not float and x.__class__ is not int:",
            "            raise AvroEncodeError('expected a float for float, got ' + repr(x))",
            "        out += _F32P(x)",
        ],
        ["    x = _F32U(buf, pos)[0]", "    pos += 4"],
    ),
}


class _Compiler:
    def __init__(self, named: dict[str, dict[str, Any]]) -> None:
        self.named = named
        self.done: dict[str, tuple[Encoder, Decoder]] = {}
        self.busy: dict[str, list[Any]] = {}

    def codec(self, t: Any) -> tuple[Encoder, Decoder]:
        if isinstance(t, str):
            prim = _PRIMITIVE_CODECS.get(t)
            if prim is not None:
                return prim
            return self._named(t)
        if isinstance(t, list):
            return self._union(t)
        if t["type"] == "array":
            return self._array(t)
        return self._map(t)

    def _named(self, name: str) -> tuple[Encoder, Decoder]:
        got = self.done.get(name)
        if got is not None:
            return got
        if name in self.busy:  # a recursive reference: go through a cell filled in later
            cell = self.busy[name]

            def enc_ref(out: bytearray, v: Any) -> None:
                cell[0](out, v)

            def dec_ref(buf: bytes, pos: int) -> tuple[Any, int]:
                return cell[1](buf, pos)

            return enc_ref, dec_ref
        cell = self.busy[name] = [None, None]
        node = self.named[name]
        kind = node["type"]
        if kind == "record":
            codec = self._record(node)
        elif kind == "enum":
            codec = self._enum(node)
        else:
            codec = self._fixed(node)
        cell[0], cell[1] = codec
        del self.busy[name]
        self.done[name] = codec
        return codec

    def _record(self, node: dict[str, Any]) -> tuple[Encoder, Decoder]:
        """A record's encoder and decoder, generated as Python source (as `wire.protobuf`
        does for messages): fields of the common primitive types, and optional ones of them,
        are written inline; other fields call their compiled codec. Inline code is what makes
        a record of ten fields cost microseconds rather than tens on 3.13t."""
        rname = node["name"]
        ns: dict[str, Any] = {
            "AvroEncodeError": AvroEncodeError,
            "AvroDecodeError": AvroDecodeError,
            "_fields_of": _fields_of,
            "_field_error": _field_error,
            "_get_long": _get_long,
            "_F64P": _F64.pack,
            "_F32P": _F32.pack,
            "_F64U": _F64.unpack_from,
            "_F32U": _F32.unpack_from,
            "_MISSING": _MISSING,
            "RNAME": rname,
            "NAMES": tuple(f["name"] for f in node["fields"]),
        }
        enc_lines = [
            "def enc_record(out, v):",
            "    d = v if v.__class__ is dict else _fields_of(v, RNAME)",
            "    get = d.get",
            "    app = out.append",
            "    f = 0",
            "    x = None",
            "    try:",
        ]
        dec_lines = ["def dec_record(buf, pos):"]
        for i, f in enumerate(node["fields"]):
            t = f["type"]
            default = f["default"]
            if default is _MISSING and isinstance(t, list) and "null" in t:
                default = None  # an optional field left out is null
            ns[f"D{i}"] = default
            enc_lines += [f"        f = {i}", f"        x = get({f['name']!r}, D{i})"]
            inline = _INLINE.get(t) if isinstance(t, str) else None
            if (
                isinstance(t, list)
                and len(t) == 2
                and t[0] == "null"
                and isinstance(t[1], str)
                and t[1] in _INLINE
            ):
                prim = _INLINE[t[1]]
                enc_lines += [
                    "        if x is None:",
                    "            app(0)",
                    "        else:",
                    "            app(2)",
                    *("    " + line for line in prim[0]),
                ]
                dec_lines += [
                    "    b = buf[pos]",
                    "    pos += 1",
                    "    if b == 0:",
                    "        x = None",
                    "    elif b == 2:",
                    *("    " + line for line in prim[1]),
                    "    else:",
                    "        raise AvroDecodeError(f'union branch {b} out of range at {pos}')",
                    f"    v{i} = x",
                ]
            elif inline is not None:
                enc_lines += inline[0]
                dec_lines += [*inline[1], f"    v{i} = x"]
            else:
                enc, dec = self.codec(t)
                ns[f"E{i}"], ns[f"R{i}"] = enc, dec
                enc_lines.append(f"        E{i}(out, x)")
                dec_lines.append(f"    v{i}, pos = R{i}(buf, pos)")
        if not node["fields"]:
            enc_lines.append("        pass")  # a record of no fields encodes as nothing
        enc_lines += [
            "    except (AvroEncodeError, TypeError, OverflowError, ValueError) as err:",
            "        raise _field_error(RNAME, NAMES[f], x, err) from None",
        ]
        body = ", ".join(f"{f['name']!r}: v{i}" for i, f in enumerate(node["fields"]))
        dec_lines.append(f"    return {{{body}}}, pos")
        exec("\n".join(enc_lines) + "\n\n" + "\n".join(dec_lines), ns)  # noqa: S102
        return ns["enc_record"], ns["dec_record"]

    def _enum(self, node: dict[str, Any]) -> tuple[Encoder, Decoder]:
        symbols = tuple(node["symbols"])
        index = {s: i for i, s in enumerate(symbols)}
        ename = node["name"]

        def enc_enum(out: bytearray, v: Any) -> None:
            key = v.name if isinstance(v, Enum) else v
            i = index.get(key) if isinstance(key, str) else None
            if i is None:
                raise AvroEncodeError(f"{v!r} is not a symbol of enum {ename} {list(symbols)}")
            _put_long(out, i)

        def dec_enum(buf: bytes, pos: int) -> tuple[Any, int]:
            i, pos = _get_long(buf, pos)
            if not 0 <= i < len(symbols):
                raise AvroDecodeError(f"enum {ename}: index {i} out of range at offset {pos}")
            return symbols[i], pos

        return enc_enum, dec_enum

    def _fixed(self, node: dict[str, Any]) -> tuple[Encoder, Decoder]:
        size = node["size"]
        fname = node["name"]

        def enc_fixed(out: bytearray, v: Any) -> None:
            if not isinstance(v, bytes | bytearray) or len(v) != size:
                raise AvroEncodeError(f"fixed {fname} takes exactly {size} bytes, got {v!r}")
            out += v

        def dec_fixed(buf: bytes, pos: int) -> tuple[Any, int]:
            end = pos + size
            if end > len(buf):
                raise AvroDecodeError(f"fixed {fname} at offset {pos} runs past the end")
            return buf[pos:end], end

        return enc_fixed, dec_fixed

    def _array(self, t: dict[str, Any]) -> tuple[Encoder, Decoder]:
        enc_item, dec_item = self.codec(t["items"])

        def enc_array(out: bytearray, v: Any) -> None:
            if not isinstance(v, list | tuple):
                raise AvroEncodeError(f"expected a list for array, got {type(v).__name__}")
            if v:
                _put_long(out, len(v))
                for i, item in enumerate(v):
                    try:
                        enc_item(out, item)
                    except AvroEncodeError as err:
                        raise AvroEncodeError(f"[{i}]: {err}") from None
            out.append(0)

        def dec_array(buf: bytes, pos: int) -> tuple[Any, int]:
            items = []
            while True:
                n, pos = _get_long(buf, pos)
                if n == 0:
                    return items, pos
                if n < 0:
                    n = -n
                    _, pos = _get_long(buf, pos)  # the block's size in bytes
                _check_count(n, buf, pos)
                for _ in range(n):
                    item, pos = dec_item(buf, pos)
                    items.append(item)

        return enc_array, dec_array

    def _map(self, t: dict[str, Any]) -> tuple[Encoder, Decoder]:
        enc_value, dec_value = self.codec(t["values"])

        def enc_map(out: bytearray, v: Any) -> None:
            if not isinstance(v, Mapping):
                raise AvroEncodeError(f"expected a dict for map, got {type(v).__name__}")
            if v:
                _put_long(out, len(v))
                for k, item in v.items():
                    if not isinstance(k, str):
                        raise AvroEncodeError(f"map keys must be str, got {k!r}")
                    _enc_string(out, k)
                    try:
                        enc_value(out, item)
                    except AvroEncodeError as err:
                        raise AvroEncodeError(f"[{k!r}]: {err}") from None
            out.append(0)

        def dec_map(buf: bytes, pos: int) -> tuple[Any, int]:
            items: dict[str, Any] = {}
            while True:
                n, pos = _get_long(buf, pos)
                if n == 0:
                    return items, pos
                if n < 0:
                    n = -n
                    _, pos = _get_long(buf, pos)
                _check_count(n, buf, pos)
                for _ in range(n):
                    k, pos = _dec_string(buf, pos)
                    items[k], pos = dec_value(buf, pos)

        return enc_map, dec_map

    def _union(self, branches: list[Any]) -> tuple[Encoder, Decoder]:
        codecs = [self.codec(b) for b in branches]
        decs = tuple(d for _, d in codecs)
        kinds = [self._kind(b) for b in branches]
        if len(branches) == 2 and branches[0] == "null":
            # The common optional field: ["null", T].
            enc_t = codecs[1][0]

            def enc_opt(out: bytearray, v: Any) -> None:
                if v is None:
                    out.append(0)
                else:
                    out.append(2)
                    enc_t(out, v)

            enc: Encoder = enc_opt
        else:
            choose = self._chooser(branches, kinds)
            encs = tuple(e for e, _ in codecs)

            def enc_union(out: bytearray, v: Any) -> None:
                i = choose(v)
                _put_long(out, i)
                encs[i](out, v)

            enc = enc_union

        def dec_union(buf: bytes, pos: int) -> tuple[Any, int]:
            i, pos = _get_long(buf, pos)
            if not 0 <= i < len(decs):
                raise AvroDecodeError(f"union branch {i} out of range at offset {pos}")
            return decs[i](buf, pos)

        return enc, dec_union

    def _kind(self, t: Any) -> str:
        if isinstance(t, str):
            return t if t in PRIMITIVES else self.named[t]["type"]
        return str(t["type"])

    def _chooser(self, branches: list[Any], kinds: list[str]) -> Callable[[Any], int]:
        """Which union branch a Python value goes to (the first that fits)."""

        def first(*wanted: str) -> int | None:
            for i, k in enumerate(kinds):
                if k in wanted:
                    return i
            return None

        records = {
            self.named[b]["name"].rpartition(".")[2]: i
            for i, b in enumerate(branches)
            if isinstance(b, str) and kinds[i] == "record"
        }
        enum_symbols = [
            (i, set(self.named[b]["symbols"]))
            for i, b in enumerate(branches)
            if isinstance(b, str) and kinds[i] == "enum"
        ]

        def choose(v: Any) -> int:
            i: int | None
            if v is None:
                i = first("null")
            elif v is True or v is False:
                i = first("boolean")
            elif isinstance(v, int):
                i = first("long", "int", "double", "float")
            elif isinstance(v, float):
                i = first("double", "float")
            elif isinstance(v, str):
                i = next((j for j, syms in enum_symbols if v in syms), None)
                if i is None:
                    i = first("string", "bytes")
            elif isinstance(v, Enum):
                i = next((j for j, syms in enum_symbols if v.name in syms), None)
            elif isinstance(v, bytes | bytearray):
                i = first("bytes", "fixed", "string")
            elif isinstance(v, list | tuple):
                i = first("array")
            elif isinstance(v, dict):
                i = first("record", "map")
            else:
                i = records.get(type(v).__name__, first("record"))
            if i is None:
                raise AvroEncodeError(f"{v!r} fits no branch of the union {branches}")
            return i

        return choose


#: Items of a zero-byte type (null, an empty record) take no bytes: a block count is believed
#: up to this many of them, so that a corrupt count cannot make a decoder loop for ever.
MAX_BLOCK_ITEMS = 1 << 20


def _check_count(n: int, buf: bytes, pos: int) -> None:
    if n > MAX_BLOCK_ITEMS and n > len(buf) - pos:
        raise AvroDecodeError(f"block of {n} items at offset {pos} is longer than the datum")


def _fields_of(v: Any, rname: str) -> dict[str, Any]:
    """A record given as an object: its attributes (a `Record` keeps its fields there)."""
    try:
        return v.__dict__  # type: ignore[no-any-return]
    except AttributeError:
        raise AvroEncodeError(
            f"record {rname} takes a dict or an object with its fields, got {type(v).__name__}"
        ) from None


class AvroType:
    """A parsed, compiled Avro schema."""

    __slots__ = ("_dec", "_enc", "definition", "named", "root")

    def __init__(self, definition: Any) -> None:
        parser = _Parser()
        self.root = parser.parse(definition, None)
        self.named = parser.named
        #: The definition as given (a dict, list or str), what the registry stores as JSON.
        self.definition = definition
        self._enc, self._dec = _Compiler(parser.named).codec(self.root)

    def encode(self, datum: Any) -> bytes:
        out = bytearray()
        try:
            self._enc(out, datum)
        except AvroEncodeError:
            raise
        except (TypeError, struct.error, OverflowError) as err:
            raise AvroEncodeError(str(err)) from None
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        buf = data if data.__class__ is bytes else bytes(data)
        try:
            value, pos = self._dec(buf, 0)
        except AvroDecodeError:
            raise
        except (IndexError, struct.error):
            raise AvroDecodeError(
                f"datum is truncated ({len(buf)} bytes is too short for the schema)"
            ) from None
        except UnicodeDecodeError as err:
            raise AvroDecodeError(f"a string is not UTF-8: {err}") from None
        if pos != len(buf):
            raise AvroDecodeError(f"{len(buf) - pos} bytes left over after the datum")
        return value

    def field_names(self) -> list[str]:
        """The top-level record's field names ([] if the schema is not a record)."""
        if isinstance(self.root, str) and self.root in self.named:
            node = self.named[self.root]
            if node["type"] == "record":
                return [f["name"] for f in node["fields"]]
        return []

    def record_name(self) -> str | None:
        """The top-level record's short name, or None."""
        if isinstance(self.root, str) and self.root in self.named:
            return self.root.rpartition(".")[2]
        return None


def parse(schema: str | Mapping[str, Any] | list[Any]) -> AvroType:
    """Parse and compile an Avro schema (JSON text or its parsed form)."""
    if isinstance(schema, str) and schema not in PRIMITIVES:
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as err:
            raise AvroSchemaError(f"schema is not JSON: {err}") from None
    return AvroType(schema)

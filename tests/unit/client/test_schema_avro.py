"""The Avro binary codec: the specification's encodings byte for byte, round trips of every
type, and errors that name the field."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.client.schema.avro import (
    AvroDecodeError,
    AvroEncodeError,
    AvroSchemaError,
    parse,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-2, b"\x03"),
        (2, b"\x04"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
    ],  # fmt: skip
)
def test_long_is_a_zigzag_varint_as_the_specification(value: int, encoded: bytes) -> None:
    assert parse('"long"').encode(value) == encoded
    assert parse('"long"').decode(encoded) == value


def test_specification_examples() -> None:
    assert parse('"string"').encode("foo") == b"\x06foo"
    assert parse({"type": "array", "items": "long"}).encode([3, 27]) == b"\x04\x06\x36\x00"
    union = parse(["null", "string"])
    assert union.encode(None) == b"\x00"
    assert union.encode("a") == b"\x02\x02a"
    rec = parse(
        {
            "type": "record",
            "name": "test",
            "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}],
        }  # fmt: skip
    )
    assert rec.encode({"a": 27, "b": "foo"}) == b"\x36\x06foo"


def _random_schema_and_datum(rnd: random.Random) -> tuple[dict, dict]:
    schema = {
        "type": "record",
        "name": "R",
        "namespace": "n",
        "fields": [
            {"name": "i", "type": "int"},
            {"name": "l", "type": "long"},
            {"name": "f", "type": "float"},
            {"name": "d", "type": ["null", "double"]},
            {"name": "s", "type": "string"},
            {"name": "b", "type": "bytes"},
            {"name": "t", "type": "boolean"},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
            {"name": "x", "type": {"type": "fixed", "name": "F", "size": 4}},
            {"name": "a", "type": {"type": "array", "items": ["null", "long", "string"]}},
            {"name": "m", "type": {"type": "map", "values": "E"}},
            {
                "name": "r",
                "type": [
                    "null",
                    {
                        "type": "record",
                        "name": "Node",
                        "fields": [
                            {"name": "v", "type": "int"},
                            {"name": "next", "type": ["null", "Node"]},
                        ],
                    },
                ],
            },
        ],  # fmt: skip
    }
    datum = {
        "i": rnd.randint(-(2**31), 2**31 - 1),
        "l": rnd.randint(-(2**63), 2**63 - 1),
        "f": float(rnd.randint(-1000, 1000)) / 4,  # exact in 32 bits
        "d": rnd.choice([None, rnd.uniform(-1e300, 1e300)]),
        "s": "".join(chr(rnd.randint(1, 0xD7FF)) for _ in range(rnd.randint(0, 30))),
        "b": rnd.randbytes(rnd.randint(0, 30)),
        "t": rnd.random() < 0.5,
        "e": rnd.choice("AB"),
        "x": rnd.randbytes(4),
        "a": [rnd.choice([None, rnd.randint(-5, 5), "z"]) for _ in range(rnd.randint(0, 6))],
        "m": {str(k): rnd.choice("AB") for k in range(rnd.randint(0, 4))},
        "r": rnd.choice([None, {"v": 1, "next": {"v": 2, "next": None}}]),
    }
    return schema, datum


def test_round_trip_of_every_type() -> None:
    rnd = random.Random(7)
    schema, _ = _random_schema_and_datum(rnd)
    codec = parse(schema)
    for _ in range(300):
        _, datum = _random_schema_and_datum(rnd)
        assert codec.decode(codec.encode(datum)) == datum


def test_blocks_with_byte_sizes_decode() -> None:
    # A writer may give a negative block count followed by the block's size in bytes.
    codec = parse({"type": "array", "items": "int"})
    assert codec.decode(b"\x03\x04\x02\x04\x00") == [1, 2]


def test_encode_errors_name_the_field() -> None:
    codec = parse(
        {
            "type": "record",
            "name": "User",
            "fields": [
                {"name": "age", "type": "int"},
                {
                    "name": "inner",
                    "type": {
                        "type": "record",
                        "name": "In",
                        "fields": [{"name": "x", "type": "string"}],
                    },
                },
            ],
        }  # fmt: skip
    )
    with pytest.raises(AvroEncodeError, match=r"User\.age: .*int"):
        codec.encode({"age": "old", "inner": {"x": "a"}})
    with pytest.raises(AvroEncodeError, match=r"User\.age: .*int"):
        codec.encode({"age": 2**31, "inner": {"x": "a"}})
    with pytest.raises(AvroEncodeError, match=r"User\.inner: In\.x: missing"):
        codec.encode({"age": 1, "inner": {}})


def test_a_record_of_no_fields_is_no_bytes() -> None:
    codec = parse({"type": "record", "name": "Empty", "fields": []})
    assert codec.encode({}) == b""
    assert codec.decode(b"") == {}


def test_optional_fields_left_out_are_null() -> None:
    codec = parse(
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "int"]}]}
    )
    assert codec.encode({}) == b"\x00"


def test_decode_errors() -> None:
    codec = parse({"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]})
    with pytest.raises(AvroDecodeError, match="past the end"):
        codec.decode(b"\x10ab")
    with pytest.raises(AvroDecodeError, match="left over"):
        codec.decode(b"\x02ab")
    with pytest.raises(AvroDecodeError, match="truncated"):
        codec.decode(b"")
    with pytest.raises(AvroDecodeError, match="branch"):
        parse(["null", "int"]).decode(b"\x08")


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        {"type": "record", "name": "R"},
        {"type": "enum", "name": "E", "symbols": [1]},
        {"type": "nope"},
        "Unknown",
        [["null"]],
    ],  # fmt: skip
)
def test_bad_schemas_are_refused(bad: object) -> None:
    with pytest.raises(AvroSchemaError):
        parse(bad)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_a_decode_error(data: bytes) -> None:
    """Payloads come from the network: whatever they hold, a decoder returns or raises
    `AvroDecodeError`, and never loops for ever on a corrupt block count."""
    codec = parse(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "a", "type": ["null", "long"]},
                {"name": "s", "type": "string"},
                {"name": "n", "type": {"type": "array", "items": "null"}},
                {"name": "m", "type": {"type": "map", "values": ["null", "double"]}},
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X"]}},
                {"name": "b", "type": "boolean"},
                {"name": "f", "type": "float"},
            ],
        }  # fmt: skip
    )
    with contextlib.suppress(AvroDecodeError):
        codec.decode(data)

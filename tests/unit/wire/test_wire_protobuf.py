"""Protobuf primitives and the table-driven codec: vectors, properties, unknown fields, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulsarload.wire.enums import ServerError
from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import KeyValue, MessageIdData
from pulsarload.wire.protobuf import (
    INT32,
    STRING,
    UINT,
    Message,
    decode_varint,
    encode_length_delimited,
    encode_tag,
    encode_varint,
    iter_fields,
    optional,
    protobuf_message,
    repeated,
    required,
    skip_field,
    to_int32,
    to_int64,
)


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16383, "ff7f"),
        (16384, "808001"),
        (2**32 - 1, "ffffffff0f"),
        (2**63 - 1, "ffffffffffffffff7f"),
        (2**64 - 1, "ffffffffffffffffff01"),
        (-1, "ffffffffffffffffff01"),  # int32/int64 -1 is always 10 bytes
        (-2, "feffffffffffffffff01"),
        (-(2**63), "80808080808080808001"),
    ],
)
def test_varint_vectors(value: int, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_varint(value) == data
    decoded, pos = decode_varint(data)
    assert pos == len(data)
    assert decoded == (value if value >= 0 else value + 2**64)
    if value < 0:
        assert to_int64(decoded) == value


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_roundtrip_unsigned(value: int) -> None:
    data = encode_varint(value)
    assert decode_varint(data + b"\x99") == (value, len(data))
    assert len(data) == max(1, (value.bit_length() + 6) // 7)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_varint_roundtrip_signed(value: int) -> None:
    raw, _ = decode_varint(encode_varint(value))
    assert to_int64(raw) == value
    if -(2**31) <= value < 2**31:
        assert to_int32(raw) == value


def test_varint_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        encode_varint(2**64)
    with pytest.raises(ValueError):
        encode_varint(-(2**63) - 1)


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "",  # nothing
        "80",  # continuation bit, then the end
        "ffffffff",
        "ffffffffffffffffff",  # 9 continuation bytes
        "ffffffffffffffffffff01",  # 11 bytes
        "ffffffffffffffffff7f",  # 10 bytes but more than 64 bits
    ],
)
def test_bad_varints_raise_decode_error(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        decode_varint(bytes.fromhex(hex_bytes))


def test_to_int32_truncates_like_proto() -> None:
    assert to_int32(2**64 - 1) == -1
    assert to_int32(0xFFFFFFFF) == -1
    assert to_int32(0x7FFFFFFF) == 2**31 - 1


def test_tags_and_length_delimited() -> None:
    assert encode_tag(1, 0) == b"\x08"
    assert encode_tag(2, 2) == b"\x12"
    assert encode_tag(16, 2) == b"\x82\x01"
    assert encode_tag(38, 2) == b"\xb2\x02"
    assert encode_length_delimited(1, b"ab") == b"\x0a\x02ab"


@protobuf_message
class _Sample(Message):
    """A test message covering each kind."""

    name: str = required(1, STRING)
    count: int | None = optional(2, UINT)
    delta: int | None = optional(3, INT32)
    tags: tuple[str, ...] = repeated(4, STRING)
    numbers: tuple[int, ...] = repeated(5, INT32)
    error: ServerError | None = optional(6, ServerError)
    kv: tuple[KeyValue, ...] = repeated(7, KeyValue)


def test_codec_known_bytes() -> None:
    msg = _Sample(
        name="x",
        count=2,
        delta=-1,
        tags=("a", "b"),
        numbers=(1, -1),
        error=ServerError.TopicNotFound,
        kv=(KeyValue(key="k", value="v"),),
    )
    expected = bytes.fromhex(
        "0a0178"  # 1 name "x"
        "1002"  # 2 count 2
        "18ffffffffffffffffff01"  # 3 delta -1 (10 bytes)
        "220161"
        "220162"  # 4 tags, unpacked
        "2801"
        "28ffffffffffffffffff01"  # 5 numbers, unpacked
        "300b"  # 6 error 11
        "3a060a016b120176"  # 7 KeyValue{k, v}
    )
    assert msg.encode() == expected
    assert _Sample.decode(expected) == msg


def test_optional_none_is_not_emitted_and_zero_is() -> None:
    assert _Sample(name="").encode() == b"\x0a\x00"
    assert _Sample(name="", count=0).encode() == b"\x0a\x00\x10\x00"
    assert _Sample.decode(b"\x0a\x00").count is None


def test_repeated_key_value_accepts_a_dict() -> None:
    msg = _Sample(name="x", kv={"k": "v"})  # type: ignore[arg-type]
    assert msg.encode() == bytes.fromhex("0a01783a060a016b120176")


def test_packed_repeated_is_accepted() -> None:
    data = bytes.fromhex("0a01782a0c01ffffffffffffffffff0105")
    assert _Sample.decode(data).numbers == (1, -1, 5)


def test_unknown_enum_value_is_kept_as_int() -> None:
    msg = _Sample.decode(bytes.fromhex("0a017830e807"))
    assert msg.error == 1000
    assert not isinstance(msg.error, ServerError)


@pytest.mark.parametrize(
    "unknown",
    [
        "4801",  # field 9 varint
        "490102030405060708",  # field 9 fixed64
        "4a03616263",  # field 9 length-delimited
        "4d01020304",  # field 9 fixed32
        "4b08014c",  # field 9 group with a varint inside
        "4b530801544c",  # nested groups 9 { 10 { 1 } }
        "1201ff",  # known number 2 with the wrong wire type: skipped as unknown
    ],
)
def test_unknown_fields_of_any_wire_type_are_skipped(unknown: str) -> None:
    data = bytes.fromhex("0a0178" + unknown + "1005")
    msg = _Sample.decode(data)
    assert msg.name == "x"
    assert msg.count == 5


@pytest.mark.parametrize(
    ("hex_bytes", "match"),
    [
        ("1005", "required field name is missing"),
        ("0a05", "runs past the end"),
        ("0a017810", "truncated"),
        ("0a01784b0801", "not closed"),  # group never closed
        ("0a01784b4c4c", "invalid wire type|end"),  # stray end-group
        ("0a01784b54", "closed by end-group of field 10"),
        ("0a01784f", "invalid wire type 7"),
        ("0a017849010203", "past the end"),  # fixed64 cut short
        ("0a02c328", "invalid UTF-8"),
        ("0a01782a02ff", "_Sample.numbers"),  # packed varint overrunning its length
    ],
)
def test_malformed_messages_raise_decode_error_naming_the_field(hex_bytes: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        _Sample.decode(bytes.fromhex(hex_bytes))


def test_decode_errors_name_the_nested_message() -> None:
    # KeyValue inside _Sample with its required value missing
    data = bytes.fromhex("0a01783a030a016b")
    with pytest.raises(DecodeError, match=r"_Sample\.kv: KeyValue: required field value"):
        _Sample.decode(data)


def test_deeply_nested_groups_do_not_overflow_the_stack() -> None:
    depth = 20_000
    data = b"\x0a\x01x" + b"\x4b" * depth + b"\x4c" * depth
    assert _Sample.decode(data).name == "x"
    with pytest.raises(DecodeError):
        _Sample.decode(b"\x0a\x01x" + b"\x4b" * depth)


def test_required_none_is_a_value_error_on_encode() -> None:
    with pytest.raises(ValueError, match="_Sample.name is required"):
        _Sample(name=None).encode()  # type: ignore[arg-type]


def test_decode_accepts_memoryview_and_bytearray() -> None:
    data = _Sample(name="x", tags=("t",)).encode()
    assert _Sample.decode(memoryview(data)) == _Sample.decode(bytearray(data))


def test_skip_field_and_iter_fields() -> None:
    data = bytes.fromhex("0801120268691d01020304")
    assert list((n, w) for n, w, _ in iter_fields(data)) == [(1, 0), (2, 2), (3, 5)]
    assert skip_field(data, 1, 0, 1, len(data)) == 2
    with pytest.raises(DecodeError):
        skip_field(b"\x05", 0, 2, 1, 1)


def test_message_id_data_ledger_minus_one() -> None:
    data = bytes.fromhex("08ffffffffffffffffff0110ffffffffffffffffff01")
    assert MessageIdData.decode(data) == MessageIdData(ledgerId=-1, entryId=-1)
    assert MessageIdData(ledgerId=-1, entryId=-1).encode() == data


def test_undeclared_field_is_rejected_at_class_creation() -> None:
    import dataclasses

    with pytest.raises(TypeError, match="no protobuf field declaration"):

        @protobuf_message
        class _Bad(Message):
            x: int = dataclasses.field(default=0)

"""The intended-send-time stamp: its two forms, and values that are not stamps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pulsarload.engines.stamp import STAMP_KEY, encode_stamp, find_stamp, parse_stamp
from pulsarload.wire.messages import key_values


@given(st.integers(0, 2**63), st.integers(0, 10**12))
def test_stamps_round_trip(first_us: int, step_ns: int) -> None:
    assert parse_stamp(encode_stamp(first_us, step_ns)) == (first_us, step_ns)


def test_the_two_forms_are_plain_decimal_text() -> None:
    assert encode_stamp(1_764_000_000_123_456) == "1764000000123456"
    assert encode_stamp(1_764_000_000_123_456, 333_333) == "1764000000123456+333333"


def test_other_values_are_not_stamps() -> None:
    for value in ("", "abc", "12+x", "+5", "1.5"):
        assert parse_stamp(value) is None, value


def test_found_among_other_properties_or_not_at_all() -> None:
    assert find_stamp(key_values({"a": "b", STAMP_KEY: "42+7"})) == (42, 7)
    assert find_stamp(key_values({"a": "b"})) is None
    assert find_stamp(()) is None

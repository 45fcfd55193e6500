"""Records generated from a schema: they decode, they are near --size, they repeat with a
seed, and the verification stamp survives encoding (Avro, JSON, string)."""

from __future__ import annotations

import json

import pytest

from pulsarload.client.schema import parse_schema_spec
from pulsarload.errors import ConfigError
from pulsarload.load.schema_payloads import SchemaPayloads, StampReader

ORDER = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "ok", "type": "boolean"},
        {"name": "amount", "type": ["null", "double"], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "S", "symbols": ["A", "B"]}},
        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "L",
            "fields": [{"name": "sku", "type": "string"}, {"name": "n", "type": "int"}]}}},
        {"name": "meta", "type": {"type": "map", "values": "long"}},
        {"name": "blob", "type": "bytes"},
        {"name": "id2", "type": {"type": "fixed", "name": "F", "size": 8}},
    ],
}  # fmt: skip


@pytest.mark.parametrize("kind", ["avro", "json"])
@pytest.mark.parametrize("size", [1000, 20_000])
def test_records_decode_and_fit_the_size(kind: str, size: int) -> None:
    spec = f"{kind}:{json.dumps(ORDER)}"
    payloads = SchemaPayloads(parse_schema_spec(spec), size, seed=3, verify_producer_id=9)
    reader = StampReader(parse_schema_spec(spec))
    batch = payloads.next_batch(40)
    for seq, data in enumerate(batch):
        value = reader.decode(data)
        assert set(value) == {f["name"] for f in ORDER["fields"]}
        assert reader.stamp(value) == (9, seq)
        assert abs(len(data) - size) <= max(8, size // 50)
    assert payloads.sequence == 40


def test_a_size_below_the_record_gives_the_smallest_records() -> None:
    spec = f"avro:{json.dumps(ORDER)}"
    big = SchemaPayloads(parse_schema_spec(spec), 1000, seed=3).next_batch(16)
    small = SchemaPayloads(parse_schema_spec(spec), 1, seed=3).next_batch(16)
    reader = StampReader(parse_schema_spec(spec))
    assert all(reader.decode(d)["blob"] == b"" for d in small)
    assert all(len(s) < len(b) for s, b in zip(small, big, strict=True))


def test_the_seed_repeats_a_run() -> None:
    spec = f"avro:{json.dumps(ORDER)}"
    a = SchemaPayloads(parse_schema_spec(spec), 500, seed=1).next_batch(20)
    b = SchemaPayloads(parse_schema_spec(spec), 500, seed=1).next_batch(20)
    c = SchemaPayloads(parse_schema_spec(spec), 500, seed=2).next_batch(20)
    assert a == b and a != c


def test_string_schema_carries_the_stamp() -> None:
    payloads = SchemaPayloads(parse_schema_spec("string"), 64, verify_producer_id=1)
    reader = StampReader(parse_schema_spec("string"))
    data = payloads.next_batch(2)
    assert [len(d) for d in data] == [64, 64]
    assert [reader.stamp(reader.decode(d)) for d in data] == [(1, 0), (1, 1)]


def test_verify_needs_a_text_field() -> None:
    numbers = {"type": "record", "name": "N", "fields": [{"name": "x", "type": "int"}]}
    schema = parse_schema_spec(f"avro:{json.dumps(numbers)}")
    with pytest.raises(ConfigError, match="string or bytes field"):
        SchemaPayloads(schema, 100, verify_producer_id=1)
    assert len(SchemaPayloads(schema, 100).next_batch(3)) == 3


@pytest.mark.parametrize(
    ("spec", "says"),
    [("avro:/no/such.avsc", "cannot read"), ("avro:{oops", "not JSON"),
     ('avro:{"type": "record", "name": "R"}', "not a valid Avro schema"), ("xml:x", "avro:FILE")],
)  # fmt: skip
def test_bad_specs_say_why(spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_schema_spec(spec)

"""`--schema key-value:KEY,VALUE[,separated]`: the spec (inline definitions with commas
included), records that fit both halves, the stamp in the value, INLINE payloads that carry
the key and SEPARATED keys handed out apart, and the settings that cannot work refused."""

from __future__ import annotations

import base64
import json

import pytest

from pulsarload.client.schema import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    KeyValueEncodingType,
    KeyValueSchema,
    StringSchema,
    parse_schema_spec,
)
from pulsarload.config import ProduceSettings, validate_settings
from pulsarload.errors import ConfigError
from pulsarload.load.schema_payloads import SchemaPayloads, StampReader

KEY = {"type": "record", "name": "K", "fields": [
    {"name": "region", "type": "string"}, {"name": "n", "type": "int"}]}  # fmt: skip
VALUE = {"type": "record", "name": "V", "fields": [
    {"name": "id", "type": "long"}, {"name": "body", "type": "string"},
    {"name": "tags", "type": {"type": "array", "items": "string"}}]}  # fmt: skip


def _spec(encoding: str = "") -> str:
    tail = f",{encoding}" if encoding else ""
    return f"key-value:avro:{json.dumps(KEY)},json:{json.dumps(VALUE)}{tail}"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("", KeyValueEncodingType.INLINE),
        ("inline", KeyValueEncodingType.INLINE),
        ("separated", KeyValueEncodingType.SEPARATED),
    ],
)
def test_the_spec_splits_at_the_top_level_comma(
    encoding: str, expected: KeyValueEncodingType
) -> None:
    schema = parse_schema_spec(_spec(encoding))
    assert isinstance(schema, KeyValueSchema) and schema.encoding is expected
    assert isinstance(schema.key_schema, AvroSchema)
    assert isinstance(schema.value_schema, JsonSchema)
    simple = parse_schema_spec("key-value:string,bytes,separated")
    assert isinstance(simple, KeyValueSchema)
    assert isinstance(simple.key_schema, StringSchema)
    assert isinstance(simple.value_schema, BytesSchema)


def test_a_definition_file_can_be_a_half(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "value.avsc"
    path.write_text(json.dumps(VALUE))
    schema = parse_schema_spec(f"key-value:string,avro:{path},separated")
    assert isinstance(schema, KeyValueSchema) and schema.separated
    assert schema.value_schema.schema_info().schema() == json.dumps(VALUE, separators=(",", ":"))


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("key-value:string", "KEY,VALUE"),
        ("key-value:string,string,sideways", "KEY,VALUE"),
        ("key-value:,string", "KEY,VALUE"),
        ("key-value:string,key-value:string,string", "cannot be a key-value"),
        ("key-value:string,avro:{nope", "not JSON"),
    ],
)
def test_bad_key_value_specs_say_why(spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_schema_spec(spec)


@pytest.mark.parametrize("encoding", ["inline", "separated"])
def test_records_fit_both_halves_and_the_value_carries_the_stamp(encoding: str) -> None:
    schema = parse_schema_spec(_spec(encoding))
    assert isinstance(schema, KeyValueSchema)
    payloads = SchemaPayloads(schema, 600, seed=4, verify_producer_id=5)
    reader = StampReader(parse_schema_spec(_spec(encoding)))
    assert payloads.separated is schema.separated and reader.needs_key is schema.separated
    batch = payloads.next_batch(30)
    keys = payloads.last_keys
    for seq, data in enumerate(batch):
        if schema.separated:
            assert keys is not None
            kb = keys[seq]
            key_value = schema.decode(data, kb)
            value = reader.decode(data, base64.b64encode(kb).decode())
        else:
            assert keys is None
            key_value = schema.decode(data)
            value = reader.decode(data)
        assert set(key_value.key) == {"region", "n"}
        assert set(key_value.value) == {"id", "body", "tags"} and value == key_value.value
        assert reader.stamp(value) == (5, seq)
        # The payload (INLINE: key and value; SEPARATED: the value) is near --size.
        assert abs(len(data) - 600) <= 600 // 40
    distinct = {json.dumps(schema.decode(d, k).key if keys else schema.decode(d).key)
                for d, k in zip(batch, keys or batch, strict=True)}  # fmt: skip
    assert len(distinct) > 1


def test_the_same_seed_repeats_keys_and_values() -> None:
    def run(seed: int) -> tuple[list[bytes], list[bytes] | None]:
        p = SchemaPayloads(parse_schema_spec(_spec("separated")), 300, seed=seed)
        return p.next_batch(10), p.last_keys

    assert run(1) == run(1) and run(1) != run(2)


def test_a_key_that_does_not_decode_is_an_error_the_worker_counts() -> None:
    reader = StampReader(parse_schema_spec(_spec("separated")))
    with pytest.raises(ValueError):
        reader.decode(b"{}", "!!not base64!!")


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="official client has no KeyValueSchema"):
        validate_settings(ProduceSettings(schema=_spec(), engine="official"))
    with pytest.raises(ConfigError, match="drop --key-mode"):
        validate_settings(ProduceSettings(schema=_spec("separated"), key_mode="sequential"))
    with pytest.raises(ConfigError, match="value must be avro:, json: or string"):
        validate_settings(ProduceSettings(schema="key-value:string,bytes"))
    validate_settings(ProduceSettings(schema=_spec("separated"), verify=True))

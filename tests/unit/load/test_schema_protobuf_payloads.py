"""Protobuf messages generated for `--schema protobuf-native:FILE:pkg.Message`: they decode
field by field, fill every kind of field, are near --size, repeat with a seed, carry the
verification stamp; and the settings refuse what cannot work, in one line before any load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from pulsarload.client.schema import ProtobufNativeSchema, parse_schema_spec
from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.errors import ConfigError
from pulsarload.load.schema_payloads import SchemaPayloads, StampReader, decodes_records
from support.proto_descriptors import order_files, write_descriptor_set


@pytest.fixture
def spec(tmp_path: Path) -> str:
    return f"protobuf-native:{write_descriptor_set(tmp_path / 'order.desc')}:shop.Order"


@pytest.mark.parametrize("size", [400, 1000, 20_000])
def test_messages_decode_fit_the_size_and_carry_the_stamp(spec: str, size: int) -> None:
    schema = parse_schema_spec(spec)
    assert isinstance(schema, ProtobufNativeSchema) and decodes_records(schema)
    payloads = SchemaPayloads(schema, size, seed=5, verify_producer_id=4)
    reader = StampReader(parse_schema_spec(spec))
    batch = payloads.next_batch(48)
    for seq, data in enumerate(batch):
        value = reader.decode(data)
        assert set(value) == set(schema.field_names())
        assert reader.stamp(value) == (4, seq)
        assert value["customer"].startswith("PLv1")
        assert abs(len(data) - size) <= 2, (len(data), size)
    assert payloads.encoded == 48 and payloads.encode_ns > 0
    assert reader.decoded == 48


def test_a_small_size_is_met_whatever_the_seed(spec: str) -> None:
    """Nested arrays and maps make some random records bigger than 300 bytes before their
    filler: those are drawn again, so no payload is a stamp's length over --size."""
    schema = parse_schema_spec(spec)
    for seed in range(40):
        payloads = SchemaPayloads(schema, 300, seed=seed, verify_producer_id=1)
        sizes = [len(data) for data in payloads.next_batch(16)]
        assert all(abs(n - 300) <= 2 for n in sizes), (seed, sizes)


def test_every_kind_of_field_gets_values(spec: str) -> None:
    schema = parse_schema_spec(spec)
    payloads = SchemaPayloads(schema, 300, seed=1)
    values = [schema.decode(data) for data in payloads.next_batch(64)]  # type: ignore[union-attr]
    assert {v["status"] for v in values} <= {"NEW", "PAID", "SHIPPED"}
    assert len({v["status"] for v in values}) > 1
    assert any(v["lines"] and v["lines"][0]["sku"] for v in values)
    assert any(v["tags"] for v in values) and any(v["scores"] for v in values)
    assert any(v["ship"] is not None for v in values)
    assert any(v["priority"] is not None for v in values)
    assert any(v["blob"] for v in values) and any(v["count"] for v in values)
    # One member of the oneof each time, both members over the pool.
    assert all((v["card"] is None) != (v["cash"] is None) for v in values)
    assert {v["card"] is None for v in values} == {True, False}
    # The message that holds itself stops at a depth.
    depth, node = 0, values[0]["chain"]
    while node is not None:
        depth, node = depth + 1, node["next"]
    assert 0 < depth <= 4


def test_the_seed_repeats_a_run(spec: str) -> None:
    def run(seed: int) -> list[bytes]:
        return SchemaPayloads(parse_schema_spec(spec), 500, seed=seed).next_batch(20)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_size_below_the_message_gives_the_smallest_messages(spec: str) -> None:
    schema = parse_schema_spec(spec)
    batch = SchemaPayloads(schema, 10, seed=2).next_batch(16)
    assert all(schema.decode(b)["customer"] == "" for b in batch)  # type: ignore[union-attr]


def test_verify_needs_a_text_field(tmp_path: Path) -> None:
    files = order_files(customer_type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32)
    files[0].message_type[0].field.remove(
        next(f for f in files[0].message_type[0].field if f.name == "blob")
    )
    for f in files[0].message_type[0].field:
        if f.name == "card":
            f.type = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
    path = write_descriptor_set(tmp_path / "numbers.desc", files)
    spec = f"protobuf-native:{path}:shop.Order"
    with pytest.raises(ConfigError, match="needs a string or bytes field") as err:
        resolve_settings(ProduceSettings, {"schema": spec, "verify": True}, environ={})
    assert "\n" not in str(err.value)
    # Without --verify the same schema runs.
    resolve_settings(ProduceSettings, {"schema": spec}, environ={})


@pytest.mark.parametrize("cls", [ProduceSettings, ConsumeSettings])
def test_the_official_engine_is_refused(spec: str, cls: type) -> None:
    with pytest.raises(ConfigError, match="no PROTOBUF_NATIVE schema; use --engine native"):
        resolve_settings(cls, {"schema": spec, "engine": "official"}, environ={})


def test_a_bad_spec_stops_the_command_line_in_one_line(tmp_path: Path) -> None:
    path = write_descriptor_set(tmp_path / "order.desc")
    for spec, says in [
        (f"protobuf-native:{path}:shop.Missing", "no message 'shop.Missing'"),
        (f"protobuf-native:{path}", "use protobuf-native:FILE:pkg.Message"),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "pulsarload", "produce", "t", "--headless", "--schema", spec,
             "-u", "pulsar://127.0.0.1:9", "-m", "1"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode != 0
        lines = [x for x in (run.stdout + run.stderr).splitlines() if x.strip()]
        assert len(lines) == 1 and says in lines[0], run.stdout + run.stderr
        assert "Traceback" not in run.stderr


def test_the_title_bar_names_the_root_message(spec: str) -> None:
    from pulsarload.ui.view import schema_label

    assert schema_label(spec) == " · protobuf-native shop.Order"


def test_generated_messages_are_the_protobuf_packages_bytes(spec: str) -> None:
    """Over every kind of generated value, our codec writes what the protobuf package writes
    for the same message, and reads back what the package reads."""
    from pulsarload.client.schema.protobuf_native import message_to_dict

    schema = parse_schema_spec(spec)
    assert isinstance(schema, ProtobufNativeSchema)
    for seed in range(4):
        for data in SchemaPayloads(schema, 200, seed=seed).next_batch(32):
            msg = schema.message_class.FromString(data)
            assert msg.SerializeToString() == data
            assert schema.decode(data) == message_to_dict(msg)

"""PROTOBUF_NATIVE: messages through a descriptor set or a generated class and back, the
registry entry's JSON as the Java client writes it, AUTO_CONSUME, and the refusals."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from pulsarload.client.message import Message
from pulsarload.client.schema import (
    AutoConsumeSchema,
    ProtobufNativeSchema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
    SchemaType,
    parse_schema_spec,
    registry_type_name,
    schema_for_info,
)
from pulsarload.client.schema.protobuf_native import ProtobufNativeSchemaError
from pulsarload.client.schema.spec import first_text_field
from pulsarload.errors import ConfigError
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata
from support.proto_descriptors import descriptor_set, order_files, write_descriptor_set

ORDER: dict[str, Any] = {
    "id": -(1 << 40),
    "customer": "ada",
    "amount": 12.5,
    "paid": True,
    "count": 7,
    "delta": -3,
    "code": 4_000_000_000,
    "blob": b"\x00\xff",
    "status": "SHIPPED",
    "lines": [{"sku": "a-1", "qty": 2, "price": 1.5}, {"sku": "b-2", "qty": -1, "price": 0.0}],
    "tags": {"gift": "yes", "rush": ""},
    "ship": {"sku": "box", "qty": 1, "price": 0.25},
    "card": "visa",
    "cash": None,
    "priority": 0,
    "scores": [0.5, -2.0],
    "chain": {"label": "a", "next": {"label": "b", "next": None}},
}


@pytest.fixture
def schema() -> ProtobufNativeSchema:
    return ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.Order")


def test_a_record_goes_through_and_back_field_by_field(schema: ProtobufNativeSchema) -> None:
    payload = schema.encode(ORDER)
    assert schema.decode(payload) == ORDER
    # The payload is the serialized message itself: the message class reads it as is.
    msg = schema.message_class.FromString(payload)
    assert (
        msg.lines[1].sku == "b-2" and msg.tags["gift"] == "yes" and msg.WhichOneof("pay") == "card"
    )
    assert msg.HasField("priority") and not msg.HasField("cash")


def test_unset_fields_decode_as_defaults_or_none(schema: ProtobufNativeSchema) -> None:
    value = schema.decode(schema.encode({"id": 1}))
    assert value["id"] == 1 and value["customer"] == "" and value["status"] == "NEW"
    assert value["lines"] == [] and value["tags"] == {} and value["scores"] == []
    # Fields with presence (messages, oneof members, proto3 optional) say None when unset.
    assert value["ship"] is None and value["card"] is None and value["priority"] is None


def test_enum_numbers_and_unknown_numbers(schema: ProtobufNativeSchema) -> None:
    assert schema.decode(schema.encode({"status": 1}))["status"] == "PAID"
    # proto3 enums are open: a number the reader does not know stays a number.
    assert schema.decode(schema.encode({"status": 9}))["status"] == 9


def test_the_registry_entry_is_the_java_clients_json(schema: ProtobufNativeSchema) -> None:
    info = schema.schema_info()
    assert info.schema_type() == SchemaType.ProtobufNative == 20
    assert registry_type_name(info.schema_type()) == "PROTOBUF_NATIVE"
    assert info.to_wire().type == 20
    doc = json.loads(info.schema_bytes())
    assert list(doc) == ["fileDescriptorSet", "rootMessageTypeName", "rootFileDescriptorName"]
    assert doc["rootMessageTypeName"] == "shop.Order"
    assert doc["rootFileDescriptorName"] == "order.proto"
    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(doc["fileDescriptorSet"]))
    assert sorted(f.name for f in fds.file) == ["common.proto", "order.proto"]
    assert fds == descriptor_pb2.FileDescriptorSet(file=order_files())
    assert b" " not in info.schema_bytes()  # compact, as Jackson writes it
    assert info.admin_definition() == info.schema()


def test_a_nested_root_message_names_its_file(schema: ProtobufNativeSchema) -> None:
    node = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), ".shop.Order.Node")
    doc = json.loads(node.schema_info().schema_bytes())
    assert doc["rootMessageTypeName"] == "shop.Order.Node"
    assert doc["rootFileDescriptorName"] == "order.proto"
    assert node.decode(node.encode({"label": "x"})) == {"label": "x", "next": None}


def test_registry_data_makes_the_same_schema(schema: ProtobufNativeSchema) -> None:
    again = ProtobufNativeSchema.from_schema_data(schema.schema_info().schema_bytes())
    payload = schema.encode(ORDER)
    assert again.decode(payload) == ORDER
    assert again.schema_info().schema_bytes() == schema.schema_info().schema_bytes()
    from_info = schema_for_info(schema.schema_info())
    assert isinstance(from_info, ProtobufNativeSchema) and from_info.decode(payload) == ORDER


def test_a_generated_class_gives_and_takes_its_instances() -> None:
    cls = descriptor_pb2.FileDescriptorProto
    schema = ProtobufNativeSchema(cls)
    doc = json.loads(schema.schema_info().schema_bytes())
    assert doc["rootMessageTypeName"] == "google.protobuf.FileDescriptorProto"
    assert doc["rootFileDescriptorName"] == "google/protobuf/descriptor.proto"
    value = cls(name="x.proto", package="p")
    decoded = schema.decode(schema.encode(value))
    assert isinstance(decoded, cls) and decoded == value
    # A dict is taken too; another message type is not.
    assert schema.decode(schema.encode({"name": "y.proto"})).name == "y.proto"
    with pytest.raises(SchemaEncodeError, match="expected a google.protobuf.FileDescriptorProto"):
        schema.encode(descriptor_pb2.FileDescriptorSet())
    with pytest.raises(TypeError, match="protobuf message class"):
        ProtobufNativeSchema(dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"nope": 1}, "has no field 'nope'"),
        ({"status": "LOST"}, "'LOST' is not a symbol of shop.common.Status"),
        ({"id": "one"}, "field id: expected an int, got str"),
        ({"count": -1}, "field count: -1 is out of range"),
        ({"lines": [{"qty": "x"}]}, "field lines.qty: expected an int"),
        ({"ship": {"bad": 1}}, "field ship: shop.common.Line has no field 'bad'"),
        ({"tags": ["x"]}, "field tags: expected a dict"),
        (["not", "a", "dict"], "expected a shop.Order message or a dict"),
    ],
)
def test_a_value_that_does_not_fit_names_the_field(
    schema: ProtobufNativeSchema, value: Any, fragment: str
) -> None:
    with pytest.raises(SchemaEncodeError, match="ProtobufNativeSchema") as err:
        schema.encode(value)
    assert fragment in str(err.value)


def test_our_codec_and_the_protobuf_package_read_each_other(
    schema: ProtobufNativeSchema,
) -> None:
    from pulsarload.client.schema.protobuf_native import message_to_dict

    cls = schema.message_class
    ours = schema.encode(ORDER)
    theirs = cls.FromString(ours)
    assert message_to_dict(theirs) == ORDER
    # Field-number order, packed repeated scalars, proto3 defaults left out: the same bytes.
    assert theirs.SerializeToString() == ours
    for value in (
        {},
        {"id": -1, "delta": -(1 << 62), "code": 0, "status": "NEW", "amount": -0.0},
        {"scores": [], "tags": {"": ""}, "lines": [{}], "cash": False, "priority": 0},
    ):
        ours = schema.encode(value)
        msg = cls.FromString(ours)
        assert schema.decode(msg.SerializeToString()) == message_to_dict(msg)
        assert msg.SerializeToString() == ours


def test_unpacked_repeated_scalars_and_unknown_fields_are_read(
    schema: ProtobufNativeSchema,
) -> None:
    # scores (field 16, double) written unpacked, then an unknown varint field 99.
    unpacked = b"".join(b"\x81\x01" + struct.pack("<d", x) for x in (1.5, -2.0))
    unknown = b"\x98\x06\x07"
    value = schema.decode(unpacked + unknown)
    assert value["scores"] == [1.5, -2.0]


def test_group_fields_go_through_the_protobuf_package() -> None:
    f = descriptor_pb2.FieldDescriptorProto
    legacy = descriptor_pb2.FileDescriptorProto(name="legacy.proto", package="old")
    msg = legacy.message_type.add(name="Msg")
    msg.field.add(name="id", number=1, type=f.TYPE_INT32, label=f.LABEL_REQUIRED)
    group = msg.nested_type.add(name="Item")
    group.field.add(name="n", number=3, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL)
    msg.field.add(name="item", number=2, type=f.TYPE_GROUP, type_name=".old.Msg.Item",
                  label=f.LABEL_REPEATED)  # fmt: skip
    schema = ProtobufNativeSchema.from_descriptor_set(descriptor_set([legacy]), "old.Msg")
    value = {"id": 3, "item": [{"n": 1}, {"n": 2}]}
    assert schema.decode(schema.encode(value)) == value
    with pytest.raises(SchemaEncodeError, match="ProtobufNativeSchema"):
        schema.encode({"item": []})  # `id` is required


def test_a_missing_required_field_is_refused() -> None:
    f = descriptor_pb2.FieldDescriptorProto
    p2 = descriptor_pb2.FileDescriptorProto(name="p2.proto", package="p2")
    m = p2.message_type.add(name="M")
    m.field.add(name="id", number=1, type=f.TYPE_INT64, label=f.LABEL_REQUIRED)
    m.field.add(name="note", number=2, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    schema = ProtobufNativeSchema.from_descriptor_set(descriptor_set([p2]), "p2.M")
    assert schema.decode(schema.encode({"id": 0})) == {"id": 0, "note": None}
    with pytest.raises(SchemaEncodeError, match="field id: required, and missing"):
        schema.encode({"note": "x"})


def test_a_payload_that_is_not_the_message_is_a_decode_error(
    schema: ProtobufNativeSchema,
) -> None:
    with pytest.raises(SchemaDecodeError, match="not a shop.Order"):
        schema.decode(b"\xff\xff\xff")


class _Owner:
    def __init__(self, schema: Any, writer: SchemaInfo | None) -> None:
        self.schema = schema
        self._writer = writer
        self.asked = 0

    def writer_schema(self, version: bytes) -> SchemaInfo | None:
        self.asked += 1
        return self._writer


def test_auto_consume_decodes_with_the_writers_descriptors(schema: ProtobufNativeSchema) -> None:
    owner = _Owner(AutoConsumeSchema(), schema.schema_info())
    md = MessageMetadata(
        producer_name="p", sequence_id=0, publish_time=1, schema_version=(0).to_bytes(8, "big")
    )
    for _ in range(2):
        msg = Message(schema.encode(ORDER), md, None, MessageId(1, 2), 0, "t", owner)
        assert msg.value() == ORDER
    assert owner.asked == 1  # once per schema version


def test_first_text_field_skips_oneof_members_and_repeated(schema: ProtobufNativeSchema) -> None:
    assert first_text_field(schema) == ("customer", "string")
    without = order_files(customer_type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32)
    assert first_text_field(
        ProtobufNativeSchema.from_descriptor_set(descriptor_set(without), "shop.Order")
    ) == ("blob", "bytes")
    line = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.common.Line")
    assert first_text_field(line) == ("sku", "string")


def test_the_spec_names_a_file_and_a_message(tmp_path: Path) -> None:
    path = write_descriptor_set(tmp_path / "order.desc")
    schema = parse_schema_spec(f"protobuf-native:{path}:shop.Order")
    assert isinstance(schema, ProtobufNativeSchema)
    assert schema.record_name() == "shop.Order" and "lines" in schema.field_names()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("protobuf-native:{desc}", "use protobuf-native:FILE:pkg.Message"),
        ("protobuf-native::shop.Order", "use protobuf-native:FILE:pkg.Message"),
        ("protobuf-native:{dir}/none.desc:shop.Order", "cannot read"),
        ("protobuf-native:{desc}:shop.Nope", "no message 'shop.Nope' in the descriptor set"),
        ("protobuf-native:{junk}:shop.Order", "not a FileDescriptorSet"),
        ("protobuf-native:{lonely}:shop.Order", "imports common.proto, which the descriptor"),
        ("key-value:string,protobuf-native:{desc}:shop.Order", "cannot be protobuf-native"),
        ("protobuf:{desc}", "protobuf-native:FILE:pkg.Message"),
    ],
)
def test_a_spec_that_cannot_be_used_is_one_line(tmp_path: Path, spec: str, fragment: str) -> None:
    desc = write_descriptor_set(tmp_path / "order.desc")
    junk = tmp_path / "junk.desc"
    junk.write_bytes(b"\xff\x00garbage")
    lonely = write_descriptor_set(tmp_path / "lonely.desc", order_files()[:1])
    text = spec.format(desc=desc, dir=tmp_path, junk=junk, lonely=lonely)
    with pytest.raises(ConfigError) as err:
        parse_schema_spec(text)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_descriptor_set_without_files_or_with_a_cycle_is_refused() -> None:
    with pytest.raises(ProtobufNativeSchemaError, match="holds no file"):
        ProtobufNativeSchema.from_descriptor_set(b"", "shop.Order")
    a = descriptor_pb2.FileDescriptorProto(name="a.proto", dependency=["b.proto"])
    b = descriptor_pb2.FileDescriptorProto(name="b.proto", dependency=["a.proto"])
    with pytest.raises(ProtobufNativeSchemaError, match="cycle"):
        ProtobufNativeSchema.from_descriptor_set(descriptor_set([a, b]), "X")
    with pytest.raises(ProtobufNativeSchemaError, match="not PROTOBUF_NATIVE schema data"):
        ProtobufNativeSchema.from_schema_data(b'{"rootMessageTypeName": "x"}')


def test_a_refusal_names_the_type_and_root_message(schema: ProtobufNativeSchema) -> None:
    from pulsarload.client.errors import refused_schema

    broker_text = (
        "IncompatibleSchema: org.apache.pulsar.broker.service.schema.exceptions."
        "IncompatibleSchemaException: Protobuf root message isn't allow change!"
    )
    err = refused_schema(Exception(broker_text), "persistent://public/default/t", schema)
    assert str(err) == (
        "IncompatibleSchema: topic persistent://public/default/t refused the PROTOBUF_NATIVE "
        "schema of record shop.Order: Protobuf root message isn't allow change!"
    )

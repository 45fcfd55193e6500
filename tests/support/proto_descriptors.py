"""Protobuf descriptor sets for the PROTOBUF_NATIVE tests, made with `descriptor_pb2` (what
`protoc --include_imports --descriptor_set_out` writes, without needing protoc): an order in
`order.proto` that imports `common.proto`, with scalars of each kind, an enum, a nested
message, a repeated message, a map, a oneof, a proto3 `optional` and a recursive message."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2 as d

F = d.FieldDescriptorProto
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def _common() -> d.FileDescriptorProto:
    common = d.FileDescriptorProto(name="common.proto", package="shop.common", syntax="proto3")
    status = common.enum_type.add(name="Status")
    for number, name in enumerate(("NEW", "PAID", "SHIPPED")):
        status.value.add(name=name, number=number)
    line = common.message_type.add(name="Line")
    line.field.add(name="sku", number=1, type=F.TYPE_STRING, label=OPTIONAL)
    line.field.add(name="qty", number=2, type=F.TYPE_INT32, label=OPTIONAL)
    line.field.add(name="price", number=3, type=F.TYPE_FLOAT, label=OPTIONAL)
    return common


def order_files(*, customer_type: int = F.TYPE_STRING) -> list[d.FileDescriptorProto]:
    """order.proto and common.proto; `customer_type` changes one field (another schema)."""
    order = d.FileDescriptorProto(
        name="order.proto", package="shop", syntax="proto3", dependency=["common.proto"]
    )
    m = order.message_type.add(name="Order")
    fields = [
        ("id", F.TYPE_INT64),
        ("customer", customer_type),
        ("amount", F.TYPE_DOUBLE),
        ("paid", F.TYPE_BOOL),
        ("count", F.TYPE_UINT32),
        ("delta", F.TYPE_SINT64),
        ("code", F.TYPE_FIXED32),
        ("blob", F.TYPE_BYTES),
    ]
    for number, (name, kind) in enumerate(fields, start=1):
        m.field.add(name=name, number=number, type=kind, label=OPTIONAL)
    n = len(fields)
    m.field.add(
        name="status", number=n + 1, type=F.TYPE_ENUM, type_name=".shop.common.Status",
        label=OPTIONAL,
    )  # fmt: skip
    m.field.add(
        name="lines", number=n + 2, type=F.TYPE_MESSAGE, type_name=".shop.common.Line",
        label=REPEATED,
    )  # fmt: skip
    entry = m.nested_type.add(name="TagsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=OPTIONAL)
    m.field.add(
        name="tags", number=n + 3, type=F.TYPE_MESSAGE, type_name=".shop.Order.TagsEntry",
        label=REPEATED,
    )  # fmt: skip
    m.field.add(
        name="ship", number=n + 4, type=F.TYPE_MESSAGE, type_name=".shop.common.Line",
        label=OPTIONAL,
    )  # fmt: skip
    m.oneof_decl.add(name="pay")
    m.field.add(name="card", number=n + 5, type=F.TYPE_STRING, label=OPTIONAL, oneof_index=0)
    m.field.add(name="cash", number=n + 6, type=F.TYPE_BOOL, label=OPTIONAL, oneof_index=0)
    # proto3 `optional int32 priority`: a synthetic oneof of one field, with presence.
    m.oneof_decl.add(name="_priority")
    m.field.add(
        name="priority", number=n + 7, type=F.TYPE_INT32, label=OPTIONAL, oneof_index=1,
        proto3_optional=True,
    )  # fmt: skip
    m.field.add(name="scores", number=n + 8, type=F.TYPE_DOUBLE, label=REPEATED)
    # A message that holds itself: generated values stop at a depth.
    node = m.nested_type.add(name="Node")
    node.field.add(name="label", number=1, type=F.TYPE_STRING, label=OPTIONAL)
    node.field.add(
        name="next", number=2, type=F.TYPE_MESSAGE, type_name=".shop.Order.Node", label=OPTIONAL
    )
    m.field.add(
        name="chain", number=n + 9, type=F.TYPE_MESSAGE, type_name=".shop.Order.Node",
        label=OPTIONAL,
    )  # fmt: skip
    return [order, _common()]


def descriptor_set(files: list[d.FileDescriptorProto] | None = None) -> bytes:
    """A serialized FileDescriptorSet of `files` (the order's by default)."""
    return d.FileDescriptorSet(file=files or order_files()).SerializeToString()


def write_descriptor_set(path: Path, files: list[d.FileDescriptorProto] | None = None) -> Path:
    path.write_bytes(descriptor_set(files))
    return path

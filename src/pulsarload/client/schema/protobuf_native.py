"""PROTOBUF_NATIVE: payloads are serialized protobuf messages of one root message type, and the
registry keeps that type's descriptors, so that any consumer can decode without generated code.

The registry entry (type 20) is JSON, as the Java client writes it::

    {"fileDescriptorSet": "<base64 of a google.protobuf.FileDescriptorSet>",
     "rootMessageTypeName": "pkg.Msg", "rootFileDescriptorName": "file.proto"}

The set holds the root message's file and every file it imports (what
``protoc --include_imports --descriptor_set_out=FILE`` writes).

Why the `protobuf` package: on a free-threaded interpreter it installs its pure-Python
implementation (the compiled one ships abi3 wheels only, which free-threaded builds cannot load),
which leaves the GIL off. Its descriptor pool reads a descriptor set and makes message classes
at run time. Dict values go through our compiled codec (`protobuf_codec.py`), several times
faster than building and serializing a pure-Python message object; instances of a generated
class, and messages with proto2 group fields, go through the package's own. This module imports
it, so the schema package imports this module only when a protobuf schema is used.

Values: a schema made from a generated message class encodes and decodes instances of it; one
made from a descriptor set takes and gives dicts (nested messages as dicts, repeated fields as
lists, maps as dicts, enums by name, unset optional fields as None).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import DecodeError, EncodeError
from google.protobuf.message import Message as ProtoMessage

from pulsarload.client.schema.protobuf_codec import MessageCodec, Unsupported, compile_codec
from pulsarload.client.schema.schemas import (
    Schema,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaInfo,
)
from pulsarload.wire.enums import SchemaType
from pulsarload.wire.errors import DecodeError as WireDecodeError

__all__ = [
    "ProtobufNativeSchema",
    "ProtobufNativeSchemaError",
    "message_to_dict",
]


class ProtobufNativeSchemaError(ValueError):
    """A descriptor set or root message that cannot make a schema (the message says why)."""


_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_GROUP = FieldDescriptor.TYPE_GROUP
_ENUM = FieldDescriptor.TYPE_ENUM


def _is_map(field: FieldDescriptor) -> bool:
    mt = field.message_type
    return mt is not None and field.is_repeated and mt.GetOptions().map_entry


def _ordered_files(
    files: Iterable[descriptor_pb2.FileDescriptorProto],
) -> list[descriptor_pb2.FileDescriptorProto]:
    """The files with each one after the files it imports; an import the set lacks or a cycle
    is an error naming the files."""
    by_name = {f.name: f for f in files}
    out: list[descriptor_pb2.FileDescriptorProto] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, importer: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ProtobufNativeSchemaError(f"the descriptor set's imports form a cycle at {name}")
        f = by_name.get(name)
        if f is None:
            raise ProtobufNativeSchemaError(
                f"{importer} imports {name}, which the descriptor set does not hold "
                "(write it with protoc --include_imports)"
            )
        state[name] = 1
        for dep in f.dependency:
            visit(dep, name)
        state[name] = 2
        out.append(f)

    for name in by_name:
        visit(name, name)
    return out


def _file_protos(file: FileDescriptor) -> list[descriptor_pb2.FileDescriptorProto]:
    """A file's proto and those of every file it imports (directly or not), imports first."""
    seen: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def visit(f: FileDescriptor) -> None:
        if f.name in seen:
            return
        for dep in f.dependencies:
            visit(dep)
        proto = descriptor_pb2.FileDescriptorProto()
        f.CopyToProto(proto)
        seen[f.name] = proto

    visit(file)
    return list(seen.values())


def message_to_dict(msg: ProtoMessage) -> dict[str, Any]:
    """A message as plain values, every field of its type present (see the module's doc)."""
    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        if _is_map(field):
            vfield = field.message_type.fields_by_name["value"]
            out[field.name] = {k: _plain(vfield, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [_plain(field, v) for v in value]
        elif field.has_presence and not msg.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _plain(field, value)
    return out


def _plain(field: FieldDescriptor, value: Any) -> Any:
    if field.type in (_MESSAGE, _GROUP):
        return message_to_dict(value)
    if field.type == _ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    return value


def _fill(msg: ProtoMessage, values: Mapping[str, Any], path: str) -> None:
    """Set `msg`'s fields from a dict (None: left unset); errors name the field path."""
    fields = msg.DESCRIPTOR.fields_by_name
    for name, value in values.items():
        field = fields.get(name)
        where = f"{path}.{name}" if path else name
        if field is None:
            raise SchemaEncodeError(
                f"ProtobufNativeSchema: {msg.DESCRIPTOR.full_name} has no field {where!r}"
            )
        if value is None:
            continue
        try:
            if _is_map(field):
                _fill_map(getattr(msg, name), field, value, where)
            elif field.is_repeated:
                target = getattr(msg, name)
                if field.type in (_MESSAGE, _GROUP):
                    for i, item in enumerate(value):
                        _fill(target.add(), item, f"{where}[{i}]")
                else:
                    target.extend(_scalar(field, v) for v in value)
            elif field.type in (_MESSAGE, _GROUP):
                sub = getattr(msg, name)
                sub.SetInParent()
                _fill(sub, value, where)
            else:
                setattr(msg, name, _scalar(field, value))
        except SchemaEncodeError:
            raise
        except (TypeError, ValueError, AttributeError) as err:
            raise SchemaEncodeError(f"ProtobufNativeSchema: field {where!r}: {err}") from None


def _fill_map(target: Any, field: FieldDescriptor, value: Mapping[Any, Any], where: str) -> None:
    vfield = field.message_type.fields_by_name["value"]
    for k, v in value.items():
        if vfield.type in (_MESSAGE, _GROUP):
            _fill(target[k], v, f"{where}[{k!r}]")
        else:
            target[k] = _scalar(vfield, v)


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == _ENUM and isinstance(value, str):
        known = field.enum_type.values_by_name.get(value)
        if known is None:
            raise ValueError(f"{value!r} is not a symbol of {field.enum_type.full_name}")
        return known.number
    return value


class ProtobufNativeSchema(Schema):
    """Protobuf messages of one root type, with their descriptors in the registry (the Java
    client's `Schema.PROTOBUF_NATIVE`). Give a generated message class, or use
    `from_descriptor_set` / `from_file` for a descriptor set and a root message name."""

    def __init__(self, message_cls: type[ProtoMessage]) -> None:
        descriptor = getattr(message_cls, "DESCRIPTOR", None)
        if not isinstance(descriptor, Descriptor):
            raise TypeError(
                f"ProtobufNativeSchema: expected a protobuf message class, got {message_cls!r}"
            )
        fds = descriptor_pb2.FileDescriptorSet(file=_file_protos(descriptor.file))
        self._setup(message_cls, descriptor, fds.SerializeToString(), descriptor.file.name)
        self._values_as_dicts = False

    @classmethod
    def from_descriptor_set(
        cls, data: bytes, root_message: str, root_file: str | None = None
    ) -> ProtobufNativeSchema:
        """A schema from a serialized FileDescriptorSet and the root message's full name
        (`root_file`: the file that declares it, found when not given)."""
        fds = descriptor_pb2.FileDescriptorSet()
        try:
            fds.ParseFromString(bytes(data))
        except (DecodeError, ValueError, TypeError) as err:
            raise ProtobufNativeSchemaError(f"not a FileDescriptorSet: {err}") from None
        if not fds.file:
            raise ProtobufNativeSchemaError("the descriptor set holds no file")
        pool = descriptor_pool.DescriptorPool()
        try:
            for f in _ordered_files(fds.file):
                pool.Add(f)
        except ProtobufNativeSchemaError:
            raise
        except (TypeError, ValueError, KeyError) as err:
            raise ProtobufNativeSchemaError(f"the descriptor set does not build: {err}") from None
        root_message = root_message.strip().lstrip(".")
        try:
            descriptor = pool.FindMessageTypeByName(root_message)
        except KeyError:
            names = sorted(_message_names(pool, fds))
            raise ProtobufNativeSchemaError(
                f"no message {root_message!r} in the descriptor set; it has: "
                + (", ".join(names[:20]) or "no messages")
                + (" ..." if len(names) > 20 else "")
            ) from None
        except (TypeError, ValueError) as err:
            raise ProtobufNativeSchemaError(f"the descriptor set does not build: {err}") from None
        if root_file is not None and root_file != descriptor.file.name:
            raise ProtobufNativeSchemaError(
                f"{root_message} is declared in {descriptor.file.name}, not {root_file}"
            )
        schema = cls.__new__(cls)
        message_cls = message_factory.GetMessageClass(descriptor)
        schema._setup(message_cls, descriptor, fds.SerializeToString(), descriptor.file.name)
        schema._values_as_dicts = True
        return schema

    @classmethod
    def from_file(cls, path: str | Path, root_message: str) -> ProtobufNativeSchema:
        """A schema from a descriptor set file (``protoc --include_imports
        --descriptor_set_out=FILE``) and the root message's full name."""
        return cls.from_descriptor_set(Path(path).expanduser().read_bytes(), root_message)

    @classmethod
    def from_schema_data(cls, data: bytes) -> ProtobufNativeSchema:
        """A schema from a registry entry's data (the JSON of the module's doc)."""
        try:
            doc = json.loads(data)
            fds = base64.b64decode(doc["fileDescriptorSet"], validate=True)
            root, root_file = doc["rootMessageTypeName"], doc["rootFileDescriptorName"]
        except (ValueError, KeyError, TypeError) as err:
            raise ProtobufNativeSchemaError(f"not PROTOBUF_NATIVE schema data: {err!r}") from None
        return cls.from_descriptor_set(fds, root, root_file)

    def _setup(
        self,
        message_cls: type[ProtoMessage],
        descriptor: Descriptor,
        fds: bytes,
        root_file: str,
    ) -> None:
        self._message_cls = message_cls
        self._descriptor = descriptor
        self._fds = fds
        data = json.dumps(
            {
                "fileDescriptorSet": base64.b64encode(fds).decode("ascii"),
                "rootMessageTypeName": descriptor.full_name,
                "rootFileDescriptorName": root_file,
            },
            separators=(",", ":"),
        )
        super().__init__(message_cls, SchemaInfo(SchemaType.ProtobufNative, "", data))
        self._codec: MessageCodec | None
        try:
            self._codec = compile_codec(descriptor)
        except Unsupported:  # group fields: the protobuf package's codec does those
            self._codec = None

    @property
    def descriptor(self) -> Descriptor:
        """The root message's descriptor."""
        return self._descriptor

    @property
    def message_class(self) -> type[ProtoMessage]:
        """The root message's class (generated, or made from the descriptor set)."""
        return self._message_cls

    @property
    def file_descriptor_set(self) -> bytes:
        """The serialized FileDescriptorSet the registry is told."""
        return self._fds

    def record_name(self) -> str:
        """The root message's full name."""
        return self._descriptor.full_name

    def field_names(self) -> list[str]:
        return [f.name for f in self._descriptor.fields]

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, ProtoMessage):
            if obj.DESCRIPTOR.full_name != self._descriptor.full_name:
                raise SchemaEncodeError(
                    f"ProtobufNativeSchema: expected a {self._descriptor.full_name}, "
                    f"got a {obj.DESCRIPTOR.full_name}"
                )
            msg = obj
        elif isinstance(obj, Mapping):
            if self._codec is not None:
                try:
                    return self._codec.encode(obj)
                except (TypeError, ValueError) as err:
                    raise SchemaEncodeError(f"ProtobufNativeSchema: {err}") from None
            msg = self._message_cls()
            _fill(msg, obj, "")
        else:
            raise SchemaEncodeError(
                f"ProtobufNativeSchema: expected a {self._descriptor.full_name} message or a "
                f"dict, got {type(obj).__name__}"
            )
        try:
            return msg.SerializeToString()
        except EncodeError as err:  # a required field (proto2) is missing
            raise SchemaEncodeError(f"ProtobufNativeSchema: {err}") from None

    def decode(self, data: bytes) -> Any:
        if self._values_as_dicts and self._codec is not None:
            try:
                return self._codec.decode(data)
            except (DecodeError, WireDecodeError, ValueError, TypeError) as err:
                raise SchemaDecodeError(
                    f"ProtobufNativeSchema: payload is not a {self._descriptor.full_name}: {err}"
                ) from None
        msg = self._message_cls()
        try:
            msg.ParseFromString(bytes(data))
        except (DecodeError, ValueError, TypeError) as err:
            raise SchemaDecodeError(
                f"ProtobufNativeSchema: payload is not a {self._descriptor.full_name}: {err}"
            ) from None
        return message_to_dict(msg) if self._values_as_dicts else msg

    def __str__(self) -> str:
        return f"ProtobufNativeSchema({self._descriptor.full_name})"


def _message_names(pool: descriptor_pool.DescriptorPool, fds: Any) -> list[str]:
    names: list[str] = []

    def walk(prefix: str, messages: Iterable[Any]) -> None:
        for m in messages:
            full = f"{prefix}{m.name}"
            if not m.options.map_entry:
                names.append(full)
            walk(f"{full}.", m.nested_type)

    for f in fds.file:
        walk(f"{f.package}." if f.package else "", f.message_type)
    return names


def protobuf_native_from_data(data: bytes) -> Schema:
    """A PROTOBUF_NATIVE schema from a registry entry's data, its errors as a decode error (what
    AUTO_CONSUME and a key/value half read from the registry)."""
    try:
        return ProtobufNativeSchema.from_schema_data(data)
    except ProtobufNativeSchemaError as err:
        raise SchemaDecodeError(f"PROTOBUF_NATIVE schema: {err}") from None

"""Record classes: a Python class whose attributes declare an Avro record, as `pulsar.schema`.

    class User(Record):
        name = String(required=True)
        age = Integer()
        tags = Array(String())

`User.schema()` gives the Avro definition the official client generates for the same class
(field order as declared, a field that is not `required` is the union ``["null", T]``, a
`default` is written only with `required_default=True`), so that both clients register the
same schema version. Instances check each value's type when it is set and keep their fields
in `__dict__`, where the Avro and JSON encoders read them.
"""

from __future__ import annotations

import copy
from enum import Enum, EnumMeta
from typing import Any, ClassVar

__all__ = [
    "Array",
    "Boolean",
    "Bytes",
    "CustomEnum",
    "Double",
    "Field",
    "Float",
    "Integer",
    "Long",
    "Map",
    "Null",
    "Record",
    "String",
]

_RESERVED = ("_default", "_required", "_required_default")


class Field:
    """One declared field: its Avro type, default, whether null is allowed."""

    avro_type: ClassVar[str] = ""
    python_types: ClassVar[tuple[type, ...]] = ()

    def __init__(
        self, default: Any = None, required: bool = False, required_default: bool = False
    ) -> None:
        if default is not None:
            default = self.validate_type("default", default)
        self._default = default
        self._required = required
        self._required_default = required_default

    def type(self) -> str:
        return self.avro_type

    def python_type(self) -> Any:
        return self.python_types

    def default(self) -> Any:
        return self._default

    def required_default(self) -> bool:
        return self._required_default

    def schema(self) -> Any:
        return self.schema_info(set())

    def schema_info(self, defined_names: set[str]) -> Any:
        return self.avro_type

    def validate_type(self, name: str, val: Any) -> Any:
        if val is None and not self._required:
            return self.default()
        if not isinstance(val, self.python_types) or (
            isinstance(val, bool) and bool not in self.python_types
        ):
            raise TypeError(
                f"Invalid type '{type(val).__name__}' for field '{name}'. Expected: "
                f"{' or '.join(t.__name__ for t in self.python_types)}"
            )
        return val


class Null(Field):
    avro_type = "null"
    python_types = (type(None),)

    def validate_type(self, name: str, val: Any) -> Any:
        if val is not None:
            raise TypeError(f"Field {name} is set to be None")
        return val


class Boolean(Field):
    avro_type = "boolean"
    python_types = (bool,)

    def default(self) -> Any:
        return False if self._default is None else self._default


class Integer(Field):
    avro_type = "int"
    python_types = (int,)


class Long(Field):
    avro_type = "long"
    python_types = (int,)


class Float(Field):
    avro_type = "float"
    python_types = (float, int)


class Double(Field):
    avro_type = "double"
    python_types = (float, int)


class Bytes(Field):
    avro_type = "bytes"
    python_types = (bytes, str)

    def validate_type(self, name: str, val: Any) -> Any:
        val = super().validate_type(name, val)
        return val.encode() if isinstance(val, str) else val


class String(Field):
    avro_type = "string"
    python_types = (str, bytes)

    def validate_type(self, name: str, val: Any) -> Any:
        val = super().validate_type(name, val)
        return val.decode() if isinstance(val, bytes) else val


class CustomEnum(Field):
    """A field of a Python `Enum` type: an Avro enum of its member names."""

    avro_type = "enum"

    def __init__(
        self,
        enum_type: type[Enum],
        default: Any = None,
        required: bool = False,
        required_default: bool = False,
    ) -> None:
        if not (isinstance(enum_type, type) and issubclass(enum_type, Enum)):
            raise TypeError(f"{enum_type!r} is not an Enum type")
        self.enum_type = enum_type
        self.values = {m.value: m for m in enum_type}
        super().__init__(default, required, required_default)

    def python_type(self) -> Any:
        return self.enum_type

    def validate_type(self, name: str, val: Any) -> Any:
        if val is None:
            return None
        if isinstance(val, self.enum_type):
            return val
        if isinstance(val, str) and val in self.enum_type.__members__:
            return self.enum_type.__members__[val]
        if isinstance(val, int) and val in self.values:
            return self.values[val]
        raise TypeError(
            f"Invalid enum value '{val}' for field '{name}'. Expected: "
            f"{list(self.enum_type.__members__)}"
        )

    def schema_info(self, defined_names: set[str]) -> Any:
        name = self.enum_type.__name__
        if name in defined_names:
            return name
        defined_names.add(name)
        return {"type": "enum", "name": name, "symbols": [m.name for m in self.enum_type]}


class _Container(Field):
    def _inner_schema(self, inner: Any, defined_names: set[str]) -> Any:
        if isinstance(inner, Array | Map | Record):
            return inner.schema_info(defined_names)
        return inner.type()


class Array(_Container):
    avro_type = "array"
    python_types = (list,)

    def __init__(
        self,
        array_type: Any,
        default: Any = None,
        required: bool = False,
        required_default: bool = False,
    ) -> None:
        self.array_type = _as_field(array_type)
        super().__init__(default, required, required_default)

    def validate_type(self, name: str, val: Any) -> Any:
        if val is None:
            return None
        super().validate_type(name, val)
        types = self.array_type.python_type()
        for x in val:
            if not isinstance(x, types):
                raise TypeError(f"Array field {name} items should all be of type {types}")
        return val

    def schema_info(self, defined_names: set[str]) -> Any:
        return {"type": "array", "items": self._inner_schema(self.array_type, defined_names)}


class Map(_Container):
    avro_type = "map"
    python_types = (dict,)

    def __init__(
        self,
        value_type: Any,
        default: Any = None,
        required: bool = False,
        required_default: bool = False,
    ) -> None:
        self.value_type = _as_field(value_type)
        super().__init__(default, required, required_default)

    def validate_type(self, name: str, val: Any) -> Any:
        if val is None:
            return None
        super().validate_type(name, val)
        types = self.value_type.python_type()
        for k, v in val.items():
            if not isinstance(k, str):
                raise TypeError(f"Map keys for field {name} should all be strings")
            if not isinstance(v, types):
                raise TypeError(f"Map values for field {name} should all be of type {types}")
        return val

    def schema_info(self, defined_names: set[str]) -> Any:
        return {"type": "map", "values": self._inner_schema(self.value_type, defined_names)}


def _as_field(x: Any) -> Any:
    if isinstance(x, type) and issubclass(x, Record):
        return x()
    if isinstance(x, Field | Record):
        return x
    raise TypeError(f"Argument {x!r} is not a Record or a Field")


class RecordMeta(type):
    """Collects a record class's declared fields, in declaration order."""

    def __new__(mcs, name: str, bases: tuple[type, ...], dct: dict[str, Any]) -> Any:
        if name != "Record":
            fields: dict[str, Any] = {}
            for key, value in dct.items():
                if isinstance(value, EnumMeta):
                    value = CustomEnum(value)  # noqa: PLW2901
                elif isinstance(value, RecordMeta):
                    value = value()  # noqa: PLW2901 - a sub-record declared by its class
                if isinstance(value, Field | Record):
                    fields[key] = value
            dct["_fields"] = fields
            dct["_required"] = False
        return super().__new__(mcs, name, bases, dct)


class Record(metaclass=RecordMeta):
    """Base of record classes; instances take their fields as keyword arguments."""

    _fields: ClassVar[dict[str, Any]] = {}
    #: The Avro namespace of the record's schema (None: none).
    _avro_namespace: ClassVar[str | None] = None
    #: Whether the schema lists the fields sorted by name rather than as declared.
    _sorted_fields: ClassVar[bool] = False

    def __init__(
        self,
        default: Any = None,
        required_default: bool = False,
        required: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(self, "_required_default", required_default)
        object.__setattr__(self, "_default", default)
        object.__setattr__(self, "_required", required)
        for k, field in self._fields.items():
            if k in kwargs:
                value = kwargs[k]
                if isinstance(field, Record) and isinstance(value, dict):
                    value = _record_from(field, value)
                elif isinstance(field, Array) and isinstance(field.array_type, Record):
                    value = (
                        [
                            _record_from(field.array_type, x) if isinstance(x, dict) else x
                            for x in value or ()
                        ]
                        if value is not None
                        else None
                    )
                elif isinstance(field, Map) and isinstance(field.value_type, Record):
                    value = (
                        {
                            mk: _record_from(field.value_type, mv) if isinstance(mv, dict) else mv
                            for mk, mv in value.items()
                        }
                        if value is not None
                        else None
                    )
                setattr(self, k, value)
            elif isinstance(field, Record):
                object.__setattr__(self, k, field)
            else:
                object.__setattr__(self, k, field.default())
        unknown = set(kwargs) - set(self._fields)
        if unknown:
            raise AttributeError(
                f"Cannot set undeclared field {sorted(unknown)[0]} on record {type(self).__name__}"
            )

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The Avro definition of this record (a dict, as the official client's)."""
        return cls.schema_info(set())

    @classmethod
    def schema_info(cls, defined_names: set[str]) -> Any:
        ns = cls._avro_namespace
        full = f"{ns}.{cls.__name__}" if ns is not None else cls.__name__
        if full in defined_names:
            return full
        defined_names.add(full)
        schema: dict[str, Any] = {"type": "record", "name": cls.__name__}
        if ns is not None:
            schema["namespace"] = ns
        schema["fields"] = []
        names = sorted(cls._fields) if cls._sorted_fields else list(cls._fields)
        for name in names:
            field = cls._fields[name]
            ftype = field.schema_info(defined_names)
            if not field._required:
                ftype = ["null", ftype]
            entry: dict[str, Any] = {"name": name}
            if field.required_default():
                d = field.default()
                entry["default"] = d.name if isinstance(d, Enum) else d
            entry["type"] = ftype
            schema["fields"].append(entry)
        return schema

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _RESERVED:
            object.__setattr__(self, key, value)
            return
        field = self._fields.get(key)
        if field is None:
            raise AttributeError(f"Cannot set undeclared field {key} on record")
        object.__setattr__(self, key, field.validate_type(key, value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f, None) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({body})"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (nested records too)."""
        return {f: _plain(getattr(self, f)) for f in self._fields}

    # As a field inside another record:
    def type(self) -> str:
        return type(self).__name__

    def python_type(self) -> Any:
        return type(self)

    def validate_type(self, name: str, val: Any) -> Any:
        if val is None and not self._required:
            return self.default()
        if not isinstance(val, type(self)):
            raise TypeError(
                f"Invalid type '{type(val).__name__}' for sub-record field '{name}'. "
                f"Expected: {type(self).__name__}"
            )
        return val

    def default(self) -> Any:
        return self._default

    def required_default(self) -> bool:
        return self._required_default


def _record_from(template: Record, values: dict[str, Any]) -> Record:
    rec = copy.copy(template)
    rec.__init__(**values)  # type: ignore[misc]
    return rec


def _plain(v: Any) -> Any:
    if isinstance(v, Record):
        return v.to_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v

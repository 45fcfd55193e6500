"""The schema classes: record definitions as the official client writes them, values through
Avro, JSON, string and key/value payloads, the registry info, and the errors."""

from __future__ import annotations

import json
import os
import subprocess
from enum import Enum
from pathlib import Path

import pytest

from pulsarload.client import Client, InvalidConfiguration
from pulsarload.client.schema import (
    Array,
    AvroSchema,
    Boolean,
    Bytes,
    BytesSchema,
    Double,
    Float,
    Integer,
    JsonSchema,
    KeyValue,
    KeyValueSchema,
    Long,
    Map,
    Record,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaType,
    String,
    StringSchema,
)

REPO = Path(__file__).resolve().parents[3]


class Color(Enum):
    RED = 1
    BLUE = 2


class Point(Record):
    x = Integer(required=True)
    y = Integer(required=True)


class Sample(Record):
    name = String(required=True)
    count = Long()
    ratio = Double()
    small = Float()
    ok = Boolean()
    blob = Bytes()
    tags = Array(String())
    sizes = Map(Integer())
    color = Color
    where = Point
    level = Integer(default=3, required_default=True)


def _sample() -> Sample:
    return Sample(
        name="n", count=1 << 40, ratio=0.25, small=1.5, ok=True, blob=b"\x00\xff",
        tags=["a", "b"], sizes={"k": 7}, color=Color.BLUE, where=Point(x=1, y=-1),
    )  # fmt: skip


# The same classes, run through the official client's pulsar.schema in the GIL build.
_OFFICIAL = r"""
import json
from enum import Enum
from pulsar.schema import *
class Color(Enum):
    RED = 1
    BLUE = 2
class Point(Record):
    x = Integer(required=True)
    y = Integer(required=True)
class Sample(Record):
    name = String(required=True)
    count = Long()
    ratio = Double()
    small = Float()
    ok = Boolean()
    blob = Bytes()
    tags = Array(String())
    sizes = Map(Integer())
    color = Color
    where = Point
    level = Integer(default=3, required_default=True)
print(json.dumps(Sample.schema()))
"""


def test_record_definition_is_the_official_clients() -> None:
    py = Path(os.environ.get("PULSARLOAD_OFFICIAL_PYTHON") or REPO / ".venv-gil" / "bin" / "python")
    if not py.exists():
        pytest.skip(f"{py} does not exist (make setup builds .venv-gil with pulsar-client)")
    proc = subprocess.run([str(py), "-c", _OFFICIAL], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == Sample.schema()


def test_avro_round_trip_of_a_record() -> None:
    schema = AvroSchema(Sample)
    assert schema.decode(schema.encode(_sample())) == _sample()
    info = schema.schema_info()
    assert info.schema_type() == SchemaType.Avro
    assert json.loads(info.schema()) == Sample.schema()


def test_avro_with_a_definition_takes_dicts() -> None:
    schema = AvroSchema(None, Point.schema())
    assert schema.decode(schema.encode({"x": 1, "y": 2})) == {"x": 1, "y": 2}
    with pytest.raises(SchemaEncodeError, match="dicts"):
        schema.encode(Point(x=1, y=2))


def test_json_round_trip_of_a_record() -> None:
    schema = JsonSchema(Sample)
    sample = _sample()
    sample.blob = b"text"  # bytes travel as text in JSON, as with the official client
    data = schema.encode(sample)
    assert json.loads(data)["color"] == "BLUE"
    assert schema.decode(data) == sample
    assert schema.schema_info().schema_type() == SchemaType.Json


def test_string_bytes_and_key_value() -> None:
    assert StringSchema().decode(StringSchema().encode("héllo")) == "héllo"
    assert BytesSchema().encode(b"x") == b"x"
    kv = KeyValueSchema(StringSchema(), AvroSchema(Point))
    data = kv.encode(("k", Point(x=3, y=4)))
    assert data[:4] == (1).to_bytes(4, "big") and data[4:5] == b"k"
    assert kv.decode(data) == KeyValue("k", Point(x=3, y=4))
    info = kv.schema_info()
    assert info.schema_type() == SchemaType.KeyValue
    assert info.properties()["kv.encoding.type"] == "INLINE"
    assert info.properties()["value.schema.type"] == "AVRO"
    assert kv.encode_message(("k", Point(x=3, y=4))) == (data, None)


def test_encode_errors_name_the_field() -> None:
    with pytest.raises(SchemaEncodeError, match="expected a Point"):
        AvroSchema(Point).encode(Sample(name="x"))
    with pytest.raises(SchemaEncodeError, match=r"Sample\.name"):
        AvroSchema(None, Sample.schema()).encode({"name": 5})
    with pytest.raises(TypeError, match="field 'x'"):
        Point(x="one", y=2)


def test_decode_errors_say_what_went_wrong() -> None:
    with pytest.raises(SchemaDecodeError, match="AvroSchema"):
        AvroSchema(Point).decode(b"\x02")
    with pytest.raises(SchemaDecodeError, match="not JSON"):
        JsonSchema(Point).decode(b"{")
    with pytest.raises(SchemaDecodeError, match="UTF-8"):
        StringSchema().decode(b"\xff")


def test_create_producer_refuses_what_is_not_a_schema_before_any_network() -> None:
    client = Client("pulsar://127.0.0.1:1", connection_timeout_ms=200)
    try:
        with pytest.raises(InvalidConfiguration, match="AvroSchema"):
            client.create_producer("t", schema=Point)
    finally:
        client.close()

"""KEY_VALUE between the native client and the Java reference client (`pulsar-client`, run from
the local release's jars): the official Python client has no KeyValue schema, so the Java client
is the reference for pairs. Java produces pairs (a JSON key record; a JSON or an AVRO value
record; SEPARATED and INLINE) that the native consumer decodes field by field, with the pair's
schema and with AUTO_CONSUME, and whose registry entry is byte for byte the one our
`KeyValueSchema` describes; the native producer writes pairs (batched and not) that Java's
AUTO_CONSUME prints field by field. Each Java run costs seconds of JVM start-up: one per topic."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
from interop import java_client
from interop.java_client import JavaMessage, avro_json, dumps, java_text

from pulsarload.client import Client, InitialPosition
from pulsarload.client.schema import (
    AutoConsumeSchema,
    AvroSchema,
    Boolean,
    Double,
    Integer,
    JsonSchema,
    KeyValueEncodingType,
    KeyValueSchema,
    Long,
    Record,
    String,
)
from pulsarload.client.schema.schemas import split_key_value

pytestmark = [pytest.mark.timeout(300)]

SEPARATED, INLINE = KeyValueEncodingType.SEPARATED, KeyValueEncodingType.INLINE


class Unit(Enum):
    CELSIUS = 0
    KELVIN = 1


class Place(Record):
    lat = Double(required=True)
    lon = Double(required=True)


class SensorKey(Record):
    site = String(required=True)
    rack = Integer(required=True)


class Measure(Record):
    sensor = String(required=True)
    seq = Long(required=True)
    value = Double()
    level = Integer()
    ok = Boolean()
    unit = Unit
    where = Place


def _measures(n: int, tag: str) -> list[dict[str, Any]]:
    """Plain records (enums by name), some fields null; numbers that print alike in Java and
    Python, text without the characters of Java's map syntax."""
    return [
        {
            "sensor": f"{tag}-{i}",
            "seq": (1 << 40) + i,
            "value": None if i % 3 == 2 else i * 1.25 - 0.5,
            "level": -i,
            "ok": i % 2 == 0,
            "unit": "KELVIN" if i % 2 else "CELSIUS",
            "where": None if i % 3 == 0 else {"lat": 0.5 * i, "lon": -2.5},
        }
        for i in range(n)
    ]


def _measure(d: dict[str, Any]) -> Measure:
    d = dict(d)
    d["unit"] = Unit[d["unit"]]
    d["where"] = Place(**d["where"]) if d["where"] is not None else None
    return Measure(**d)


def _plain(r: Any) -> dict[str, Any]:
    out = r.to_dict() if isinstance(r, Record) else dict(r)
    unit = out.get("unit")
    out["unit"] = unit.name if isinstance(unit, Enum) else unit
    return out


def _definition(record_cls: type[Record]) -> str:
    """The definition text both clients register (our JsonSchema/AvroSchema's, compact)."""
    return dumps(record_cls.schema())


def _kv_schema(value_kind: str, encoding: KeyValueEncodingType) -> KeyValueSchema:
    value = AvroSchema(Measure) if value_kind == "avro" else JsonSchema(Measure)
    return KeyValueSchema(JsonSchema(SensorKey), value, encoding)


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


def _topic(ns: str, prefix: str) -> str:
    return f"persistent://{ns}/{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.mark.broker
@pytest.mark.parametrize(
    ("encoding", "value_kind"), [(SEPARATED, "json"), (INLINE, "avro")], ids=["separated-json",
                                                                                "inline-avro"]
)  # fmt: skip
def test_native_reads_the_pairs_java_wrote(
    broker: Any, client: Client, enforced: str, encoding: KeyValueEncodingType, value_kind: str
) -> None:
    java_client.require_java()
    topic = _topic(enforced, f"j2n-{encoding.name.lower()}")
    key = {"site": "north", "rack": 7}
    records = _measures(3, f"java-{value_kind}")
    auto = client.subscribe(topic, "auto", schema=AutoConsumeSchema())
    java_client.produce_key_value(
        broker.service_url,
        broker.admin_url,
        topic,
        key_schema=f"json:{_definition(SensorKey)}",
        value_schema=f"{value_kind}:{_definition(Measure)}",
        encoding=encoding.name.lower(),
        key=dumps(key),
        values=[
            dumps(avro_json(Measure.schema(), d) if value_kind == "avro" else d) for d in records
        ],
    )
    ours = _kv_schema(value_kind, encoding)
    typed = client.subscribe(topic, "typed", schema=ours, initial_position=InitialPosition.Earliest)
    msgs = [typed.receive(timeout_millis=30000) for _ in records]
    for msg, d in zip(msgs, records, strict=True):
        kv = msg.value()
        assert kv.key == SensorKey(**key)
        assert _plain(kv.value) == d
        if encoding is SEPARATED:  # the encoded key is the message key, base64, flagged
            assert msg.has_base64_encoded_key() and msg.key_bytes() == dumps(key).encode()
            assert msg.data() == dumps(d).encode()
        else:
            assert msg.partition_key() == "" and not msg.has_base64_encoded_key()
            assert split_key_value(msg.data()) == (
                dumps(key).encode(),
                AvroSchema(Measure).encode(_measure(d)),
            )
        typed.acknowledge(msg)
    got = [auto.receive(timeout_millis=30000).value() for _ in records]
    assert [(kv.key, _plain(kv.value)) for kv in got] == [(key, d) for d in records]
    # Java's registry entry is the one our KeyValueSchema describes, byte for byte.
    info = client.get_schema_info(topic)
    assert info is not None
    ours_info = ours.schema_info()
    assert info.schema_type() == ours_info.schema_type()
    assert info.schema_bytes() == ours_info.schema_bytes()
    props, ours_props = info.properties(), ours_info.properties()
    for name in ("kv.encoding.type", "key.schema.type", "value.schema.type"):
        assert props[name] == ours_props[name], name
    for name in ("key.schema.properties", "value.schema.properties"):
        assert json.loads(props[name]) == json.loads(ours_props[name]), name
    typed.close()
    auto.close()


def _printed(m: JavaMessage) -> Any:
    """What Java printed, its nulls spelled one way (a record's null field prints as NULL, a
    JSON record's may print as null)."""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return "NULL" if v == "null" else v

    return norm(m.content)


@pytest.mark.broker
@pytest.mark.parametrize(
    ("encoding", "value_kind", "batching"),
    [(SEPARATED, "avro", True), (INLINE, "json", False)],
    ids=["separated-avro-batched", "inline-json"],
)
def test_java_reads_the_pairs_native_wrote(
    broker: Any,
    client: Client,
    enforced: str,
    encoding: KeyValueEncodingType,
    value_kind: str,
    batching: bool,
) -> None:
    java_client.require_java()
    topic = _topic(enforced, f"n2j-{encoding.name.lower()}")
    schema = _kv_schema(value_kind, encoding)
    producer = client.create_producer(
        topic, schema=schema, batching_enabled=batching, batching_max_publish_delay_ms=60_000
    )
    records = _measures(4, f"native-{value_kind}")
    keys = [{"site": f"site{i % 2}", "rack": 10 + i} for i in range(len(records))]
    for k, d in zip(keys, records, strict=True):
        producer.send_async((SensorKey(**k), _measure(d)), None)
    producer.flush()
    producer.close()
    got = java_client.consume(
        broker.service_url, broker.admin_url, topic, len(records), subscription="java"
    )
    assert [_printed(m) for m in got] == [
        {"key": java_text(k), "value": java_text(d)} for k, d in zip(keys, records, strict=True)
    ]
    if encoding is SEPARATED:  # Java sees the message key as we wrote it: base64 of the key
        assert [m.key for m in got] == [
            base64.b64encode(JsonSchema(SensorKey).encode(SensorKey(**k))).decode() for k in keys
        ]
    else:
        assert [m.key for m in got] == [None] * len(records)


def test_the_consume_output_parser() -> None:
    """The parser reads Java's map syntax and skips log lines around the messages."""
    out = "\n".join(
        [
            "12:00:00.000 [main] WARN  org.apache.pulsar.x - a log line, with {braces}",
            java_client.MESSAGE_BOUNDARY,
            "publishTime:[1700000000000], eventTime:[0], key:[eyJ9], properties:[], "
            "content:{value={where={lat=0.5, lon=-2.5}, ok=true, seq=1099511627776, note=NULL},"
            " key={site=north, rack=7}}",
            java_client.MESSAGE_BOUNDARY,
            "publishTime:[1700000000001], eventTime:[0], key:[null], properties:[a=b], "
            "content:{key={}, value={value=x, type=class java.lang.String}}",
        ]
    )
    first, second = java_client.parse_consume_output(out)
    assert first == JavaMessage(
        "eyJ9",
        {
            "value": {
                "where": {"lat": "0.5", "lon": "-2.5"},
                "ok": "true",
                "seq": "1099511627776",
                "note": "NULL",
            },
            "key": {"site": "north", "rack": "7"},
        },
    )
    assert second == JavaMessage(
        None, {"key": {}, "value": {"value": "x", "type": "class java.lang.String"}}
    )
    assert java_text({"a": None, "b": False, "c": {"d": 2.5}}) == {
        "a": "NULL",
        "b": "false",
        "c": {"d": "2.5"},
    }
    assert avro_json(Measure.schema(), _measures(2, "t")[1])["where"] == {
        "Place": {"lat": 0.5, "lon": -2.5}
    }

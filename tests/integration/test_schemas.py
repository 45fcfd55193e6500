"""Schemas against the real broker: a namespace that enforces them, the native client's Avro
and JSON producers accepted and a wrong schema refused with one clear error, records read
field by field across the native and the official client (AVRO, JSON), KEY_VALUE between
native clients, and AUTO_CONSUME over two versions of a topic's schema.

KEY_VALUE interop is checked against the Java reference client instead
(test_schema_key_value_java.py): the official Python client has no KeyValue schema, and cannot
send one at all (its SchemaInfo carries no properties, and its C++ producer then refuses with
"Not found kv.encoding.type")."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from enum import Enum
from typing import Any

import httpx
import pytest
from interop import official

from pulsarload.client import Client, IncompatibleSchema
from pulsarload.client.schema import (
    Array,
    AutoConsumeSchema,
    AvroSchema,
    Boolean,
    Bytes,
    Double,
    Integer,
    JsonSchema,
    KeyValueEncodingType,
    KeyValueSchema,
    Long,
    Record,
    String,
    StringSchema,
    schema_version_int,
)
from pulsarload.client.schema_registry import get_or_create_schema

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


class Unit(Enum):
    CELSIUS = 0
    KELVIN = 1


class Place(Record):
    lat = Double(required=True)
    lon = Double(required=True)


class Reading(Record):
    """The same record as interop/official_schema.py declares with the official client."""

    sensor = String(required=True)
    seq = Long(required=True)
    value = Double()
    level = Integer()
    ok = Boolean()
    tags = Array(String())
    unit = Unit
    where = Place
    note = Bytes()


class WrongReading(Record):
    sensor = Integer(required=True)


def _records(n: int) -> list[dict[str, Any]]:
    """Plain records (enums by name, bytes as text), some fields left null."""
    return [
        {
            "sensor": f"s-{i}",
            "seq": (1 << 40) + i,
            "value": None if i % 4 == 3 else i * 0.5,
            "level": -i,
            "ok": i % 2 == 0,
            "tags": [f"t{j}" for j in range(i % 3)],
            "unit": "KELVIN" if i % 2 else "CELSIUS",
            "where": None if i % 3 == 0 else {"lat": 1.25 * i, "lon": -2.5},
            "note": f"note {i}",
        }
        for i in range(n)
    ]


def _to_record(d: dict[str, Any]) -> Reading:
    d = dict(d)
    d["note"] = d["note"].encode()
    return Reading(**d)


def _plain(r: Reading) -> dict[str, Any]:
    out = r.to_dict()
    out["unit"] = out["unit"].name if out["unit"] is not None else None
    out["note"] = out["note"].decode() if out["note"] is not None else None
    return out


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


def _topic(ns: str, prefix: str) -> str:
    return f"persistent://{ns}/{prefix}-{uuid.uuid4().hex[:10]}"


def _receive_values(consumer: Any, n: int) -> list[Any]:
    values = []
    for _ in range(n):
        msg = consumer.receive(timeout_millis=30000)
        values.append(msg.value())
        consumer.acknowledge(msg)
    return values


@pytest.mark.parametrize("kind", ["avro", "json"])
def test_native_producer_accepted_and_read_back(client: Client, enforced: str, kind: str) -> None:
    topic = _topic(enforced, kind)
    schema_cls = AvroSchema if kind == "avro" else JsonSchema
    consumer = client.subscribe(topic, "native", schema=schema_cls(Reading))
    producer = client.create_producer(topic, schema=schema_cls(Reading), batching_enabled=True)
    records = _records(6)
    for d in records:
        producer.send_async(_to_record(d), None)
    producer.flush()
    got = _receive_values(consumer, len(records))
    assert [_plain(r) for r in got] == records
    reader = client.create_reader(topic, "earliest", schema_cls(Reading))
    assert _plain(reader.read_next(30000).value()) == records[0]
    reader.close()
    info = client.get_schema_info(topic)
    assert info is not None and json.loads(info.schema()) == Reading.schema()
    producer.close()
    consumer.close()


def test_wrong_schema_is_refused_with_a_clear_error(client: Client, enforced: str) -> None:
    topic = _topic(enforced, "wrong")
    producer = client.create_producer(topic, schema=AvroSchema(Reading))
    producer.send(_to_record(_records(1)[0]))
    with pytest.raises(IncompatibleSchema) as err:
        client.create_producer(topic, schema=AvroSchema(WrongReading))
    text = str(err.value)
    assert topic in text and "AVRO" in text and "\n" not in text
    # Enforcement: a producer without a schema is refused too.
    with pytest.raises(IncompatibleSchema):
        client.create_producer(topic)
    producer.close()


@pytest.mark.parametrize("kind", ["avro", "json"])
def test_official_reads_what_native_wrote(
    broker: Any, client: Client, enforced: str, kind: str
) -> None:
    official.require_official()
    topic = _topic(enforced, f"n2o-{kind}")
    schema_cls = AvroSchema if kind == "avro" else JsonSchema
    producer = client.create_producer(topic, schema=schema_cls(Reading))
    records = _records(5)
    for d in records:
        producer.send(_to_record(d))
    producer.close()
    got = official._run(
        "official_schema.py", broker.service_url, topic, f"consume-{kind}",
        "--count", str(len(records)), timeout=120,
    )  # fmt: skip
    assert got == records


@pytest.mark.parametrize("kind", ["avro", "json"])
def test_native_reads_what_official_wrote(
    broker: Any, client: Client, enforced: str, kind: str
) -> None:
    official.require_official()
    topic = _topic(enforced, f"o2n-{kind}")
    schema_cls = AvroSchema if kind == "avro" else JsonSchema
    consumer = client.subscribe(topic, "native", schema=schema_cls(Reading))
    records = _records(5)
    official._run(
        "official_schema.py", broker.service_url, topic, f"produce-{kind}",
        "--records", json.dumps(records), timeout=120,
    )  # fmt: skip
    got = _receive_values(consumer, len(records))
    assert [_plain(r) for r in got] == records
    consumer.close()


def test_key_value_inline_native_typed(client: Client, enforced: str) -> None:
    topic = _topic(enforced, "kv")
    schema = KeyValueSchema(StringSchema(), AvroSchema(Reading))
    consumer = client.subscribe(topic, "native", schema=schema)
    producer = client.create_producer(topic, schema=schema)
    records = _records(3)
    for i, d in enumerate(records):
        producer.send((f"k{i}", _to_record(d)))
    got = _receive_values(consumer, len(records))
    assert [(kv.key, _plain(kv.value)) for kv in got] == [
        (f"k{i}", d) for i, d in enumerate(records)
    ]
    info = client.get_schema_info(topic)
    assert info is not None and info.properties()["value.schema.type"] == "AVRO"
    producer.close()
    consumer.close()


@pytest.mark.parametrize("batching", [False, True])
def test_key_value_separated_native_typed(
    broker: Any, client: Client, enforced: str, batching: bool
) -> None:
    """The Avro-encoded key travels base64 in the message key, flagged as such; the payload
    is the value alone; typed and AUTO_CONSUME consumers put the pair back together."""
    topic = _topic(enforced, "kvsep")
    schema = KeyValueSchema(AvroSchema(Place), AvroSchema(Reading), KeyValueEncodingType.SEPARATED)
    consumer = client.subscribe(topic, "native", schema=schema)
    auto = client.subscribe(topic, "auto", schema=AutoConsumeSchema())
    producer = client.create_producer(topic, schema=schema, batching_enabled=batching)
    records = _records(4)
    keys = [Place(lat=0.5 * i, lon=-float(i)) for i in range(len(records))]
    for k, d in zip(keys, records, strict=True):
        producer.send_async((k, _to_record(d)), None)
    producer.flush()
    msgs = [consumer.receive(timeout_millis=30000) for _ in records]
    for msg, k, d in zip(msgs, keys, records, strict=True):
        assert msg.has_base64_encoded_key()
        assert base64.b64decode(msg.partition_key()) == AvroSchema(Place).encode(k)
        assert msg.data() == AvroSchema(Reading).encode(_to_record(d))
        kv = msg.value()
        assert kv.key == k and _plain(kv.value) == d
        consumer.acknowledge(msg)
    got = _receive_values(auto, len(records))
    assert [(kv.key, kv.value["sensor"], kv.value["seq"]) for kv in got] == [
        (k.to_dict(), d["sensor"], d["seq"]) for k, d in zip(keys, records, strict=True)
    ]
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.get(f"/admin/v2/schemas/{topic.split('://', 1)[1]}/schema")
        assert resp.status_code == 200, resp.text
        registry = resp.json()
    assert registry["type"] == "KEY_VALUE"
    assert registry["properties"]["kv.encoding.type"] == "SEPARATED"
    assert registry["properties"]["key.schema.type"] == "AVRO"
    assert registry["properties"]["value.schema.type"] == "AVRO"
    producer.close()
    consumer.close()
    auto.close()


def test_key_value_separated_routes_by_the_encoded_key(
    broker: Any, client: Client, enforced: str
) -> None:
    """On a partitioned topic each pair goes to the partition its encoded key hashes to: every
    message of one key lands on one partition, unbatched and batched alike."""
    topic = _topic(enforced, "kvparts")
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.put(f"/admin/v2/persistent/{topic.split('://', 1)[1]}/partitions", json=4)
        assert resp.status_code in (200, 204), resp.text
    schema = KeyValueSchema(StringSchema(), StringSchema(), KeyValueEncodingType.SEPARATED)
    consumer = client.subscribe(topic, "native", schema=schema)
    keys = [f"key-{i}" for i in range(5)]
    sent = 0
    for batching in (False, True):
        producer = client.create_producer(topic, schema=schema, batching_enabled=batching)
        for round_ in range(4):
            for k in keys:
                producer.send_async((k, f"{k}/{round_}/{batching}"), None)
                sent += 1
        producer.flush()
        producer.close()
    where: dict[str, set[str]] = {}
    for _ in range(sent):
        msg = consumer.receive(timeout_millis=30000)
        kv = msg.value()
        assert kv.value.startswith(f"{kv.key}/")
        where.setdefault(kv.key, set()).add(msg.topic_name())
        consumer.acknowledge(msg)
    assert sorted(where) == keys
    assert all(len(partitions) == 1 for partitions in where.values()), where
    consumer.close()


def test_auto_consume_across_two_schema_versions(client: Client, enforced: str) -> None:
    topic = _topic(enforced, "auto")
    v1 = {"type": "record", "name": "Event", "fields": [
        {"name": "id", "type": "long"}, {"name": "kind", "type": "string"}]}  # fmt: skip
    v2 = {**v1, "fields": [*v1["fields"], {"name": "extra", "type": ["null", "string"],
                                           "default": None}]}  # fmt: skip
    auto = client.subscribe(topic, "auto", schema=AutoConsumeSchema())
    old_reader = client.subscribe(topic, "v1", schema=AvroSchema(None, v1))
    p1 = client.create_producer(topic, schema=AvroSchema(None, v1))
    p1.send({"id": 1, "kind": "first"})
    p1.close()
    p2 = client.create_producer(topic, schema=AvroSchema(None, v2))
    p2.send({"id": 2, "kind": "second", "extra": "more"})
    p2.close()
    msgs = [auto.receive(timeout_millis=30000) for _ in range(2)]
    assert [m.value() for m in msgs] == [
        {"id": 1, "kind": "first"},
        {"id": 2, "kind": "second", "extra": "more"},
    ]
    versions = [m.int_schema_version() for m in msgs]
    assert versions[0] != versions[1] and min(versions) >= 0
    # A reader of the first version reads the second by field name.
    assert _receive_values(old_reader, 2) == [
        {"id": 1, "kind": "first"},
        {"id": 2, "kind": "second"},
    ]


def test_get_or_create_schema_registers_versions(client: Client, enforced: str) -> None:
    topic = _topic(enforced, "registry")
    holder = client.subscribe(topic, "holder")  # the broker answers for loaded topics only
    conn = client.connect(topic)
    v1 = {"type": "record", "name": "Event", "fields": [{"name": "id", "type": "long"}]}
    v2 = {**v1, "fields": [*v1["fields"], {"name": "x", "type": ["null", "int"], "default": None}]}
    first = get_or_create_schema(conn, topic, AvroSchema(None, v1).schema_info())
    again = get_or_create_schema(conn, topic, AvroSchema(None, v1).schema_info())
    second = get_or_create_schema(conn, topic, AvroSchema(None, v2).schema_info())
    assert first == again and schema_version_int(second) == schema_version_int(first) + 1
    assert json.loads(client.get_schema_info(topic, first).schema()) == v1  # type: ignore[union-attr]
    with pytest.raises(IncompatibleSchema):
        get_or_create_schema(conn, topic, AvroSchema(WrongReading).schema_info())
    holder.close()


def test_partitioned_topic_with_a_schema(broker: Any, client: Client, enforced: str) -> None:
    topic = _topic(enforced, "parts")
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.put(f"/admin/v2/persistent/{topic.split('://', 1)[1]}/partitions", json=3)
        assert resp.status_code in (200, 204), resp.text
    consumer = client.subscribe(topic, "native", schema=AvroSchema(Reading))
    producer = client.create_producer(topic, schema=AvroSchema(Reading), batching_enabled=True)
    records = _records(9)
    for d in records:
        producer.send_async(_to_record(d), None)
    producer.flush()
    got = _receive_values(consumer, len(records))
    assert sorted((_plain(r) for r in got), key=lambda d: d["seq"]) == records
    producer.close()
    consumer.close()

"""Produce or consume typed records with Apache's official client (run by .venv-gil).

    python official_schema.py SERVICE_URL TOPIC MODE [--records JSON] [--count N]

MODE: produce-avro, produce-json (send --records as `Reading`s with AvroSchema / JsonSchema),
consume-avro, consume-json (receive --count `Reading`s from the earliest position). Prints one
JSON list: the records sent or received as plain dicts (enums by name, bytes as text).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from enum import Enum

import pulsar
from pulsar.schema import (
    Array,
    AvroSchema,
    Boolean,
    Bytes,
    Double,
    Integer,
    JsonSchema,
    Long,
    Record,
    String,
)

RESULT_MARKER = "@@RESULT@@ "


class Unit(Enum):
    CELSIUS = 0
    KELVIN = 1


class Place(Record):
    lat = Double(required=True)
    lon = Double(required=True)


class Reading(Record):
    sensor = String(required=True)
    seq = Long(required=True)
    value = Double()
    level = Integer()
    ok = Boolean()
    tags = Array(String())
    unit = Unit
    where = Place
    note = Bytes()


def plain(v):
    if isinstance(v, Enum):
        return v.name
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, Record):
        return {k: plain(getattr(v, k)) for k in type(v)._fields}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def reading(d: dict) -> Reading:
    d = dict(d)
    if d.get("note") is not None:
        d["note"] = d["note"].encode()
    if d.get("where") is not None:
        d["where"] = Place(**d["where"])
    return Reading(**d)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("service_url")
    ap.add_argument("topic")
    ap.add_argument("mode")
    ap.add_argument("--records", default="[]")
    ap.add_argument("--count", type=int, default=0)
    args = ap.parse_args()
    client = pulsar.Client(
        args.service_url,
        operation_timeout_seconds=30,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Warn, "/dev/stderr"),
    )
    out = []
    try:
        kind = args.mode.split("-", 1)[1]
        if args.mode.startswith("produce"):
            schema = AvroSchema(Reading) if kind == "avro" else JsonSchema(Reading)
            producer = client.create_producer(args.topic, schema=schema)
            for item in json.loads(args.records):
                producer.send(reading(item))
                out.append(item)
            producer.close()
        else:
            schema = AvroSchema(Reading) if kind == "avro" else JsonSchema(Reading)
            consumer = client.subscribe(
                args.topic,
                f"official-{uuid.uuid4().hex[:8]}",
                schema=schema,
                initial_position=pulsar.InitialPosition.Earliest,
            )
            for _ in range(args.count):
                msg = consumer.receive(timeout_millis=30000)
                out.append(plain(msg.value()))
                consumer.acknowledge(msg)
            consumer.close()
    finally:
        client.close()
    print(RESULT_MARKER + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

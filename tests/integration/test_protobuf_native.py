"""PROTOBUF_NATIVE against the real broker: in a namespace that enforces schemas the producer
is accepted and the registry keeps our descriptor set, a typed and an AUTO_CONSUME consumer
decode field by field, another root message is refused with one clear line (the broker's check
for this type compares root message names), and the load tool runs headless with
`--schema protobuf-native:FILE:pkg.Message` and `--verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.descriptor_pb2 import FieldDescriptorProto

from pulsarload.client import Client, IncompatibleSchema
from pulsarload.client.schema import AutoConsumeSchema, ProtobufNativeSchema, SchemaType
from support.proto_descriptors import descriptor_set, order_files, write_descriptor_set

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def _orders(n: int) -> list[dict[str, Any]]:
    """Orders as `ProtobufNativeSchema` decodes them (every field; unset ones None or default)."""
    return [
        {
            "id": (1 << 40) + i,
            "customer": f"c-{i}",
            "amount": i * 0.5,
            "paid": i % 2 == 0,
            "count": i,
            "delta": -i,
            "code": 7 * i,
            "blob": bytes([i]) * 3,
            "status": ("NEW", "PAID", "SHIPPED")[i % 3],
            "lines": [{"sku": f"s{j}", "qty": j, "price": 1.5} for j in range(i % 3)],
            "tags": {f"k{j}": "v" for j in range(i % 2)},
            "ship": None if i % 2 else {"sku": "box", "qty": 1, "price": 0.25},
            "card": None if i % 2 else "visa",
            "cash": True if i % 2 else None,
            "priority": i if i % 3 else None,
            "scores": [0.5] * (i % 2),
            "chain": None if i % 3 == 0 else {"label": "a", "next": None},
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


@pytest.fixture(scope="module")
def enforced(broker: Any) -> str:
    """A fresh namespace with schemaValidationEnforced on; 'public/<name>'."""
    ns = f"public/protobuf-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.put(f"/admin/v2/namespaces/{ns}", json={})
        assert resp.status_code in (200, 204), resp.text
        resp = http.post(f"/admin/v2/namespaces/{ns}/schemaValidationEnforced", json=True)
        assert resp.status_code in (200, 204), resp.text
    return ns


def _topic(ns: str, prefix: str) -> str:
    return f"persistent://{ns}/{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("batching", [False, True])
def test_accepted_and_decoded_field_by_field(
    broker: Any, client: Client, enforced: str, batching: bool
) -> None:
    topic = _topic(enforced, "proto")
    schema = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.Order")
    typed = client.subscribe(topic, "typed", schema=schema)
    auto = client.subscribe(topic, "auto", schema=AutoConsumeSchema())
    producer = client.create_producer(topic, schema=schema, batching_enabled=batching)
    orders = _orders(6)
    for order in orders:
        producer.send_async(order, None)
    producer.flush()
    for consumer in (typed, auto):
        for order in orders:
            msg = consumer.receive(timeout_millis=30000)
            assert msg.value() == order
            assert msg.data() == schema.encode(order)  # the payload is the message itself
            consumer.acknowledge(msg)
    # The registry keeps our entry as it is: type 20, the Java client's JSON.
    info = client.get_schema_info(topic)
    assert info is not None and info.schema_type() == SchemaType.ProtobufNative
    assert json.loads(info.schema_bytes()) == json.loads(schema.schema_info().schema_bytes())
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.get(f"/admin/v2/schemas/{topic.split('://', 1)[1]}/schema")
        assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "PROTOBUF_NATIVE"
    producer.close()
    typed.close()
    auto.close()


def test_another_root_message_is_refused_with_a_clear_error(client: Client, enforced: str) -> None:
    topic = _topic(enforced, "proto-wrong")
    order = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.Order")
    producer = client.create_producer(topic, schema=order)
    producer.send(_orders(1)[0])
    line = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.common.Line")
    with pytest.raises(IncompatibleSchema) as err:
        client.create_producer(topic, schema=line)
    text = str(err.value)
    assert topic in text and "PROTOBUF_NATIVE schema of record shop.common.Line" in text
    assert "\n" not in text
    # A changed field of the same root message is a new version (the broker's check for this
    # type compares root message names only).
    changed = ProtobufNativeSchema.from_descriptor_set(
        descriptor_set(order_files(customer_type=FieldDescriptorProto.TYPE_INT32)), "shop.Order"
    )
    client.create_producer(topic, schema=changed).close()
    producer.close()


def cli(broker: Any, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless", "-u", broker.service_url,
         "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_headless_run_with_verify_misses_nothing(broker: Any, make_topic, tmp_path: Path) -> None:
    topic = make_topic("load-proto")
    desc = write_descriptor_set(tmp_path / "order.desc")
    common = ["--schema", f"protobuf-native:{desc}:shop.Order", "--verify", "-m", "600", "-t", "2"]
    produced = cli(broker, "produce", topic, *common, "-r", "600", "-s", "300",
                   "--report", str(tmp_path / "p.json"))  # fmt: skip
    assert produced.returncode == 0, produced.stdout + produced.stderr
    consumed = cli(
        broker, "consume", topic, *common, "--verify-against", str(tmp_path / "p.json"),
        "--initial-position", "earliest", "--subscription-type", "shared",
        "--report", str(tmp_path / "c.json"), "--threshold", "missing<1",
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    verify = report["meta"]["verify"]
    assert verify == {**verify, "missing": 0, "duplicates": 0, "unique": 600, "producers": 2}
    total = report["final"]["total"]
    assert total["failed"] == 0 and "schema_decode" not in total["errors"], total
    meta = json.loads((tmp_path / "p.json").read_text())["meta"]["schema"]
    assert meta["type"] == "PROTOBUF_NATIVE" and meta["record"] == "shop.Order"
    assert meta["fields"] == len(order_files()[0].message_type[0].field)
    assert meta["encode_us_per_msg"] > 0 and report["meta"]["schema"]["decode_us_per_msg"] > 0
    # What the run wrote is what a consumer of the schema reads, near --size.
    with Client(broker.service_url) as client:
        info = client.get_schema_info(topic)
        assert info is not None and info.schema_type() == SchemaType.ProtobufNative
        reader = client.create_reader(topic, "earliest")
        msg = reader.read_next(10_000)
        value = ProtobufNativeSchema.from_schema_data(info.schema_bytes()).decode(msg.data())
        assert value["customer"].startswith("PLv1") and value["status"] in (
            "NEW",
            "PAID",
            "SHIPPED",
        )
        assert abs(len(msg.data()) - 300) <= 2


def test_a_refused_root_message_stops_the_run_in_one_line(
    broker: Any, make_topic, tmp_path: Path
) -> None:
    topic = make_topic("load-proto-refused")
    with Client(broker.service_url) as client:
        order = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.Order")
        client.create_producer(topic, schema=order).close()
    desc = write_descriptor_set(tmp_path / "order.desc")
    run = cli(broker, "produce", topic, "--schema", f"protobuf-native:{desc}:shop.common.Line",
              "-m", "10")  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    line = next(x for x in out.splitlines() if "IncompatibleSchema" in x)
    assert topic in line and "refuses --schema" in line


def test_schema_registry_check_says_before_the_run(broker: Any, make_topic, tmp_path: Path) -> None:
    topic = make_topic("load-proto-check")
    with Client(broker.service_url) as client:
        order = ProtobufNativeSchema.from_descriptor_set(descriptor_set(), "shop.Order")
        client.create_producer(topic, schema=order).close()
    desc = write_descriptor_set(tmp_path / "order.desc")
    same = cli(broker, "produce", topic, "--schema", f"protobuf-native:{desc}:shop.Order",
               "--schema-registry-check", "-m", "10")  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    assert "schema check:" in same.stdout and "takes --schema" in same.stdout
    refused = cli(broker, "produce", topic, "--schema", f"protobuf-native:{desc}:shop.common.Line",
                  "--schema-registry-check", "-m", "10")  # fmt: skip
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    line = next(x for x in out.splitlines() if "schema check:" in x)
    assert "does not take --schema" in line and "PROTOBUF_NATIVE" in line
    assert "acked" not in out  # nothing ran

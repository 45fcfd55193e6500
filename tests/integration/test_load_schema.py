"""The load tool with `--schema` against the real broker: typed records produced and decoded,
verification through the decoded records, and a refused schema stopping before any load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pulsarload.client import Client
from pulsarload.client.schema import AvroSchema

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "paid", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line",
            "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
        {"name": "tags", "type": {"type": "map", "values": "string"}},
    ],
}  # fmt: skip


def cli(broker, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless", "-u", broker.service_url,
         "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["avro", "json"])
def test_schema_run_with_verify_misses_nothing(
    broker, make_topic, tmp_path: Path, kind: str
) -> None:
    topic = make_topic(f"load-{kind}")
    spec_file = tmp_path / "order.avsc"
    spec_file.write_text(json.dumps(ORDER))
    spec = f"{kind}:{spec_file}"
    common = ["--schema", spec, "--verify", "-m", "2000", "-t", "2"]
    produced = cli(broker, "produce", topic, *common, "-r", "2000", "-s", "300",
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
    assert verify == {**verify, "missing": 0, "duplicates": 0, "unique": 2000, "producers": 2}
    total = report["final"]["total"]
    assert total["failed"] == 0 and "schema_decode" not in total["errors"], total
    # The reports name the schema, its registry version and the cost per message.
    produced_meta = json.loads((tmp_path / "p.json").read_text())["meta"]["schema"]
    assert produced_meta["type"] == kind.upper() and produced_meta["record"] == "Order"
    assert produced_meta["fields"] == len(ORDER["fields"])
    assert produced_meta["registry_version"] == 0
    assert produced_meta["encode_us_per_msg"] > 0
    assert report["meta"]["schema"]["decode_us_per_msg"] > 0
    # The records are what a consumer of the schema reads: the registry has it, and one
    # decodes field by field with the native client.
    with Client(broker.service_url) as client:
        info = client.get_schema_info(topic)
        assert info is not None and json.loads(info.schema()) == ORDER
        if kind == "avro":
            reader = client.create_reader(topic, "earliest")
            msg = reader.read_next(10_000)
            record = AvroSchema(None, ORDER).decode(msg.data())
            assert set(record) == {f["name"] for f in ORDER["fields"]}
            assert record["status"] in ("NEW", "PAID")
            assert abs(len(msg.data()) - 300) <= 8


def test_a_schema_that_does_not_parse_stops_before_load(broker, topic: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record", "name": "R"}')
    run = cli(broker, "produce", topic, "--schema", f"avro:{bad}", "-m", "10")
    assert run.returncode != 0
    assert "not a valid Avro schema" in run.stdout + run.stderr


def test_a_refused_schema_is_one_clear_line(broker, make_topic, tmp_path: Path) -> None:
    topic = make_topic("load-refused")
    with Client(broker.service_url) as client:
        client.create_producer(topic, schema=AvroSchema(None, ORDER)).close()
    other = {"type": "record", "name": "Order", "namespace": "shop",
             "fields": [{"name": "id", "type": "string"}]}  # fmt: skip
    run = cli(broker, "produce", topic, "--schema", f"avro:{json.dumps(other)}", "-m", "10")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    line = next(x for x in out.splitlines() if "IncompatibleSchema" in x)
    assert topic in line and "refuses --schema" in line


def test_official_engine_registers_the_same_schema(broker, make_topic, tmp_path: Path) -> None:
    """The official engine sends the records the load layer encoded and tells the registry the
    same definition: the native consumer side verifies the run and decodes every record."""
    from interop.official import official_python, require_official

    require_official()
    topic = make_topic("load-official")
    spec = f"avro:{json.dumps(ORDER)}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    produced = subprocess.run(
        [str(official_python()), "-m", "pulsarload", "produce", topic, "--engine", "official",
         "--headless", "-u", broker.service_url, "--admin-url", broker.admin_url,
         "--schema", spec, "--verify", "-m", "500", "-r", "1000", "-s", "200",
         "--report", str(tmp_path / "p.json")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stdout[-2000:] + produced.stderr[-2000:]
    consumed = cli(
        broker, "consume", topic, "--schema", spec, "--verify", "-m", "500",
        "--verify-against", str(tmp_path / "p.json"), "--initial-position", "earliest",
        "--report", str(tmp_path / "c.json"), "--threshold", "missing<1",
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["meta"]["verify"]["missing"] == 0
    with Client(broker.service_url) as client:
        info = client.get_schema_info(topic)
        assert info is not None and json.loads(info.schema()) == ORDER


def test_schema_registry_check_says_before_the_run(broker, make_topic) -> None:
    topic = make_topic("load-check")
    with Client(broker.service_url) as client:
        client.create_producer(topic, schema=AvroSchema(None, ORDER)).close()
    same = cli(broker, "produce", topic, "--schema", f"avro:{json.dumps(ORDER)}",
               "--schema-registry-check", "-m", "10")  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    assert "schema check:" in same.stdout and "takes --schema" in same.stdout
    other = {"type": "record", "name": "Order", "namespace": "shop",
             "fields": [{"name": "id", "type": "string"}]}  # fmt: skip
    refused = cli(broker, "produce", topic, "--schema", f"avro:{json.dumps(other)}",
                  "--schema-registry-check", "-m", "10")  # fmt: skip
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    line = next(x for x in out.splitlines() if "schema check:" in x)
    assert "does not take --schema" in line and "version 0" in line
    assert "acked" not in out  # nothing ran

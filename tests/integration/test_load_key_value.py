"""The load tool with `--schema key-value:KEY,VALUE[,separated]` against the real broker:
pairs produced and decoded with verification through the value record, the registry told
KEY_VALUE with the encoding, and the records read back field by field by the native client."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pulsarload.client import Client
from pulsarload.client.schema import parse_schema_spec

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

KEY = {"type": "record", "name": "CustomerKey", "namespace": "shop", "fields": [
    {"name": "region", "type": "string"}, {"name": "customer", "type": "long"}]}  # fmt: skip
ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"}, {"name": "note", "type": "string"},
    {"name": "amount", "type": ["null", "double"], "default": None},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
]}  # fmt: skip


def cli(broker, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless", "-u", broker.service_url,
         "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("encoding", "mode"), [("inline", "poll"), ("separated", "poll"), ("separated", "listener")]
)
def test_key_value_run_with_verify_misses_nothing(
    broker, make_topic, tmp_path: Path, encoding: str, mode: str
) -> None:
    topic = make_topic(f"load-kv-{encoding}")
    (tmp_path / "key.avsc").write_text(json.dumps(KEY))
    (tmp_path / "order.avsc").write_text(json.dumps(ORDER))
    spec = f"key-value:avro:{tmp_path / 'key.avsc'},json:{tmp_path / 'order.avsc'},{encoding}"
    common = ["--schema", spec, "--verify", "-m", "1500", "-t", "2"]
    produced = cli(broker, "produce", topic, *common, "-r", "2000", "-s", "300",
                   "--report", str(tmp_path / "p.json"))  # fmt: skip
    assert produced.returncode == 0, produced.stdout + produced.stderr
    consumed = cli(
        broker, "consume", topic, *common, "--verify-against", str(tmp_path / "p.json"),
        "--initial-position", "earliest", "--subscription-type", "shared", "--mode", mode,
        "--report", str(tmp_path / "c.json"), "--threshold", "missing<1",
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    verify = report["meta"]["verify"]
    assert verify == {**verify, "missing": 0, "duplicates": 0, "unique": 1500, "producers": 2}
    total = report["final"]["total"]
    assert total["failed"] == 0 and "schema_decode" not in total["errors"], total
    produced_meta = json.loads((tmp_path / "p.json").read_text())["meta"]["schema"]
    assert produced_meta["type"] == "KEY_VALUE"
    assert produced_meta["encoding"] == encoding.upper()
    assert produced_meta["record"] == "Order"
    # The registry holds KEY_VALUE with both halves and the encoding.
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.get(f"/admin/v2/schemas/{topic.split('://', 1)[1]}/schema")
        assert resp.status_code == 200, resp.text
        registry = resp.json()
    assert registry["type"] == "KEY_VALUE"
    props = registry["properties"]
    assert props["kv.encoding.type"] == encoding.upper()
    assert (props["key.schema.type"], props["value.schema.type"]) == ("AVRO", "JSON")
    # A native consumer with the pair's schema reads the records field by field.
    schema = parse_schema_spec(spec)
    with Client(broker.service_url) as client:
        reader = client.create_reader(topic, "earliest", schema)
        for _ in range(20):
            msg = reader.read_next(10_000)
            kv = msg.value()
            assert set(kv.key) == {"region", "customer"} and isinstance(kv.key["customer"], int)
            assert set(kv.value) == {f["name"] for f in ORDER["fields"]}
            assert kv.value["note"].startswith("PLv1") and kv.value["status"] in ("NEW", "PAID")
            if encoding == "separated":
                assert msg.has_base64_encoded_key()
                assert schema.key_schema.decode(base64.b64decode(msg.partition_key())) == kv.key
            else:
                assert msg.partition_key() == ""
        reader.close()
    # The registry check takes the same pair, and the admin API's form of it.
    check = cli(broker, "produce", topic, "--schema", spec, "--schema-registry-check", "-m", "1")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "takes --schema" in check.stdout
    other = {**ORDER, "fields": [{"name": "id", "type": "string"}]}
    wrong = f"key-value:avro:{tmp_path / 'key.avsc'},json:{json.dumps(other)},{encoding}"
    refused = cli(broker, "produce", topic, "--schema", wrong, "--schema-registry-check", "-m", "1")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "does not take --schema" in refused.stdout + refused.stderr

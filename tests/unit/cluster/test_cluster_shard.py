"""A shard on its own (no Dask): plain data in and out, and a failed start said plainly."""

from __future__ import annotations

import dataclasses
import json
import socket

from pulsarload.cluster.shard import Shard, worker_facts
from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load.verify import SequenceTracker
from support.waiting import eventually


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_shard_that_cannot_connect_says_why_and_stops_clean() -> None:
    settings = resolve_settings(
        ProduceSettings,
        {"service_url": f"pulsar://127.0.0.1:{closed_port()}", "connect_timeout_s": 2.0},
        environ={},
    )
    data = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    shard = Shard(0, "producer", data, run_id=4096)
    shard.prepare()
    eventually(lambda: shard.readiness()["failures"], 30, "the shard's connect failure")
    ready = shard.readiness()
    assert "ConnectError" in ready["failures"][0], ready
    poll = json.loads(shard.poll())
    assert poll["counters"]["sent"] == 0 and poll["epoch"] == 0
    final = json.loads(shard.stop())
    assert final["final_failures"] and final["total"]["sent"] == 0
    assert shard.controller is None


def test_worker_facts_name_the_version_and_the_gil() -> None:
    facts = worker_facts()
    assert {"pulsarload", "python", "gil_enabled", "host", "pid", "time"} <= set(facts)


def test_a_tracker_survives_the_trip_between_processes() -> None:
    a, b = SequenceTracker(), SequenceTracker()
    for seq in (0, 1, 2, 5):
        a.see(7, seq)
    for seq in (3, 4, 5):
        b.see(7, seq)
    back = SequenceTracker.from_dict(
        json.loads(
            json.dumps({k: {**v, "bits": v["bits"].hex()} for k, v in a.to_dict().items()}),
            object_hook=lambda d: {**d, "bits": bytes.fromhex(d["bits"])} if "bits" in d else d,
        )
    )
    report = back.merge(b).report()
    assert (report.unique, report.missing, report.duplicates) == (6, 0, 1)

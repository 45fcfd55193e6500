"""Redeliveries by reason in the metrics: recorded per worker, merged exactly into snapshots,
kept through JSON, in the CSV columns and on the Prometheus endpoint."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from pulsarload.client import RedeliveryCounts
from pulsarload.metrics.export import CSV_COLUMNS, CsvSeriesWriter, read_csv, snapshot_row
from pulsarload.metrics.prometheus import prometheus_text
from pulsarload.metrics.recorder import REDELIVERY_FIELDS, REDELIVERY_REASONS, Recorder
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot


class NullResources:
    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats()


def two_workers() -> tuple[Sampler, list[Snapshot]]:
    s = Sampler(resources=NullResources(), grace=0, labels={"role": "consumer"})  # type: ignore[arg-type]
    a, b = s.new_slot("w0"), s.new_slot("w1")
    snaps = []
    a.active.record_redelivery_reasons(RedeliveryCounts(negative_ack=5, seek=2))
    b.active.record_redelivery_reasons(RedeliveryCounts(negative_ack=1, ack_timeout=3))
    snaps.append(s.tick())
    b.active.record_redelivery_reasons(RedeliveryCounts(reconnect=4, requested=1))
    snaps.append(s.tick())
    return s, snaps


def test_a_recorder_adds_each_reason_to_its_own_counter():
    r = Recorder()
    r.record_redelivery_reasons(RedeliveryCounts(negative_ack=2, reconnect=1))
    r.record_redelivery_reasons(RedeliveryCounts(negative_ack=1))
    assert r.redelivered_negative_ack == 3 and r.redelivered_reconnect == 1
    assert not r.is_empty()
    r.reset()
    assert r.is_empty()


def test_workers_merge_exactly_per_interval_and_in_total():
    _, (first, second) = two_workers()
    c = first.counters
    assert (c.redelivered_negative_ack, c.redelivered_ack_timeout, c.redelivered_seek) == (6, 3, 2)
    assert second.counters.redelivered_negative_ack == 0
    t = second.total
    assert {f: getattr(t, f) for f in REDELIVERY_FIELDS} == {
        "redelivered_negative_ack": 6,
        "redelivered_ack_timeout": 3,
        "redelivered_reconnect": 4,
        "redelivered_seek": 2,
        "redelivered_requested": 1,
    }
    by_worker = {w.worker_id: w.counters.redelivered_reconnect for w in second.workers}
    assert by_worker == {"w0": 0, "w1": 4}
    assert Snapshot.from_dict(second.to_dict()) == second


def test_csv_has_one_column_per_reason(tmp_path: Path):
    _, snaps = two_workers()
    assert set(REDELIVERY_FIELDS) <= set(CSV_COLUMNS)
    assert snapshot_row(snaps[0])["redelivered_negative_ack"] == 6
    path = tmp_path / "series.csv"
    w = CsvSeriesWriter(path)
    for s in snaps:
        w(s)
    rows = read_csv(w.close())
    assert [int(r["redelivered_reconnect"]) for r in rows] == [0, 4]


def test_prometheus_has_one_series_per_reason():
    _, snaps = two_workers()
    fams = {f.name: f for f in text_string_to_metric_families(prometheus_text(lambda: snaps[-1]))}
    fam = fams["pulsarload_messages_redelivered_by_reason"]
    got = {s.labels["reason"]: s.value for s in fam.samples}
    assert got == {
        "negative_ack": 6,
        "ack_timeout": 3,
        "reconnect": 4,
        "seek": 2,
        "requested": 1,
    }
    assert set(got) == set(REDELIVERY_REASONS)

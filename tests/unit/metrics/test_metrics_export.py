"""Exports: JSON report, CSV series, .hlog, Prometheus text and HTTP endpoint."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pulsarload.errors import ConfigError
from pulsarload.metrics.export import (
    CSV_COLUMNS,
    CsvSeriesWriter,
    HlogExporter,
    export_snapshot,
    read_csv,
    read_json,
    read_report,
    snapshot_row,
    write_json_atomic,
    write_report,
)
from pulsarload.metrics.hlog import HlogReader
from pulsarload.metrics.prometheus import (
    PROMETHEUS_BUCKETS_US,
    prometheus_text,
    start_prometheus_server,
)
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot


class NullResources:
    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats(rss_bytes=4096, gil_enabled=False, free_threaded_build=True)


def run_ticks(n: int = 5) -> list[Snapshot]:
    s = Sampler(resources=NullResources(), grace=0, labels={"role": "producer"})  # type: ignore[arg-type]
    a, b = s.new_slot("w0"), s.new_slot("w1")
    out = []
    for k in range(n):
        for v in range(1, 201):
            a.active.record_send_batch(1, 64)
            a.active.record_ack(v * 37 + k)
            b.active.record_ack(v * 1500)
        b.active.record_failure("timeout", k)
        a.active.record_send_delay(10 * (k + 1))
        out.append(s.tick())
    return out


def test_json_atomic_write_and_report_round_trip(tmp_path: Path) -> None:
    snaps = run_ticks()
    path = write_report(tmp_path / "out" / "report.json", snaps[-1], meta={"topic": "t"})
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left
    meta, back = read_report(path)
    assert meta == {"topic": "t"}
    assert back == snaps[-1]
    assert back.total_histograms["publish_latency"].total_count == 2000
    p2 = export_snapshot(tmp_path, snaps[0])
    assert p2.name == "snapshot-000001.json"
    assert Snapshot.from_dict(read_json(p2)) == snaps[0]


def test_json_files_get_the_usual_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the test's own umask (restored below)
    try:
        path = write_json_atomic(tmp_path / "report.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # like the CSV series next to it


def test_a_taken_prometheus_port_is_one_clear_line() -> None:
    import socket

    from pulsarload.metrics.prometheus import start_prometheus_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"--prometheus-port {port}: cannot listen on"):
            start_prometheus_server(port, lambda: None, addr="127.0.0.1")


def test_json_write_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"bad": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_csv_round_trip(tmp_path: Path) -> None:
    snaps = run_ticks()
    w = CsvSeriesWriter(tmp_path / "series.csv")
    for snap in snaps:
        w(snap)
    assert not (tmp_path / "series.csv").exists()  # still .partial while running
    assert (tmp_path / "series.csv.partial").exists()
    path = w.close()
    w(snaps[0])  # ignored after close
    rows = read_csv(path)
    assert len(rows) == len(snaps)
    assert list(rows[0]) == list(CSV_COLUMNS)
    for row, snap in zip(rows, snaps, strict=True):
        assert row == snapshot_row(snap)
    assert rows[-1]["errors"] == json.dumps({"timeout": 4}, separators=(",", ":"))
    assert rows[0]["publish_latency_count"] == 400
    assert not (tmp_path / "series.csv.partial").exists()


def test_hlog_exporter_writes_one_interval_per_second(tmp_path: Path) -> None:
    import dataclasses

    snaps = [
        dataclasses.replace(s, time=1_700_000_000.0 + 0.25 * (i + 1), interval=0.25)
        for i, s in enumerate(run_ticks(10))
    ]
    ex = HlogExporter(tmp_path / "lat.hlog", kinds=("publish_latency", "send_delay"))
    for s in snaps:
        ex(s)
    path = ex.close()
    with open(path) as f:
        reader = HlogReader(f)
        intervals = list(reader)
    assert reader.start_time == pytest.approx(1_700_000_000.0)
    # 10 ticks of 0.25 s: two full seconds and one half-second tail, two tagged kinds each.
    assert len(intervals) == 6
    assert [iv.tag for iv in intervals[:2]] == ["publish_latency", "send_delay"]
    pub = [iv for iv in intervals if iv.tag == "publish_latency"]
    assert sum(iv.histogram.total_count for iv in pub) == 4000
    assert pub[0].length == pytest.approx(1.0)
    assert pub[2].length == pytest.approx(0.5)


def test_prometheus_text_parses(tmp_path: Path) -> None:
    snaps = run_ticks()
    text = prometheus_text(lambda: snaps[-1])
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    sent = fams["pulsarload_messages_sent"]
    assert sent.type == "counter"
    assert sent.samples[0].value == 1000
    assert sent.samples[0].labels == {"role": "producer"}
    failed = fams["pulsarload_messages_failed"]
    assert failed.samples[0].labels == {"role": "producer", "category": "timeout"}
    assert failed.samples[0].value == 10
    hist = fams["pulsarload_publish_latency_seconds"]
    assert hist.type == "histogram"
    buckets = [s for s in hist.samples if s.name.endswith("_bucket")]
    assert len(buckets) == len(PROMETHEUS_BUCKETS_US) + 1
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 2000
    values = [b.value for b in buckets]
    assert values == sorted(values)
    count = next(s for s in hist.samples if s.name.endswith("_count"))
    assert count.value == 2000
    assert fams["pulsarload_gil_enabled"].samples[0].value == 0
    assert fams["pulsarload_workers"].samples[0].value == 2
    assert "pulsarload_worker_state" in fams
    assert prometheus_text(lambda: None) == ""


def test_prometheus_http_endpoint() -> None:
    snaps = run_ticks(2)
    server, thread = start_prometheus_server(0, lambda: snaps[-1], addr="127.0.0.1")
    try:
        port = server.server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            body = resp.read().decode()
        names = {f.name for f in text_string_to_metric_families(body)}
        assert "pulsarload_e2e_latency_seconds" in names
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_grafana_dashboard_uses_only_exported_metrics() -> None:
    import re

    dashboard = Path(__file__).parents[3] / "docs" / "grafana-dashboard.json"
    exprs = json.dumps(json.loads(dashboard.read_text()))
    used = set(re.findall(r"pulsarload_[a-z0-9_]+", exprs))
    text = prometheus_text(lambda: run_ticks(1)[-1])
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    exported |= {f.name for f in text_string_to_metric_families(text)}
    missing = used - exported
    assert not missing, missing


def test_export_set_wires_everything_and_closes(tmp_path: Path) -> None:
    from pulsarload.metrics.export import ExportSet

    s = Sampler(resources=NullResources(), grace=0, labels={"role": "consumer"})  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    ex = ExportSet(
        s,
        export_dir=tmp_path / "exp",
        report=tmp_path / "report.json",
        histogram_log=tmp_path / "e2e.hlog",
        hlog_kinds=("e2e_latency",),
        prometheus_port=0,
        prometheus_addr="127.0.0.1",
        meta={"run": 1},
    )
    assert ex.export_now() == []  # nothing sampled yet
    for k in range(4):
        for v in range(100):
            slot.active.record_receive(10, 1000 + v + k)
        s.tick()
    snap_path, series_copy = ex.export_now()
    assert snap_path.name == "snapshot-000004.json" and snap_path.parent == tmp_path / "exp"
    assert len(read_csv(series_copy)) == 4
    with urllib.request.urlopen(f"http://127.0.0.1:{ex.prometheus_port}/metrics", timeout=10) as r:
        assert b"pulsarload_messages_received_total" in r.read()
    slot.close()
    final = s.stop()
    report = ex.close(final)
    assert report == tmp_path / "report.json"
    meta, back = read_report(report)
    assert meta == {"run": 1} and back.total.received == 400
    assert len(read_csv(tmp_path / "exp" / "series.csv")) == 5
    with open(tmp_path / "e2e.hlog") as f:
        total = sum(iv.histogram.total_count for iv in HlogReader(f))
    assert total == 400


def test_export_set_streams_the_series_to_a_private_folder_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an export dir the series still streams (the `e` key hands it out); the
    private folder is gone after close, and nothing in the working directory is half-written."""
    from pulsarload.metrics.export import ExportSet

    monkeypatch.chdir(tmp_path)
    s = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    ex = ExportSet(s, prefix="consumer", stream_series=True)
    assert ex.csv is not None
    private = ex.csv.path.parent
    assert private.exists() and private != tmp_path
    for _ in range(3):
        slot.active.record_receive(10, 1000)
        s.tick()
    paths = ex.export_now()
    assert [p.name for p in paths] == [
        "consumer-snapshot-000003.json",
        "consumer-series-000003.csv",
    ]
    assert [r["seq"] for r in read_csv(paths[1])] == [1, 2, 3]
    slot.close()
    assert ex.close(s.stop()) is None  # no report asked for
    assert not private.exists()
    assert not ex.failures
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_export_set_that_cannot_start_leaves_nothing_open(tmp_path: Path) -> None:
    import socket

    from pulsarload.metrics.export import ExportSet

    s = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="cannot listen on"):  # one line, not a traceback
            ExportSet(
                s,
                export_dir=tmp_path,
                histogram_log=tmp_path / "x.hlog",
                prometheus_port=port,
                prometheus_addr="127.0.0.1",
            )
    # The streamed files were closed (renamed into place, complete), none left .partial.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv", "x.hlog"]
    assert read_csv(tmp_path / "series.csv") == []


def test_export_set_finishes_every_part_when_one_fails(tmp_path: Path) -> None:
    from pulsarload.metrics.export import ExportSet

    s = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    ex = ExportSet(
        s,
        export_dir=tmp_path / "exp",
        histogram_log=tmp_path / "h.hlog",
        report=tmp_path / "r.json",
    )
    slot.active.record_ack(100)
    s.tick()
    assert ex.csv is not None

    def broken() -> None:
        raise OSError("disk full")

    ex.csv.close = broken  # type: ignore[method-assign]
    slot.close()
    report = ex.close(s.stop(), meta={"run": 2})
    assert ex.failures == ["finishing the exports: disk full"]
    assert (tmp_path / "h.hlog").exists()  # the next part was still finished
    assert read_report(report)[0] == {"run": 2}


def test_series_temp_folders_of_runs_that_are_gone_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys
    import tempfile

    from pulsarload.metrics import export

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"pulsarload-series-{gone.stdout.strip()}-abc"
    alive = tmp_path / f"pulsarload-series-{os.getppid()}-def"  # our parent runs
    unknown = tmp_path / "pulsarload-series-oldstyle"  # no pid: not ours to judge
    for d in (dead, alive, unknown):
        d.mkdir()
        (d / "producer-series.csv").write_text("x\n")
    made = export._private_series_dir()
    assert made.parent == tmp_path and made.name.startswith(f"pulsarload-series-{os.getpid()}-")
    assert not dead.exists()
    assert alive.exists() and unknown.exists()

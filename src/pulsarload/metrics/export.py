"""Exports: JSON snapshots and reports, CSV time series, HdrHistogram logs, Prometheus.

All of these run on the sampler thread or, for file writes, on a ``BackgroundSubscriber`` thread;
none is ever on a worker's path. Files appear complete or not at all: one-shot files (JSON) are
written to a temporary file in the same directory and renamed over the target; streamed files
(CSV, ``.hlog``) grow as ``<name>.partial`` and are renamed to ``<name>`` when closed. The JSON
layout is documented in docs/metrics-schema.md.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.hlog import HlogWriter
from pulsarload.metrics.prometheus import start_prometheus_server
from pulsarload.metrics.recorder import COUNTER_FIELDS, LATENCY_FIELDS
from pulsarload.metrics.sampler import BackgroundSubscriber
from pulsarload.metrics.snapshot import PERCENTILE_KEYS, RATE_FIELDS, SCHEMA_VERSION, Snapshot

__all__ = [
    "CSV_COLUMNS",
    "CsvSeriesWriter",
    "ExportSet",
    "HlogExporter",
    "export_snapshot",
    "read_csv",
    "read_json",
    "read_report",
    "report_data",
    "snapshot_row",
    "write_json_atomic",
    "write_text_atomic",
    "write_report",
]

REPORT_SCHEMA: Final = "pulsarload.report"

# -- atomic files ---------------------------------------------------------------------------------


def _umask() -> int:
    """The process umask, read without changing it (os.umask sets it: racy with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write JSON to ``path`` via a temp file + rename: readers never see a partial file."""
    return write_text_atomic(
        path, lambda f: (json.dump(data, f, indent=2, allow_nan=False), f.write("\n"))
    )


def write_text_atomic(
    path: str | os.PathLike[str], write: Callable[[io.TextIOBase], Any] | str
) -> Path:
    """Write a text file via a temp file + rename (``write`` is the text or fills the file).

    The file gets the mode any new file would (0666 less the umask), not mkstemp's 0600: a
    report is meant to be read by CI artifact uploads and colleagues, like the CSV next to it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if isinstance(write, str):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def export_snapshot(
    directory: str | os.PathLike[str], snap: Snapshot, prefix: str = "snapshot"
) -> Path:
    """``DIR/<prefix>-<seq>.json`` for the ``e`` key and periodic exports."""
    return write_json_atomic(Path(directory) / f"{prefix}-{snap.seq:06d}.json", snap.to_dict())


def report_data(snap: Snapshot, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``--report`` content: run metadata plus the final snapshot with its histograms
    (the JSON file, and the data an HTML report embeds)."""
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "meta": dict(meta or {}),
        "final": snap.to_dict(histograms=True),
    }


def write_report(
    path: str | os.PathLike[str], snap: Snapshot, meta: Mapping[str, Any] | None = None
) -> Path:
    """The ``--report`` JSON file (``report_data``), written atomically."""
    return write_json_atomic(path, report_data(snap, meta))


def read_report(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Snapshot]:
    data = read_json(path)
    if data.get("schema") != REPORT_SCHEMA:
        raise ValueError(f"{path}: not a pulsarload report (schema={data.get('schema')!r})")
    return dict(data.get("meta", {})), Snapshot.from_dict(data["final"])


class _PartialFile:
    """A text file written as ``<path>.partial`` and renamed to ``<path>`` on close."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.stream: io.TextIOWrapper = open(self.partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.closed = False

    def close(self) -> Path:
        if not self.closed:
            self.closed = True
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.partial, self.path)
        return self.path


# -- CSV ------------------------------------------------------------------------------------------

_LAT_STATS: Final = ("count", "min", "max", "mean", "stddev", *PERCENTILE_KEYS)
_RES_FIELDS: Final = (
    "process_cpu_percent",
    "rss_bytes",
    "threads",
    "net_in_per_s",
    "net_out_per_s",
    "gil_enabled",
)
CSV_COLUMNS: Final[tuple[str, ...]] = (
    "seq",
    "time",
    "elapsed",
    "interval",
    "workers",
    *COUNTER_FIELDS,
    "failed",
    "errors",
    *(f"rate_{n}" for n in RATE_FIELDS),
    *(f"{k}_{s}" for k in LATENCY_FIELDS for s in _LAT_STATS),
    *_RES_FIELDS,
)


def snapshot_row(snap: Snapshot) -> dict[str, Any]:
    """One flat CSV row for an interval (latencies in microseconds)."""
    row: dict[str, Any] = {
        "seq": snap.seq,
        "time": snap.time,
        "elapsed": snap.elapsed,
        "interval": snap.interval,
        "workers": len(snap.workers),
    }
    c = snap.counters
    for n in COUNTER_FIELDS:
        row[n] = getattr(c, n)
    row["failed"] = c.failed
    row["errors"] = json.dumps(c.errors, sort_keys=True, separators=(",", ":"))
    for n in RATE_FIELDS:
        row[f"rate_{n}"] = snap.rates.get(n, 0.0)
    for k in LATENCY_FIELDS:
        stats = snap.latency.get(k)
        d = stats.to_dict() if stats is not None else {}
        for s in _LAT_STATS:
            row[f"{k}_{s}"] = d.get(s, 0)
    res = snap.resources
    for n in _RES_FIELDS:
        row[n] = getattr(res, n)
    return row


def _parse_cell(column: str, text: str) -> Any:
    if column == "errors":
        return text
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        return float(text)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a CSV written by ``CsvSeriesWriter``, with numbers parsed back."""
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: _parse_cell(k, v) for k, v in r.items()} for r in csv.DictReader(f)]


class CsvSeriesWriter:
    """One CSV row per interval; use as a sampler subscriber (through a BackgroundSubscriber)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = _PartialFile(path)
        self._writer = csv.DictWriter(self._file.stream, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._file.path

    def __call__(self, snap: Snapshot) -> None:
        with self._lock:
            if self._file.closed:
                return
            # repr() keeps floats exact so the file round-trips.
            row = {k: repr(v) if isinstance(v, float) else v for k, v in snapshot_row(snap).items()}
            self._writer.writerow(row)
            self._file.stream.flush()

    def copy_to(self, path: str | os.PathLike[str]) -> Path:
        """The rows written so far, as a complete CSV at ``path`` (the ``e`` key mid-run)."""
        with self._lock:
            if not self._file.closed:
                self._file.stream.flush()
            source = self._file.path if self._file.closed else self._file.partial
            data = source.read_bytes()
        dest = Path(path)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        return dest

    def close(self) -> Path:
        with self._lock:
            return self._file.close()


# -- HdrHistogram interval log ----------------------------------------------------------------


class HlogExporter:
    """Writes ``.hlog`` (one interval per ``period`` seconds) for HdrHistogram's own tools.

    With one latency kind the lines are untagged; with several, each line is tagged with its
    kind. Values are microseconds; ``Interval_Max`` is in milliseconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kinds: Sequence[str] = ("publish_latency",),
        period: float = 1.0,
        start_time: float | None = None,
    ) -> None:
        for k in kinds:
            if k not in LATENCY_FIELDS:
                raise ValueError(f"unknown latency kind {k!r}; choose from {LATENCY_FIELDS}")
        self.kinds = tuple(kinds)
        self.period = period
        self._file = _PartialFile(path)
        self._log = HlogWriter(self._file.stream, max_unit_ratio=1000.0)
        self._start_time = start_time
        self._acc: dict[str, Histogram] = {}
        self._acc_start: float | None = None
        self._acc_end = 0.0
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._file.path

    def __call__(self, snap: Snapshot) -> None:
        with self._lock:
            if self._file.closed:
                return
            begin = snap.time - snap.interval
            if self._log.base_time is None:
                self._log.write_header(
                    self._start_time if self._start_time is not None else begin,
                    comment="pulsarload latency log, values in microseconds",
                )
            if self._acc_start is None:
                self._acc_start = begin
            for k in self.kinds:
                h = snap.histograms.get(k)
                if h is None:
                    continue
                acc = self._acc.get(k)
                if acc is None:
                    acc = self._acc[k] = Histogram(h.lowest, h.highest, h.digits)
                acc.add(h)
            self._acc_end = snap.time
            if self._acc_end - self._acc_start >= self.period * 0.999:
                self._write_interval()

    def _write_interval(self) -> None:
        assert self._acc_start is not None
        tagged = len(self.kinds) > 1
        for k in self.kinds:
            h = self._acc.get(k) or Histogram()
            self._log.write_interval(self._acc_start, self._acc_end, h, tag=k if tagged else None)
        self._file.stream.flush()
        self._acc = {}
        self._acc_start = None

    def close(self) -> Path:
        """Write the last partial interval, then move the file into place."""
        with self._lock:
            if not self._file.closed and self._acc_start is not None:
                self._write_interval()
            return self._file.close()


# -- wiring ---------------------------------------------------------------------------------------


SERIES_DIR_PREFIX = "pulsarload-series-"


def _private_series_dir() -> Path:
    """A temp folder for a run's streamed series, named after this process, after removing
    those of runs that are gone: a run ended at once (a second Ctrl-C, SIGKILL) cannot clean
    up after itself."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{SERIES_DIR_PREFIX}*-*"):
        pid_text = old.name[len(SERIES_DIR_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{SERIES_DIR_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to touch
        return True
    return True


class ExportSet:
    """The exports a run asked for, subscribed to one sampler; ``close()`` finishes them all.

    File writes happen on one ``BackgroundSubscriber`` thread ("metrics-export"), the Prometheus
    endpoint on its own server thread; the sampler only enqueues snapshots. File names start
    with ``<prefix>-`` when a prefix (e.g. the role) is given.

    * ``export_dir``: ``series.csv`` (one row per interval); ``export_now()`` (the ``e`` key)
      writes there;
    * ``stream_series``: write the CSV series even without ``export_dir``, to a private temp
      folder that ``close()`` removes, so that ``export_now()`` can still hand out the series;
    * ``report``: the ``--report`` JSON, written from the final snapshot by ``close()``;
    * ``histogram_log``: the ``.hlog`` (one interval per second) for ``hlog_kinds``;
    * ``prometheus_port``: ``/metrics`` on that port (0 picks one: see ``prometheus_port``).
    """

    def __init__(
        self,
        sampler: Any,
        *,
        export_dir: str | os.PathLike[str] | None = None,
        report: str | os.PathLike[str] | None = None,
        histogram_log: str | os.PathLike[str] | None = None,
        hlog_kinds: Sequence[str] = ("publish_latency",),
        prometheus_port: int | None = None,
        prometheus_addr: str = "0.0.0.0",
        meta: Mapping[str, Any] | None = None,
        prefix: str = "",
        stream_series: bool = False,
    ) -> None:
        self._sampler = sampler
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.report = Path(report) if report is not None else None
        self.meta = dict(meta or {})
        self.prefix = prefix
        self._writers: list[Callable[[Snapshot], None]] = []
        self.csv: CsvSeriesWriter | None = None
        self.hlog: HlogExporter | None = None
        self._series_tmp: Path | None = None
        self._background: BackgroundSubscriber | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._server: Any = None
        self._server_thread: Any = None
        #: What went wrong while finishing the streamed files or the server (one line each).
        self.failures: list[str] = []
        try:
            series_dir = self.export_dir
            if series_dir is None and stream_series:
                series_dir = self._series_tmp = _private_series_dir()
            if series_dir is not None:
                self.csv = CsvSeriesWriter(series_dir / self._name("series.csv"))
                self._writers.append(self.csv)
            if histogram_log is not None:
                self.hlog = HlogExporter(histogram_log, kinds=hlog_kinds)
                self._writers.append(self.hlog)
            if prometheus_port is not None:
                self._server, self._server_thread = start_prometheus_server(
                    prometheus_port, lambda: sampler.latest, addr=prometheus_addr
                )
        except BaseException:
            self._finish()  # nothing left open
            raise
        if self._writers:
            self._background = BackgroundSubscriber(self._write_all, name="metrics-export")
            self._unsubscribe = sampler.subscribe(self._background)

    def _name(self, base: str) -> str:
        return f"{self.prefix}-{base}" if self.prefix else base

    @property
    def prometheus_port(self) -> int | None:
        return None if self._server is None else int(self._server.server_port)

    def _write_all(self, snap: Snapshot) -> None:
        for w in self._writers:
            w(snap)

    def export_now(self, directory: str | os.PathLike[str] | None = None) -> list[Path]:
        """The ``e`` key: the latest snapshot as ``<prefix>-snapshot-<seq>.json`` and, when a
        series streams, its rows so far as ``<prefix>-series-<seq>.csv`` (both complete files),
        into ``directory``, else ``export_dir``, else the working directory. [] before the
        first snapshot."""
        snap = self._sampler.latest
        if snap is None:
            return []
        target = Path(directory or self.export_dir or ".")
        paths = [export_snapshot(target, snap, prefix=self._name("snapshot"))]
        if self._background is not None:
            self._background.drain()  # the series copy then holds every row up to `snap`
        if self.csv is not None:
            paths.append(self.csv.copy_to(target / f"{self._name('series')}-{snap.seq:06d}.csv"))
        return paths

    def _finish(self) -> None:
        """Stop the subscription, drain queued writes, close the streamed files, stop the
        server, remove the temp series folder: every step runs, failures go to `failures`."""
        steps: list[Callable[[], Any]] = []
        if self._unsubscribe is not None:
            steps.append(self._unsubscribe)
        if self._background is not None:
            steps.append(self._background.close)
        if self.csv is not None:
            steps.append(self.csv.close)
        if self.hlog is not None:
            steps.append(self.hlog.close)
        if self._server is not None:
            server = self._server
            steps += [server.shutdown, server.server_close]
        if self._series_tmp is not None:
            tmp = self._series_tmp
            steps.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
        self._unsubscribe = self._background = self._server = self._series_tmp = None
        for step in steps:
            try:
                step()
            except Exception as err:  # noqa: BLE001 - finish the others; the run still reports
                self.failures.append(f"finishing the exports: {err}")

    def close(
        self, final: Snapshot | None = None, meta: Mapping[str, Any] | None = None
    ) -> Path | None:
        """Drain queued writes, close the streamed files, stop the server, write the report.

        Call after ``sampler.stop()`` so that ``final`` (or ``sampler.latest``) is complete;
        ``meta`` (when given) replaces the report metadata known at construction. Every part
        is finished even when one fails (see ``failures``); a report that cannot be written
        raises. Returns the report path when one was written.
        """
        self._finish()
        snap = final if final is not None else self._sampler.latest
        if self.report is not None and snap is not None:
            return write_report(self.report, snap, self.meta if meta is None else meta)
        return None

"""What a run hands back: its flat figures, the `RunResult`, the notes and the report's sections;
and the check, before any work, that the run's outputs can be written.

The load controller and the cluster controller both assemble their results from these, so a
threshold, a summary line and a report read the same figures under the same names.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.engines.factory import redelivery_reasons_known
from pulsarload.errors import ConfigError
from pulsarload.load.backlog import BacklogMonitor
from pulsarload.load.thresholds import Threshold
from pulsarload.load.verify import VerifyReport
from pulsarload.metrics.export import read_json
from pulsarload.metrics.resources import interpreter_info
from pulsarload.metrics.snapshot import Counters, Snapshot

__all__ = [
    "NON_PERSISTENT_NOTE",
    "SUMMARY_METRICS",
    "RunResult",
    "backlog_results",
    "check_paths",
    "expected_counts",
    "run_meta",
    "summary_figures",
]

#: Said after a consumer run on a non-persistent topic: its losses are by design, not a fault.
NON_PERSISTENT_NOTE = (
    "non-persistent topic: the broker drops messages for a consumer without free permits (a "
    "slow consumer loses them; nothing is stored); compare with the producer's acked count, or "
    "raise --receiver-queue-size and --threads"
)

#: Names usable in --threshold, computed by `summary_figures`.
SUMMARY_METRICS = frozenset(
    {
        "msg_rate",
        "mb_rate",
        "sent",
        "acked",
        "failed",
        "received",
        "error_rate",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "mean_ms",
        "e2e_p50_ms",
        "e2e_p99_ms",
        "e2e_max_ms",
        "send_delay_p99_ms",
        "send_delay_max_ms",
        "from_send_p50_ms",
        "from_send_p99_ms",
        "from_send_p999_ms",
        "e2e_from_intended",
        "e2e_from_publish",
        "missing",
        "duplicates",
        "out_of_order",
        "elapsed_s",
        "stalls",
    }
)


def summary_figures(
    snap: Snapshot, role: str, verify: VerifyReport | None = None
) -> dict[str, float]:
    """Flat figures of a run (since start or the last reset) for thresholds and summaries."""
    t = snap.total
    elapsed = max(snap.elapsed, 1e-9)
    lat = snap.total_latency.get("publish_latency" if role == "producer" else "e2e_latency")
    e2e = snap.total_latency.get("e2e_latency")
    delay = snap.total_latency.get("send_delay")
    from_send = snap.total_latency.get("publish_latency_from_send")
    done = t.acked if role == "producer" else t.received
    moved_bytes = t.bytes_sent if role == "producer" else t.bytes_received
    attempts = t.acked + t.failed
    ms = 1 / 1000
    return {
        "elapsed_s": snap.elapsed,
        "sent": t.sent,
        "acked": t.acked,
        "failed": t.failed,
        "received": t.received,
        "msg_rate": done / elapsed,
        "mb_rate": moved_bytes / elapsed / 1e6,
        "error_rate": (t.failed / attempts) if attempts else 0.0,
        "p50_ms": lat.p50 * ms if lat else 0.0,
        "p95_ms": lat.p95 * ms if lat else 0.0,
        "p99_ms": lat.p99 * ms if lat else 0.0,
        "p999_ms": lat.p99_9 * ms if lat else 0.0,
        "max_ms": lat.max * ms if lat else 0.0,
        "mean_ms": lat.mean * ms if lat else 0.0,
        "e2e_p50_ms": e2e.p50 * ms if e2e else 0.0,
        "e2e_p99_ms": e2e.p99 * ms if e2e else 0.0,
        "e2e_max_ms": e2e.max * ms if e2e else 0.0,
        "send_delay_p99_ms": delay.p99 * ms if delay else 0.0,
        "send_delay_max_ms": delay.max * ms if delay else 0.0,
        "from_send_p50_ms": from_send.p50 * ms if from_send else 0.0,
        "from_send_p99_ms": from_send.p99 * ms if from_send else 0.0,
        "from_send_p999_ms": from_send.p99_9 * ms if from_send else 0.0,
        "e2e_from_intended": t.e2e_from_intended,
        "e2e_from_publish": t.e2e_from_publish,
        "missing": verify.missing if verify else 0,
        "duplicates": verify.duplicates if verify else t.duplicates,
        "stalls": 0,  # the controller fills in what it counted
        "out_of_order": verify.out_of_order if verify else t.out_of_order,
    }


def redelivery_meta(snap: Snapshot | None, engine: str) -> dict[str, Any]:
    """A consumer report's redeliveries: messages received again (their redelivery count
    above 0) and, where the engine's client says why it redelivers, the messages per reason
    (`by_reason` is null for an engine that does not)."""
    total = snap.total if snap is not None else Counters()
    known = redelivery_reasons_known(engine)
    return {
        "received_again": total.redelivered,
        "reasons_known": known,
        "by_reason": total.redeliveries_by_reason() if known else None,
    }


def check_paths(settings: ProduceSettings | ConsumeSettings) -> None:
    """Refuse outputs that cannot be written and inputs that cannot be read before any work,
    with one line (else a run could end in a traceback, or its report be lost at the end)."""
    outputs = (
        ("--report", settings.report, False),
        ("--histogram-log", settings.histogram_log, False),
        ("--export-dir", settings.export_dir, True),
    )
    for flag, value, is_dir in outputs:
        if not value:
            continue
        path = Path(value)
        folder = path if is_dir else path.parent
        if not is_dir and (path.is_dir() or value.endswith(("/", os.sep))):
            what = "is a directory" if path.is_dir() else "ends with '/', a directory"
            example = path / ("run.json" if flag == "--report" else "run.hlog")
            raise ConfigError(f"{flag} {value} {what}; give a file name, e.g. {example}")
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(f"{flag} {value}: {blocker} is a file, not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"{flag} {value}: cannot create {folder} ({err.strerror or err})"
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {value}: {folder} is not writable")
    against = getattr(settings, "verify_against", None)
    if against and not (os.path.isfile(against) and os.access(against, os.R_OK)):
        raise ConfigError(f"--verify-against {against}: no such readable file")


@dataclass(frozen=True, slots=True)
class RunResult:
    role: str
    final: Snapshot
    figures: dict[str, float]
    thresholds: list[tuple[Threshold, bool, float]] = field(default_factory=list)
    verify: VerifyReport | None = None
    failures: list[str] = field(default_factory=list)
    report_path: Path | None = None
    notes: list[str] = field(default_factory=list)  # scenario results, backlog growth

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.thresholds)


def expected_counts(
    settings: ProduceSettings | ConsumeSettings, error: type[Exception] = ConfigError
) -> dict[int, int] | None:
    """Per-producer counts from a producer's report (`--verify-against`), if given; `error`
    (one line) when the file is not such a report."""
    path = getattr(settings, "verify_against", None)
    if not path:
        return None
    try:
        sent = read_json(path)["meta"]["verify_sent"]
        return {int(k): int(v) for k, v in sent.items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise error(
            f"--verify-against {path}: not a producer report written with --verify ({err})"
        ) from None


def run_meta(
    role: str,
    settings: ProduceSettings | ConsumeSettings,
    figures: dict[str, float],
    results: list[tuple[Threshold, bool, float]],
    failures: list[str],
    events: list[str],
) -> dict[str, Any]:
    """The report's `meta` every run has: what ran (role, engine, interpreter, settings without
    secrets), its figures, thresholds, failures and events. Callers add their own sections."""
    shown = dataclasses.asdict(settings)
    for f in dataclasses.fields(settings):
        if f.metadata.get("secret"):
            shown.pop(f.name, None)  # never write secrets (tokens) into a report
    return {
        "role": role,
        "engine": settings.engine,
        "interpreter": interpreter_info().to_dict(),
        "settings": shown,
        "summary": figures,
        "thresholds": [
            {"threshold": str(t), "passed": ok, "observed": value} for t, ok, value in results
        ],
        "failures": failures,
        "events": list(events),
    }


def backlog_results(backlog: BacklogMonitor | None) -> tuple[list[str], dict[str, Any]]:
    """How the backlog grew (backpressure scenario), as lines and report data."""
    notes: list[str] = []
    extra: dict[str, Any] = {}
    if backlog is not None:
        growth = backlog.growth_per_second()
        last = backlog.samples[-1].total if backlog.samples else None
        extra["backlog"] = {
            "growth_msg_s": growth,
            "last_total": last,
            "samples": [dataclasses.asdict(b) for b in backlog.samples],
            "error": backlog.error,
        }
        if growth is None:
            notes.append(f"backlog: not measured ({backlog.error or 'too few samples'})")
        else:
            notes.append(
                f"backlog grew {growth:,.0f}/s (last total {last:,}; the broker's msgBacklog, "
                "which counts a batch as one entry)"
            )
    return notes, extra

"""Headless runs: a status line every interval (like pulsar-perf's), a summary, an exit code.

The status line shows the last interval only (rates and latency percentiles of those seconds);
the summary covers the whole measured run. Ctrl-C ends the run cleanly with the summary.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from pulsarload.engines.factory import redelivery_reasons_known
from pulsarload.errors import UserError
from pulsarload.load.controller import LoadController
from pulsarload.load.peek import PEEK_EVERY_S
from pulsarload.load.results import RunResult, summary_figures
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.resources import gil_enabled
from pulsarload.metrics.shards import ShardStats
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.metrics.subscribers import SnapshotInbox

EXIT_OK, EXIT_THRESHOLD_FAILED, EXIT_WORKER_FAILED = 0, 1, 3
#: An aborted run (a second Ctrl-C or q while stopping): the shell's code for SIGINT.
EXIT_ABORTED = 130


def _merged(snaps: list[Snapshot], kind: str) -> Histogram | None:
    merged: Histogram | None = None
    for s in snaps:
        h = s.histograms.get(kind)
        if h is None or not h.total_count:
            continue
        if merged is None:
            merged = h.copy()
        else:
            merged.add(h)
    return merged


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}" if us < 100_000 else f"{us / 1000:.0f}"


def status_line(role: str, snaps: list[Snapshot], controller: LoadController) -> str:
    seconds = sum(s.interval for s in snaps) or 1e-9
    last = snaps[-1]
    elapsed = last.elapsed
    if role == "producer":
        done = sum(s.counters.acked for s in snaps)
        moved = sum(s.counters.bytes_sent for s in snaps)
        kind, verb = "publish_latency", "produced"
    else:
        done = sum(s.counters.received for s in snaps)
        moved = sum(s.counters.bytes_received for s in snaps)
        kind, verb = "e2e_latency", "consumed"
    failed = sum(s.counters.failed for s in snaps)
    parts = [
        f"[{elapsed:7.1f}s] {verb} {done / seconds:10,.0f} msg/s {moved / seconds / 1e6:7.2f} MB/s"
    ]
    h = _merged(snaps, kind)
    if h is not None:
        p = h.percentiles((50.0, 95.0, 99.0, 99.9))
        parts.append(
            f"{'lat' if role == 'producer' else 'e2e'} ms p50 {_ms(p[50.0])} p95 {_ms(p[95.0])} "
            f"p99 {_ms(p[99.0])} p99.9 {_ms(p[99.9])} max {_ms(h.max)}"
        )
    pool = controller.pool
    if role == "producer":
        pending = sum(w.pending_sends for w in last.workers) if last.workers else 0
        target = pool.target_rate if pool else 0
        parts.append(f"target {target:,.0f}" if target else "target max")
        parts.append(f"pending {pending}")
    parts.append(f"failed {failed}")
    parts.append(f"threads {pool.size if pool else 0}")
    if pool is not None and pool.paused:
        parts.append("PAUSED")
    if sum(s.interval for s in snaps if controller.in_warmup(s)) > seconds / 2:
        parts.append("WARM-UP (not measured)")  # most of this interval is before the reset
    if last.shards:
        live = [sh for sh in last.shards if sh.state != "lost"]
        parts.append(f"shards {len(live)}/{len(last.shards)}")
        parts += [f"LOST shard {sh.shard} ({sh.address})" for sh in last.shards if sh not in live]
    stalled = sum(1 for w in last.workers if w.state.startswith("stalled"))
    if stalled:
        parts.append(f"STALLED {stalled}")
    reconnecting = sorted({w.state for w in last.workers if w.state.startswith("reconnecting")})
    if reconnecting:
        parts.append(reconnecting[-1])
    if gil_enabled():
        parts.append("GIL ON")
    return " | ".join(parts)


def e2e_origins(from_intended: int, from_publish: int) -> str:
    """Which start end-to-end latencies had: the producer's intended send time (a pulsarload
    producer stamps it) or, without a stamp, the publish time."""
    if not from_intended and not from_publish:
        return "no messages"
    return f"intended send time {from_intended:,} msgs, publish time {from_publish:,} msgs" + (
        "" if not from_publish else " (producer not pulsarload, or its stamp not visible)"
    )


def redelivery_reasons(snap: Snapshot) -> str:
    """The run's redeliveries per reason, or why they are not known (the official client
    does not say why it redelivers)."""
    engine = snap.labels.get("engine", "")
    if not redelivery_reasons_known(engine):
        return f"not known (the {engine or 'engine'} client does not say why it redelivers)"
    by_reason = snap.total.redeliveries_by_reason()
    return "  ".join(f"{r.replace('_', ' ')} {n:,}" for r, n in by_reason.items())


def summary_lines(result: RunResult) -> list[str]:
    f = result.figures
    t = result.final.total
    counts = (
        f"sent {f['sent']:,.0f}  acked {f['acked']:,.0f}  failed {f['failed']:,.0f}"
        if result.role == "producer"
        else f"received {f['received']:,.0f}  acked {t.consumer_acked:,}  nacked {t.nacked:,}  "
        f"redelivered {t.redelivered:,}  failed {f['failed']:,.0f}"
    )  # a consumer sends nothing: "sent 0 acked 0" (the producer's counts) only puzzled
    if result.role == "producer" and f["acked"] + f["failed"] > f["sent"]:
        # The counters restart when the warm-up ends; sends still in flight then complete
        # inside the measured window.
        counts += "  (acked includes sends from before the warm-up ended)"
    lines = [
        f"== {result.role} summary ({f['elapsed_s']:.1f}s measured) ==",
        counts,
        f"throughput {f['msg_rate']:,.0f} msg/s  {f['mb_rate']:.2f} MB/s  error rate {f['error_rate']:.4%}",
    ]
    label = (
        "publish latency from intended send" if result.role == "producer" else "end-to-end latency"
    )
    lines.append(
        f"{label} ms: p50 {f['p50_ms']:.2f}  p95 {f['p95_ms']:.2f}  p99 {f['p99_ms']:.2f}  "
        f"p99.9 {f['p999_ms']:.2f}  max {f['max_ms']:.2f}  mean {f['mean_ms']:.2f}"
    )
    if result.role == "producer":
        lines.append(
            f"publish latency from actual send ms: p50 {f['from_send_p50_ms']:.2f}  "
            f"p99 {f['from_send_p99_ms']:.2f}  p99.9 {f['from_send_p999_ms']:.2f}  "
            "(as pulsar-perf measures)"
        )
        lines.append(
            f"send delay behind schedule ms: p99 {f['send_delay_p99_ms']:.2f}  "
            f"max {f['send_delay_max_ms']:.2f}"
        )
    else:
        intended, publish = int(f["e2e_from_intended"]), int(f["e2e_from_publish"])
        lines.append(f"end-to-end measured from: {e2e_origins(intended, publish)}")
        lines.append(f"redelivered by reason: {redelivery_reasons(result.final)}")
    errors = result.final.total.errors
    if errors:
        lines.append(
            "failures by category: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items()))
        )
    if result.verify is not None:
        v = result.verify
        lines.append(
            f"verify: {v.unique:,} unique from {v.producers} producer(s), missing {v.missing}, "
            f"duplicates {v.duplicates}, out of order {v.out_of_order}"
        )
    for t, ok, value in result.thresholds:
        lines.append(f"threshold {t}: {'pass' if ok else 'FAIL'} (observed {value:g})")
    lines.extend(shard_table(result.final.shards, result.role))
    lines.extend(result.notes)
    for failure in result.failures:
        lines.append(f"worker failure: {failure}")
    if result.report_path:
        lines.append(f"report written to {result.report_path}")
    return lines


def shard_table(shards: tuple[ShardStats, ...], role: str) -> list[str]:
    """One line per shard of a run spread over many processes (empty for one process)."""
    if not shards:
        return []
    done = "acked" if role == "producer" else "received"
    lines = [
        f"{'shard':>5} {'worker':<24} {'host':<14} {'state':<8} {'thr':>3} {'msg/s':>9} "
        f"{'p99 ms':>7} {done:>10} {'errors':>6} {'cpu %':>6} {'GIL':<3} {'clock ms':>8}"
    ]
    for sh in shards:
        lines.append(
            f"{sh.shard:>5} {sh.address[-24:]:<24} {sh.host[:14]:<14} {sh.state[:8]:<8} "
            f"{sh.threads:>3} {sh.rate:>9,.0f} {sh.p99_us / 1000:>7.2f} {sh.done:>10,} "
            f"{sh.errors:>6} {sh.cpu_percent:>6.0f} {'on' if sh.gil_enabled else 'off':<3} "
            f"{sh.clock_offset_ms:>+8.1f}"
        )
    return lines


def peek_lines(controller: LoadController) -> list[str]:
    """`--peek N`: the newest N sampled received messages, one line each."""
    n = getattr(controller.settings, "peek", 0)
    if not n or controller.role != "consumer":
        return []
    samples = controller.peek(n)
    head = f"peek: {len(samples)} received message(s), sampled (at most one per thread per "
    return [head + f"{PEEK_EVERY_S:g}s):", *(f"  {s.line()}" for s in samples)]


def abort_lines(controller: LoadController) -> list[str]:
    """What is known when a run is aborted while stopping: the figures of the last snapshot,
    without waiting for the flush (sends still in flight are neither counted nor waited for)."""
    head = "aborted: exited without flushing (messages in flight are lost and not counted)"
    snap = controller.sampler.latest
    if snap is None:
        return [head, "nothing was measured yet"]
    figures = summary_figures(snap, controller.role)
    result = RunResult(controller.role, snap, figures)
    return [head, *summary_lines(result)]


def abort_now(controller: LoadController, echo: Callable[[str], None]) -> None:
    """Print what is known and leave the process at once with EXIT_ABORTED: no flush, no
    report, no waiting for worker threads (some may be blocked on the broker)."""
    try:
        for line in abort_lines(controller):
            echo(line)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_ABORTED)


def failure_hint(failure: str, controller: LoadController) -> str:
    """What to do about a run in which nothing worked, from its first failure ("" if unsure)."""
    low = failure.lower()
    if failure.startswith("ConsumerBusy"):
        sub = getattr(controller.settings, "subscription", "")
        return (
            f" (subscription {sub!r} is held by another consumer: use another --subscription, "
            "or the --subscription-type it already has)"
        )
    if low.startswith("incompatibleschema"):
        spec = getattr(controller.settings, "schema", "")
        if spec:
            return (
                f" (the topic's schema registry refuses --schema {spec}: give the topic's own "
                "schema, or load a topic of its own)"
            )
        return (
            " (the topic has a schema and its namespace enforces it: without --schema "
            "pulsarload sends raw bytes; give the topic's schema with --schema avro:FILE or "
            "json:FILE, or use a topic without a schema)"
        )
    if low.startswith("authenticationerror"):
        return (
            " (the broker refused the token: check --auth-token, --auth-token-file or "
            "PULSARLOAD_AUTH_TOKEN, and that it is signed with the broker's key and not expired)"
        )
    if low.startswith("authorizationerror"):
        return (
            " (the token's role has no permission here: grant it produce or consume on the "
            "topic's namespace, or use a role that has it)"
        )
    if low.startswith("topicnotfound"):
        return (
            " (check the topic name: its tenant and namespace must exist, and the topic too "
            "where auto-creation is off)"
        )
    if "certificate verify failed" in low:
        return (
            " (the broker's certificate did not verify: give its CA with --tls-ca-file; a name "
            "that does not match the certificate needs --no-tls-validate-hostname)"
        )
    connect_words = ("cannot connect", "handshake", "timed out connecting", "pulsar error: timeout")
    if any(word in low for word in connect_words):  # the last: the official client's word for it
        return " (check -u/--service-url and that the broker is up)"
    return ""


def run_headless(
    controller: LoadController, echo: Callable[[str], None] = print
) -> tuple[int, RunResult]:
    """Run until done or Ctrl-C; print status lines and the summary; return (exit code, result)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C / TERM: leave at once, with what is known
            abort_now(controller, echo)
        stop.set()

    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    acc = SnapshotInbox()
    controller.sampler.subscribe(acc)
    controller.start()
    interval = controller.settings.stats_interval_s
    next_print = time.monotonic() + interval
    try:
        while not stop.is_set() and not controller.done():
            stop.wait(min(0.1, max(0.0, next_print - time.monotonic())))
            if time.monotonic() >= next_print:
                next_print += interval
                snaps = acc.take()
                if snaps:
                    echo(status_line(controller.role, snaps, controller))
    finally:
        if stop.is_set():
            echo("interrupted: stopping workers (flush, close); Ctrl-C again aborts at once")
        result = controller.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    total = result.final.total
    if result.failures and total.sent == 0 and total.received == 0:
        # Nothing ever worked (unreachable broker, bad topic, refused auth): one line, no table.
        first = result.failures[0].split(": ", 2)[-1].rstrip(". ")
        raise UserError(f"{first}; nothing was sent or received{failure_hint(first, controller)}")
    for line in summary_lines(result):
        echo(line)
    for line in peek_lines(controller):
        echo(line)
    if result.role == "producer" and total.failed and not total.acked:
        echo("every send failed: see the failures by category above")
        return EXIT_WORKER_FAILED, result
    if result.failures:
        return EXIT_WORKER_FAILED, result
    return (EXIT_OK if result.passed else EXIT_THRESHOLD_FAILED), result

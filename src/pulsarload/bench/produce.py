"""``pulsarload produce --headless`` (native or official engine) as a contender, and its figures.

Figures are taken from the JSON report the run writes (its summary, its interpreter, its
measured window); CPU is the process's own over that window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulsarload.bench.broker_side import TopicCounter, delete_topic
from pulsarload.bench.model import (
    OFFICIAL_SCRIPT,
    Broker,
    Contender,
    Figures,
    Workload,
    fresh_topic,
)
from pulsarload.bench.process import ProcessResult, child_env, run_process

#: Seconds a contender may take beyond its configured run before it is stopped.
START_SLACK_S = 60.0


def pulsarload_produce_command(
    c: Contender, w: Workload, broker: Broker, topic: str, report: Path
) -> list[str]:
    assert c.python is not None
    if c.kind == "official-direct":
        return [
            str(c.python), str(OFFICIAL_SCRIPT), topic, "--service-url", broker.service_url,
            "--size", str(w.size), "--compression", w.compression,
            "--batch-max-messages", str(w.batch_max_messages),
            "--batch-max-bytes", str(w.batch_max_bytes),
            "--batch-delay-ms", str(max(1, round(w.batch_delay_ms))),
            "--max-pending", str(w.max_pending),
            "--duration", f"{w.duration_s:g}", "--warmup", f"{w.warmup_s:g}",
            "--report", str(report),
        ]  # fmt: skip
    cmd = [
        str(c.python), "-m", "pulsarload", "produce", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "-r", str(w.rate), "-s", str(w.size), "-t", str(c.threads), "-z", w.compression,
        "--batch-max-messages", str(w.batch_max_messages),
        "--batch-max-bytes", str(w.batch_max_bytes),
        "--batch-delay-ms", f"{w.batch_delay_ms:g}",
        "--max-pending", str(w.max_pending),
        "--duration", f"{w.duration_s:g}", "--warmup", f"{w.warmup_s:g}",
        "--report", str(report),
    ]  # fmt: skip
    if c.kind == "official":
        cmd += ["--engine", "official"]
    return cmd + list(c.extra_args)  # the last value of a repeated option wins


def load_report(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def report_window(report: dict[str, Any]) -> tuple[float, float] | None:
    final = report.get("final") or {}
    t, elapsed = final.get("time"), final.get("elapsed")
    if not t or not elapsed:
        return None
    return float(t) - float(elapsed), float(t)


def fill_from_report(fig: Figures, report: dict[str, Any], proc: ProcessResult) -> None:
    meta = report.get("meta", {})
    s = meta.get("summary", {})
    interp = meta.get("interpreter", {})
    fig.interpreter = f"CPython {interp.get('version', '?')}" + (
        "t" if interp.get("free_threaded_build") else ""
    )
    fig.gil = "on" if interp.get("gil_enabled") else "off"
    fig.messages = int(s.get("acked", 0))
    fig.msg_rate = s.get("msg_rate")
    fig.mb_rate = s.get("mb_rate")
    fig.p50_ms, fig.p99_ms, fig.p999_ms = s.get("p50_ms"), s.get("p99_ms"), s.get("p999_ms")
    # Zero means "not recorded" in the summary (an engine without the actual-send clock).
    fig.from_send_p50_ms = s.get("from_send_p50_ms") or None
    fig.from_send_p99_ms = s.get("from_send_p99_ms") or None
    fig.from_send_p999_ms = s.get("from_send_p999_ms") or None
    fig.send_delay_p99_ms = s.get("send_delay_p99_ms")
    window = report_window(report)
    if window is not None:
        fig.raw["window"] = list(window)
        fig.window_s = window[1] - window[0]
        cpu = proc.cpu_between(*window)
        if cpu is not None and fig.messages:
            fig.cpu_s_per_m = cpu / fig.messages * 1e6
            fig.cpu_cores = cpu / fig.window_s if fig.window_s else None
    failures = meta.get("failures") or []
    if failures:
        fig.notes.append(f"worker failures: {failures[0]}")
    fig.raw["producer"] = {"summary": s, "interpreter": interp, "events": meta.get("events", [])}


def finish_figures(fig: Figures, proc: ProcessResult) -> None:
    fig.cpu_total_s = proc.cpu_total_s
    fig.peak_rss_mb = proc.peak_rss_kib / 1024 if proc.peak_rss_kib else None
    fig.raw["rss"] = "VmHWM"  # the child's own, not wait4's (see bench/process.py)
    fig.minor_faults = proc.minor_faults
    fig.wall_s = proc.wall_s
    fig.command = proc.command
    if proc.timed_out:
        fig.notes.append("timed out (stopped with SIGINT)")


def run_pulsarload_producer(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """Run ``pulsarload produce --headless`` for one contender and read its JSON report."""
    fig = Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, diagnostic=c.diagnostic)
    fig.topic = fresh_topic(f"bench-{w.name}-{c.key}", w.persistent)
    report = workdir / f"{w.name}-{c.key}.report.json"
    cmd = pulsarload_produce_command(c, w, broker, fig.topic, report)
    with TopicCounter(broker, fig.topic) as counter:
        timeout = w.duration_s + w.warmup_s + START_SLACK_S
        run_pulsarload_command(fig, cmd, report, timeout, env=c.env())
    delete_topic(broker, fig.topic)
    window = fig.raw.get("window")
    if window:
        fig.broker_msg_rate = counter.rate(*window)
    return fig


def run_pulsarload_command(
    fig: Figures, cmd: list[str], report: Path, timeout: float, env: dict[str, str] | None = None
) -> Figures:
    """Run a ``pulsarload produce --headless ... --report REPORT`` command into ``fig``."""
    report.unlink(missing_ok=True)
    proc = run_process(cmd, timeout=timeout, env=env or child_env(), cwd=report.parent)
    finish_figures(fig, proc)
    data = load_report(report)
    if data is None:
        fig.error = f"exit {proc.returncode}, no report: {proc.tail(3)}"
        return fig
    fill_from_report(fig, data, proc)
    fig.ok = proc.returncode == 0 and fig.messages > 0
    if not fig.ok and fig.error is None:
        fig.error = f"exit {proc.returncode}, {fig.messages} messages: {proc.tail(3)}"
    return fig

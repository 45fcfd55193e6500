"""Apache's pulsar-perf (Java) as a contender: its command line and what its summary says.

pulsar-perf runs as the bare JVM on the local release's classpath (no wrapper process, so
``wait4`` sees the JVM itself); its figures come from the summary lines it prints on exit.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from pulsarload.bench.broker_side import TopicCounter, delete_topic
from pulsarload.bench.model import Broker, Contender, Figures, Workload, fresh_topic
from pulsarload.bench.process import MonitoredProcess, ProcessResult, child_env
from pulsarload.bench.produce import START_SLACK_S, finish_figures
from pulsarload.config import LocalBrokerSettings

#: pulsar-perf 4.0.8 rejects rate 0 (Guava RateLimiter); this is "as fast as possible" for it.
PERF_UNLIMITED_RATE = 10_000_000

PERF_CREATED = re.compile(r"Created (\d+) producers")
PERF_DONE = re.compile(r"DONE \(reached the maximum duration")
PERF_THROUGHPUT = re.compile(
    r"Aggregated throughput stats --- (\d+) records (sent|received) --- ([\d.]+) msg/s"
)
#: pulsar-perf consume's periodic line: the running total, for a consumer that never printed its
#: aggregated summary (stopped by SIGKILL after it ignored SIGINT under load).
PERF_RECEIVED_SO_FAR = re.compile(r"Throughput received:\s+(\d+) msg")
PERF_LATENCY = re.compile(
    r"Aggregated (?:end-to-end )?latency stats --- Latency: mean:\s*([\d.]+) ms - med:\s*([\d.]+)"
    r" - 95pct:\s*([\d.]+) - 99pct:\s*([\d.]+) - 99\.9pct:\s*([\d.]+)"
)


def perf_java_command(args: list[str], broker: Broker) -> list[str]:
    """The java command line of pulsar-perf on the local release's classpath (no wrapper process,
    so wait4 sees the JVM itself)."""
    from pulsarload.broker import jvm
    from pulsarload.broker.maven import ensure_classpath
    from pulsarload.broker.perf import perf_command

    settings = LocalBrokerSettings()
    ensure_classpath(settings, quiet=True)
    return perf_command(
        args, settings, jvm.find_java(), service_url=broker.service_url, admin_url=broker.admin_url
    )


def perf_produce_args(w: Workload, broker: Broker, topic: str, *, warmup: bool = True) -> list[str]:
    total = max(1, round(w.duration_s + w.warmup_s))
    return [
        "produce", "-u", broker.service_url, "-au", broker.admin_url,
        "-r", str(w.rate or PERF_UNLIMITED_RATE), "-s", str(w.size),
        "-time", str(total), "--warmup-time", f"{w.warmup_s if warmup else 0:g}",
        "-o", str(w.max_pending), "-bm", str(w.batch_max_messages),
        "-bb", str(w.batch_max_bytes), "-b", f"{w.batch_delay_ms:g}",
        "-z", w.compression.upper(), topic,
    ]  # fmt: skip


def perf_latency(proc: ProcessResult) -> tuple[float, float, float] | None:
    found = proc.find(PERF_LATENCY)
    if found is None:
        return None
    m = found[1]
    return float(m.group(2)), float(m.group(4)), float(m.group(5))


def perf_summary_lines(proc: ProcessResult) -> list[str]:
    """pulsar-perf's own aggregated summary, kept verbatim in the raw results."""
    keep = ("Aggregated", "Created", "DONE")
    return [line.split(" - ", 1)[-1] for _, line in proc.lines if any(k in line for k in keep)]


def interrupt_when_done(mp: MonitoredProcess, pattern: re.Pattern[str]) -> Callable[[str], None]:
    """pulsar-perf idles ~5 s after its run before it exits; SIGINT runs its summary hook now."""

    def on_line(line: str) -> None:
        if pattern.search(line):
            threading.Timer(0.5, mp.interrupt).start()

    return on_line


def run_perf_producer(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """Run pulsar-perf produce with the workload's settings and parse its aggregated summary.

    pulsar-perf 4.0.8's aggregated msg/s divides by the time since the JVM started (set-up
    included), and a cold JVM publishes slowly for its first seconds, so msg/s here is the
    broker's count of messages in on the topic over the measured window (producers created +
    warm-up .. DONE), the window the other tools measure too. Latency percentiles are its
    aggregated ones (warm-up excluded, as `--warmup-time` does); CPU is over the same window.
    """
    fig = Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, gil="n/a (JVM)")
    fig.interpreter = "Java"
    fig.topic = fresh_topic(f"bench-{w.name}-{c.key}", w.persistent)
    cmd = perf_java_command(perf_produce_args(w, broker, fig.topic), broker)
    mp = MonitoredProcess(
        cmd, timeout=w.duration_s + w.warmup_s + START_SLACK_S, env=child_env(), cwd=workdir
    )
    mp.on_line = interrupt_when_done(mp, re.compile(r"Disconnected|Closed Producer"))
    with TopicCounter(broker, fig.topic) as counter:
        proc = mp.start().wait()
    delete_topic(broker, fig.topic)
    finish_figures(fig, proc)
    created, done, total = (
        proc.find(PERF_CREATED),
        proc.find(PERF_DONE),
        proc.find(PERF_THROUGHPUT),
    )
    fig.raw["producer"] = perf_summary_lines(proc)
    if created is None or total is None or done is None:
        fig.error = f"exit {proc.returncode}, no summary: {proc.tail(3)}"
        return fig
    start, end = created[0] + w.warmup_s, done[0]
    fig.raw["window"] = [start, end]
    fig.window_s = end - start
    rate = counter.rate(start, end)
    fig.broker_msg_rate = rate
    if rate is None:  # no broker counts: fall back to records over the whole production
        rate = int(total[1].group(1)) / max(1e-9, end - created[0])
        fig.notes.append("msg/s from records sent over the whole production (no broker counts)")
    fig.msg_rate = rate
    fig.mb_rate = rate * w.size / 1e6
    fig.messages = round(rate * fig.window_s)
    fig.raw["records_sent"] = int(total[1].group(1))
    cpu = proc.cpu_between(start, end)
    if cpu is not None and fig.messages:
        fig.cpu_s_per_m = cpu / fig.messages * 1e6
        fig.cpu_cores = cpu / fig.window_s if fig.window_s else None
    lat = perf_latency(proc)
    if lat is not None:
        # pulsar-perf times from its send call: its only latency is the actual-send one.
        fig.p50_ms, fig.p99_ms, fig.p999_ms = lat
        fig.from_send_p50_ms, fig.from_send_p99_ms, fig.from_send_p999_ms = lat
    fig.ok = fig.messages > 0
    if not fig.ok:
        fig.error = f"exit {proc.returncode}, {fig.messages} messages: {proc.tail(3)}"
    return fig

"""Drain: how fast each contender reads a filled persistent topic from its earliest message.

The topic is filled once per table (a ``hold`` subscription made first keeps every message),
then each contender reads all of it on a fresh subscription of its own, in interleaved rounds.
msg/s is the broker's count of messages dispatched to that subscription (``msgOutCounter``,
sampled every 0.05 s) between 10 % and 90 % of the messages: the same stick for every tool, and
neither the start-up (a JVM takes seconds) nor the last stragglers count. CPU per message is the
process's own over that window; the total CPU (``wait4``, start-up included) is kept beside it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pulsarload.bench.broker_side import (
    TopicCounter,
    create_topic_with_subscription,
    delete_subscription,
    published,
)
from pulsarload.bench.model import Broker, Contender, Figures, Workload, fresh_topic
from pulsarload.bench.perf_contender import (
    PERF_RECEIVED_SO_FAR,
    PERF_THROUGHPUT,
    perf_java_command,
    perf_latency,
    perf_summary_lines,
)
from pulsarload.bench.process import MonitoredProcess, ProcessResult, run_process
from pulsarload.bench.produce import START_SLACK_S, finish_figures, load_report

#: The subscription that keeps a drain topic's messages while the contenders read it.
HOLD_SUBSCRIPTION = "hold"
#: The part of the drain that is timed: from this fraction of the messages to ``1 - EDGE``.
EDGE = 0.1
#: Counter sampling for a drain (a few seconds long): finer than the producer runs' 0.5 s.
SAMPLE_INTERVAL_S = 0.05
#: A drain's window is measured only when the samples around each of its edges lie at most this
#: fraction of the window apart: a drain over in a sample or two has no honest rate.
EDGE_RESOLUTION = 0.25
#: The slowest drain rate the timeout allows for (msg/s), beyond the start-up slack.
SLOWEST_RATE = 5_000


def fill(broker: Broker, w: Workload, python: Path, workdir: Path) -> str:
    """A fresh persistent topic holding ``w.drain_messages`` messages of ``w.size`` bytes;
    raises RuntimeError when the producer did not put them all there."""
    topic = fresh_topic(f"bench-{w.name}-filled", persistent=True)
    create_topic_with_subscription(broker, topic, HOLD_SUBSCRIPTION)
    cmd = [
        str(python), "-m", "pulsarload", "produce", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "-r", "0", "-s", str(w.size), "-m", str(w.drain_messages), "-z", w.compression,
        "--stats-interval", "10",
    ]  # fmt: skip
    timeout = START_SLACK_S + w.drain_messages / SLOWEST_RATE
    proc = run_process(cmd, timeout=timeout, env=Contender("fill", "native", "free-threaded").env(),
                       cwd=workdir)  # fmt: skip
    have = published(broker, topic)
    if proc.returncode != 0 or not have or have < w.drain_messages:
        raise RuntimeError(
            f"filling {topic} failed: exit {proc.returncode}, {have} of {w.drain_messages:,} "
            f"messages on the topic ({proc.tail(2)})"
        )
    return topic


def consume_command(c: Contender, broker: Broker, topic: str, sub: str, n: int, report: Path,
                    ) -> list[str]:  # fmt: skip
    """Read ``n`` messages from the earliest one on subscription ``sub``, then exit."""
    if c.kind == "pulsar-perf":
        args = ["consume", "-u", broker.service_url, "-ss", sub, "-sp", "Earliest",
                "-st", "Exclusive", "-q", "1000", "-m", str(n), topic]  # fmt: skip
        return perf_java_command(args, broker)
    assert c.python is not None
    cmd = [
        str(c.python), "-m", "pulsarload", "consume", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "--subscription", sub, "--initial-position", "earliest",
        "-m", str(n), "--stats-interval", "10", "--report", str(report),
    ]  # fmt: skip
    if c.threads > 1:
        cmd += ["-t", str(c.threads), "--subscription-type", "shared"]
    return cmd + (["--engine", "official"] if c.kind == "official" else [])


def run_drain(c: Contender, w: Workload, broker: Broker, topic: str, workdir: Path) -> Figures:
    """One contender reads the filled ``topic`` to its end on a subscription of its own."""
    n = w.drain_messages
    fig = Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, topic=topic)
    fig.consumer = c.label
    fig.raw["counter_interval_s"] = SAMPLE_INTERVAL_S
    sub = f"drain-{c.key}-{uuid.uuid4().hex[:8]}"
    create_topic_with_subscription(broker, topic, sub)
    report = workdir / f"{w.name}-{c.key}.drain.json"
    report.unlink(missing_ok=True)
    cmd = consume_command(c, broker, topic, sub, n, report)
    timeout = START_SLACK_S + n / SLOWEST_RATE
    try:
        with TopicCounter(broker, topic, sub, interval=SAMPLE_INTERVAL_S) as counter:
            proc = MonitoredProcess(cmd, timeout=timeout, env=c.env(), cwd=workdir).start().wait()
    finally:
        delete_subscription(broker, topic, sub)
    finish_figures(fig, proc)
    fig.received = _received(c, proc, report, fig)
    fig.messages = fig.received
    window = timed_window(counter, n)
    if isinstance(window, str):
        fig.notes.append(window)
    else:
        t0, t1 = window
        fig.window_s = t1 - t0
        fig.raw["window"] = [t0, t1]
        fig.msg_rate = fig.consume_rate = (1 - 2 * EDGE) * n / fig.window_s
        fig.mb_rate = fig.msg_rate * w.size / 1e6
        cpu = proc.cpu_between(t0, t1)
        if cpu is not None:
            fig.cpu_s_per_m = cpu / ((1 - 2 * EDGE) * n) * 1e6
            fig.cpu_cores = cpu / fig.window_s
    fig.ok = proc.returncode == 0 and fig.received >= n and fig.msg_rate is not None
    if not fig.ok:
        why = f"; {fig.notes[-1]}" if fig.msg_rate is None and fig.notes else ""
        fig.error = (f"exit {proc.returncode}, {fig.received:,} of {n:,} received{why}: "
                     f"{proc.tail(3)}")  # fmt: skip
    return fig


def timed_window(counter: TopicCounter, n: int) -> tuple[float, float] | str:
    """When the subscription's dispatch count passed ``EDGE`` and ``1 - EDGE`` of ``n``; or,
    when the broker's samples do not resolve that, why not."""
    t0, t1 = counter.time_at(EDGE * n), counter.time_at((1 - EDGE) * n)
    if t0 is None or t1 is None or t1 <= t0:
        return "the broker's dispatch counter did not cover the drain"
    gap = max(counter.gap_at(EDGE * n) or 0.0, counter.gap_at((1 - EDGE) * n) or 0.0)
    if gap > EDGE_RESOLUTION * (t1 - t0):
        return (f"the drain's timed part ({t1 - t0:.2f} s) was too short for the broker's "
                f"counter (samples {gap:.2f} s apart at its edges): read more messages (-m)")  # fmt: skip
    return t0, t1


def _received(c: Contender, proc: ProcessResult, report: Path, fig: Figures) -> int:
    if c.kind == "pulsar-perf":
        fig.interpreter, fig.gil = "Java", "n/a (JVM)"
        fig.raw["consumer"] = perf_summary_lines(proc)
        lat = perf_latency(proc)
        if lat:
            fig.e2e_p50_ms, fig.e2e_p99_ms, fig.e2e_p999_ms = lat
        total = proc.find(PERF_THROUGHPUT)
        if total is not None:
            return int(total[1].group(1))
        so_far = proc.find_last(PERF_RECEIVED_SO_FAR)
        return int(so_far[1].group(1)) if so_far else 0
    data = load_report(report)
    if data is None:
        return 0
    meta = data.get("meta", {})
    interp = meta.get("interpreter", {})
    fig.interpreter = f"CPython {interp.get('version', '?')}" + (
        "t" if interp.get("free_threaded_build") else ""
    )
    fig.gil = "on" if interp.get("gil_enabled") else "off"
    summary = meta.get("summary", {})
    fig.raw["consumer"] = {"summary": summary, "interpreter": interp}
    return int(summary.get("received", 0))

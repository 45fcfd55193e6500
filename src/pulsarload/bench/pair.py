"""A producer and a consumer on one subscription: consume rate and end-to-end latency.

The consumer attaches first; the producer runs the workload; the consumer then gets a few
seconds to drain what is left. Rates are the broker's own counters over the producer's window.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pulsarload.bench.broker_side import (
    TopicCounter,
    backlog,
    create_topic_with_subscription,
    delete_topic,
    wait_consumer_attached,
)
from pulsarload.bench.model import FREE_THREADED, Broker, Contender, Figures, Workload, fresh_topic
from pulsarload.bench.perf_contender import (
    PERF_CREATED,
    PERF_DONE,
    PERF_RECEIVED_SO_FAR,
    PERF_THROUGHPUT,
    interrupt_when_done,
    perf_java_command,
    perf_latency,
    perf_produce_args,
    perf_summary_lines,
)
from pulsarload.bench.process import MonitoredProcess, child_env, run_process
from pulsarload.bench.produce import (
    START_SLACK_S,
    fill_from_report,
    finish_figures,
    load_report,
    pulsarload_produce_command,
    report_window,
)

#: How long the consumer of a producer+consumer run gets to drain the backlog after the producer.
DRAIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ConsumerSide:
    """Who consumes in a producer+consumer run."""

    kind: str  # "native", "official" or "pulsar-perf"
    python: Path | None = None
    label: str = ""
    build: str = FREE_THREADED

    def env(self) -> dict[str, str]:
        """The consumer's environment (the GIL forced on for ``free-threaded-gil``)."""
        return Contender("consumer", self.kind, self.build, 1, self.python).env()


def pulsarload_consume_command(
    side: ConsumerSide, broker: Broker, topic: str, subscription: str, report: Path
) -> list[str]:
    assert side.python is not None
    cmd = [
        str(side.python), "-m", "pulsarload", "consume", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "--subscription", subscription, "--initial-position", "earliest",
        "--report", str(report),
    ]  # fmt: skip
    cmd += ["--engine", "official" if side.kind == "official" else "native"]
    return cmd


def _stop_after_drain(
    consumer: MonitoredProcess, broker: Broker, topic: str, subscription: str
) -> float:
    """Wait until the subscription's backlog is empty (or a timeout), then stop the consumer;
    returns when the backlog was seen empty."""
    deadline = time.time() + DRAIN_TIMEOUT_S
    drained = time.time()
    while time.time() < deadline:
        left = backlog(broker, topic, subscription)
        drained = time.time()
        if left == 0:
            break
        time.sleep(0.2)
    consumer.interrupt()
    return drained


def run_pair(
    producer: Contender, side: ConsumerSide, w: Workload, broker: Broker, workdir: Path
) -> Figures:
    """Producer and consumer on one subscription, with the workload's warm-up and duration.

    Topic and subscription are created first and the consumer attached before the producer
    starts. Produce msg/s is the producer's own figure (pulsar-perf: the broker's count, as in
    ``run_perf_producer``); consume msg/s is the broker's count of messages dispatched to the
    subscription over the producer's measured window: the consumer only gets more as it frees
    receiver-queue permits, so that is its consumption rate. End-to-end latency is the
    consumer's own report.
    """
    fig = Figures(
        w.name, producer.key, producer.label, producer.kind, producer.build, producer.threads
    )
    fig.consumer = side.label
    fig.topic = fresh_topic(f"bench-{w.name}-{producer.key}", w.persistent)
    subscription = "bench-sub"
    if w.persistent:  # a non-persistent subscription exists only while its consumer is attached
        create_topic_with_subscription(broker, fig.topic, subscription)
    timeout = w.duration_s + w.warmup_s + START_SLACK_S
    c_report = workdir / f"{w.name}-{producer.key}.consumer.json"
    c_report.unlink(missing_ok=True)
    if side.kind == "pulsar-perf":
        c_cmd = perf_java_command(
            ["consume", "-u", broker.service_url, "-ss", subscription, "-st", "Exclusive",
             "-q", "1000", fig.topic],
            broker,
        )  # fmt: skip
    else:
        c_cmd = pulsarload_consume_command(side, broker, fig.topic, subscription, c_report)
    consumer = MonitoredProcess(
        c_cmd, timeout=timeout + DRAIN_TIMEOUT_S + 30, env=side.env(), cwd=workdir
    )
    with TopicCounter(broker, fig.topic, subscription) as counter:
        consumer.start()
        if not wait_consumer_attached(broker, fig.topic, subscription, consumer, START_SLACK_S):
            fig.notes.append("consumer not seen attached before the producer started")
        p_report = workdir / f"{w.name}-{producer.key}.report.json"
        p_report.unlink(missing_ok=True)
        if producer.kind == "pulsar-perf":
            p_cmd = perf_java_command(perf_produce_args(w, broker, fig.topic), broker)
            pm = MonitoredProcess(p_cmd, timeout=timeout, env=producer.env(), cwd=workdir)
            pm.on_line = interrupt_when_done(pm, re.compile(r"Disconnected|Closed Producer"))
        else:
            p_cmd = pulsarload_produce_command(producer, w, broker, fig.topic, p_report)
            pm = MonitoredProcess(p_cmd, timeout=timeout, env=producer.env(), cwd=workdir)
        p_proc = pm.start().wait()
        _stop_after_drain(consumer, broker, fig.topic, subscription)
        c_proc = consumer.wait()
    delete_topic(broker, fig.topic)
    finish_figures(fig, p_proc)
    window: tuple[float, float] | None = None
    if producer.kind == "pulsar-perf":
        fig.interpreter, fig.gil = "Java", "n/a (JVM)"
        created, done = p_proc.find(PERF_CREATED), p_proc.find(PERF_DONE)
        fig.raw["producer"] = perf_summary_lines(p_proc)
        if created and done:
            window = (created[0] + w.warmup_s, done[0])
            fig.msg_rate = counter.rate(*window)
            if fig.msg_rate:
                fig.messages = round(fig.msg_rate * (window[1] - window[0]))
                fig.mb_rate = fig.msg_rate * w.size / 1e6
        lat = perf_latency(p_proc)
        if lat:
            fig.p50_ms, fig.p99_ms, fig.p999_ms = lat
    else:
        data = load_report(p_report)
        if data is not None:
            fill_from_report(fig, data, p_proc)
            window = report_window(data)
    if window is not None:
        fig.window_s = window[1] - window[0]
        fig.broker_msg_rate = counter.rate(*window)
        fig.consume_rate = counter.rate(*window, column=2)
        cpu = p_proc.cpu_between(*window)
        if cpu is not None and fig.messages:
            fig.cpu_s_per_m = cpu / fig.messages * 1e6
            fig.cpu_cores = cpu / fig.window_s
        ccpu = c_proc.cpu_between(*window)
        if ccpu is not None and fig.consume_rate:
            fig.consumer_cpu_s_per_m = ccpu / (fig.consume_rate * fig.window_s) * 1e6
    if side.kind == "pulsar-perf":
        total = c_proc.find(PERF_THROUGHPUT)
        if total is not None:
            fig.received = int(total[1].group(1))
        else:
            so_far = c_proc.find_last(PERF_RECEIVED_SO_FAR)
            fig.received = int(so_far[1].group(1)) if so_far else 0
            if so_far:
                fig.notes.append(
                    "pulsar-perf's consumer printed no summary (it was killed): received is its "
                    "last periodic count, and it reported no end-to-end latency"
                )
        lat = perf_latency(c_proc)
        if lat:
            fig.e2e_p50_ms, fig.e2e_p99_ms, fig.e2e_p999_ms = lat
        fig.raw["consumer"] = perf_summary_lines(c_proc)
    else:
        c_data = load_report(c_report)
        if c_data is not None:
            cs = c_data.get("meta", {}).get("summary", {})
            fig.raw["consumer"] = {"summary": cs, "interpreter": c_data["meta"].get("interpreter")}
            fig.received = int(cs.get("received", 0))
            fig.e2e_p50_ms, fig.e2e_p99_ms = cs.get("p50_ms"), cs.get("p99_ms")
            fig.e2e_p999_ms = cs.get("p999_ms")
    fig.consumer_peak_rss_mb = c_proc.peak_rss_kib / 1024 if c_proc.peak_rss_kib else None
    fig.raw["sent_total"] = counter.series[-1][1] if counter.series else None
    fig.ok = fig.messages > 0 and fig.received > 0
    if not fig.ok:
        fig.error = (
            f"producer exit {p_proc.returncode} ({fig.messages} msgs; {p_proc.tail(2)}); "
            f"consumer exit {c_proc.returncode} ({fig.received} msgs; {c_proc.tail(2)})"
        )
    sent = fig.raw["sent_total"]
    if fig.received and sent and fig.received < sent:
        fig.notes.append(f"consumer received {fig.received:,} of {sent:,} before it was stopped")
    return fig


def native_consumer_status(python: Path | None, broker: Broker, workdir: Path) -> str | None:
    """None when the native consumer works here; otherwise why not (checked by running it)."""
    if python is None:
        return "no free-threaded interpreter"
    probe = subprocess.run(
        [str(python), "-c", "import pulsarload.engines.native_consumer"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
        timeout=60,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["import failed"])[-1]
        return f"pulsarload.engines.native_consumer does not import ({last})"
    topic = fresh_topic("bench-consumer-probe")
    report = workdir / "native-consumer-probe.json"
    report.unlink(missing_ok=True)
    cmd = [
        str(python), "-m", "pulsarload", "consume", topic, "--headless", "-u", broker.service_url,
        "--admin-url", broker.admin_url, "--duration", "2", "--report", str(report),
    ]  # fmt: skip
    proc = run_process(cmd, timeout=60, env=child_env(), cwd=workdir)
    if proc.returncode != 0 or not report.exists():
        return f"`pulsarload consume --headless` failed (exit {proc.returncode}: {proc.tail(2)})"
    return None

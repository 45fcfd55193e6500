"""Network faults between client and broker, through `faultproxy.FaultProxy` on loopback.

A producer and a consumer of the load layer run with `--verify` through the proxy while it cuts
every connection, stalls all traffic, closes connections half-way through a frame, or adds
delay. What must hold: sends that cannot finish fail with the send timeout and are counted by
category; both sides reconnect on their own; nothing the producer was told is acknowledged
goes missing; and a headless run ends on time even when the broker stops answering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, LoadPair

from pulsarload.client.urls import parse_service_url
from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


@pytest.fixture
def proxy(broker: Any) -> Iterator[FaultProxy]:
    address = parse_service_url(broker.service_url).addresses[0]
    with FaultProxy((address.host, address.port)) as p:
        yield p


def test_cutting_every_connection_twice_loses_nothing(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    pair = LoadPair(proxy.url, broker.admin_url, make_topic("cut"), producer={"rate": 1000.0})
    try:
        pair.start()
        for n in (1, 2):
            time.sleep(1.5)  # the fault's pace: load flows a while before each cut
            assert proxy.cut_all() >= 2  # the producer's and the consumer's connections
            pair.progress_after(0.5, what=f"cut {n}")
        result = pair.finish()
    except BaseException:
        pair.abort()
        raise
    assert proxy.accepted >= 6  # both sides came back (a lookup connection each, twice more)
    assert result.failed_by_category == {}
    assert result.verify.missing == 0, result.verify.missing_examples
    assert result.verify.unique == sum(result.sent.values()) > 2000


def test_an_outage_with_refused_connections_is_ridden_out(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    """The "broker" refuses every connection for 4 s: both sides keep retrying with backoff
    (several refused attempts), come back when it accepts again, and lose nothing."""
    pair = LoadPair(proxy.url, broker.admin_url, make_topic("outage"), producer={"rate": 500.0})
    try:
        pair.start()
        time.sleep(1)  # load flows before the outage
        proxy.refusing = True
        proxy.cut_all()
        time.sleep(4)  # the outage itself
        proxy.refusing = False
        pair.progress_after(0.5, what="the outage")
        result = pair.finish()
    except BaseException:
        pair.abort()
        raise
    assert proxy.refused >= 4  # both sides tried more than once
    assert result.failed_by_category == {}
    assert result.verify.missing == 0, result.verify.missing_examples


def test_the_status_line_says_reconnecting_during_an_outage(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    from pulsarload.load.headless import status_line

    settings = resolve_settings(
        ProduceSettings,
        {"topic": make_topic("outage-status"), "service_url": proxy.url,
         "admin_url": broker.admin_url, "rate": 200.0},
        environ={},
    )  # fmt: skip
    controller = LoadController("producer", settings)
    controller.start()
    try:
        eventually(lambda: bool(controller.sampler.latest and controller.sampler.latest.total.acked),
                 60, "the first ack")  # fmt: skip
        proxy.refusing = True
        proxy.cut_all()
        time.sleep(3)  # the outage: the workers retry meanwhile
        snap = controller.sampler.latest
        assert snap is not None
        line = status_line("producer", [snap], controller)
    finally:
        proxy.refusing = False
        controller.stop()
    assert "reconnecting, attempt" in line, line


def test_a_stall_times_sends_out_by_category_and_traffic_resumes(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    pair = LoadPair(
        proxy.url,
        broker.admin_url,
        make_topic("stall"),
        producer={"rate": 500.0, "send_timeout_ms": 1500},
    )
    try:
        pair.start()
        time.sleep(1)  # load flows before the stall
        with proxy.stalled():
            eventually(lambda: pair.failed() > 0, 20, "sends to time out during the stall")
        pair.progress_after(0.5, what="the stall")
        result = pair.finish()
    except BaseException:
        pair.abort()
        raise
    failures = result.failed_by_category
    assert set(failures) == {"timeout"} and failures["timeout"] > 0
    assert "timeout" in " ".join(result.producer.final.total.errors)
    # Whatever went missing was reported to the producer as failed (never as acknowledged).
    assert result.verify.missing <= failures["timeout"]


def test_connections_closed_half_way_through_a_frame(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    pair = LoadPair(proxy.url, broker.admin_url, make_topic("midframe"))
    try:
        pair.start()
        for n in (1, 2, 3):
            proxy.close_mid_frame()
            eventually(lambda n=n: proxy.mid_frame_cuts == n, 20, f"mid-frame cut {n}")
            pair.progress_after(0.3, what=f"mid-frame cut {n}")
        result = pair.finish()
    except BaseException:
        pair.abort()
        raise
    assert result.failed_by_category == {}
    assert result.verify.missing == 0, result.verify.missing_examples


def test_added_delay_shows_in_the_publish_latency(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str]
) -> None:
    proxy.delay = 0.1  # each way: a send and its receipt cross the proxy once each
    settings = resolve_settings(
        ProduceSettings,
        {"topic": make_topic("delay"), "service_url": proxy.url, "admin_url": broker.admin_url,
         "rate": 200.0, "messages": 400},
        environ={},
    )  # fmt: skip
    controller = LoadController("producer", settings)
    controller.start()
    eventually(controller.done, 60, "400 messages at 200 msg/s")
    result = controller.stop()
    assert result.figures["acked"] == 400 and result.figures["failed"] == 0
    assert result.figures["p50_ms"] >= 190, result.figures


# ------------------------------------------------------------------------------ never hangs


def run_cli(args: list[str], env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR", "PULSARLOAD"))}
    return subprocess.Popen(
        [sys.executable, "-m", "pulsarload", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **(env or {})},
        **kw,
    )


@pytest.mark.parametrize("role", ["produce", "consume"])
def test_a_headless_run_ends_on_time_when_the_broker_stops_answering(
    broker: Any, proxy: FaultProxy, make_topic: Callable[[str], str], tmp_path: Path, role: str
) -> None:
    """Every wait has a timeout: a run of 4 s whose broker goes silent once it runs still
    ends (flush, close and the summary) within the send/operation timeouts."""
    report = tmp_path / "r.json"
    args = [role, make_topic("silent"), "--headless", "-u", proxy.url, "-d", "4",
            "--report", str(report), "--stats-interval", "1"]  # fmt: skip
    if role == "produce":
        args += ["-r", "300", "--send-timeout-ms", "1500"]
    started = time.monotonic()
    proc = run_cli(args, env={"PULSARLOAD_OPERATION_TIMEOUT": "3"})
    try:
        # Silence once it really runs (interpreter start-up takes seconds on a busy machine):
        # the producer has sent ~100 messages, the consumer has looked its topic up.
        if role == "produce":
            eventually(lambda: proxy.bytes_forwarded > 100_000, 60, "the producer to send")
        else:
            eventually(lambda: proxy.lookups_rewritten >= 1, 60, "the consumer's lookup")
            time.sleep(1)  # the consumer runs a moment before the silence
        startup = time.monotonic() - started
        proxy.stall()
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    elapsed = time.monotonic() - started - startup
    assert "Traceback" not in out + err
    assert f"{'producer' if role == 'produce' else 'consumer'} summary" in out, out + err
    assert elapsed < 45, f"took {elapsed:.0f} s after the broker went silent"
    data = json.loads(report.read_text())
    if role == "produce":
        assert "failures by category: timeout" in out, out
        assert data["meta"]["summary"]["failed"] > 0


def test_a_broker_that_never_answers_the_handshake_is_one_line(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.stall()  # connections are accepted, nothing ever comes back
    started = time.monotonic()
    proc = run_cli(
        ["produce", "t", "--headless", "-u", proxy.url, "-m", "5", "--connect-timeout", "2",
         "--report", str(tmp_path / "r.json")],
    )  # fmt: skip
    out, err = proc.communicate(timeout=90)
    assert proc.returncode != 0
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pulsarload: error:"), err
    assert "2 s" in lines[0] and "127.0.0.1" in lines[0], lines[0]
    assert time.monotonic() - started < 40

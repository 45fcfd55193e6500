"""The capacity search against the real broker.

The broker is given a known limit: a namespace of its own whose publish rate Pulsar throttles
(`publishRate` policy), so the rate the search must find is set by the broker, not by how busy
this shared machine is. A generous latency SLO leaves the achieved rate to decide.
The test then bisects by hand with a steady producer (the ordinary controller and its run
summary, not the search's code) and checks that both answers agree within the resolution.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from throttle import throttled_namespace

from pulsarload.config import CapacitySettings, ProduceSettings, resolve_settings
from pulsarload.load import controls as cmd
from pulsarload.load.capacity.local import run_capacity
from pulsarload.load.controller import LoadController
from pulsarload.load.results import summary_figures
from pulsarload.metrics.html_report import DATA_ELEMENT_ID

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]

LIMIT = 1800  # msg/s the broker lets through in the test namespace
RESOLUTION = 0.10
SLO = "p99_ms<2000"
STEP = {"step_warmup_s": 2.0, "step_window_s": 3.0, "prime_s": 1.0}
FLOOR, CEILING = 500, 4000


@pytest.fixture(scope="module")
def throttled(broker) -> Iterator[str]:
    """A fresh namespace whose topics the broker throttles to LIMIT msg/s."""
    with throttled_namespace(broker.admin_url, LIMIT) as ns:
        yield ns


def capacity_settings(broker, topic: str, **flags) -> CapacitySettings:
    base = {
        "topic": topic,
        "service_url": broker.service_url,
        "admin_url": broker.admin_url,
        "slos": (SLO,),
        "resolution": RESOLUTION,
        "start_rate": float(FLOOR),
        "max_rate": float(CEILING),
        **STEP,
    }
    return resolve_settings(CapacitySettings, {**base, **flags}, environ={})


def hand_bisection(broker, topic: str) -> float:
    """Bisect by hand: one steady producer whose rate is set, left to settle for the same
    warm-up, then judged from the controller's ordinary run summary over the same window.

    One producer throughout, as in the search: a fresh producer on the throttled topic would
    first spend the broker's token bucket (a second's worth of messages) and pass above LIMIT.
    """
    s = resolve_settings(
        ProduceSettings,
        {
            "topic": topic,
            "service_url": broker.service_url,
            "admin_url": broker.admin_url,
            "rate": float(FLOOR),
        },
        environ={},
    )
    controller = LoadController("producer", s)
    controller.start()

    def passes(rate: float) -> bool:
        controller.apply(cmd.SetRate(rate))
        time.sleep(STEP["step_warmup_s"])  # a step's warm-up and window: the load runs this long
        controller.reset_metrics()
        time.sleep(STEP["step_window_s"])
        f = summary_figures(controller.sampler.flush(), "producer")
        return f["msg_rate"] >= 0.95 * rate and f["p99_ms"] < 2000 and f["error_rate"] < 0.001

    def verdict(rate: float) -> bool:
        """Two runs, and a third when they disagree: a careful person's bisection. With one
        run per probe, one noisy window on a busy machine sends the bisection off (a by-hand
        answer of 1,266 msg/s beside three searches that each found 2,125 at load 10)."""
        first, second = passes(rate), passes(rate)
        return first if first == second else passes(rate)

    try:
        lo, hi = float(FLOOR), float(CEILING)
        assert verdict(lo), "the floor must pass for a bisection"
        assert not verdict(hi), "the ceiling must fail for a bisection"
        while (hi - lo) / lo > RESOLUTION:
            mid = round((lo + hi) / 2)
            if verdict(mid):
                lo = mid
            else:
                hi = mid
        return lo
    finally:
        controller.stop()


# Two searches of a throttled broker agree only when the machine is steady: with 3 s windows on a
# loaded 2-core machine the achieved rate wobbles by about 10 %, more than the resolution, and
# a by-hand bisection that trusts one window per probe wandered furthest (hence its repeats). A search that sees the wobble in the repeats of its
# deciding steps says "not decidable" instead of a figure; that is a right answer too. `make
# test` leaves it out; `make test-quiet` runs it (on an otherwise idle machine).
@pytest.mark.quiet_machine
def test_capacity_agrees_with_a_bisection_by_hand(broker, throttled: str, tmp_path: Path) -> None:
    report = tmp_path / "capacity.json"
    lines: list[str] = []
    topic = f"persistent://{throttled}/search"
    code = run_capacity(capacity_settings(broker, topic, report=str(report)), echo=lines.append)
    assert code == 0, "\n".join(lines)
    data = json.loads(report.read_text())
    cap = data["meta"]["capacity"]
    found = cap["capacity_msg_s"]
    assert cap["ended"] == "found", cap["statement"]
    assert cap["gap"] <= RESOLUTION
    decidable = cap["decidable"]
    if decidable["ok"]:
        # The broker throttles near LIMIT, not at it: Pulsar's default publish rate limiter is
        # not precise (2,149 msg/s have passed a 1,800 limit over 3 s windows, step after
        # step). So the figure is only near LIMIT; the bisection by hand decides.
        assert LIMIT / 2 <= found <= LIMIT * 1.35, "\n".join(lines)
        by_hand = hand_bisection(broker, f"persistent://{throttled}/by-hand")
        assert abs(found - by_hand) <= RESOLUTION * by_hand, f"{found} vs {by_hand}\n" + "\n".join(
            lines
        )
    else:
        # Under load the repeats of a deciding step spread wider than the resolution: the
        # search must then say that its figure holds for this run only, and why, with the
        # figures, rather than claim it.
        assert decidable["reasons"] and decidable["spread"], decidable
        assert any(line.startswith("NOT DECIDABLE under this load") for line in lines)

    # Every step is in the report and was announced live, with its curve figures.
    steps = cap["steps"]
    assert [s["index"] for s in steps] == list(range(1, len(steps) + 1))
    assert sum(
        1 for line in lines if re.match(r"step \d+ \S+ [\d,]+ msg/s: achieved", line)
    ) == len(steps)
    for s in steps:
        for key in ("target", "achieved", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "errors"):
            assert s[key] is not None
        assert s["client_cpu_percent"] >= 0 and "backlog_slope" in s
    assert any(s["phase"] == "confirm" for s in steps)
    # The failing boundary is the broker's throttle: sends pile up, the client is not busy.
    assert cap["limited_by"] == "broker", cap["limited_why"]
    assert cap["confidence"]["level"] in ("high", "medium", "low")
    assert "load_average" in cap


def embedded(html_path: Path) -> dict:
    text = html_path.read_text()
    match = re.search(
        rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', text, re.S
    )
    assert match, "no embedded report data"
    assert "uPlot" in text and "<script src" not in text and "<link" not in text  # offline
    return json.loads(match.group(1))


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_capacity_html_report_holds_every_step_with_a_consumer(
    broker, throttled: str, tmp_path: Path
) -> None:
    page = tmp_path / "capacity.html"
    topic = f"persistent://{throttled}/html"
    run = cli(
        "capacity", topic, "-u", broker.service_url, "--admin-url", broker.admin_url,
        "--slo", SLO, "--slo", "e2e_p99_ms<5000", "--with-consumer",
        "--start-rate", "300", "--max-rate", "600", "--step-warmup", "1", "--step-window", "2",
        "--prime", "1",
        "--report", str(page),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    data = embedded(page)
    cap = data["report"]["meta"]["capacity"]
    steps = cap["steps"]
    assert len(steps) == len(re.findall(r"^step \d+ \S+ [\d,]+ msg/s: achieved", run.stdout, re.M))
    assert steps[0]["target"] == 300 and len(steps) >= 3
    for s in steps:  # the consumer measured end-to-end latency and the backlog
        assert s["e2e_p99_ms"] is not None and s["received_rate"] > 0
        assert "backlog_slope" in s and "backlog_slope_error" in s
    # A slope needs two ticks of both samplers in the window; a starved sampler (this machine
    # is shared) may leave one step without, never all.
    assert any(s["backlog_slope"] is not None for s in steps)
    assert len(data["series"]["time"]) >= 5  # the rate over time, one point a second
    assert f"capacity {cap['capacity_msg_s']:,.0f} msg/s" in run.stdout


@pytest.mark.parametrize("role", ["produce", "consume"])
def test_every_run_writes_an_html_report(broker, make_topic, tmp_path: Path, role: str) -> None:
    page = tmp_path / f"{role}.html"
    topic = make_topic("html")
    extra = ["-r", "200"] if role == "produce" else ["--subscription", "html-report"]
    run = cli(
        role, topic, "--headless", "-u", broker.service_url, "--admin-url", broker.admin_url,
        "-d", "3", *extra, "--report", str(page), timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    data = embedded(page)
    assert data["report"]["meta"]["role"] == ("producer" if role == "produce" else "consumer")
    assert data["report"]["final"]["schema"] == "pulsarload.snapshot"
    assert len(data["series"]["time"]) >= 2
    if role == "produce":
        assert max(data["series"]["acked"]) > 0

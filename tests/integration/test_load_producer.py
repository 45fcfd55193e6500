"""The load engine's producer side against the real broker: rate, live threads, scenarios, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = pytest.mark.broker


def settings_for(broker, topic: str, **flags) -> ProduceSettings:
    base = {"topic": topic, "service_url": broker.service_url, "admin_url": broker.admin_url}
    return resolve_settings(ProduceSettings, {**base, **flags}, environ={})


def stored_messages(admin_url: str, topic: str) -> int:
    path = topic.replace("persistent://", "persistent/")
    stats = httpx.get(f"{admin_url}/admin/v2/{path}/stats", timeout=10).json()
    return int(stats["msgInCounter"])


def run_to_end(controller: LoadController, timeout: float) -> None:
    """Start, and wait until the run ends by itself (duration, budget, scenario)."""
    controller.start()
    eventually(controller.done, timeout, "the run to end by itself")


def sent(controller: LoadController) -> int:
    latest = controller.sampler.latest
    return latest.total.sent if latest is not None else 0


def test_rate_control_holds_the_target_within_two_percent(broker, topic: str) -> None:
    rate, seconds = 1000.0, 10.0
    # A one-second warm-up keeps connecting out of the measured window.
    controller = LoadController(
        "producer",
        settings_for(broker, topic, rate=rate, threads=2, warmup_s=1.0, duration_s=seconds),
    )
    run_to_end(controller, seconds + 5)
    result = controller.stop()
    achieved = result.final.total.sent / result.final.elapsed
    assert abs(achieved - rate) / rate < 0.02, (
        f"sent {achieved:.1f} msg/s against a target of {rate}"
    )
    assert result.final.total.failed == 0
    # Acks of the warm-up's last sends land after the reset: equal within what was in flight.
    assert abs(result.final.total.acked - result.final.total.sent) < rate * 0.05


def test_threads_added_and_removed_live_keep_counts_exact(broker, topic: str) -> None:
    controller = LoadController("producer", settings_for(broker, topic, rate=1500.0, threads=1))
    controller.start()
    eventually(lambda: sent(controller) > 1000, what="1,000 sends from one thread")
    assert "added 2" in controller.apply(cmd.AddWorker(2))
    assert controller.pool.size == 3
    eventually(
        lambda: all(w.sent for w in controller.pool.workers()) and sent(controller) > 2000,
        what="sends from the added threads",
    )
    assert "removed 1" in controller.apply(cmd.RemoveWorker(1))
    assert controller.pool.size == 2
    before = sent(controller)
    eventually(lambda: sent(controller) > before + 500, what="sends after the removal")
    result = controller.stop()
    total = result.final.total
    assert total.sent > 2000
    assert total.acked == total.sent and total.failed == 0
    assert stored_messages(broker.admin_url, topic) == total.acked


def test_pause_stops_sending_and_resume_restarts(broker, topic: str) -> None:
    controller = LoadController("producer", settings_for(broker, topic, rate=1000.0))
    controller.start()
    eventually(lambda: sent(controller) > 500, what="sends before the pause")
    controller.apply(cmd.Pause())
    eventually(
        lambda: all(w.slot.state == "paused" for w in controller.pool.workers()),
        what="every worker to see the pause",
    )
    before = controller.sampler.flush().total.sent
    time.sleep(1.0)  # a chance for a paused worker to send (none must)
    assert controller.sampler.flush().total.sent == before
    controller.apply(cmd.Resume())
    eventually(lambda: sent(controller) > before + 500, what="sends after the resume")
    result = controller.stop()
    assert result.final.total.sent > before + 500


def test_message_budget_is_exact(broker, topic: str) -> None:
    controller = LoadController("producer", settings_for(broker, topic, messages=3333, threads=3))
    run_to_end(controller, 60)
    assert controller.done()
    result = controller.stop()
    assert result.final.total.sent == result.final.total.acked == 3333
    assert stored_messages(broker.admin_url, topic) == 3333


def test_ramp_scenario_rises_along_its_shape(broker, topic: str) -> None:
    controller = LoadController(
        "producer",
        settings_for(
            broker, topic, scenario="ramp", rate=2000.0, ramp_seconds=6.0, threads=1, duration_s=7.0
        ),
    )
    run_to_end(controller, 15.0)
    points = controller.window.points(coarse=True)
    controller.stop()
    rates = [p.rates["sent"] for p in points]
    assert len(rates) >= 5, rates
    # A linear ramp: each full second sends more than the one before (allowing noise), and the
    # first seconds stay well below the target while the last approach it.
    assert rates[0] < 600, rates
    assert rates[4] > rates[1] + 500, rates
    assert max(rates) > 1400, rates


def test_headless_cli_report_and_thresholds(broker, topic: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    base = [
        sys.executable,
        "-m",
        "pulsarload",
        "produce",
        topic,
        "--headless",
        "-u",
        broker.service_url,
        "--admin-url",
        broker.admin_url,
        "-m",
        "2000",
        "-r",
        "2000",
    ]
    ok = subprocess.run(
        [*base, "--report", str(report), "--threshold", "error_rate<0.01"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert "producer summary" in ok.stdout and "threshold error_rate<0.01: pass" in ok.stdout
    data = json.loads(report.read_text())
    assert data["schema"] == "pulsarload.report"
    assert data["meta"]["summary"]["acked"] == 2000
    assert data["meta"]["interpreter"]["gil_enabled"] is False

    failing = subprocess.run(
        [*base, "--threshold", "p99_ms<0.000001"], capture_output=True, text=True, timeout=120
    )
    assert failing.returncode == 1
    assert "FAIL" in failing.stdout


def test_unreachable_broker_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulsarload",
            "produce",
            "t",
            "--headless",
            "-m",
            "10",
            "-u",
            "pulsar://127.0.0.1:1",
            "--report",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "127.0.0.1:1" in result.stdout + result.stderr


def test_backpressure_scenario_reports_backlog_growth(broker, topic: str) -> None:
    from pulsarload.client import Client
    from pulsarload.client.admin import AdminClient

    with Client(broker.service_url) as client:  # a subscription that never consumes
        client.subscribe(topic, "idle").close()
    settings = settings_for(
        broker, topic, scenario="backpressure", rate=1000.0, batching=False, duration_s=5.0
    )
    controller = LoadController("producer", settings)
    run_to_end(controller, 8)
    result = controller.stop()
    growth = next(n for n in result.notes if n.startswith("backlog grew"))
    per_second = float(growth.split()[2].rstrip("/s").replace(",", ""))
    assert 600 < per_second < 1400, growth  # unbatched: one entry per message at ~1000 msg/s
    with AdminClient(broker.admin_url) as admin:
        assert {b.subscription for b in admin.backlog(topic)} == {"idle"}

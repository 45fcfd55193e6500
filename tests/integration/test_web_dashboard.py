"""The browser dashboard in a real browser (Debian's Chromium through Selenium) against the real
broker: the page loads and its charts move, its rate control changes the rate the broker sees,
a late viewer gets the history, and beyond loopback a missing or wrong token is refused.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.keys import Keys
from web_browser import Browser, WebRun, browser_missing, own_address, src_env

from pulsarload.client.admin import AdminClient

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]

START_RATE = 100.0
NEW_RATE = 1000.0


def run_args(broker: Any, *extra: str) -> list[str]:
    return ["-u", broker.service_url, "--admin-url", broker.admin_url, "-t", "1", *extra]


@pytest.fixture(scope="module")
def producer_run(broker: Any) -> Iterator[tuple[WebRun, str]]:
    import uuid

    topic = f"persistent://public/default/web-{uuid.uuid4().hex[:12]}"
    run = WebRun(
        "producer", topic, run_args(broker, "-r", f"{START_RATE:g}", "-s", "256"), env=src_env()
    )
    try:
        yield run, topic
    finally:
        code = run.stop()
        assert code in (0, 130), run.output()


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def chart_points(b: Browser) -> int:
    return b.js("const p = window.pulsarloadPage; return p && p.data ? p.data.t.length : 0;")


def test_page_loads_and_charts_update(producer_run: tuple[WebRun, str], browser: Browser) -> None:
    run, _ = producer_run
    browser.driver.get(run.url)
    browser.wait_for(
        "return window.pulsarloadPage && window.pulsarloadPage.frames > 10", 240, "frames"
    )
    assert browser.js("return document.getElementById('conn').textContent") == "live"
    for chart in ("chart-rate", "chart-latency", "chart-hist", "chart-res"):
        assert browser.js(f"return document.querySelectorAll('#{chart} .uplot canvas').length") == 1
    first_points = chart_points(browser)
    first_x = browser.js("return window.pulsarloadPage.charts.rate.data[0].at(-1)")
    browser.wait_for(
        "return window.pulsarloadPage.charts.rate.data[0].length > arguments[0] + 10",
        120,
        "chart growth",
        first_points,
    )
    assert browser.js("return window.pulsarloadPage.charts.rate.data[0].at(-1)") > first_x
    # figures and the worker table come from the same frames
    assert browser.js("return document.getElementById('role').textContent") == "producer"
    assert browser.js("return document.querySelectorAll('#workers tbody tr').length") == 1
    target = browser.js("return window.pulsarloadPage.lastFrame.target")
    assert target == START_RATE
    assert browser.js("return document.getElementById('gil').textContent") == "GIL off"


def test_late_viewer_sees_the_history(producer_run: tuple[WebRun, str], browser: Browser) -> None:
    run, _ = producer_run
    # the run has been going for a while before this viewer arrives
    time.sleep(max(0.0, 15 - (time.monotonic() - run.started)))  # history builds up meanwhile
    opened = time.time()
    browser.driver.get(run.url)
    browser.wait_for(
        "return window.pulsarloadPage && window.pulsarloadPage.historyRows > 0", 240, "history"
    )
    rows = browser.js("return window.pulsarloadPage.historyRows")
    oldest = browser.js("return window.pulsarloadPage.data.t[0]")
    assert rows >= 20, rows  # points from before the page opened (10 per second when idle)
    assert oldest < opened - 10
    # the history is drawn: the rate chart starts at the oldest row
    assert browser.js("return window.pulsarloadPage.charts.rate.data[0][0]") == oldest


def broker_rate_in(admin: AdminClient, topic: str) -> float:
    return float(admin.topic_stats(topic).get("msgRateIn", 0.0))


def test_rate_control_changes_the_rate_the_broker_sees(
    producer_run: tuple[WebRun, str], browser: Browser, broker: Any
) -> None:
    run, topic = producer_run
    admin = AdminClient(broker.admin_url, timeout_s=10)
    before = broker_rate_in(admin, topic)
    assert before < (START_RATE + NEW_RATE) / 2, before
    browser.driver.get(run.url)
    browser.wait_for(
        "return window.pulsarloadPage && window.pulsarloadPage.frames > 5", 240, "frames"
    )
    field = browser.driver.find_element("id", "rate-input")
    field.click()  # focused: the page leaves the field alone while it is typed in
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(f"{NEW_RATE:g}")
    browser.driver.find_element("id", "rate-set").click()
    browser.wait_for(
        "return document.getElementById('message').textContent.includes('target rate')",
        120,
        "the answer",
    )
    browser.wait_for(
        "return window.pulsarloadPage.lastFrame.target === arguments[0]",
        120,
        "the new target",
        NEW_RATE,
    )
    # The broker computes msgRateIn once per stats period (a minute by default): wait for a
    # period that lies after the change.
    deadline = time.monotonic() + 200
    seen = before
    while time.monotonic() < deadline:
        seen = broker_rate_in(admin, topic)
        if seen > (START_RATE + NEW_RATE) / 2:
            break
        time.sleep(5)
    assert seen > (START_RATE + NEW_RATE) / 2, f"broker msgRateIn stayed at {seen}"
    assert "target rate 1,000 msg/s" in browser.js(
        "return document.getElementById('message').textContent"
    )


def test_token_is_required_beyond_loopback(broker: Any, topic: str, browser: Browser) -> None:
    address = own_address()
    token = "web-test-token-5b1e0c9d7a"
    bind = f"{address}:0" if address else "0.0.0.0:0"
    run = WebRun(
        "producer",
        topic,
        run_args(broker, "-r", "50", "-s", "128"),
        web=bind,
        env={**src_env(), "PULSARLOAD_WEB_TOKEN": token},
    )
    try:
        url = (
            run.url
            if address
            else run.url.split("//", 1)[0] + "//127.0.0.1:" + run.url.rsplit(":", 1)[1]
        )
        with httpx.Client(timeout=10) as client:
            assert client.get(url + "api/meta").status_code == 401
            assert (
                client.get(url + "api/meta", headers={"authorization": "Bearer nope"}).status_code
                == 403
            )
            refused = client.post(
                url + "api/command",
                json={"kind": "set_rate", "rate": 5000},
                headers={"authorization": "Bearer nope"},
            )
            assert refused.status_code == 403
            assert (
                client.get(
                    url + "api/meta", headers={"authorization": f"Bearer {token}"}
                ).status_code
                == 200
            )
        # In the browser: the page asks, a wrong token is refused, the right one opens the stream.
        browser.driver.get(url)
        browser.wait_for("return !document.getElementById('auth').hidden", 240, "the token prompt")
        assert browser.js("return document.getElementById('conn').textContent") == "token needed"
        browser.driver.find_element("id", "token-input").send_keys("not-the-token")
        browser.driver.find_element("id", "token-use").click()
        browser.wait_for(
            "return document.getElementById('auth-why').textContent === 'wrong token'",
            120,
            "the refusal",
        )
        assert browser.js("return window.pulsarloadPage.frames") == 0
        browser.driver.find_element("id", "token-input").send_keys(token)
        browser.driver.find_element("id", "token-use").click()
        browser.wait_for("return window.pulsarloadPage.frames > 3", 240, "frames with the token")
        assert (
            browser.js("return window.pulsarloadPage.lastFrame.target") == 50.0
        )  # nothing changed it
        assert token not in browser.driver.current_url
    finally:
        code = run.stop()
    output = run.output()
    assert code in (0, 130), output
    assert token not in output  # given, not generated: never printed


def stream_frames(url: str, want: Callable[[dict], bool], timeout: float) -> dict:
    """Read the stream until a frame satisfies `want`; that frame."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as client, client.stream("GET", url + "api/stream") as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line.startswith('data: {"seq"'):
                frame = json.loads(line[6:])
                if want(frame):
                    return frame
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"no frame as wanted within {timeout:g}s")


def test_consumer_backlog_ack_and_seek(broker: Any, topic: str) -> None:
    """A consumer run's frames carry its backlog per partition from the admin API, and the ack
    strategy and seek controls reach the real consumers (a seek to the earliest message
    receives the topic's messages a second time)."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "pulsarload", "produce", topic, "--headless", "-m", "100"]
        + run_args(broker, "-s", "64"),
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, **src_env()},
    )
    run = WebRun(
        "consumer",
        topic,
        run_args(
            broker,
            "--subscription",
            "web-sub",
            "--ack",
            "immediate",
            "--initial-position",
            "earliest",
        ),
        env=src_env(),
    )
    try:
        frame = stream_frames(
            run.url,
            lambda f: bool(f["backlog"] and f["backlog"]["state"] == "ok" and f["backlog"]["rows"]),
            120,
        )
        assert frame["backlog"]["rows"][0]["subscription"] == "web-sub"
        assert frame["ack"] == "immediate"
        stream_frames(run.url, lambda f: f["total"]["received"] >= 100, 120)
        with httpx.Client(timeout=120) as client:
            changed = client.post(run.url + "api/ack", json={"ack": "grouped"})
            assert changed.status_code == 200, changed.text
            seek = client.post(run.url + "api/command", json={"kind": "seek", "target": "earliest"})
            assert seek.status_code == 200, seek.text
            bad = client.post(run.url + "api/command", json={"kind": "seek", "target": "soon"})
            assert bad.status_code == 400
        stream_frames(
            run.url, lambda f: f["ack"] == "grouped" and f["total"]["received"] >= 200, 120
        )
    finally:
        code = run.stop()
    output = run.output()
    assert code in (0, 130), output

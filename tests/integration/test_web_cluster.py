"""The browser dashboard over a cluster run (`--cluster local --workers 2 --web`): the page shows
the merged run with a table of the shards, and its rate control reaches every shard (each
shard's own measured rate follows). A real browser, a real Dask LocalCluster, the real broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys
from web_browser import Browser, WebRun, browser_missing, src_env

pytestmark = [
    pytest.mark.broker,
    pytest.mark.timeout(600),
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]

START_RATE = 100.0
NEW_RATE = 600.0


@pytest.fixture
def cluster_run(broker: Any) -> Iterator[WebRun]:
    topic = f"non-persistent://public/default/web-cluster-{uuid.uuid4().hex[:12]}"
    args = ["-u", broker.service_url, "--admin-url", broker.admin_url, "-t", "1", "-s", "256"]
    args += ["-r", f"{START_RATE:g}", "--cluster", "local", "--workers", "2"]
    # a bound for reaching the scheduler on a busy shared machine
    run = WebRun("producer", topic, args, env={**src_env(), "PULSARLOAD_CLUSTER_TIMEOUT": "60"})
    try:
        yield run
    finally:
        code = run.stop(timeout=120)
        assert code in (0, 130), run.output()


def test_the_page_shows_the_shards_and_its_rate_control_reaches_each(
    cluster_run: WebRun,
) -> None:
    b = Browser()
    try:
        b.driver.get(cluster_run.url)
        b.wait_for(
            "const f = window.pulsarloadPage && window.pulsarloadPage.lastFrame;"
            "return f && f.shards.length === 2 && f.shards.every((s) => s.done > 0);",
            240,
            "two shards acking",
        )
        assert b.js("return document.getElementById('shards-box').hidden") is False
        rows = b.js(
            "return [...document.querySelectorAll('#shards tbody tr')]"
            ".map((tr) => tr.firstChild.textContent)"
        )
        assert rows == ["s0", "s1"]
        assert "2 of 2 live" in b.js("return document.getElementById('shards-state').textContent")
        # the worker table lists the threads of both shards, named after their shard
        b.wait_for(
            "const w = window.pulsarloadPage.lastFrame.workers.map((w) => w.name.split(':')[0]);"
            "return w.includes('s0') && w.includes('s1');",
            60,
            "both shards' threads",
        )
        field = b.driver.find_element("id", "rate-input")
        field.click()
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(f"{NEW_RATE:g}")
        b.driver.find_element("id", "rate-set").click()
        # The rate is split across the shards: each one's own measured rate follows its half.
        b.wait_for(
            "return window.pulsarloadPage.lastFrame.shards.every((s) => s.rate > arguments[0])",
            120,
            "every shard at the new rate",
            0.6 * NEW_RATE / 2,
        )
        assert b.js("return window.pulsarloadPage.lastFrame.target") == NEW_RATE
    finally:
        b.close()

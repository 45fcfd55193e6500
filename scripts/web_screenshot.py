"""docs/screenshots/web.png: the browser dashboard of a short producer run, taken by the same
headless Chromium (Selenium) setup as the browser tests.

    PYTHONPATH=src .venv/bin/python scripts/web_screenshot.py [--url pulsar://localhost:6650]

The run starts at 2,000 msg/s; after 20 s the page's own rate control sets 4,000 msg/s, and the
picture is taken 20 s later, so the throughput chart shows the target step.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from web_browser import Browser, WebRun, src_env  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="pulsar://localhost:6650")
    p.add_argument("--admin-url", default="http://localhost:8080")
    p.add_argument("--output", default=str(ROOT / "docs" / "screenshots" / "web.png"))
    args = p.parse_args()
    topic = f"non-persistent://public/default/web-shot-{uuid.uuid4().hex[:8]}"
    flags = ["-u", args.url, "--admin-url", args.admin_url, "-r", "2000", "-t", "2", "-s", "512"]
    run = WebRun("producer", topic, flags, env=src_env())
    browser = Browser(width=1400, height=1250)
    try:
        browser.open(run.url)
        browser.wait_for("return window.pulsarloadPage.frames > 10", 240, "frames")
        time.sleep(20)
        field = browser.driver.find_element("id", "rate-input")
        field.click()  # focused: the page leaves the field alone while it is typed in
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys("4000")
        browser.driver.find_element("id", "rate-set").click()
        time.sleep(20)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        browser.driver.save_screenshot(args.output)
        print(f"wrote {args.output}")
    finally:
        browser.close()
        run.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

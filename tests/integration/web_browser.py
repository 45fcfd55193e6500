"""Debian's Chromium driven by Selenium (headless, offline, a fresh profile), and a headless
run of pulsarload with `--web` in a subprocess: what the browser dashboard's tests, its
benchmark and its screenshot share.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("PULSARLOAD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PULSARLOAD_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
URL_LINE = re.compile(r"web dashboard: (http://\S+)")
TOKEN_LINE = re.compile(r"web dashboard token \(shown once; the page asks for it\): (\S+)")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: make setup installs chromium and chromium-driver"
    return None


class Browser:
    """One headless Chromium with its own throw-away profile."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never fetch anything
        self.profile = tempfile.mkdtemp(prefix="pulsarload-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        # `get` returns once the navigation starts; callers wait for what they need with
        # `wait_for` (a page load on a loaded 2-core machine can outlast the driver's timeout).
        options.page_load_strategy = "none"
        for arg in (
            *CHROMIUM_ARGS,
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(300)  # a loaded 2-core machine renders slowly
        self.driver.set_script_timeout(120)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_for(self, script: str, timeout: float, what: str, *args: Any) -> Any:
        """Poll a JS expression (`return ...`) until truthy; fail naming `what`."""
        from selenium.common.exceptions import JavascriptException

        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.js(script, *args)
            except JavascriptException as err:  # the page is not there yet
                last = err.msg
            else:
                if last:
                    return last
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last {last!r})")

    def open(self, url: str, timeout: float = 240) -> None:
        """Navigate and wait until the page's script runs and its first frame has arrived."""
        self.driver.get(url)
        self.wait_for(
            "return window.pulsarloadPage && window.pulsarloadPage.meta !== null", timeout, url
        )

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class WebRun:
    """`pulsarload produce|consume TOPIC --headless --web ADDRESS ...` in a subprocess; reads the
    URL (and a generated token) from its stderr; `stop()` sends SIGINT and waits (bounded)."""

    def __init__(
        self,
        role: str,
        topic: str,
        args: Sequence[str],
        *,
        web: str = "127.0.0.1:0",
        env: dict[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        cmd = [python, "-m", "pulsarload", "produce" if role == "producer" else "consume"]
        cmd += [topic, "--headless", "--web", web, *args]
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._ready = threading.Event()
        self.started = time.monotonic()
        self.url: str | None = None
        self.token: str | None = None
        threading.Thread(target=self._pump, args=(self.proc.stderr, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, False), daemon=True).start()
        if not self._ready.wait(60) or self.url is None:
            self.stop()
            raise AssertionError(
                "the run did not print its web dashboard URL: " + "".join(self.stderr_lines[-20:])
            )

    def _pump(self, stream: Any, is_err: bool) -> None:
        for line in stream:
            (self.stderr_lines if is_err else self.stdout_lines).append(line)
            if is_err:
                if m := TOKEN_LINE.search(line):
                    self.token = m.group(1)
                if m := URL_LINE.search(line):
                    self.url = m.group(1)
                    self.started = time.monotonic()  # the server is up; the load starts now
                    # the token line follows the URL line at once when there is one
                    threading.Timer(0.5, self._ready.set).start()
        self._ready.set()

    def output(self) -> str:
        return "".join(self.stdout_lines) + "".join(self.stderr_lines)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def own_address() -> str | None:
    """A non-loopback IPv4 address of this machine (traffic to it stays on this machine)."""
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET" and not a.address.startswith("127."):
                return a.address
    return None


def src_env() -> dict[str, str]:
    """PYTHONPATH for a subprocess: this checkout's sources first."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    }

"""What serving the browser dashboard costs: msg/s of a headless producer with no viewer, and
with the page open in 1 and in 3 headless Chromiums; plus the bytes per second one viewer gets.

    PYTHONPATH=src .venv/bin/python bench/web_viewers.py --rounds 3 [--seconds 20 --warmup 20 --rate 0]

Every round runs each arm once, in a rotated order (interleaved rounds, so drift in the
machine's other load spreads over all arms): `0 viewers` (--web, nobody watching),
`1 browser`, `3 browsers`, `3 readers` (HTTP readers of the stream in this process: the
server's cost without a browser's rendering on the same cores), and with `--no-web` also `no-web` (no --web at all). Each run is `pulsarload produce TOPIC --headless
-r RATE -t 1 -s 1024 -d SECONDS --warmup WARMUP --report R.json` on a fresh non-persistent topic; its
figure is the report's msg/s over the measured window. Three browsers are open for the whole
benchmark (on about:blank); an arm's browsers open the page as soon as its URL is printed
(during the warm-up) and stay on it until the run ends. Viewer bytes: one HTTP reader of the stream,
counting what it receives for SECONDS during a run at the same settings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from web_browser import Browser, WebRun, src_env  # noqa: E402

ARMS = ("0 viewers", "1 browser", "3 browsers", "3 readers", "no-web")
BROWSERS = {"0 viewers": 0, "1 browser": 1, "3 browsers": 3, "3 readers": 0}


class StreamReader:
    """An HTTP reader of `/api/stream` on a thread: the server's cost of a viewer without a
    browser's rendering (which, on the load's own cores, would be measured with it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buf = b""
        try:
            with httpx.Client(timeout=30) as c, c.stream("GET", self.url + "api/stream") as r:
                for chunk in r.iter_bytes():
                    self.bytes += len(chunk)
                    buf += chunk
                    *events, buf = buf.split(b"\n\n")
                    self.frames += sum(e.startswith(b"event: frame") for e in events)
                    if self._stop.is_set():
                        return
        except httpx.HTTPError:
            return  # the run ended and closed the stream

    def close(self) -> None:
        self._stop.set()
        self._thread.join(35)


def one_run(arm: str, args: argparse.Namespace, folder: Path, browsers: list[Browser]) -> float:
    topic = f"non-persistent://public/default/webbench-{uuid.uuid4().hex[:10]}"
    report = folder / f"{uuid.uuid4().hex[:8]}.json"
    flags = ["-u", args.url, "--admin-url", args.admin_url, "-r", f"{args.rate:g}", "-t", "1"]
    flags += ["-s", "1024", "-d", f"{args.seconds:g}", "--warmup", f"{args.warmup:g}"]
    flags += ["--report", str(report)]
    if arm == "no-web":
        cmd = [sys.executable, "-m", "pulsarload", "produce", topic, "--headless", *flags]
        subprocess.run(
            cmd,
            check=True,
            capture_output=True,
            timeout=args.seconds + args.warmup + 300,
            env={**os.environ, **src_env()},
        )
    else:
        run = WebRun("producer", topic, flags, env=src_env())
        watching = browsers[: BROWSERS[arm]]
        readers = [StreamReader(run.url) for _ in range(3)] if arm == "3 readers" else []
        try:
            for b in watching:
                b.open(run.url)  # returns once the page has its first answer from the server
            run.proc.wait(args.seconds + args.warmup + 300)
            frames = [
                b.js("return window.pulsarloadPage ? window.pulsarloadPage.frames : 0")
                for b in watching
            ] + [r.frames for r in readers]
            if any(f < 10 for f in frames):
                raise RuntimeError(f"a viewer saw too few frames: {frames}")
        finally:
            for b in watching:
                b.driver.get("about:blank")
            for r in readers:
                r.close()
            run.stop()
    data = json.loads(report.read_text())
    return float(data["meta"]["summary"]["msg_rate"])


def viewer_bytes(args: argparse.Namespace) -> tuple[float, int, float]:
    """(bytes/s over the window, bytes of the first event (history), frames/s)."""
    topic = f"non-persistent://public/default/webbench-{uuid.uuid4().hex[:10]}"
    flags = ["-u", args.url, "--admin-url", args.admin_url, "-r", f"{args.rate:g}", "-t", "1"]
    flags += ["-s", "1024", "-d", f"{args.seconds + 20:g}"]
    run = WebRun("producer", topic, flags, env=src_env())
    try:
        time.sleep(5)
        total = frames = first = 0
        buf = b""
        with httpx.Client(timeout=30) as client, client.stream("GET", run.url + "api/stream") as r:
            start = time.monotonic()
            for chunk in r.iter_bytes():
                if not first:
                    first = len(chunk)
                    start = time.monotonic()  # count the steady stream, not the history
                    continue
                total += len(chunk)
                buf += chunk
                *events, buf = buf.split(b"\n\n")
                frames += sum(e.startswith(b"event: frame") for e in events)
                if time.monotonic() - start >= args.seconds:
                    break
            span = time.monotonic() - start
        return total / span, first, frames / span
    finally:
        run.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=20.0, help="the browsers load the page in it")
    p.add_argument("--no-web", action="store_true", help="also an arm without --web at all")
    p.add_argument("--rate", type=float, default=0.0, help="0 = as fast as possible")
    p.add_argument("--url", default="pulsar://localhost:6650")
    p.add_argument("--admin-url", default="http://localhost:8080")
    args = p.parse_args()
    results: dict[str, list[float]] = {arm: [] for arm in ARMS}
    loads = [os.getloadavg()[0]]
    # Three Chromiums stay open on about:blank for the whole benchmark (in every arm, so the
    # arms differ only in whether the page is open), and open the page when an arm asks.
    browsers = [Browser() for _ in range(3)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                arms = ARMS if args.no_web else ARMS[:4]
                order = arms[r % len(arms) :] + arms[: r % len(arms)]
                for arm in order:
                    rate = one_run(arm, args, Path(tmp), browsers)
                    results[arm].append(rate)
                    loads.append(os.getloadavg()[0])
                    print(
                        f"round {r + 1} {arm:>10}: {rate:,.0f} msg/s  (load {loads[-1]:.1f})",
                        flush=True,
                    )
    finally:
        for b in browsers:
            b.close()
    bps, history_bytes, fps = viewer_bytes(args)
    print(f"\nload average (1 min) over the runs: {min(loads):.1f}-{max(loads):.1f}")
    print("| arm | median msg/s | min-max | vs 0 viewers (median of paired rounds) |")
    print("|---|---:|---:|---:|")
    for arm in ARMS:
        xs = results[arm]
        if not xs:
            continue
        med = statistics.median(xs)
        pairs = [x / b for x, b in zip(xs, results["0 viewers"], strict=False) if b]
        paired = (statistics.median(pairs) - 1) * 100 if pairs else 0.0
        span = f"{(min(pairs) - 1) * 100:+.1f}..{(max(pairs) - 1) * 100:+.1f}" if pairs else ""
        print(f"| {arm} | {med:,.0f} | {min(xs):,.0f}-{max(xs):,.0f} | {paired:+.1f} % ({span}) |")
    print(
        f"\none viewer receives {bps / 1000:.1f} kB/s ({fps:.1f} frames/s); the history event "
        f"on connect was {history_bytes / 1000:.1f} kB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drain benchmark of the consumer: how fast does `pulsarload consume` read a filled topic?

Fill a persistent topic once (the `hold` subscription keeps its messages retained), then run
`pulsarload consume` headless from the earliest position on a fresh subscription until it has
N messages, and report msg/s and the consumer process's own CPU seconds per million messages
(user + system from `os.wait4`, so other load on the machine does not count, unlike wall clock).

    python bench/consumer_drain.py fill  --topic T --messages 500000
    python bench/consumer_drain.py drain --topic T --messages 500000 [--python .venv-gil/bin/python]
        [--ack grouped] [--mode poll] [-- extra consume args]
    python bench/consumer_drain.py delete --topic T

Each drain uses a new subscription and deletes it afterwards; `delete` removes the topic.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ADMIN = os.environ.get("PULSAR_ADMIN_URL", "http://localhost:8080")
ROOT = Path(__file__).resolve().parent.parent


def _admin(method: str, path: str, body: object | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{ADMIN}/admin/v2/{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def _topic_path(topic: str) -> str:
    return topic.replace("://", "/")


def fill(topic: str, messages: int, python: str) -> None:
    # The subscription exists before anything is written, so the messages stay retained.
    _admin("PUT", f"{_topic_path(topic)}/subscription/hold", {"ledgerId": -1, "entryId": -1})
    cmd = [python, "-m", "pulsarload", "produce", topic, "-r", "0", "-m", str(messages)]
    subprocess.run([*cmd, "--headless", "--stats-interval", "10"], check=True)


def drain(topic: str, messages: int, python: str, extra: list[str]) -> dict[str, float]:
    sub = f"drain-{uuid.uuid4().hex[:8]}"
    report = Path(f"/tmp/consumer-drain-{sub}.json")
    cmd = [
        python, "-m", "pulsarload", "consume", topic, "--headless",
        "--subscription", sub, "--initial-position", "earliest",
        "-m", str(messages), "--stats-interval", "5", "--report", str(report), *extra,
    ]  # fmt: skip
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    try:
        _admin("DELETE", f"{_topic_path(topic)}/subscription/{sub}?force=true")
    except OSError as err:
        print(f"(could not delete subscription {sub}: {err})", file=sys.stderr)
    if os.waitstatus_to_exitcode(status) != 0:
        print(out)
        raise SystemExit(f"consume failed with status {status}")
    data = json.loads(report.read_text())
    report.unlink()
    received = _received(data)
    cpu = usage.ru_utime + usage.ru_stime
    result = {
        "received": received,
        "msg_per_s": _rate(data),
        "process_wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_million": round(cpu / max(received, 1) * 1e6, 2),
        "load_avg_1m_before": load,
    }
    print("\n".join(out.strip().splitlines()[-5:]))
    print(json.dumps(result))
    return result


def _received(report: dict) -> int:
    return int(report["meta"]["summary"]["received"])


def _rate(report: dict) -> float:
    return round(float(report["meta"]["summary"]["msg_rate"]), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["fill", "drain", "delete"])
    ap.add_argument("--topic", default="persistent://public/default/pl-cbench-500k")
    ap.add_argument("--messages", type=int, default=500_000)
    ap.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    ap.add_argument("extra", nargs="*", help="after --: extra `pulsarload consume` arguments")
    args = ap.parse_args()
    if args.action == "fill":
        fill(args.topic, args.messages, args.python)
    elif args.action == "drain":
        drain(args.topic, args.messages, args.python, args.extra)
    else:
        _admin("DELETE", f"{_topic_path(args.topic)}?force=true")


if __name__ == "__main__":
    main()

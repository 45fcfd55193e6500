"""What a schema costs a producer: msg/s and CPU per message, a 10-field Avro record against
bytes of the same size, with the native engine (free-threaded build) and the official one.

Run: .venv/bin/pulsarload bench schema-cost [--duration 20] [--size 200] [--threads 1]
         [--rate 0] [--no-official] [--json FILE]

Each contender is `pulsarload produce --headless` in its own process on a fresh topic of the
local broker (PULSAR_BROKER_URL / PULSAR_ADMIN_URL, default localhost), once with `--schema
avro:<Order, 10 fields>` and once with raw payloads of the encoded record's size. With a schema
the load layer generates and encodes every record (our Avro codec, in both engines: the
official engine registers the same schema and sends those bytes), so the difference is the
cost of typed payloads per message. CPU is the process's own over the run's measured window
(`os.wait4` and /proc samples, as the suite). Prints one line per run and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from pulsarload.bench.broker_side import delete_topic
from pulsarload.bench.interpreters import ft_python, gil_python
from pulsarload.bench.model import Broker, Figures, fresh_topic
from pulsarload.bench.produce import run_pulsarload_command
from pulsarload.config import DEFAULT_ADMIN_URL, DEFAULT_BROKER_URL

#: The record: ten fields of the usual kinds (a string of its own is the filler that brings
#: the encoded record to --size).
ORDER_10 = {
    "type": "record",
    "name": "Order",
    "namespace": "bench",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "quantity", "type": "int"},
        {"name": "paid", "type": "boolean"},
        {"name": "created_ms", "type": "long"},
        {"name": "status", "type": {"type": "enum", "name": "Status",
                                    "symbols": ["NEW", "PAID", "SHIPPED"]}},
        {"name": "coupon", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attributes", "type": {"type": "map", "values": "string"}},
    ],
}  # fmt: skip


def _run(
    python: Path, engine: str, schema: bool, a: argparse.Namespace, broker: Broker, work: Path
) -> Figures:
    kind = "avro10" if schema else "bytes"
    fig = Figures(f"schema-{kind}", f"{engine}-{kind}", f"{engine} {kind}", engine, "", a.threads)
    fig.topic = fresh_topic(f"bench-schema-{engine}-{kind}")
    report = work / f"{engine}-{kind}.report.json"
    cmd = [
        str(python), "-m", "pulsarload", "produce", fig.topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url, "--engine", engine,
        "-r", str(a.rate), "-s", str(a.size), "-t", str(a.threads),
        "--duration", f"{a.duration:g}", "--warmup", f"{a.warmup:g}", "--report", str(report),
    ]  # fmt: skip
    if schema:
        cmd += ["--schema", "avro:" + json.dumps(ORDER_10)]
    run_pulsarload_command(fig, cmd, report, a.duration + a.warmup + 90)
    delete_topic(broker, fig.topic)
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    ap.add_argument("--size", type=int, default=200, help="bytes per message (the record's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.0, help="msg/s; 0 = as fast as possible")
    ap.add_argument("--no-official", action="store_true", help="skip the official engine")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    a = ap.parse_args()
    broker = Broker(
        os.environ.get("PULSAR_BROKER_URL", DEFAULT_BROKER_URL),
        os.environ.get("PULSAR_ADMIN_URL", DEFAULT_ADMIN_URL),
    )
    runs: list[tuple[Path, str]] = []
    ft = ft_python()
    if ft is not None:
        runs.append((ft, "native"))
    gil = gil_python()
    if gil is not None and not a.no_official:
        runs.append((gil, "official"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="schema-cost-") as tmp:
        for python, engine in runs:
            for schema in (False, True):
                fig = _run(python, engine, schema, a, broker, Path(tmp))
                rate = f"{fig.msg_rate:,.0f}" if fig.msg_rate else "-"
                cpu = f"{fig.cpu_s_per_m:.1f}" if fig.cpu_s_per_m else "-"
                print(f"{fig.label:18} msg/s {rate:>10}  CPU µs/msg {cpu:>6}  {fig.error or ''}")
                rows.append(
                    {
                        "engine": engine,
                        "payload": "avro 10 fields" if schema else "bytes",
                        "msg_rate": fig.msg_rate,
                        "cpu_us_per_msg": fig.cpu_s_per_m,
                        "messages": fig.messages,
                        "error": fig.error,
                    }
                )
    print()
    print(f"| engine | payload ({a.size} B) | msg/s | CPU µs per message |")
    print("|---|---|---:|---:|")
    for r in rows:
        rate = f"{r['msg_rate']:,.0f}" if r["msg_rate"] else "-"
        cpu = f"{r['cpu_us_per_msg']:.1f}" if r["cpu_us_per_msg"] else "-"
        print(f"| {r['engine']} | {r['payload']} | {rate} | {cpu} |")
    if a.json is not None:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0 if rows and all(r["error"] is None for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

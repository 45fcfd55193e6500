"""CPU seconds per million 1 KiB messages of the native producer, per interpreter, interleaved.

Each run is ``pulsarload produce`` with a fixed message count at rate 0 (1 thread, no
compression, batching on) to a fresh non-persistent topic; CPU is the process's own, sampled
over the report's measured window (``bench.produce``, as in ``make bench``). Rounds
interleave the interpreters so that a busy patch of the host falls on each of them.

    .venv/bin/pulsarload bench producer-cpu-per-interpreter 500000 3 \\
        .venv/bin/python .venv-gil/bin/python [.venv-314t/bin/python] > results.jsonl
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

from pulsarload.bench.model import Figures
from pulsarload.bench.produce import run_pulsarload_command


def main() -> None:
    n, rounds = int(sys.argv[1]), int(sys.argv[2])
    pythons = [os.path.abspath(p) for p in sys.argv[3:]]  # runs in a scratch dir; keep the venv
    workdir = Path(tempfile.mkdtemp(prefix="producer-cpu-"))
    for r in range(rounds):
        for i, py in enumerate(pythons):
            topic = f"non-persistent://public/default/py314-{uuid.uuid4().hex[:12]}"
            report = workdir / f"r{r}-{i}.json"
            cmd = [
                py, "-m", "pulsarload", "produce", topic, "--headless",
                "-u", "pulsar://localhost:6650", "--admin-url", "http://localhost:8080",
                "-r", "0", "-s", "1024", "-t", "1", "-z", "none", "-m", str(n),
                "--warmup", "0", "--stats-interval", "5", "--report", str(report),
            ]  # fmt: skip
            fig = Figures("1KiB", py, py, "native", "?", 1)
            run_pulsarload_command(fig, cmd, report, timeout=600)
            row = {
                "round": r,
                "python": py,
                "interp": fig.interpreter,
                "gil": fig.gil,
                "ok": fig.ok,
                "messages": fig.messages,
                "msg_rate": fig.msg_rate,
                "cpu_s_per_m": fig.cpu_s_per_m,
                "cpu_cores": fig.cpu_cores,
                "cpu_total_s": fig.cpu_total_s,
                "window_s": fig.window_s,
                "peak_rss_mb": fig.peak_rss_mb,
                "loadavg": os.getloadavg(),
                "error": fig.error,
                "command": " ".join(cmd),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

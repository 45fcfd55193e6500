"""Dashboard cost: the same producer run with the terminal dashboard drawing, and headless.

The dashboard needs a real terminal: it runs in a detached tmux session of its own (a fixed
160x48 window, the dashboard's default 100 ms refresh), the headless run as a plain child.
Both write their report; msg/s is the report's over the measured window, and the goal compares
the two within each round (interleaved rounds, as every table here).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from pulsarload.bench.broker_side import delete_topic
from pulsarload.bench.model import Broker, Contender, Figures, Workload, fresh_topic
from pulsarload.bench.process import ProcessResult
from pulsarload.bench.produce import (
    START_SLACK_S,
    fill_from_report,
    load_report,
    pulsarload_produce_command,
    run_pulsarload_producer,
)

#: The terminal the dashboard draws into.
COLUMNS, LINES = 160, 48
#: How often the tmux session is checked for its end.
POLL_S = 0.5


def tmux_missing() -> str | None:
    """Why the dashboard cannot be measured here, or None."""
    return None if shutil.which("tmux") else "tmux not found (apt-get install tmux)"


def dashboard_contender(c: Contender) -> Contender:
    """``c`` with the dashboard on (its key and note say so)."""
    return Contender(f"{c.key}-dashboard", c.kind, c.build, c.threads, c.python, (), "dashboard")


def run_with_dashboard(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """``pulsarload produce`` with its terminal dashboard, in a tmux session started for it."""
    fig = Figures(w.name, f"{c.key}-dashboard", f"{c.label}, dashboard", c.kind, c.build,
                  c.threads)  # fmt: skip
    fig.topic = fresh_topic(f"bench-{w.name}-dash", w.persistent)
    report = workdir / f"{w.name}-{c.key}-dashboard.report.json"
    report.unlink(missing_ok=True)
    cmd = pulsarload_produce_command(c, w, broker, fig.topic, report)
    cmd.remove("--headless")
    session = f"pulsarload-bench-{uuid.uuid4().hex[:8]}"
    env = c.env()
    shell = " ".join(shlex.quote(x) for x in cmd)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith("PYTHON"))
    started = time.time()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(LINES),
         f"cd {shlex.quote(str(workdir))} && exec env {exports} {shell}"],
        check=True, timeout=30, env=env,
    )  # fmt: skip
    deadline = started + w.duration_s + w.warmup_s + START_SLACK_S
    timed_out = False
    while _alive(session):
        if time.time() > deadline:
            timed_out = True
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, timeout=30)
            break
        time.sleep(POLL_S)
    delete_topic(broker, fig.topic)
    fig.wall_s = time.time() - started
    fig.command = cmd
    data = load_report(report)
    if data is None:
        fig.error = "the dashboard run wrote no report" + (" (timed out)" if timed_out else "")
        return fig
    fill_from_report(fig, data, _no_process(cmd))
    fig.ok = fig.messages > 0 and not timed_out
    if not fig.ok:
        fig.error = f"{fig.messages} messages" + (", timed out" if timed_out else "")
    return fig


def run_headless(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """The same run headless (the arm the dashboard is compared with)."""
    return run_pulsarload_producer(c, w, broker, workdir)


def _alive(session: str) -> bool:
    done = subprocess.run(
        ["tmux", "has-session", "-t", session], capture_output=True, check=False, timeout=30
    )
    return done.returncode == 0


def _no_process(cmd: list[str]) -> ProcessResult:
    """The dashboard's process is tmux's child, not ours: no CPU series or rusage for it."""
    now = time.time()
    return ProcessResult(cmd, 0, [], [], 0.0, 0, now, now)

"""``pulsarload compare``: one headless produce workload on the free-threaded and the GIL build.

The same ``pulsarload produce`` arguments run three times as subprocesses (native engine on
3.13t, native engine on the GIL build, and the official C++ client on the GIL build unless
``include_official`` is off), each on its own fresh topic (the given topic name plus a suffix),
and a side-by-side table shows what the free-threaded build buys: msg/s, MB/s, latency, client
CPU per million messages, peak RSS, and the GIL state each run reported. The topics are deleted
afterwards unless ``--keep-topics`` is given.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from pulsarload.bench.interpreters import ft_python, gil_python, interpreter_facts
from pulsarload.bench.model import Broker, Contender, Figures, fresh_topic
from pulsarload.bench.produce import START_SLACK_S, run_pulsarload_command
from pulsarload.bench.topics import delete_topic
from pulsarload.client.topics import topic_name
from pulsarload.config import DEFAULT_ADMIN_URL, env_str

Echo = Callable[[str], None]

#: ``pulsarload produce`` options that take no value (everything else starting with - does).
_FLAGS = {
    "--headless",
    "--no-batching",
    "--verify",
    "--no-verify",
    "-h",
    "--help",
    "--keep-topics",
}
#: Options compare sets itself for every contender.
_DROPPED = {"--engine", "--report", "--keep-topics"}
#: Run length when the arguments give neither a duration nor a message count.
DEFAULT_DURATION_S = 10.0


def split_produce_args(argv: list[str]) -> tuple[str | None, list[str], dict[str, str]]:
    """(topic, the other arguments minus --engine/--report/--headless, option values seen)."""
    topic: str | None = None
    rest: list[str] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            name, eq, inline = arg.partition("=")
            if not arg.startswith("--") and len(arg) > 2 and not eq:
                name, eq, inline = arg[:2], "=", arg[2:]  # -t2 (click's attached short form)
            takes_value = name not in _FLAGS and not eq
            value = inline if eq else (argv[i + 1] if takes_value and i + 1 < len(argv) else "")
            step = 2 if takes_value else 1
            if name not in _DROPPED and name != "--headless":
                rest += argv[i : i + step]
            if value:
                values[name] = value
            i += step
            continue
        if topic is None:
            topic = arg
        else:
            rest.append(arg)
        i += 1
    return topic, rest, values


def _float(values: dict[str, str], *names: str) -> float | None:
    for n in names:
        if n in values:
            try:
                return float(values[n])
            except ValueError:
                return None
    return None


def _threads(values: dict[str, str]) -> int:
    try:
        return int(values.get("-t") or values.get("--threads") or 1)
    except ValueError:
        return 1


def compare_table(figures: list[Figures]) -> list[str]:
    """The side-by-side table, one column per contender."""
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("interpreter", lambda f: f.interpreter or "?"),
        ("GIL", lambda f: f.gil),
        ("msg/s", lambda f: _fmt(f.msg_rate, ",.0f")),
        ("MB/s", lambda f: _fmt(f.mb_rate, ".2f")),
        ("p50 ms", lambda f: _fmt(f.p50_ms, ".2f")),
        ("p99 ms", lambda f: _fmt(f.p99_ms, ".2f")),
        ("CPU s / M msgs", lambda f: _fmt(f.cpu_s_per_m, ".1f")),
        ("CPU cores busy", lambda f: _fmt(f.cpu_cores, ".2f")),
        ("peak RSS MiB", lambda f: _fmt(f.peak_rss_mb, ".0f")),
        ("messages", lambda f: f"{f.messages:,}"),
    ]
    heads = [_short(f) for f in figures]
    width = max(16, *(len(h) for h in heads))
    lines = [f"{'':16}" + "".join(f"{h:>{width + 2}}" for h in heads)]
    for name, cell in rows:
        lines.append(f"{name:16}" + "".join(f"{cell(f):>{width + 2}}" for f in figures))
    base = next((f for f in figures if f.build == "free-threaded" and f.has_numbers), None)
    for f in figures:
        if base is not None and f is not base and f.has_numbers and f.msg_rate:
            lines.append(
                f"{_short(base)} / {_short(f)}: {base.msg_rate / f.msg_rate:.2f}x the msg/s"  # type: ignore[operator]
            )
    return lines


def _short(f: Figures) -> str:
    if f.kind == "official":
        return "official (GIL build)"
    return "native 3.13t" if f.build == "free-threaded" else "native (GIL build)"


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def run_compare(argv: list[str], echo: Echo = print, include_official: bool = True) -> int:
    """Run ``pulsarload produce ARGV`` headless on each build and print the table.

    Returns 0 when every contender ran and produced numbers, 1 otherwise (a missing
    interpreter or client is named), 2 for unusable arguments.
    """
    topic, rest, values = split_produce_args(argv)
    if any(a in ("-h", "--help") for a in rest):
        echo(__doc__ or "")
        return 0
    # Each run writes to a topic of its own; they are deleted afterwards unless asked to keep.
    keep_topics = "--keep-topics" in argv
    admin = Broker("", values.get("--admin-url") or env_str("PULSAR_ADMIN_URL", DEFAULT_ADMIN_URL))
    duration = _float(values, "-d", "--duration")
    messages = _float(values, "-m", "--messages")
    if not duration and not messages:
        rest += ["--duration", f"{DEFAULT_DURATION_S:g}"]
        duration = DEFAULT_DURATION_S
        echo(f"no --duration or --messages given: running each for {DEFAULT_DURATION_S:g} s")
    warmup = _float(values, "--warmup") or 0.0
    timeout = (duration or 600.0) + warmup + START_SLACK_S
    threads = _threads(values)
    ft, gil = ft_python(), gil_python()
    wanted = [
        Contender("native-ft", "native", "free-threaded", threads, ft),
        Contender("native-gil", "native", "gil", threads, gil),
    ]
    if include_official:
        wanted.append(Contender("official", "official", "gil", threads, gil))
    problems: list[str] = []
    figures: list[Figures] = []
    run_id = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="pulsarload-compare-") as tmp:
        for c in wanted:
            why = c.missing()
            if why is None and c.kind == "official":
                facts = interpreter_facts(c.python)
                if not (facts and facts.get("pulsar_client")):
                    why = "pulsar-client does not import in .venv-gil (or pass --no-official)"
            if why is not None:
                problems.append(f"{c.key}: {why}")
                echo(f"skipping {c.label}: {why}")
                continue
            assert c.python is not None
            this_topic = f"{topic}-{c.key}-{run_id}" if topic else fresh_topic(f"compare-{c.key}")
            report = Path(tmp) / f"{c.key}.json"
            cmd = [str(c.python), "-m", "pulsarload", "produce", this_topic, *rest,
                   "--headless", "--report", str(report)]  # fmt: skip
            if c.kind == "official":
                cmd += ["--engine", "official"]
            echo(f"running {c.label} on {this_topic} ...")
            fig = Figures("compare", c.key, c.label, c.kind, c.build, c.threads, topic=this_topic)
            try:
                run_pulsarload_command(fig, cmd, report, timeout)
            finally:
                if not keep_topics:
                    with contextlib.suppress(ValueError):  # a name the admin API cannot take
                        delete_topic(admin, topic_name(this_topic))
            if not fig.has_numbers:
                problems.append(f"{c.key}: {fig.error}")
                echo(f"  no numbers: {fig.error}")
            figures.append(fig)
    if figures:
        echo("")
        for line in compare_table(figures):
            echo(line)
    for p in problems:
        echo(f"not compared: {p}")
    return 0 if not problems else 1

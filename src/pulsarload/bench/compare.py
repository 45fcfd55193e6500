"""``pulsarload compare``: one headless workload on 3.13t, on 3.13t with the GIL on, and on the GIL build.

The same ``pulsarload produce`` arguments run as subprocesses for each contender: the native
engine on 3.13t, the same 3.13t binary with ``PYTHON_GIL=1`` (what the GIL alone costs), the
native engine on the GIL build, and the official C++ client on the GIL build unless
``include_official`` is off. They run in N interleaved rounds (``--rounds``, the order rotated
each round), each run on its own fresh topic (the given topic name plus a suffix), and a
side-by-side table shows every figure as median (min-max) over the rounds, then each
contender against native 3.13t as the median of the paired per-round ratios, with "not
distinguishable" when the rounds disagree by more than the difference.

``--role produce`` (default) compares producers; ``--role consume`` fills a persistent topic
with ``-m`` messages (default 200,000) and has every contender read all of it from the
earliest message; ``--role pair`` runs each contender as producer and consumer of one
subscription. The topics are deleted afterwards unless ``--keep-topics`` is given.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from pulsarload.bench import drain
from pulsarload.bench.broker_side import delete_topic
from pulsarload.bench.interpreters import ft_python, gil_python, interpreter_facts
from pulsarload.bench.model import (
    FREE_THREADED,
    FREE_THREADED_GIL,
    GIL_BUILD,
    Broker,
    Contender,
    Figures,
    Workload,
    fresh_topic,
)
from pulsarload.bench.pair import ConsumerSide, run_pair
from pulsarload.bench.produce import START_SLACK_S, run_pulsarload_command
from pulsarload.bench.rounds import interleave, judge, spread
from pulsarload.cli_flags import boolean_flags
from pulsarload.client.topics import topic_name
from pulsarload.config import DEFAULT_ADMIN_URL, DEFAULT_BROKER_URL, ProduceSettings, env_str

Echo = Callable[[str], None]

#: ``pulsarload produce`` options that take no value (everything else starting with - does):
#: every on/off setting of the model, both ways, and these.
_FLAGS = {"-h", "--help", "--keep-topics", *boolean_flags(ProduceSettings)}
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


ROLES = ("produce", "consume", "pair")
#: Rounds when none are asked for: enough for a median and a spread.
DEFAULT_ROUNDS = 3
#: Messages a ``--role consume`` drain reads when ``-m`` is not given.
DEFAULT_DRAIN_MESSAGES = 200_000

Cell = Callable[[list[Figures]], str]


def _cell(value: Callable[[Figures], float | None], spec: str) -> Cell:
    def cell(fs: list[Figures]) -> str:
        s = spread(value(f) for f in fs if f.has_numbers)
        return "–" if s is None else s.format(spec)

    return cell


def compare_table(figures: list[Figures], role: str = "produce") -> list[str]:
    """The side-by-side table, one column per contender, each cell median (min-max) over the
    rounds; then each contender against native 3.13t, by paired per-round ratios."""
    groups: dict[str, list[Figures]] = {}
    for f in figures:
        groups.setdefault(f.contender, []).append(f)
    rows: list[tuple[str, Cell]] = [
        ("interpreter", lambda fs: fs[0].interpreter or "?"),
        ("GIL", lambda fs: fs[0].gil),
        ("msg/s", _cell(lambda f: f.msg_rate, ",.0f")),
    ]
    if role == "produce":
        rows += [
            ("MB/s", _cell(lambda f: f.mb_rate, ".2f")),
            ("p50 ms", _cell(lambda f: f.p50_ms, ".2f")),
            ("p99 ms", _cell(lambda f: f.p99_ms, ".2f")),
            ("p99 from send ms", _cell(lambda f: f.from_send_p99_ms, ".2f")),
        ]
    if role == "pair":
        rows += [
            ("consume msg/s", _cell(lambda f: f.consume_rate, ",.0f")),
            ("e2e p99 ms", _cell(lambda f: f.e2e_p99_ms, ".1f")),
            ("consumer CPU s/M", _cell(lambda f: f.consumer_cpu_s_per_m, ".1f")),
        ]
    rows += [
        ("CPU s / M msgs", _cell(lambda f: f.cpu_s_per_m, ".1f")),
        ("CPU cores busy", _cell(lambda f: f.cpu_cores, ".2f")),
        ("peak RSS MiB", _cell(lambda f: f.peak_rss_mb, ".0f")),
        ("rounds", lambda fs: str(sum(f.has_numbers for f in fs))),
    ]
    heads = [_short(fs[0]) for fs in groups.values()]
    cells = [[cell(fs) for fs in groups.values()] for _, cell in rows]
    width = max(16, *(len(h) for h in heads), *(len(c) for row in cells for c in row))
    lines = [f"{'':18}" + "".join(f"{h:>{width + 2}}" for h in heads)]
    for (name, _), row in zip(rows, cells, strict=True):
        lines.append(f"{name:18}" + "".join(f"{c:>{width + 2}}" for c in row))
    base = next((fs for fs in groups.values() if fs[0].build == FREE_THREADED
                 and fs[0].kind == "native"), None)  # fmt: skip
    if base is None:
        return lines
    mine = {f.round: f.msg_rate for f in base if f.has_numbers}
    for fs in groups.values():
        if fs is base:
            continue
        theirs = {f.round: f.msg_rate for f in fs if f.has_numbers}
        ratios = [mine[r] / theirs[r] for r in sorted(set(mine) & set(theirs))
                  if mine[r] and theirs[r]]  # fmt: skip
        v = judge(ratios, 1.0)
        if v is None:
            continue
        verdict = ("not distinguishable" if v.met is None
                   else "faster" if v.met else "slower")  # fmt: skip
        lines.append(
            f"{_short(base[0])} / {_short(fs[0])}: {v.ratio.format('.2f')}x the msg/s "
            f"(median of {v.ratio.n} paired rounds): {verdict}"
        )
    return lines


def _short(f: Figures) -> str:
    if f.kind == "official":
        return "official (GIL build)"
    return {FREE_THREADED: "native 3.13t", FREE_THREADED_GIL: "3.13t PYTHON_GIL=1"}.get(
        f.build, "native (GIL build)"
    )


def _contenders(threads: int, include_official: bool, echo: Echo,
                problems: list[str]) -> list[Contender]:  # fmt: skip
    ft, gil = ft_python(), gil_python()
    wanted = [
        Contender("native-ft", "native", FREE_THREADED, threads, ft),
        Contender("native-ftgil", "native", FREE_THREADED_GIL, threads, ft),
        Contender("native-gil", "native", GIL_BUILD, threads, gil),
    ]
    if include_official:
        wanted.append(Contender("official", "official", GIL_BUILD, threads, gil))
    runnable = []
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
        runnable.append(c)
    return runnable


def run_compare(
    argv: list[str],
    echo: Echo = print,
    include_official: bool = True,
    *,
    rounds: int = DEFAULT_ROUNDS,
    role: str = "produce",
) -> int:
    """Run ``pulsarload produce ARGV`` headless for each contender, ``rounds`` times
    interleaved, and print the table (``role``: produce, consume or pair).

    Returns 0 when every contender ran and produced numbers, 1 otherwise (a missing
    interpreter or client is named), 2 for unusable arguments.
    """
    topic, rest, values = split_produce_args(argv)
    if any(a in ("-h", "--help") for a in rest):
        echo(__doc__ or "")
        return 0
    if role not in ROLES or rounds < 1:
        echo(f"compare: --role must be one of {', '.join(ROLES)} and --rounds at least 1")
        return 2
    # Each run writes to a topic of its own; they are deleted afterwards unless asked to keep.
    keep_topics = "--keep-topics" in argv
    broker = Broker(
        values.get("-u") or values.get("--service-url")
        or env_str("PULSAR_BROKER_URL", DEFAULT_BROKER_URL),
        values.get("--admin-url") or env_str("PULSAR_ADMIN_URL", DEFAULT_ADMIN_URL),
    )  # fmt: skip
    duration = _float(values, "-d", "--duration")
    messages = _float(values, "-m", "--messages")
    if role != "consume" and not duration and not messages:
        rest += ["--duration", f"{DEFAULT_DURATION_S:g}"]
        duration = DEFAULT_DURATION_S
        echo(f"no --duration or --messages given: running each for {DEFAULT_DURATION_S:g} s")
    warmup = _float(values, "--warmup") or 0.0
    timeout = (duration or 600.0) + warmup + START_SLACK_S
    problems: list[str] = []
    runnable = _contenders(_threads(values), include_official, echo, problems)
    figures: list[Figures] = []
    run_id = uuid.uuid4().hex[:6]
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pulsarload-compare-") as tmp:
        work = Path(tmp)
        filled: str | None = None
        if role == "consume" and runnable:
            size = int(_float(values, "-s", "--size") or 1024)
            w = Workload("compare", size, drain_messages=int(messages or DEFAULT_DRAIN_MESSAGES))
            echo(f"filling a topic with {w.drain_messages:,} messages of {size} B ...")
            fill_with = next((c.python for c in runnable if c.python), None)
            assert fill_with is not None
            filled = drain.fill(broker, w, fill_with, work)
        try:
            last_round = -1
            for r, c in interleave(runnable, rounds):
                if r != last_round:
                    loads.append(f"round {r + 1}: {os.getloadavg()[0]:.2f}")
                    last_round = r
                before = os.getloadavg()[0]
                if role == "consume":
                    assert filled is not None
                    echo(f"[round {r + 1}/{rounds}] {c.label} reads {filled} ...")
                    fig = drain.run_drain(c, w, broker, filled, work)
                elif role == "pair":
                    fig = _pair(c, values, broker, work, echo, r, rounds)
                else:
                    fig = _produce(c, topic, rest, broker, work, timeout, keep_topics, run_id, r,
                                   echo, rounds)  # fmt: skip
                fig.round, fig.load_before, fig.load_after = r, before, os.getloadavg()[0]
                if not fig.has_numbers:
                    problems.append(f"{c.key} (round {r + 1}): {fig.error}")
                    echo(f"  no numbers: {fig.error}")
                figures.append(fig)
        finally:
            if filled is not None and not keep_topics:
                delete_topic(broker, filled)
    if figures:
        echo("")
        for line in compare_table(figures, role):
            echo(line)
        echo("load average (1 min) at the start of each round: " + "; ".join(loads)
             + f"; at the end: {os.getloadavg()[0]:.2f}")  # fmt: skip
    for p in problems:
        echo(f"not compared: {p}")
    return 0 if not problems else 1


def _produce(c: Contender, topic: str | None, rest: list[str], broker: Broker, work: Path,
             timeout: float, keep_topics: bool, run_id: str, r: int, echo: Echo,
             rounds: int) -> Figures:  # fmt: skip
    assert c.python is not None
    suffix = f"{c.key}-r{r + 1}-{run_id}"
    this_topic = f"{topic}-{suffix}" if topic else fresh_topic(f"compare-{c.key}")
    report = work / f"{c.key}.json"
    cmd = [str(c.python), "-m", "pulsarload", "produce", this_topic, *rest,
           "--headless", "--report", str(report)]  # fmt: skip
    if c.kind == "official":
        cmd += ["--engine", "official"]
    echo(f"[round {r + 1}/{rounds}] running {c.label} on {this_topic} ...")
    fig = Figures("compare", c.key, c.label, c.kind, c.build, c.threads, topic=this_topic)
    try:
        run_pulsarload_command(fig, cmd, report, timeout, env=c.env())
    finally:
        if not keep_topics:
            with contextlib.suppress(ValueError):  # a name the admin API cannot take
                delete_topic(broker, topic_name(this_topic))
    return fig


def _pair(c: Contender, values: dict[str, str], broker: Broker, work: Path, echo: Echo,
          r: int, rounds: int) -> Figures:  # fmt: skip
    """Producer and consumer of one tool on one subscription (``run_pair``), from the
    workload's size, compression, rate, duration and warm-up."""
    w = Workload(
        "compare", int(_float(values, "-s", "--size") or 1024),
        values.get("-z") or values.get("--compression") or "none",
        duration_s=_float(values, "-d", "--duration") or DEFAULT_DURATION_S,
        warmup_s=_float(values, "--warmup") or 0.0,
        rate=int(_float(values, "-r", "--rate") or 0), consume=True,
    )  # fmt: skip
    kind = "official" if c.kind == "official" else "native"
    side = ConsumerSide(kind, c.python, c.label, c.build)
    echo(f"[round {r + 1}/{rounds}] {c.label}: producer and consumer ...")
    return run_pair(c, side, w, broker, work)

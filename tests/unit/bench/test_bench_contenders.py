"""The contenders' runners: process monitoring (wait4 rusage, CPU sampling), commands and parsing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from pulsarload.bench import model, produce
from pulsarload.bench import perf_contender as perf
from pulsarload.bench.broker_side import TopicCounter
from pulsarload.bench.model import Broker, Contender, Figures, Workload
from pulsarload.bench.process import MonitoredProcess, ProcessResult, run_process
from support.waiting import eventually

BROKER = Broker("pulsar://localhost:6650", "http://localhost:8080")

PERF_LINES = [
    "2026-11-27T08:15:40,001+0000 [pulsar-perf-producer-exec-1-1] INFO  "
    "org.apache.pulsar.testclient.PerformanceProducer - Created 1 producers",
    "2026-11-27T08:15:50,001+0000 [pulsar-perf-producer-exec-1-1] INFO  "
    "org.apache.pulsar.testclient.PerformanceProducer - ------------- DONE (reached the maximum "
    "duration: [10 seconds] of production) --------------",
    "2026-11-27T08:15:55,001+0000 [perf-client-shutdown] INFO  "
    "org.apache.pulsar.testclient.PerformanceProducer - Aggregated throughput stats --- 82515 "
    "records sent --- 3789.077 msg/s --- 29.602 Mbit/s ",
    "2026-11-27T08:15:55,101+0000 [perf-client-shutdown] INFO  "
    "org.apache.pulsar.testclient.PerformanceProducer - Aggregated latency stats --- Latency: "
    "mean:  47.569 ms - med:  38.003 - 95pct: 111.077 - 99pct: 224.953 - 99.9pct: 269.601 - "
    "99.99pct: 269.911 - 99.999pct: 354.897 - Max: 369.315",
]


def result(lines: list[tuple[float, str]], cpu: list[tuple[float, float]]) -> ProcessResult:
    return ProcessResult(["x"], 0, lines, cpu, 1.0, 2048, 0.0, 10.0)


def test_cpu_is_interpolated_between_samples() -> None:
    r = result([], [(0.0, 0.0), (1.0, 0.5), (2.0, 1.5)])
    assert r.cpu_at(0.5) == pytest.approx(0.25)
    assert r.cpu_at(1.5) == pytest.approx(1.0)
    assert r.cpu_between(0.5, 1.5) == pytest.approx(0.75)
    assert r.cpu_at(-1.0) is None  # before the first sample: unknown, not zero
    assert r.cpu_at(10.0) is None  # long after the last sample


def test_perf_summary_lines_are_parsed() -> None:
    r = result([(float(i), line) for i, line in enumerate(PERF_LINES)], [])
    created, done = r.find(perf.PERF_CREATED), r.find(perf.PERF_DONE)
    total = r.find(perf.PERF_THROUGHPUT)
    assert created and done and total
    assert int(total[1].group(1)) == 82515
    assert perf.perf_latency(r) == (38.003, 224.953, 269.601)
    assert perf.perf_summary_lines(r)[0] == "Created 1 producers"


def test_consumer_perf_lines_are_parsed() -> None:
    lines = [
        "... - Aggregated throughput stats --- 3734 records received --- 477.847 msg/s --- 3.733 "
        "Mbit/s --- AckRate: 477.84  msg/s --- ack failed 0 msg",
        "... - Aggregated latency stats --- Latency: mean: 4924.479 ms - med: 4920 - 95pct: 5119 "
        "- 99pct: 5448 - 99.9pct: 5458 - 99.99pct: 5530 - 99.999pct: 5530 - Max: 5530",
    ]
    r = result([(0.0, line) for line in lines], [])
    total = r.find(perf.PERF_THROUGHPUT)
    assert total and total[1].group(1) == "3734" and total[1].group(2) == "received"
    assert perf.perf_latency(r) == (4920.0, 5448.0, 5458.0)


def test_a_killed_perf_consumer_still_has_its_last_running_count() -> None:
    lines = [
        "... PerformanceConsumer - Throughput received:  350000 msg --- 35000.0  msg/s --- ...",
        "... PerformanceConsumer - Throughput received:  750256 msg --- 0.000  msg/s --- ...",
    ]
    r = result([(float(i), line) for i, line in enumerate(lines)], [])
    assert r.find(perf.PERF_THROUGHPUT) is None  # no summary: it was killed
    last = r.find_last(perf.PERF_RECEIVED_SO_FAR)
    assert last is not None and last[1].group(1) == "750256"


def test_monitored_process_reports_its_own_cpu_and_memory() -> None:
    burn = (
        "import time\n"
        "b = bytearray(64 * 1024 * 1024)\n"  # 64 MiB resident: shows in ru_maxrss
        "for i in range(0, len(b), 4096): b[i] = 1\n"
        "print('start', flush=True)\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.4: pass\n"
        "print('end', flush=True)\n"
    )
    r = run_process([sys.executable, "-c", burn], timeout=60)
    assert r.returncode == 0
    assert [line for _, line in r.lines] == ["start", "end"]
    assert r.cpu_total_s >= 0.4
    assert r.peak_rss_kib > 64 * 1024
    assert r.cpu_series and r.cpu_series[-1][1] > 0
    start, end = r.find("start"), r.find("end")
    assert start and end
    window = r.cpu_between(start[0], end[0])
    assert window is not None and 0.2 < window < 1.5


def test_monitored_process_is_stopped_at_its_timeout() -> None:
    t0 = time.monotonic()
    r = run_process([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert r.timed_out and r.returncode != 0
    assert time.monotonic() - t0 < 10


def test_interrupt_sends_sigint() -> None:
    code = (
        "import time\nprint('up', flush=True)\n"
        "try:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    print('bye', flush=True)\n"
    )
    mp = MonitoredProcess([sys.executable, "-c", code], timeout=30)
    mp.start()
    eventually(lambda: mp.lines, what="the child's first line")
    mp.interrupt()
    r = mp.wait()
    assert [line for _, line in r.lines] == ["up", "bye"]
    assert mp.finished


def test_peak_rss_is_the_childs_own_not_the_runners() -> None:
    """A large runner must not lend its memory to a small child: wait4's ru_maxrss would report
    at least the runner's resident size at fork."""
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # make the pages resident
    code = "import time\nprint('up', flush=True)\ntime.sleep(0.5)\n"
    r = MonitoredProcess([sys.executable, "-c", code], timeout=30).start().wait()
    assert len(ballast) and 0 < r.peak_rss_kib < 100 * 1024, r.peak_rss_kib


def test_children_can_be_interrupted_even_when_we_ignore_sigint() -> None:
    """A harness started as a background job ignores SIGINT, and children inherit that."""
    import signal

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        test_interrupt_sends_sigint()
        t0 = time.monotonic()
        r = run_process([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
        assert r.timed_out and time.monotonic() - t0 < 10  # SIGINT ended it, not SIGKILL at 15 s
    finally:
        signal.signal(signal.SIGINT, before)


def test_produce_command_carries_the_workload() -> None:
    c = Contender("native-ft-t2", "native", "free-threaded", 2, Path("/py"))
    w = Workload("w", 100, "lz4", duration_s=7, warmup_s=3)
    cmd = produce.pulsarload_produce_command(
        c, w, BROKER, "persistent://public/default/t", Path("r")
    )
    joined = " ".join(cmd)
    for part in ("-r 0", "-s 100", "-t 2", "-z lz4", "--duration 7", "--warmup 3",
                 "--batch-max-messages 1000", "--batch-max-bytes 131072", "--max-pending 1000",
                 "--headless", "--report r"):  # fmt: skip
        assert part in joined
    assert "--engine" not in cmd
    official = Contender("official", "official", "gil", 1, Path("/py"))
    assert produce.pulsarload_produce_command(official, w, BROKER, "t", Path("r"))[-2:] == [
        "--engine",
        "official",
    ]


def test_perf_args_match_the_workload() -> None:
    w = Workload("w", 1024, "lz4", duration_s=10, warmup_s=2)
    args = perf.perf_produce_args(w, BROKER, "topic")
    pairs = dict(zip(args[1:-1:2], args[2:-1:2], strict=True))
    assert pairs["-r"] == str(perf.PERF_UNLIMITED_RATE)  # pulsar-perf refuses rate 0
    assert pairs["-time"] == "12" and pairs["--warmup-time"] == "2"
    assert pairs["-z"] == "LZ4" and pairs["-s"] == "1024"
    assert pairs["-o"] == "1000" and pairs["-bm"] == "1000" and pairs["-bb"] == "131072"
    assert args[-1] == "topic"


def test_figures_from_a_pulsarload_report(tmp_path: Path) -> None:
    report = {
        "meta": {
            "summary": {"acked": 200_000, "msg_rate": 40_000.0, "mb_rate": 40.96,
                        "p50_ms": 2.0, "p99_ms": 9.0, "p999_ms": 20.0},
            "interpreter": {"version": "3.13.5", "free_threaded_build": True, "gil_enabled": False},
            "failures": [],
        },
        "final": {"time": 105.0, "elapsed": 5.0},
    }  # fmt: skip
    proc = result([], [(99.0, 1.0), (100.0, 1.2), (105.0, 2.2), (106.0, 2.3)])
    fig = Figures("w", "native-ft-t1", "label", "native", "free-threaded", 1)
    produce.fill_from_report(fig, json.loads(json.dumps(report)), proc)
    assert fig.msg_rate == 40_000.0 and fig.messages == 200_000
    assert fig.gil == "off" and fig.interpreter == "CPython 3.13.5t"
    assert fig.window_s == pytest.approx(5.0)
    assert fig.cpu_s_per_m == pytest.approx(1.0 / 200_000 * 1e6)  # 1.0 CPU s in the window
    assert fig.cpu_cores == pytest.approx(0.2)


def test_missing_interpreter_is_named() -> None:
    c = Contender("native-gil-t1", "native", "gil", 1, Path("/nonexistent/python"))
    assert ".venv-gil" in (c.missing() or "")


def test_official_direct_runs_the_plain_script() -> None:
    c = Contender("official-direct", "official-direct", "gil", 1, Path("/gil/python"))
    w = Workload("w", 100, "lz4", duration_s=7, warmup_s=3)
    cmd = produce.pulsarload_produce_command(c, w, BROKER, "t", Path("r.json"))
    assert cmd[:3] == ["/gil/python", str(model.OFFICIAL_SCRIPT), "t"]
    assert model.OFFICIAL_SCRIPT.exists()
    assert "--compression" in cmd and "lz4" in cmd and cmd[-2:] == ["--report", "r.json"]


def test_topic_counter_interpolates_the_broker_counts() -> None:
    counter = TopicCounter(BROKER, "persistent://public/default/t", "sub")
    counter.series = [(10.0, 0, 0), (10.5, 500, 100), (11.0, 1500, 600), (11.5, 2000, 1100)]
    assert counter.count_at(10.25) == pytest.approx(250)
    assert counter.rate(10.5, 11.5) == pytest.approx(1500)
    assert counter.rate(10.5, 11.5, column=2) == pytest.approx(1000)
    assert counter.rate(0.0, 11.0) is None  # long before the first sample: unknown
    assert counter.rate(11.0, 10.5) is None


def test_topic_counter_finds_when_a_count_was_reached() -> None:
    counter = TopicCounter(BROKER, "persistent://public/default/t", "sub", interval=0.2)
    counter.series = [(10.0, 0, 0), (10.2, 0, 0), (10.4, 0, 40_000), (10.6, 0, 100_000)]
    assert counter.time_at(20_000) == pytest.approx(10.3)
    assert counter.time_at(70_000) == pytest.approx(10.5)
    assert counter.time_at(200_000) is None  # never reached while sampled
    assert counter.gap_at(20_000) == pytest.approx(0.2)
    assert counter.gap_at(200_000) is None


def test_a_drain_is_timed_only_when_the_samples_resolve_its_edges() -> None:
    from pulsarload.bench import drain

    counter = TopicCounter(BROKER, "persistent://public/default/t", "sub", interval=0.05)
    steady = [(10.0 + i * 0.05, 0, i * 5_000) for i in range(21)]  # 100,000 msg/s, 1 s
    counter.series = [(9.0, 0, 0), *steady]
    t0, t1 = drain.timed_window(counter, 100_000)  # type: ignore[misc]
    assert (t0, t1) == (pytest.approx(10.1), pytest.approx(10.9))
    counter.series = [(9.0, 0, 0), (10.0, 0, 0), (10.2, 0, 100_000)]  # over between two samples
    assert "too short" in str(drain.timed_window(counter, 100_000))
    counter.series = [(9.0, 0, 0), (10.0, 0, 50_000)]  # sampling stopped half way
    assert "did not cover" in str(drain.timed_window(counter, 100_000))


def test_the_gil_is_forced_on_only_for_the_free_threaded_gil_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHON_GIL", "0")  # an inherited setting must not leak into a run
    ft = Contender("a", "native", model.FREE_THREADED, 1, Path("/ft"))
    ftgil = Contender("b", "native", model.FREE_THREADED_GIL, 1, Path("/ft"))
    assert "PYTHON_GIL" not in ft.env() and ftgil.env()["PYTHON_GIL"] == "1"
    assert "PYTHON_GIL=1" in ftgil.label and "GIL off" in ft.label


def test_drain_commands_read_from_the_earliest_and_stop_at_n(tmp_path: Path) -> None:
    from pulsarload.bench import drain

    c = Contender("native-ft-t2", "native", model.FREE_THREADED, 2, Path("/py"))
    cmd = drain.consume_command(c, BROKER, "persistent://public/default/t", "s", 1000, tmp_path)
    joined = " ".join(cmd)
    for part in ("consume persistent://public/default/t", "--subscription s",
                 "--initial-position earliest", "-m 1000", "-t 2", "--subscription-type shared"):  # fmt: skip
        assert part in joined
    official = Contender("official", "official", model.GIL_BUILD, 1, Path("/gil"))
    assert drain.consume_command(official, BROKER, "t", "s", 5, tmp_path)[-2:] == [
        "--engine",
        "official",
    ]


def test_fixed_rate_workloads_pass_their_rate_to_every_tool() -> None:
    w = Workload("rate-10k", 1024, duration_s=5, warmup_s=2, rate=10_000)
    assert w.role == "latency" and "10,000 msg/s" in w.title
    c = Contender("native-ft-t1", "native", model.FREE_THREADED, 1, Path("/py"))
    cmd = produce.pulsarload_produce_command(c, w, BROKER, "t", Path("r"))
    assert cmd[cmd.index("-r") + 1] == "10000"
    args = perf.perf_produce_args(w, BROKER, "t")
    assert args[args.index("-r") + 1] == "10000"

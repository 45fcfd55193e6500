"""`pulsarload compare`: argument handling and the side-by-side table."""

from __future__ import annotations

from pulsarload.bench.compare import compare_table, split_produce_args
from pulsarload.bench.model import Figures


def test_topic_and_flags_are_split_engine_and_report_dropped() -> None:
    argv = ["persistent://public/default/t", "-s", "100", "--engine", "official", "-t2",
            "--report=x.json", "--headless", "--no-batching", "-d", "5", "--warmup=1"]  # fmt: skip
    topic, rest, values = split_produce_args(argv)
    assert topic == "persistent://public/default/t"
    assert rest == ["-s", "100", "-t2", "--no-batching", "-d", "5", "--warmup=1"]
    assert values["-t"] == "2" and values["-d"] == "5" and values["--warmup"] == "1"
    assert values["--engine"] == "official"


def test_option_values_are_not_taken_for_the_topic() -> None:
    topic, rest, _ = split_produce_args(["-u", "pulsar://h:6650", "-r", "0", "my-topic"])
    assert topic == "my-topic"
    assert rest == ["-u", "pulsar://h:6650", "-r", "0"]


def test_no_topic_is_allowed() -> None:
    topic, rest, _ = split_produce_args(["-s", "10", "--verify"])
    assert topic is None and rest == ["-s", "10", "--verify"]


def _fig(key: str, kind: str, build: str, rate: float) -> Figures:
    f = Figures("compare", key, key, kind, build, 1, ok=True, messages=1000, msg_rate=rate)
    f.mb_rate, f.p50_ms, f.p99_ms, f.cpu_s_per_m, f.peak_rss_mb = rate / 1000, 1.0, 2.0, 3.0, 50.0
    f.gil = "off" if build == "free-threaded" else "on"
    return f


def test_table_has_one_column_per_contender_and_the_ratio() -> None:
    figs = [_fig("native-ft", "native", "free-threaded", 60_000.0),
            _fig("native-gil", "native", "gil", 30_000.0),
            _fig("official", "official", "gil", 20_000.0)]  # fmt: skip
    lines = compare_table(figs)
    assert "native 3.13t" in lines[0] and "native (GIL build)" in lines[0]
    assert "official (GIL build)" in lines[0]
    gil_row = next(line for line in lines if line.startswith("GIL"))
    assert gil_row.split()[1:] == ["off", "on", "on"]
    assert any("2.00x the msg/s" in line for line in lines)
    assert any("3.00x the msg/s" in line for line in lines)

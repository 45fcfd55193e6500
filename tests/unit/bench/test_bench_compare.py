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


def _fig(key: str, kind: str, build: str, rate: float, rnd: int = 0) -> Figures:
    f = Figures("compare", key, key, kind, build, 1, ok=True, messages=1000, msg_rate=rate)
    f.mb_rate, f.p50_ms, f.p99_ms, f.cpu_s_per_m, f.peak_rss_mb = rate / 1000, 1.0, 2.0, 3.0, 50.0
    f.gil = "off" if build == "free-threaded" else "on"
    f.round = rnd
    return f


def test_table_has_one_column_per_contender_and_the_ratio() -> None:
    figs = [_fig("native-ft", "native", "free-threaded", 60_000.0),
            _fig("native-ftgil", "native", "free-threaded-gil", 40_000.0),
            _fig("native-gil", "native", "gil", 30_000.0),
            _fig("official", "official", "gil", 20_000.0)]  # fmt: skip
    lines = compare_table(figs)
    assert "native 3.13t" in lines[0] and "native (GIL build)" in lines[0]
    assert "3.13t PYTHON_GIL=1" in lines[0] and "official (GIL build)" in lines[0]
    gil_row = next(line for line in lines if line.startswith("GIL"))
    assert gil_row.split()[1:] == ["off", "on", "on", "on"]
    assert any("1.50x the msg/s" in line and "(one round)" not in line for line in lines)
    assert any("2.00x the msg/s" in line for line in lines)
    assert any("3.00x the msg/s" in line for line in lines)


def test_every_on_off_setting_takes_no_value() -> None:
    """An on/off flag followed by the topic: the topic is not taken as the flag's value."""
    for flag in ("--pin-cpus", "--no-block-if-queue-full", "--chaos-sizes", "--no-headless"):
        topic, rest, _ = split_produce_args([flag, "my-topic", "-r", "10"])
        assert topic == "my-topic" and rest == [flag, "-r", "10"], flag


def test_rounds_show_median_and_range_and_paired_verdicts() -> None:
    figs = []
    for rnd, (ft, gil) in enumerate([(60_000.0, 50_000.0), (30_000.0, 31_000.0),
                                     (90_000.0, 60_000.0)]):  # fmt: skip
        figs += [_fig("native-ft", "native", "free-threaded", ft, rnd),
                 _fig("native-gil", "native", "gil", gil, rnd)]  # fmt: skip
    lines = compare_table(figs)
    rate_row = next(line for line in lines if line.startswith("msg/s"))
    assert "60,000 (30,000-90,000)" in rate_row and "50,000 (31,000-60,000)" in rate_row
    # Paired ratios 1.2, 0.97, 1.5: median 1.2, range 0.53 > 0.2 from 1: not distinguishable.
    verdict = next(line for line in lines if "the msg/s" in line)
    assert "1.20 (0.97-1.50)x" in verdict and verdict.endswith("not distinguishable")
    # The medians alone (60,000 / 50,000) would say 1.2x faster without a doubt.

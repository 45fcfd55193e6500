"""HDR histogram: layout, percentiles against exact order statistics, merge, and the formats.

Format proof, two independent ways:
* fixtures written by the Java HdrHistogram 2.2.2 (fixtures/make_fixtures/MakeFixtures.java)
  decode to the same counts and statistics, and re-encode byte for byte;
* our encoding is decoded by ``naive_decode`` below, written from the format description alone
  (bit-by-bit LEB128, a bucket table built by enumeration), and, when java and the jar are
  available, read back by the Java implementation itself.
"""

from __future__ import annotations

import base64
import io
import math
import os
import shutil
import struct
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.metrics.hdr import (
    STANDARD_PERCENTILES,
    HdrFormatError,
    Histogram,
    percentile_key,
)
from pulsarload.metrics.hlog import HlogReader, HlogWriter

FIXTURES = Path(__file__).parent / "fixtures"
JAVA_SRC = FIXTURES / "make_fixtures" / "MakeFixtures.java"
JAR = Path(
    os.environ.get(
        "PULSARLOAD_HDR_JAR",
        Path.home() / ".cache/pulsarload/hdr-java/HdrHistogram-2.2.2.jar",
    )
)
ALL_PERCENTILES = (0.0, *STANDARD_PERCENTILES, 100.0)

# -- the value sets MakeFixtures.java records ---------------------------------------------------


def case_values(name: str) -> list[tuple[int, int]]:
    """(value, count) pairs, the same formulas as MakeFixtures.caseHistogram."""
    if name == "empty":
        return []
    if name == "linear":
        return [(v, 1) for v in range(1, 20001)]
    if name == "squares":
        return [(i * i, 1) for i in range(1, 5001)]
    if name == "weighted":
        return [
            (1, 1), (7, 3), (1000, 10), (2047, 5), (2048, 6),
            (123456, 100), (9999999, 7), (3600000000, 2),
        ]  # fmt: skip
    if name == "lcg":
        out = []
        x = 42
        for _ in range(10000):
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            out.append((1 + (x >> 40) % 10000000, 1))
        return out
    raise KeyError(name)


def hist_of(pairs: list[tuple[int, int]]) -> Histogram:
    h = Histogram()
    for v, c in pairs:
        h.record(v, c)
    return h


def load_java_cases() -> list[list[str]]:
    rows = []
    for line in (FIXTURES / "java_v2.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


# -- an independent, deliberately naive decoder --------------------------------------------------


def naive_decode(b64: str) -> dict[int, int]:
    """{lowest value of bucket: count}, from the V2 compressed format description only."""
    raw = base64.b64decode(b64)
    outer_cookie = int.from_bytes(raw[0:4], "big")
    assert outer_cookie & 0xFFFFFF0F == 0x1C849304, hex(outer_cookie)
    length = int.from_bytes(raw[4:8], "big")
    inner = zlib.decompress(raw[8 : 8 + length])
    cookie = int.from_bytes(inner[0:4], "big")
    assert cookie & 0xFFFFFF0F == 0x1C849303, hex(cookie)
    payload_len = int.from_bytes(inner[4:8], "big")
    assert int.from_bytes(inner[8:12], "big") == 0  # normalizing offset
    digits = int.from_bytes(inner[12:16], "big")
    lowest = int.from_bytes(inner[16:24], "big")
    highest = int.from_bytes(inner[24:32], "big")
    assert struct.unpack(">d", inner[32:40])[0] == 1.0
    # Bucket table by enumeration: sub-bucket count is the smallest power of two >= 2*10^digits.
    sub_count = 1
    while sub_count < 2 * 10**digits:
        sub_count *= 2
    unit = 1
    while unit * 2 <= lowest:
        unit *= 2
    lows: list[int] = [i * unit for i in range(sub_count)]  # bucket 0: all sub-buckets
    width = unit
    while lows[-1] + width <= highest:
        width *= 2
        for s in range(sub_count // 2, sub_count):  # later buckets: top half only
            lows.append(s * width)
    # Payload: ZigZag LEB128, up to 9 bytes, negative values are runs of empty slots.
    bits: list[int] = []
    pos = 40
    end = 40 + payload_len
    out: dict[int, int] = {}
    index = 0
    while pos < end:
        bits.clear()
        nbytes = 0
        while True:
            byte = inner[pos]
            pos += 1
            nbytes += 1
            if nbytes == 9:
                bits.extend((byte >> k) & 1 for k in range(8))
                break
            bits.extend((byte >> k) & 1 for k in range(7))
            if not byte & 0x80:
                break
        z = sum(bit << k for k, bit in enumerate(bits))
        value = z // 2 if z % 2 == 0 else -(z + 1) // 2
        if value < 0:
            index += -value
        else:
            if value:
                out[lows[index]] = value
            index += 1
    return out


# -- layout and recording ----------------------------------------------------------------------


def test_default_layout_matches_hdrhistogram() -> None:
    h = Histogram()
    assert (h.lowest, h.highest, h.digits) == (1, 3_600_000_000, 3)
    assert h.sub_bucket_count == 2048
    assert h.bucket_count == 22
    assert h.counts_len == 23 * 1024


def test_unit_resolution_below_2048_and_relative_above() -> None:
    h = Histogram()
    for v in (0, 1, 2, 1000, 2047):
        assert h.lowest_equivalent(v) == v == h.highest_equivalent(v)
    assert h.size_of_equivalent_range(2048) == 2
    assert h.size_of_equivalent_range(4096) == 4
    for v in (2049, 10_000, 123_457, 10**9, 3_599_999_999):
        lo, hi = h.lowest_equivalent(v), h.highest_equivalent(v)
        assert lo <= v <= hi
        assert (hi - lo + 1) / lo <= 1 / 1024
        assert h.value_from_index(h.index_of(v)) == lo


def test_index_formula_is_monotonic_and_dense() -> None:
    h = Histogram(1, 10**6, 2)
    prev = -1
    for v in range(0, 10**6, 7):
        i = h.index_of(v)
        assert i >= prev
        prev = i
    assert h.index_of(10**6) < h.counts_len


def test_record_counts_and_clamps_out_of_range() -> None:
    h = Histogram()
    h.record(5)
    h.record(5, 3)
    h.record(-1)
    h.record(10**13)
    h.record(7.9)  # type: ignore[arg-type]  # floats take the slow path, truncated
    assert h.count_at_value(5) == 4
    assert h.count_at_value(0) == 1
    assert h.count_at_value(h.highest) == 1
    assert h.count_at_value(7) == 1
    assert h.clamped == 2
    assert h.total_count == 7


@pytest.mark.parametrize("digits", range(6))
@pytest.mark.parametrize("lowest", [1, 2, 1000, 1024])
def test_every_layout_clamps_negative_and_huge_values(digits: int, lowest: int) -> None:
    h = Histogram(lowest, 10**9, digits)
    h.record(-5)
    h.record(10**12)
    h.record(12_345, 2)
    assert h.clamped == 2
    assert h.count_at_value(0) == 1
    assert h.count_at_value(12_345) == 2
    assert h.count_at_value(10**9) == 1
    assert h.lowest_equivalent(12_345) <= 12_345 <= h.highest_equivalent(12_345)


def test_empty_histogram_statistics() -> None:
    h = Histogram()
    assert h.total_count == 0
    assert (h.min, h.max, h.mean, h.stddev) == (0, 0, 0.0, 0.0)
    assert h.value_at_percentile(99) == 0
    assert not h
    assert h.summary()["p99_9"] == 0


def test_percentile_keys() -> None:
    assert [percentile_key(p) for p in STANDARD_PERCENTILES] == [
        "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99"
    ]  # fmt: skip


# -- percentiles against numpy ------------------------------------------------------------------


def _datasets() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240517)
    n = 200_000
    uniform = rng.integers(1, 5_000_000, n)
    lognormal = np.floor(rng.lognormal(8.0, 1.6, n)).astype(np.int64) + 1
    pareto = np.minimum(np.floor((rng.pareto(1.2, n) + 1) * 150), 3_600_000_000).astype(np.int64)
    bimodal = np.concatenate(
        [rng.normal(300, 30, n // 2 + n // 10), rng.normal(50_000, 4_000, n // 2 - n // 10)]
    )
    bimodal = np.maximum(np.floor(bimodal), 1).astype(np.int64)
    return {"uniform": uniform, "lognormal": lognormal, "pareto": pareto, "bimodal": bimodal}


DATASETS = _datasets()


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_percentiles_agree_with_exact_order_statistics(name: str) -> None:
    data = DATASETS[name]
    h = Histogram()
    h.record_many(data.tolist())
    got = h.percentiles(ALL_PERCENTILES)
    ordered = np.sort(data)
    for p in ALL_PERCENTILES:
        # The exact order statistic of rank ceil(p/100 * n), in rational arithmetic: numpy's
        # percentile(method="inverted_cdf") rounds p*n in floating point and picks the next
        # rank when p*n is an integer (99.9% of 200000 -> 199801).
        rank = max(math.ceil(Fraction(str(p)) / 100 * len(data)), 1)
        exact = int(ordered[rank - 1])
        # The histogram answers with the top of the bucket holding the exact order statistic
        # (bottom for p=0): same bucket, hence within 1 part in 1024 (< 10^-3) of it.
        assert h.lowest_equivalent(got[p]) == h.lowest_equivalent(exact), (name, p, got[p], exact)
        assert abs(got[p] - exact) <= max(exact / 1024, 0), (name, p, got[p], exact)
    assert h.total_count == len(data)
    assert h.min == h.lowest_equivalent(int(data.min()))
    assert h.max == h.highest_equivalent(int(data.max()))
    assert math.isclose(h.mean, float(data.mean()), rel_tol=1e-3)
    assert math.isclose(h.stddev, float(data.std()), rel_tol=1e-3)


def test_summary_matches_individual_queries() -> None:
    h = Histogram()
    h.record_many(DATASETS["lognormal"][:5000].tolist())
    s = h.summary()
    assert s["count"] == 5000
    assert (s["min"], s["max"]) == (h.min, h.max)
    assert s["mean"] == pytest.approx(h.mean)
    for p in STANDARD_PERCENTILES:
        assert s[percentile_key(p)] == h.value_at_percentile(p)


# -- merge, copy, reset, iteration ---------------------------------------------------------------


def test_merge_of_per_thread_histograms_equals_one_histogram() -> None:
    data = DATASETS["bimodal"].tolist()
    parts = [Histogram() for _ in range(8)]
    for i, v in enumerate(data):
        parts[i % 8].record(v)
    merged = Histogram()
    for p in parts:
        merged.add(p)
    whole = Histogram()
    whole.record_many(data)
    assert merged == whole
    assert merged.percentiles() == whole.percentiles()


def test_merge_across_layouts_re_records_values() -> None:
    coarse = Histogram(1, 10**6, 2)
    coarse.record_many([5, 500, 50_000])
    fine = Histogram()
    fine.add(coarse)
    assert fine.total_count == 3
    assert fine.max == fine.highest_equivalent(coarse.value_from_index(coarse.index_of(50_000)))


def test_copy_is_independent_and_reset_empties() -> None:
    h = Histogram()
    h.record_many([1, 2, 3, 10_000])
    c = h.copy()
    h.record(4)
    assert c.total_count == 4 and h.total_count == 5
    h.reset()
    assert h.total_count == 0 and not h
    h.record(9)  # the record closure still targets the live counts after reset
    assert h.count_at_value(9) == 1


def test_buckets_and_counts_by_edges() -> None:
    h = Histogram()
    h.record_many([1, 1, 100, 5000, 5001, 70_000])
    bks = list(h.buckets())
    assert [b[2] for b in bks] == [2, 1, 2, 1]
    assert bks[2] == (5000, 5003, 2)
    assert h.counts_by_edges([1, 100, 5000, 10_000]) == [2, 1, 2, 0, 1]
    assert sum(h.counts_by_edges([10])) == h.total_count


# -- encoding ------------------------------------------------------------------------------------


def test_round_trip_compressed_and_uncompressed() -> None:
    h = Histogram()
    h.record_many(DATASETS["pareto"][:20_000].tolist())
    assert Histogram.decode(h.encode()) == h
    assert Histogram.decode(h.encode_base64()) == h


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3_600_000_000), st.integers(1, 2**40)), min_size=0, max_size=60
    )
)
def test_round_trip_property(pairs: list[tuple[int, int]]) -> None:
    h = hist_of(pairs)
    back = Histogram.decode(h.encode_base64())
    assert back == h
    expected: dict[int, int] = {}
    for v, c in pairs:
        lo = h.lowest_equivalent(v)
        expected[lo] = expected.get(lo, 0) + c
    assert naive_decode(h.encode_base64()) == expected


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x00" * 8,
        struct.pack(">ii", 0x1C849314, 1000) + b"xx",
        struct.pack(">ii", 0x1C849314, 4) + b"nope",
        struct.pack(">ii", 0x1C849304 | 0x10, 0),
    ],
)
def test_decode_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(HdrFormatError):
        Histogram.decode(bad)


def test_decode_rejects_bad_base64() -> None:
    with pytest.raises(HdrFormatError):
        Histogram.decode("not base64 !!!")


def test_naive_decoder_reads_our_encoding_of_every_dataset() -> None:
    for name, data in DATASETS.items():
        h = Histogram()
        h.record_many(data[:30_000].tolist())
        decoded = naive_decode(h.encode_base64())
        assert decoded == {lo: c for lo, _hi, c in h.buckets()}, name


# -- Java fixtures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", load_java_cases(), ids=lambda r: r[0])
def test_java_v2_fixture_decodes_to_known_values(row: list[str]) -> None:
    name, b64 = row[0], row[-1]
    total, jmin, jmax = int(row[1]), int(row[2]), int(row[3])
    jmean, jstd = float(row[4]), float(row[5])
    jpct = [int(x) for x in row[6:-1]]
    h = Histogram.decode(b64)
    expected = hist_of(case_values(name))
    assert h == expected  # every count in every slot
    assert (h.total_count, h.min, h.max) == (total, jmin, jmax)
    assert h.mean == pytest.approx(jmean, rel=1e-12)
    assert h.stddev == pytest.approx(jstd, rel=1e-9)
    assert [h.value_at_percentile(p) for p in ALL_PERCENTILES] == jpct
    # And our encoder produces Java's bytes exactly.
    assert expected.encode_base64() == b64
    assert naive_decode(b64) == {lo: c for lo, _hi, c in expected.buckets()}


def test_java_hlog_fixture() -> None:
    with open(FIXTURES / "java.hlog") as f:
        reader = HlogReader(f)
        intervals = list(reader)
    assert reader.start_time == 1700000000.0
    assert len(intervals) == 4
    for k, iv in enumerate(intervals[:3]):
        assert iv.start == 1700000000.0 + k
        assert iv.length == 1.0
        assert iv.tag is None
        h = iv.histogram
        assert h.count_at_value((k + 1) * 1000) == 100
        assert h.count_at_value(5) == k + 1
        assert h.total_count == 100 + k + 1
        assert iv.max_value == pytest.approx(h.max / 1000.0, abs=0.001)
    last = intervals[3]
    assert last.tag == "weighted"
    assert last.histogram == hist_of(case_values("weighted"))


# -- .hlog writing ---------------------------------------------------------------------------------


def _our_hlog(intervals: int = 3) -> tuple[str, list[Histogram]]:
    buf = io.StringIO()
    w = HlogWriter(buf)
    w.write_header(1_700_000_000.0, comment="test")
    hists = []
    rng = np.random.default_rng(7)
    for k in range(intervals):
        h = Histogram()
        h.record_many((np.floor(rng.lognormal(6 + k, 1.0, 3000)) + 1).astype(int).tolist())
        w.write_interval(1_700_000_000.0 + k, 1_700_000_001.0 + k, h)
        hists.append(h)
    tagged = hist_of([(42, 7)])
    w.write_interval(1_700_000_003.0, 1_700_000_004.0, tagged, tag="e2e_latency")
    hists.append(tagged)
    return buf.getvalue(), hists


def test_hlog_writer_output_reads_back() -> None:
    text, hists = _our_hlog()
    lines = text.splitlines()
    assert lines[0] == "#test" or lines[1] == "#test"
    assert any(line.startswith("#[StartTime: 1700000000.000") for line in lines)
    assert (
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"' in lines
    )
    assert lines[-1].startswith("Tag=e2e_latency,3.000,1.000,0.042,")
    got = list(HlogReader(text.splitlines()))
    assert [iv.histogram for iv in got] == hists
    assert [iv.start for iv in got] == [1_700_000_000.0 + k for k in range(4)]


def test_hlog_rejects_bad_lines() -> None:
    with pytest.raises(HdrFormatError):
        list(HlogReader(["1.0,2.0,HISTxx"]))
    with pytest.raises(HdrFormatError):
        list(HlogReader(["a,b,c,d"]))


@pytest.mark.skipif(
    shutil.which("java") is None or not JAR.exists(),
    reason="needs java and the HdrHistogram jar (see fixtures/make_fixtures/README.md)",
)
def test_java_reads_our_hlog(tmp_path: Path) -> None:
    text, hists = _our_hlog()
    path = tmp_path / "ours.hlog"
    path.write_text(text)
    out = subprocess.run(
        ["java", "-cp", str(JAR), str(JAVA_SRC), "read", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert len(out) == len(hists)
    for line, h in zip(out, hists, strict=True):
        f = line.split("\t")
        start_ms, end_ms, tag = int(f[0]), int(f[1]), f[2]
        assert end_ms - start_ms == 1000
        assert tag in ("null", "e2e_latency")
        assert (int(f[3]), int(f[4]), int(f[5])) == (h.total_count, h.min, h.max)
        assert float(f[6]) == pytest.approx(h.mean, rel=1e-9)
        assert [int(x) for x in f[8:]] == [h.value_at_percentile(p) for p in ALL_PERCENTILES]

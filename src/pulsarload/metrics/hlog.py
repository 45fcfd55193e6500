"""The HdrHistogram interval log (`.hlog`, format 1.3): its reader and writer.

Files written here are read by HdrHistogram's own tools (HistogramLogProcessor and others)
and theirs by `HlogReader`; the histogram encoding itself is `hdr.Histogram.encode`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from pulsarload.metrics.hdr import HdrFormatError, Histogram

__all__ = ["HLOG_FORMAT_VERSION", "HlogInterval", "HlogReader", "HlogWriter"]


HLOG_FORMAT_VERSION = "1.3"
_LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
_START_RE = re.compile(r"^#\[StartTime: ([0-9.eE+-]+)")
_BASE_RE = re.compile(r"^#\[BaseTime: ([0-9.eE+-]+)")


@dataclass(frozen=True, slots=True)
class HlogInterval:
    """One interval of a log: absolute start (s since epoch), length (s), its histogram."""

    start: float
    length: float
    max_value: float
    histogram: Histogram
    tag: str | None = None


class HlogWriter:
    """Writes the HdrHistogram interval log format (version 1.3), as Java's HistogramLogWriter.

    Timestamps are written relative to the start time (a ``#[BaseTime:]`` line says so), and
    ``Interval_Max`` is the interval's max divided by ``max_unit_ratio`` (1000 turns our
    microseconds into milliseconds, which the log's readers conventionally expect).
    """

    def __init__(self, stream: IO[str], max_unit_ratio: float = 1000.0) -> None:
        self._out = stream
        self.max_unit_ratio = max_unit_ratio
        self.base_time: float | None = None

    def write_header(self, start_time: float | None = None, comment: str | None = None) -> None:
        """Version, optional comment, start and base time, and the column legend."""
        t = time.time() if start_time is None else start_time
        self.base_time = t
        out = self._out
        out.write(f"#[Histogram log format version {HLOG_FORMAT_VERSION}]\n")
        if comment:
            for line in comment.splitlines():
                out.write(f"#{line}\n")
        human = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(t))
        out.write(f"#[StartTime: {t:.3f} (seconds since epoch), {human}]\n")
        out.write(f"#[BaseTime: {t:.3f} (seconds since epoch)]\n")
        out.write(_LEGEND + "\n")

    def write_interval(
        self, start: float, end: float, histogram: Histogram, tag: str | None = None
    ) -> None:
        """One line: relative start, length, max (in the ratio's unit), base64 histogram."""
        if self.base_time is None:
            self.write_header(start)
        assert self.base_time is not None
        rel = start - self.base_time
        line = (
            f"{rel:.3f},{end - start:.3f},{histogram.max / self.max_unit_ratio:.3f},"
            f"{histogram.encode_base64()}\n"
        )
        if tag:
            if "," in tag or " " in tag:
                raise ValueError(f"hlog tag {tag!r} may not contain commas or spaces")
            line = f"Tag={tag},{line}"
        self._out.write(line)

    def flush(self) -> None:
        self._out.flush()


class HlogReader:
    """Reads interval logs written by us or by HdrHistogram's own writers."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = lines
        self.start_time: float | None = None
        self.base_time: float | None = None

    def __iter__(self) -> Iterator[HlogInterval]:
        for lineno, raw in enumerate(self._lines, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                if m := _START_RE.match(line):
                    self.start_time = float(m.group(1))
                elif m := _BASE_RE.match(line):
                    self.base_time = float(m.group(1))
                continue
            if line.startswith('"StartTimestamp"'):
                continue
            yield self._parse_line(line, lineno)

    def _parse_line(self, line: str, lineno: int) -> HlogInterval:
        tag = None
        if line.startswith("Tag="):
            tag, _, line = line[4:].partition(",")
        parts = line.split(",")
        if len(parts) != 4:
            raise HdrFormatError(f"hlog line {lineno}: expected 4 fields, got {len(parts)}")
        try:
            ts, length, mx = float(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:
            raise HdrFormatError(f"hlog line {lineno}: bad number in {parts[:3]}") from None
        base = self.base_time
        if base is None:
            # Java's rule: timestamps more than a year before StartTime are relative to it.
            start = self.start_time
            base = start if start is not None and ts < start - 365 * 24 * 3600.0 else 0.0
        hist = Histogram.decode(parts[3])
        hist.start_time = base + ts
        hist.end_time = base + ts + length
        hist.tag = tag
        return HlogInterval(base + ts, length, mx, hist, tag)

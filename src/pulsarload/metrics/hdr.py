"""HDR histogram: log-linear buckets and index-arithmetic recording (its bytes: `hdr_codec`).

Our own implementation because the `hdrhistogram` package's C codec re-enables the GIL on a
free-threaded interpreter. The bucket layout, percentile rules and encodings follow the Java
HdrHistogram (2.x) so that files we write are read by its tools and theirs are read by us:

* values are non-negative integers (microseconds by default, 1 us .. 1 h, 3 significant digits);
* bucket ``b`` holds sub-buckets of width ``2**(b + unit_magnitude)``; all buckets but the first
  cover only the upper half of their sub-bucket range, so one index formula covers everything;
* ``value_at_percentile`` returns the highest value equivalent to the recorded value reached at
  ``ceil(p/100 * total)`` counts, like Java's ``getValueAtPercentile``.

A histogram is written by one thread only (see ``recorder.py``); nothing here takes a lock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress
from operator import add, itemgetter, mul
from typing import Any, Final

from pulsarload.metrics.hdr_codec import (
    HdrFormatError,
    compress_v2,
    decompress_v2,
    encode_v2,
    from_base64,
    read_v2,
    to_base64,
)

__all__ = [
    "DEFAULT_HIGHEST",
    "DEFAULT_LOWEST",
    "DEFAULT_DIGITS",
    "STANDARD_PERCENTILES",
    "HdrFormatError",
    "Histogram",
    "Sparse",
    "decode_compressed",
    "decode_uncompressed",
]

DEFAULT_LOWEST = 1
DEFAULT_HIGHEST = 3_600_000_000  # one hour in microseconds
DEFAULT_DIGITS = 3
STANDARD_PERCENTILES: tuple[float, ...] = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99)

_ZERO_BLOCK: Final[list[int]] = [0] * 256
_INDEX_LISTS: dict[int, list[int]] = {}
_ZERO_LISTS: dict[int, list[int]] = {}


def _index_list(n: int) -> list[int]:
    """[0, 1, ..., n-1], built once per length (compress over it allocates no new ints)."""
    lst = _INDEX_LISTS.get(n)
    if lst is None:
        lst = _INDEX_LISTS[n] = list(range(n))
    return lst


def _zero_list(n: int) -> list[int]:
    lst = _ZERO_LISTS.get(n)
    if lst is None:
        lst = _ZERO_LISTS[n] = [0] * n
    return lst


@dataclass(frozen=True, slots=True)
class _LayoutTables:
    """Per-slot lowest, highest and middle values, computed once per layout."""

    lows: list[int]
    highs: list[int]
    mids: list[int]


_TABLES: dict[tuple[int, int, int], _LayoutTables] = {}


@dataclass(frozen=True, slots=True)
class Sparse:
    """Non-empty slots of a histogram: indices, their counts, the index range, the total."""

    nz: list[int]
    cs: tuple[int, ...]
    lo: int
    hi: int
    total: int


_EMPTY_SPARSE: Final = Sparse([], (), 0, 0, 0)


def _layout_tables(lowest: int, highest: int, digits: int, h: Histogram) -> _LayoutTables:
    key = (lowest, highest, digits)
    t = _TABLES.get(key)
    if t is None:
        n = h.counts_len
        lows = [h.value_from_index(i) for i in range(n)]
        widths = [h._bucket_width_at_index(i) for i in range(n)]
        t = _TABLES[key] = _LayoutTables(
            lows,
            [lo + w - 1 for lo, w in zip(lows, widths, strict=True)],
            [lo + (w >> 1) for lo, w in zip(lows, widths, strict=True)],
        )
    return t


class Histogram:
    """Log-linear histogram of non-negative integers with a fixed relative precision.

    ``record(value, count=1)`` is a per-instance closure over the counts list, so a call costs
    one ``bit_length``, two shifts and a list add; out-of-range or non-int input takes a slow path
    (clamped to [0, highest] and counted in ``clamped``) caught by exception, which costs nothing
    when it does not happen.
    """

    __slots__ = (
        "lowest",
        "highest",
        "digits",
        "unit_magnitude",
        "sub_bucket_half_count_magnitude",
        "sub_bucket_count",
        "sub_bucket_half_count",
        "bucket_count",
        "counts_len",
        "_counts",
        "_clamped",
        "record",
        "start_time",
        "end_time",
        "tag",
    )

    def __init__(
        self,
        lowest: int = DEFAULT_LOWEST,
        highest: int = DEFAULT_HIGHEST,
        digits: int = DEFAULT_DIGITS,
    ) -> None:
        if lowest < 1:
            raise ValueError(f"lowest discernible value must be >= 1, got {lowest}")
        if highest < 2 * lowest:
            raise ValueError(f"highest trackable value {highest} must be >= 2 * lowest ({lowest})")
        if not 0 <= digits <= 5:
            raise ValueError(f"significant digits must be in 0..5, got {digits}")
        self.lowest = lowest
        self.highest = highest
        self.digits = digits
        largest_single_unit = 2 * 10**digits
        sub_bucket_count_magnitude = math.ceil(math.log2(largest_single_unit))
        h = max(sub_bucket_count_magnitude, 1) - 1
        u = lowest.bit_length() - 1
        self.unit_magnitude = u
        self.sub_bucket_half_count_magnitude = h
        self.sub_bucket_count = 1 << (h + 1)
        self.sub_bucket_half_count = 1 << h
        smallest_untrackable = self.sub_bucket_count << u
        buckets = 1
        while smallest_untrackable <= highest:
            smallest_untrackable <<= 1
            buckets += 1
        self.bucket_count = buckets
        self.counts_len = (buckets + 1) << h
        self._counts: list[int] = [0] * self.counts_len
        self._clamped = [0]
        self.start_time = 0.0
        self.end_time = 0.0
        self.tag: str | None = None
        self.record = self._make_record()

    # -- recording ---------------------------------------------------------------------------

    def _make_record(self) -> Any:
        # Everything the hot path needs is a closure cell (no attribute lookups: the 3.13
        # free-threaded interpreter does not specialise them), and ``int.bit_length`` is bound
        # once. Negative input makes a shift count negative (ValueError); too large a value
        # indexes past the list (IndexError); floats fail on "|" (TypeError): all take the
        # slow path, and a try block costs nothing when nothing is raised.
        counts = self._counts
        h = self.sub_bucket_half_count_magnitude
        u = self.unit_magnitude
        mask = (self.sub_bucket_count - 1) << u
        s_plus_u = h + 1 + u
        bit_length = int.bit_length
        highest = self.highest
        clamped = self._clamped

        # No reference back to the histogram: a histogram <-> closure cycle would leave every
        # discarded histogram to the (stop-the-world on free-threaded builds) cycle collector.
        def slow(value: Any, count: int) -> None:
            v = int(value)
            if v < 0 or v > highest:
                clamped[0] += count
                v = 0 if v < 0 else highest
            b = bit_length(v | mask) - s_plus_u
            counts[(b << h) + (v >> (b + u))] += count

        if u == 0 and h > 0:

            def record(value: int, count: int = 1) -> None:
                try:
                    b = bit_length(value | mask) - s_plus_u
                    counts[(b << h) + (value >> b)] += count
                except (IndexError, ValueError, TypeError):
                    slow(value, count)

        elif h > u:

            def record(value: int, count: int = 1) -> None:
                try:
                    b = bit_length(value | mask) - s_plus_u
                    counts[(b << h) + (value >> (b + u))] += count
                except (IndexError, ValueError, TypeError):
                    slow(value, count)

        else:  # pragma: no cover - only for exotic (digits, lowest) pairs
            # Here a negative value could yield a valid (wrong) index: check explicitly.
            def record(value: int, count: int = 1) -> None:
                if value < 0:
                    slow(value, count)
                    return
                try:
                    b = bit_length(value | mask) - s_plus_u
                    counts[(b << h) + (value >> (b + u))] += count
                except (IndexError, ValueError, TypeError):
                    slow(value, count)

        return record

    @property
    def clamped(self) -> int:
        """Values recorded outside [0, highest] (and counted at the nearest end)."""
        return self._clamped[0]

    def record_many(self, values: Iterable[int]) -> None:
        """Record each value once (a convenience for tests and batch imports)."""
        rec = self.record
        for v in values:
            rec(v)

    # -- layout ------------------------------------------------------------------------------

    def index_of(self, value: int) -> int:
        """Counts-array index of ``value`` (which must be in range)."""
        u = self.unit_magnitude
        h = self.sub_bucket_half_count_magnitude
        b = (value | ((self.sub_bucket_count - 1) << u)).bit_length() - (h + 1 + u)
        return (b << h) + (value >> (b + u))

    def value_from_index(self, index: int) -> int:
        """Lowest value that lands in counts-array slot ``index``."""
        h = self.sub_bucket_half_count_magnitude
        b = (index >> h) - 1
        sub = (index & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count
        if b < 0:
            sub -= self.sub_bucket_half_count
            b = 0
        return sub << (b + self.unit_magnitude)

    def _bucket_width_at_index(self, index: int) -> int:
        b = max((index >> self.sub_bucket_half_count_magnitude) - 1, 0)
        return 1 << (b + self.unit_magnitude)

    def lowest_equivalent(self, value: int) -> int:
        """Smallest value that shares ``value``'s bucket."""
        return self.value_from_index(self.index_of(value))

    def size_of_equivalent_range(self, value: int) -> int:
        """Width of the bucket that holds ``value``."""
        return self._bucket_width_at_index(self.index_of(value))

    def highest_equivalent(self, value: int) -> int:
        """Largest value that shares ``value``'s bucket."""
        i = self.index_of(value)
        return self.value_from_index(i) + self._bucket_width_at_index(i) - 1

    def median_equivalent(self, value: int) -> int:
        """Middle of ``value``'s bucket: what mean and stddev use, as in Java."""
        i = self.index_of(value)
        return self.value_from_index(i) + (self._bucket_width_at_index(i) >> 1)

    def same_layout(self, other: Histogram) -> bool:
        """True when both histograms index values identically (so counts add slot by slot)."""
        return (
            self.unit_magnitude == other.unit_magnitude
            and self.sub_bucket_half_count_magnitude == other.sub_bucket_half_count_magnitude
        )

    # -- bulk operations (sampler thread) ------------------------------------------------------
    #
    # On a free-threaded 3.13 every Python-level step costs tens of nanoseconds, and a counts
    # list has ~23 000 slots, so these methods lean on C-speed list primitives: identity-based
    # comparison and counting of the immortal 0, slicing, sum, itertools.compress over a
    # cached index list, operator.itemgetter, itertools.accumulate, and per-layout value tables.

    def _tables(self) -> _LayoutTables:
        return _layout_tables(self.lowest, self.highest, self.digits, self)

    def _nonzero_range(self) -> tuple[int, int]:
        """(lo, hi) such that every non-empty slot is in counts[lo:hi]; (0, 0) when empty."""
        counts = self._counts
        n = len(counts)
        if counts == _zero_list(n):  # identity compares of the immortal 0: memcmp speed
            return 0, 0
        block = _ZERO_BLOCK
        step = len(block)
        lo = 0
        while counts[lo : lo + step] == block:  # a shorter last slice never equals the block
            lo += step
        hi = n
        while hi - step >= lo and counts[hi - step : hi] == block:
            hi -= step
        return lo, hi

    def _nonzero(self) -> list[int]:
        """Indices of non-empty slots, ascending."""
        lo, hi = self._nonzero_range()
        if lo == hi:
            return []
        return list(compress(_index_list(len(self._counts))[lo:hi], self._counts[lo:hi]))

    def sparse(self) -> Sparse:
        """The non-empty slots, found once and reused for merging and statistics.

        Valid while nobody records into the histogram: the sampler takes it from a harvested
        recorder (or a published snapshot's histogram) and passes it to ``add``/``summary``.
        """
        lo, hi = self._nonzero_range()
        if lo == hi:
            return _EMPTY_SPARSE
        counts = self._counts
        nz = list(compress(_index_list(len(counts))[lo:hi], counts[lo:hi]))
        cs = itemgetter(*nz)(counts) if len(nz) > 1 else (counts[nz[0]],)
        return Sparse(nz, cs, lo, hi, sum(cs))

    def add(self, other: Histogram, sparse: Sparse | None = None) -> Histogram:
        """Add ``other``'s counts into this histogram (the merge used by the sampler).

        ``sparse`` is ``other.sparse()`` when the caller already has it.
        """
        sp = other.sparse() if sparse is None else sparse
        mine = self._counts
        theirs = other._counts
        if not sp.nz:
            pass
        elif self.same_layout(other) and len(theirs) <= len(mine):
            lo, hi = sp.lo, sp.hi
            if len(sp.nz) * 4 >= hi - lo:  # dense: one C-level pass over the range
                mine[lo:hi] = map(add, mine[lo:hi], theirs[lo:hi])
            else:
                for i, c in zip(sp.nz, sp.cs, strict=True):
                    mine[i] += c
        else:
            for i, c in zip(sp.nz, sp.cs, strict=True):
                self.record(other.value_from_index(i), c)
        self._clamped[0] += other.clamped
        return self

    def __iadd__(self, other: Histogram) -> Histogram:
        return self.add(other)

    def reset(self, sparse: Sparse | None = None) -> None:
        """Zero all counts in place (the record closure keeps pointing at the same list).

        With ``sparse`` (this histogram's current view) only its index range is cleared.
        """
        counts = self._counts
        if sparse is None:
            counts[:] = _zero_list(len(counts))
        elif sparse.hi > sparse.lo:
            counts[sparse.lo : sparse.hi] = _zero_list(len(counts))[sparse.lo : sparse.hi]
        self._clamped[0] = 0
        self.start_time = self.end_time = 0.0

    def copy(self) -> Histogram:
        """Independent histogram with the same layout and counts."""
        h = Histogram(self.lowest, self.highest, self.digits)
        h._counts[:] = self._counts
        h._clamped[0] = self.clamped
        h.start_time, h.end_time, h.tag = self.start_time, self.end_time, self.tag
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.lowest == other.lowest
            and self.highest == other.highest
            and self.digits == other.digits
            and self._counts == other._counts
        )

    __hash__ = None  # type: ignore[assignment]

    def counts_snapshot(self) -> list[int]:
        """A copy of the raw counts list (index layout as ``value_from_index``)."""
        return list(self._counts)

    def count_at_value(self, value: int) -> int:
        """Count recorded in ``value``'s bucket."""
        return self._counts[self.index_of(value)]

    def count_at_index(self, index: int) -> int:
        return self._counts[index]

    # -- statistics -------------------------------------------------------------------------

    @property
    def total_count(self) -> int:
        """Number of recorded values (computed, so recording need not maintain it)."""
        return sum(self._counts)

    def __len__(self) -> int:
        return self.total_count

    def __bool__(self) -> bool:
        counts = self._counts
        return counts != _zero_list(len(counts))

    @property
    def min(self) -> int:
        """Lowest equivalent value of the smallest recorded value (0 if empty)."""
        nz = self._nonzero()
        return self._tables().lows[nz[0]] if nz else 0

    @property
    def max(self) -> int:
        """Highest equivalent value of the largest recorded value (0 if empty), as Java reports."""
        nz = self._nonzero()
        return self._tables().highs[nz[-1]] if nz else 0

    def _max_index(self) -> int:
        nz = self._nonzero()
        return nz[-1] if nz else -1

    @staticmethod
    def _moments(mids: Sequence[int], cs: Sequence[int]) -> tuple[int, float, float]:
        """(count, mean, population stddev) of bucket midpoints, in exact integer sums."""
        n = sum(cs)
        if not n:
            return 0, 0.0, 0.0
        s1 = sum(map(mul, mids, cs))
        s2 = sum(map(mul, map(mul, mids, mids), cs))
        return n, s1 / n, math.sqrt((s2 * n - s1 * s1) / (n * n))

    def _stats(
        self, ps: Sequence[float], sparse: Sparse | None = None
    ) -> tuple[int, int, int, float, float, dict[float, int]]:
        sp = self.sparse() if sparse is None else sparse
        nz, cs = sp.nz, sp.cs
        if not nz:
            return 0, 0, 0, 0.0, 0.0, dict.fromkeys(ps, 0)
        t = self._tables()
        get = itemgetter(*nz)
        mids = get(t.mids) if len(nz) > 1 else (t.mids[nz[0]],)
        total, mean, std = self._moments(mids, cs)
        cum = list(accumulate(cs))
        pct: dict[float, int] = {}
        for p in ps:
            # Java: drop one ulp so that roundoff cannot push ceil() into the next count.
            req = min(max(math.nextafter(p, -math.inf), 0.0), 100.0)
            target = max(math.ceil(req / 100.0 * total), 1)
            i = nz[bisect_left(cum, target)]
            pct[p] = t.lows[i] if p == 0.0 else t.highs[i]
        return total, t.lows[nz[0]], t.highs[nz[-1]], mean, std, pct

    @property
    def mean(self) -> float:
        """Mean of bucket midpoints (Java's definition); 0.0 if empty."""
        return self._stats(())[3]

    @property
    def stddev(self) -> float:
        """Population standard deviation of bucket midpoints; 0.0 if empty."""
        return self._stats(())[4]

    def value_at_percentile(self, percentile: float) -> int:
        """Value at ``percentile`` (0..100), with Java HdrHistogram 2.x's rounding rules."""
        return self._stats((percentile,))[5][percentile]

    def percentiles(self, ps: Sequence[float] = STANDARD_PERCENTILES) -> dict[float, int]:
        """Several percentiles from one scan of the non-empty slots."""
        return self._stats(ps)[5]

    def summary(
        self, ps: Sequence[float] = STANDARD_PERCENTILES, sparse: Sparse | None = None
    ) -> dict[str, float]:
        """Count, min, max, mean, stddev and percentiles as a flat dict, from one scan."""
        total, lo, hi, mean, std, pct = self._stats(ps, sparse)
        out: dict[str, float] = {"count": total, "min": lo, "max": hi, "mean": mean, "stddev": std}
        for p, v in pct.items():
            out[percentile_key(p)] = v
        return out

    def buckets(self) -> Iterator[tuple[int, int, int]]:
        """Yield (lowest value, highest value, count) for each non-empty slot, ascending."""
        sp = self.sparse()
        t = self._tables()
        for i, c in zip(sp.nz, sp.cs, strict=True):
            yield t.lows[i], t.highs[i], c

    def counts_by_edges(self, edges: Sequence[int]) -> list[int]:
        """Counts per range split at ascending ``edges``: ``len(edges) + 1`` numbers.

        Slot ``k`` holds values whose bucket starts in ``(edges[k-1], edges[k]]`` (slot 0 from 0,
        the last one above the last edge). A bucket is placed by its lowest equivalent value, so
        an edge that is itself a recorded value counts as "<= edge", as Prometheus' ``le`` means.
        """
        counts = self._counts
        n = len(counts)
        out = []
        start = 0
        for e in edges:
            # First slot whose lowest value is above the edge.
            stop = n if e >= self.highest else min(self.index_of(max(e, 0)) + 1, n)
            stop = max(stop, start)
            out.append(sum(counts[start:stop]))
            start = stop
        out.append(sum(counts[start:]))
        return out

    # -- encoding ----------------------------------------------------------------------------

    def encode_uncompressed(self) -> bytes:
        """The V2 encoding (cookie 0x1c849313): 40-byte header then ZigZag LEB128 counts."""
        sp = self.sparse()
        return encode_v2(self.digits, self.lowest, self.highest, sp.nz, sp.cs)

    def encode(self, level: int = 9) -> bytes:
        """The V2 compressed encoding (cookie 0x1c849314): zlib-deflated V2 encoding."""
        return compress_v2(self.encode_uncompressed(), level)

    def encode_base64(self) -> str:
        """Base64 of the compressed encoding, as one ``.hlog`` line carries it."""
        return to_base64(self.encode())

    @classmethod
    def decode(cls, data: bytes | str) -> Histogram:
        """Decode a V2 compressed histogram (bytes, or base64 text)."""
        return decode_compressed(from_base64(data) if isinstance(data, str) else data)


def decode_compressed(data: bytes) -> Histogram:
    """Decode the V2 compressed format into a new Histogram."""
    return decode_uncompressed(decompress_v2(data))


def decode_uncompressed(data: bytes) -> Histogram:
    """Decode the V2 (uncompressed) encoding into a new Histogram with the header's layout."""
    header, pairs = read_v2(data)
    try:
        h = Histogram(header.lowest, header.highest, header.digits)
    except ValueError as e:
        raise HdrFormatError(f"bad histogram header: {e}") from None
    counts = h._counts
    n = len(counts)
    for idx, v in pairs:
        if idx >= n:
            if v:
                raise HdrFormatError(f"count at index {idx} beyond the {n} slots of the layout")
            continue
        counts[idx] = v
    return h


def percentile_key(p: float) -> str:
    """Stable dictionary key for a percentile: 50 -> "p50", 99.9 -> "p99_9", 99.99 -> "p99_99"."""
    text = f"{p:g}".replace(".", "_")
    return f"p{text}"

"""End-to-end verification: which messages went missing, came twice, or out of order.

Producers stamp each payload with (producer id, sequence) (see payloads.py). A consumer worker
feeds every received payload to its own `SequenceTracker`; at the end the trackers of all
consumer workers are merged, so on a Shared subscription a message seen by two workers still
counts as a duplicate. Gaps are sequences never seen between 0 and the highest seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _ProducerSeen:
    highest: int = -1
    # Sequences seen, as a bitmap (bit i = sequence i): compact for millions of messages,
    # and updated in place (a Python int would be copied on every set).
    bits: bytearray = field(default_factory=bytearray)
    unique: int = 0
    count: int = 0
    duplicates: int = 0
    out_of_order: int = 0


@dataclass(frozen=True, slots=True)
class VerifyReport:
    producers: int
    received: int
    unique: int
    missing: int
    duplicates: int
    out_of_order: int
    missing_examples: dict[int, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.missing == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "producers": self.producers,
            "received": self.received,
            "unique": self.unique,
            "missing": self.missing,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "missing_examples": {str(k): v for k, v in self.missing_examples.items()},
        }


def _as_int(bits: bytearray) -> int:
    return int.from_bytes(bits, "little")


def _first_gaps(have: int, upto: int, limit: int) -> list[int]:
    """The first `limit` clear bits below `upto`, scanning bytes rather than bits."""
    raw = have.to_bytes((upto + 7) // 8 or 1, "little")
    gaps: list[int] = []
    for index, byte in enumerate(raw):
        if byte == 0xFF:
            continue
        for bit in range(8):
            seq = index * 8 + bit
            if seq < upto and not byte >> bit & 1:
                gaps.append(seq)
                if len(gaps) == limit:
                    return gaps
    return gaps


class SequenceTracker:
    """Owned by one consumer worker; `see()` is called once per received verified payload.

    Returns what the message was, so the worker can count it as it goes: "ok", "duplicate",
    or "out_of_order" (arrived after a higher sequence of the same producer).
    """

    __slots__ = ("_producers",)

    def __init__(self) -> None:
        self._producers: dict[int, _ProducerSeen] = {}

    def see(self, producer_id: int, seq: int) -> str:
        p = self._producers.get(producer_id)
        if p is None:
            p = self._producers[producer_id] = _ProducerSeen()
        byte, mask = seq >> 3, 1 << (seq & 7)
        bits = p.bits
        if byte >= len(bits):
            bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
        p.count += 1
        if bits[byte] & mask:
            p.duplicates += 1
            return "duplicate"
        bits[byte] |= mask
        p.unique += 1
        if seq < p.highest:
            p.out_of_order += 1
            return "out_of_order"
        p.highest = seq
        return "ok"

    def merge(self, other: SequenceTracker) -> SequenceTracker:
        """A new tracker holding both; overlap between the two counts as duplicates."""
        out = SequenceTracker()
        for source in (self, other):
            for pid, seen in source._producers.items():
                p = out._producers.setdefault(pid, _ProducerSeen())
                mine, theirs = _as_int(p.bits), _as_int(seen.bits)
                p.duplicates += seen.duplicates + (mine & theirs).bit_count()
                merged = mine | theirs
                p.bits = bytearray(merged.to_bytes((merged.bit_length() + 7) // 8, "little"))
                p.unique = merged.bit_count()
                p.count += seen.count
                p.out_of_order += seen.out_of_order
                p.highest = max(p.highest, seen.highest)
        return out

    def to_dict(self) -> dict[str, dict[str, object]]:
        """Plain data (bitmaps as bytes) to send to another process, which merges it."""
        return {
            str(pid): {
                "highest": p.highest,
                "bits": bytes(p.bits),
                "unique": p.unique,
                "count": p.count,
                "duplicates": p.duplicates,
                "out_of_order": p.out_of_order,
            }
            for pid, p in self._producers.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, object]]) -> SequenceTracker:
        out = cls()
        for pid, d in data.items():
            out._producers[int(pid)] = _ProducerSeen(
                highest=int(d["highest"]),  # type: ignore[arg-type]
                bits=bytearray(d["bits"]),  # type: ignore[arg-type]
                unique=int(d["unique"]),  # type: ignore[arg-type]
                count=int(d["count"]),  # type: ignore[arg-type]
                duplicates=int(d["duplicates"]),  # type: ignore[arg-type]
                out_of_order=int(d["out_of_order"]),  # type: ignore[arg-type]
            )
        return out

    def report(self, expected: dict[int, int] | None = None, examples: int = 10) -> VerifyReport:
        """Summarise; `expected` maps producer id -> how many sequences it reported as sent."""
        missing = unique = received = dups = ooo = 0
        missing_examples: dict[int, list[int]] = {}
        ids = set(self._producers) | set(expected or {})
        for pid in sorted(ids):
            p = self._producers.get(pid, _ProducerSeen())
            upto = (expected or {}).get(pid, p.highest + 1)
            have = _as_int(p.bits) & ((1 << upto) - 1) if upto > 0 else 0
            n_unique = have.bit_count()
            n_missing = upto - n_unique
            if n_missing:
                missing_examples[pid] = _first_gaps(have, upto, examples)
            missing += n_missing
            unique += p.unique
            received += p.count
            dups += p.duplicates
            ooo += p.out_of_order
        return VerifyReport(len(ids), received, unique, missing, dups, ooo, missing_examples)

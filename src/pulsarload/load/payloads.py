"""Payload and key generators: cheap enough that generating messages is never the bottleneck.

Each worker owns its own generator (nothing shared on the hot path). Random payloads come from a
pool generated once; `next_batch(n)` hands out existing `bytes` objects wherever the content
allows it, so a batch costs a list slice rather than n allocations.

With verification on, every payload starts with a fixed header (magic, producer id, sequence
number) so the consumer can report missing, duplicated and out-of-order messages per producer.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pulsarload.errors import ConfigError

#: Magic + producer id (u64) + sequence (u64): 20 bytes, big-endian.
VERIFY_HEADER = struct.Struct(">4sQQ")
VERIFY_MAGIC = b"PLv1"
POOL_SIZE = 1024  # distinct payloads per worker for random content
#: ... but never more than this many bytes of them (1024 payloads of 6 MB would be 6 GB).
POOL_BYTES = 64 * 1024 * 1024
PAYLOAD_KINDS = ("random", "sequential", "pattern", "compressible", "file")
KEY_MODES = ("none", "sequential", "random", "set")
SIZE_DISTRIBUTIONS = ("fixed", "uniform", "normal")
MAX_PAYLOAD_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PayloadSettings:
    kind: str = "random"
    size: int = 1024
    size_distribution: str = "fixed"
    size_max: int = 0  # uniform: [size, size_max]; normal: stddev = size_max (0 -> size/10)
    pattern: bytes = b"pulsarload-"
    file: str | None = None
    file_delimiter: bytes = b"\n"
    seed: int | None = None

    def validate(self) -> None:
        if self.kind not in PAYLOAD_KINDS:
            raise ConfigError(
                f"payload kind {self.kind!r} is unknown; use one of {', '.join(PAYLOAD_KINDS)}"
            )
        if not 0 <= self.size <= MAX_PAYLOAD_BYTES:
            raise ConfigError(
                f"message size {self.size} is out of range 0..{MAX_PAYLOAD_BYTES} bytes"
            )
        if self.size_distribution not in SIZE_DISTRIBUTIONS:
            raise ConfigError(
                f"size distribution {self.size_distribution!r} is unknown; "
                f"use one of {', '.join(SIZE_DISTRIBUTIONS)}"
            )
        if self.size_distribution == "uniform" and self.size_max < self.size:
            raise ConfigError(
                f"uniform size range needs size_max >= size ({self.size_max} < {self.size})"
            )
        if self.kind == "file" and not self.file:
            raise ConfigError("payload kind 'file' needs a file path (--payload-file PATH)")
        if self.kind == "pattern" and not self.pattern:
            raise ConfigError("payload kind 'pattern' needs a non-empty pattern")


def _sizes(settings: PayloadSettings, rng: random.Random, count: int) -> list[int]:
    if settings.size_distribution == "fixed":
        return [settings.size] * count
    if settings.size_distribution == "uniform":
        return [rng.randint(settings.size, settings.size_max) for _ in range(count)]
    sigma = settings.size_max or max(1, settings.size // 10)
    return [
        min(MAX_PAYLOAD_BYTES, max(0, round(rng.gauss(settings.size, sigma)))) for _ in range(count)
    ]


def _read_file_payloads(path: str, delimiter: bytes) -> list[bytes]:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read payload file {path}: {err.strerror or err}") from None
    items = [item for item in data.split(delimiter) if item]
    if not items:
        raise ConfigError(f"payload file {path} has no messages (split on {delimiter!r})")
    return items


class PayloadGenerator:
    """Hands out payloads for one worker; `next_batch(n)` is the hot-path call."""

    def __init__(self, settings: PayloadSettings, *, verify_producer_id: int | None = None) -> None:
        settings.validate()
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._verify_id = verify_producer_id
        self._seq = 0
        self._pool = self._build_pool()
        self._pos = 0

    def _build_pool(self) -> list[bytes]:
        s = self.settings
        if s.kind == "file":
            return _read_file_payloads(s.file or "", s.file_delimiter)
        if s.kind == "sequential":
            return []  # built per message: content depends on the sequence number
        largest = max(s.size, s.size_max if s.size_distribution == "uniform" else 0, 1)
        distinct = max(1, min(POOL_SIZE, POOL_BYTES // largest))
        sizes = _sizes(
            s, self._rng, distinct if s.size_distribution != "fixed" or s.kind == "random" else 1
        )
        if s.kind == "random":
            blob = os.urandom(max(sizes) + POOL_SIZE) if sizes else b""
            return [blob[i : i + size] for i, size in enumerate(sizes)]
        unit = s.pattern if s.kind == "pattern" else b"pulsarload compressible payload 0123456789 "
        longest = max(sizes) if sizes else 0
        text = (unit * (longest // len(unit) + 1))[:longest]
        return [text[:size] for size in sizes]

    def resize(self, size: int) -> None:
        """Hand out payloads of `size` bytes from now on (a scenario that varies the size); the
        sequence goes on, so verification stamps stay unique."""
        self.settings = dataclasses.replace(self.settings, size=size, size_distribution="fixed")
        self.settings.validate()
        self._pool = self._build_pool()
        self._pos = 0

    @property
    def sequence(self) -> int:
        """How many payloads this generator has handed out."""
        return self._seq

    def next_batch(self, count: int) -> list[bytes]:
        if self._verify_id is not None:
            return [self._stamped(self._next_plain_one()) for _ in range(count)]
        if self.settings.kind == "sequential":
            return [self._next_plain_one() for _ in range(count)]
        pool, pos = self._pool, self._pos
        size = len(pool)
        if size == 1:
            batch = pool * count
        elif pos + count <= size:
            batch = pool[pos : pos + count]
        else:
            batch = list(itertools.islice(itertools.cycle(pool[pos:] + pool[:pos]), count))
        self._pos = (pos + count) % size
        self._seq += count
        return batch

    def _next_plain_one(self) -> bytes:
        if self.settings.kind == "sequential":
            seq = self._seq
            self._seq += 1
            text = b"%d" % seq
            size = self.settings.size
            return (text * (size // len(text) + 1))[:size] if size else b""
        item = self._pool[self._pos]
        self._pos = (self._pos + 1) % len(self._pool)
        self._seq += 1
        return item

    def _stamped(self, body: bytes) -> bytes:
        header = VERIFY_HEADER.pack(VERIFY_MAGIC, self._verify_id or 0, self._seq - 1)
        return header + body[VERIFY_HEADER.size :]


def parse_verify_header(payload: bytes) -> tuple[int, int] | None:
    """(producer id, sequence) from a verified payload, or None if it carries no header."""
    if len(payload) < VERIFY_HEADER.size or payload[:4] != VERIFY_MAGIC:
        return None
    _, producer_id, seq = VERIFY_HEADER.unpack_from(payload)
    return producer_id, seq


class KeyGenerator:
    """Message keys for one worker: none, sequential, random, or drawn from a given set."""

    def __init__(
        self, mode: str = "none", key_set: Sequence[str] = (), seed: int | None = None
    ) -> None:
        if mode not in KEY_MODES:
            raise ConfigError(f"key mode {mode!r} is unknown; use one of {', '.join(KEY_MODES)}")
        if mode == "set" and not key_set:
            raise ConfigError("key mode 'set' needs at least one key (--key K, repeatable)")
        self.mode = mode
        self._keys = list(key_set)
        self._rng = random.Random(seed)
        self._n = 0

    def next_key(self) -> str | None:
        if self.mode == "none":
            return None
        self._n += 1
        if self.mode == "sequential":
            return f"key-{self._n}"
        if self.mode == "random":
            return f"key-{self._rng.getrandbits(32):08x}"
        return self._rng.choice(self._keys)

"""Mutation fuzzing of everything that turns network bytes into values (the wire layer, and
the client's chunk reassembly): a long run here, a short one in CI (tests/unit/test_fuzz_wire.py
imports this module and runs the same targets with a small budget).

Why it is this long: a target per decoder (a few lines each), the seed corpus built from
sample messages of every protocol class, the mutator, and the run loop with its statistics and
CLI; they are one tool and change together.

The contract checked for every input: malformed bytes raise only `ProtocolError` subtypes
(`pulsarload.wire.errors`), never IndexError / struct.error / KeyError / UnicodeDecodeError /
RecursionError / MemoryError; each input finishes quickly (no hang); memory stays bounded
(declared sizes are capped, bombs are refused, RSS is sampled); and what does decode is
consistent (a decompressed payload has exactly its declared size, a batch has the count it
declared, a finished chunked message has the size it declared).

Targets (an input is bytes; some targets read a small parameter header first):
    frame_stream        any bytes into FrameParser in chunks, each frame handled as a consumer
                        does (decompress, split the batch)
    payload_frame       [u16 metadata size][MessageMetadata][payload] wrapped in a MESSAGE frame
                        with a *valid* CRC32C, so mutations reach metadata, codecs and batches
    base_command        decode_base_command (the BaseCommand envelope and every sub-command)
    decode:<Class>      <Class>.decode for every protobuf message class (commands and metadata)
    batch               [u16 num_messages][batch payload] into parse_batch
    decompress:<codec>  [u32 declared size][compressed] into decompress() for lz4/zlib/zstd/snappy
    message_id          MessageId.deserialize
    chunks              a sequence of chunk records into ChunkAssembler (reassembly bounds)

One module on purpose (about 680 lines): the targets, their seeds and the contract checks
are one table read top to bottom, and the runner is the few functions at the end.

Usage:
    nice -n 19 .venv/bin/pulsarload bench fuzz --inputs 1000000 --seed 1 \
        --report fuzz-report.json --crash-dir fuzz-crashes
Prints a summary table (inputs, ProtocolErrors, accepted, slowest input per target) and exits
non-zero if any input broke the contract; each offending input is saved under --crash-dir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import resource
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from pulsarload.client.chunks import ChunkAssembler
from pulsarload.wire import commands as wire_commands
from pulsarload.wire import messages as wire_messages
from pulsarload.wire.batch import MessageShape, SendFrameBuilder, encode_batch_payload, parse_batch
from pulsarload.wire.commands import (
    COMMAND_CLASSES,
    CommandMessage,
    decode_base_command,
    encode_base_command,
)
from pulsarload.wire.compression import AVAILABLE, decompress, get_codec
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import ProtocolError
from pulsarload.wire.frames import FrameParser, encode_command, encode_payload_command
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import (
    BrokerEntryMetadata,
    MessageIdData,
    MessageMetadata,
    SingleMessageMetadata,
)
from pulsarload.wire.protobuf import Message

#: Every cap the targets pass down: nothing may allocate more than this per input.
MAX_SIZE = 1 << 20
#: An input that takes more CPU time than this is reported as a hang.
SLOW_INPUT_S = 2.0
#: Largest input the mutator produces (bigger inputs only slow the run down).
MAX_INPUT = 64 * 1024

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

# ------------------------------------------------------------------------------------ samples


def message_classes() -> list[type[Message]]:
    """Every protobuf message class of the wire layer (commands first, then the rest)."""
    found: dict[str, type[Message]] = {}
    for module in (wire_commands, wire_messages):
        for name in dir(module):
            obj = getattr(module, name)
            if (
                isinstance(obj, type)
                and issubclass(obj, Message)
                and obj is not Message
                and hasattr(obj, "_pb_fields")
            ):
                found[obj.__name__] = obj
    return [found[k] for k in sorted(found)]


def sample(cls: type[Message], rnd: random.Random, *, full: bool = True, depth: int = 0) -> Any:
    """A valid instance of `cls` with every field set (`full`) or only the required ones."""
    values: dict[str, Any] = {}
    for _number, name, kind, label in cls._pb_fields:
        if label != "required" and not full:
            continue
        if label == "repeated":
            values[name] = tuple(_value(kind, rnd, depth) for _ in range(rnd.randint(1, 3)))
        else:
            values[name] = _value(kind, rnd, depth)
    return cls(**values)


def _value(kind: Any, rnd: random.Random, depth: int) -> Any:
    if isinstance(kind, type) and issubclass(kind, IntEnum):
        return rnd.choice(list(kind))
    if isinstance(kind, type) and issubclass(kind, Message):
        return sample(kind, rnd, full=depth < 2, depth=depth + 1)
    if kind == "uint":
        return rnd.choice((0, 1, 127, 128, 300, 2**32 - 1, 2**63 + 5))
    if kind == "int32":
        return rnd.choice((-1, 0, 1, 2**31 - 1, -(2**31)))
    if kind == "int64":
        return rnd.choice((-1, 0, 7, 2**63 - 1, -(2**63)))
    if kind == "bool":
        return rnd.random() < 0.5
    if kind == "string":
        return rnd.choice(("", "x", "persistent://public/default/t", "ünïcødé", "s" * 200))
    if kind == "bytes":
        return rnd.choice((b"", b"\x00", b"token", bytes(range(256))))
    raise TypeError(f"no sample for kind {kind!r}")


# ------------------------------------------------------------------------------------ targets


def _consume_frame(frame: Any) -> None:
    """What the consumer's reader thread does with a frame (see client/consumer.py)."""
    if frame.error is not None:
        if not isinstance(frame.error, ProtocolError):
            raise AssertionError(f"frame.error is {type(frame.error).__name__}, not ProtocolError")
        return
    md = frame.metadata
    if md is None or frame.payload is None:
        return
    payload: Any = frame.payload
    if md.compression:
        declared = md.uncompressed_size or 0
        payload = decompress(md.compression, payload, declared, MAX_SIZE)
        if len(payload) != declared:
            raise AssertionError(f"decompressed {len(payload)} bytes, declared {declared}")
    if md.num_messages_in_batch is not None:
        _check_batch(payload, md.num_messages_in_batch)


def _check_batch(payload: Any, num: int) -> None:
    parts = parse_batch(payload, num)
    if len(parts) != num:
        raise AssertionError(f"parse_batch returned {len(parts)} messages, declared {num}")
    total = 0
    for smd, body in parts:
        if len(body) != smd.payload_size:
            raise AssertionError("a batch message's payload differs from its payload_size")
        total += len(body)
    if total > len(payload):
        raise AssertionError("batch messages hold more bytes than the batch")


def target_frame_stream(data: bytes) -> None:
    chunk = (data[0] % 97 + 1) if data else 1
    body = data[1:]
    parser = FrameParser(max_message_size=MAX_SIZE)
    for i in range(0, len(body), chunk):
        for frame in parser.feed(body[i : i + chunk]):
            _consume_frame(frame)
        if parser.buffered > parser.max_frame_size + chunk:
            raise AssertionError(f"parser buffers {parser.buffered} bytes, above one frame")
    parser.feed_eof()


_MESSAGE_CMD = CommandMessage(consumer_id=1, message_id=MessageIdData(ledgerId=3, entryId=4))


def target_payload_frame(data: bytes) -> None:
    if len(data) < 2:
        return
    md_size = _U16.unpack_from(data)[0]
    md, payload = data[2 : 2 + md_size], data[2 + md_size :]
    frame_bytes = encode_payload_command(_MESSAGE_CMD, md, payload)
    frames = FrameParser(max_message_size=MAX_SIZE).feed(frame_bytes)
    if len(frames) != 1:
        raise AssertionError(f"one valid-CRC frame parsed as {len(frames)}")
    _consume_frame(frames[0])


def target_base_command(data: bytes) -> None:
    decode_base_command(data)


def target_batch(data: bytes) -> None:
    if len(data) < 2:
        return
    _check_batch(data[2:], _U16.unpack_from(data)[0])


def _decompress_target(kind: CompressionType) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        if len(data) < 4:
            return
        declared = _U32.unpack_from(data)[0]
        out = decompress(kind, data[4:], declared, MAX_SIZE)
        if len(out) != declared:
            raise AssertionError(f"{kind.name}: {len(out)} bytes out, {declared} declared")

    run.__name__ = f"decompress_{kind.name.lower()}"
    return run


def _decode_target(cls: type[Message]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        cls.decode(data)

    run.__name__ = f"decode_{cls.__name__}"
    return run


def target_message_id(data: bytes) -> None:
    MessageId.deserialize(data)


_CHUNK_REC = struct.Struct(">BBBHB")  # uuid, num_chunks, chunk_id, total, data length


def target_chunks(data: bytes) -> None:
    """Records [uuid u8][num_chunks u8][chunk_id u8][total u16][len u8][len bytes] in order."""
    asm = ChunkAssembler(max_pending=3, max_total_size=4096)
    declared: dict[str, int] = {}  # uuid -> size its chunk 0 declared (later chunks may lie)
    pos = 0
    n = 0
    while pos + _CHUNK_REC.size <= len(data):
        uuid, num, cid, total, size = _CHUNK_REC.unpack_from(data, pos)
        pos += _CHUNK_REC.size
        body = data[pos : pos + size]
        pos += size
        md = MessageMetadata(
            producer_name="p",
            sequence_id=0,
            publish_time=0,
            uuid=f"u{uuid % 8}",
            num_chunks_from_msg=num % 6,
            chunk_id=cid % 6,
            total_chunk_msg_size=total % 5000,
        )
        if md.chunk_id == 0:
            declared[md.uuid] = md.total_chunk_msg_size  # type: ignore[index]
        res = asm.add(md, MessageId(1, n), body)
        n += 1
        if len(asm) > asm.max_pending:
            raise AssertionError(f"{len(asm)} incomplete chunked messages kept, max 3")
        if res.payload is not None and len(res.payload) != declared.get(md.uuid):  # type: ignore[arg-type]
            raise AssertionError("a reassembled message differs from the size it declared")
    for pending in asm._pending.values():
        if len(pending.buffer) > pending.total:
            raise AssertionError("an incomplete chunked message grew past its declared size")


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: tuple[bytes, ...]
    #: How many turns this target gets per round (the deep pipelines get more).
    weight: int = 1


def _lz4_bomb() -> bytes:
    return get_codec("lz4").compress(bytes(4 * MAX_SIZE))


def build_targets(seed: int = 0) -> list[Target]:
    """Every target with its seed corpus (valid inputs the mutator starts from)."""
    rnd = random.Random(seed)
    classes = message_classes()
    shape = MessageShape(properties={"k": "v"}, partition_key="key")
    payloads = [b"payload-%d" % i for i in range(5)]
    frames: list[bytes] = []
    md_payloads: list[bytes] = []
    for kind in AVAILABLE:  # every codec this interpreter has (no LZ4 without lz4: 3.14t)
        builder = SendFrameBuilder(1, "p", compression=kind, shape=shape)
        for frame in (builder.batch(payloads, 10, 1000), builder.single(b"x" * 50, 11, 1000)):
            frames.append(frame)
            parsed = FrameParser().feed(frame)[0]
            md_bytes = parsed.metadata.encode()
            md_payloads.append(_U16.pack(len(md_bytes)) + md_bytes + bytes(parsed.payload))
    mixed = encode_batch_payload(
        [
            (SingleMessageMetadata(payload_size=3, partition_key="a", event_time=5), b"abc"),
            (SingleMessageMetadata(payload_size=0, null_value=True), b""),
            (SingleMessageMetadata(payload_size=2, properties=()), b"zz"),
        ]
    )
    commands = [sample(c, rnd) for c in COMMAND_CLASSES.values()]
    commands += [sample(c, rnd, full=False) for c in COMMAND_CLASSES.values()]
    stream = b"".join(encode_command(c) for c in commands[:12]) + b"".join(frames)
    bem = BrokerEntryMetadata(broker_timestamp=5, index=9)
    with_bem = bytearray(frames[0])
    # A MESSAGE-style frame with broker entry metadata before the checksum magic.
    cmd_size = _U32.unpack_from(with_bem, 4)[0]
    insert_at = 8 + cmd_size
    bem_bytes = bem.encode()
    with_bem[insert_at:insert_at] = b"\x0e\x02" + _U32.pack(len(bem_bytes)) + bem_bytes
    _U32.pack_into(with_bem, 0, len(with_bem) - 4)
    targets = [
        Target(
            "frame_stream",
            target_frame_stream,
            (b"\x07" + stream, b"\x00" + frames[1], b"\x40" + bytes(with_bem), b"\x03"),
            weight=6,
        ),
        Target("payload_frame", target_payload_frame, tuple(md_payloads), weight=6),
        Target(
            "base_command",
            target_base_command,
            tuple(encode_base_command(c) for c in commands),
        ),
        Target(
            "batch",
            target_batch,
            (
                _U16.pack(5) + shape.batch_payload(payloads),
                _U16.pack(3) + mixed,
                _U16.pack(1) + shape.batch_payload([b""]),
                _U16.pack(100) + shape.repeated_payload(b"r" * 7, 100),
            ),
            weight=3,
        ),
    ]
    for kind in AVAILABLE[1:]:
        codec = get_codec(kind)
        plain = [b"", b"a", b"compressible payload " * 60, bytes(range(256)) * 4]
        seeds = [_U32.pack(len(p)) + bytes(codec.compress(p)) for p in plain]
        # Bombs: a lot of zeros declared as little (and as exactly MAX_SIZE + 1).
        zeros = bytes(codec.compress(bytes(4 * MAX_SIZE)))
        seeds += [_U32.pack(100) + zeros, _U32.pack(MAX_SIZE + 1) + zeros]
        targets.append(
            Target(
                f"decompress:{kind.name.lower()}", _decompress_target(kind), tuple(seeds), weight=3
            )
        )
    for cls in classes:
        seeds = (
            sample(cls, rnd).encode(),
            sample(cls, rnd, full=False).encode(),
            sample(cls, rnd).encode(),
        )
        targets.append(Target(f"decode:{cls.__name__}", _decode_target(cls), seeds))
    targets.append(
        Target(
            "message_id",
            target_message_id,
            (MessageId(5, 6).serialize(), MessageId(5, 6, 1, 2, 3).serialize()),
        )
    )
    chunk_seed = (
        b"".join(_CHUNK_REC.pack(1, 3, i, 30, 10) + bytes([65 + i]) * 10 for i in range(3))
        + _CHUNK_REC.pack(2, 2, 0, 10, 5)
        + b"hello"
    )
    targets.append(Target("chunks", target_chunks, (chunk_seed,), weight=2))
    return targets


# ------------------------------------------------------------------------------------ mutation

_INTERESTING_U32 = (
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    MAX_SIZE,
    MAX_SIZE + 1,
    MAX_SIZE + 10 * 1024 + 1,
)
_INTERESTING_VARINTS = (
    b"\xff" * 9 + b"\x01",  # 2**64 - 1
    b"\xff" * 10 + b"\x01",  # too long
    b"\x80" * 10,  # never ends
    b"\xff\xff\xff\xff\x0f",  # 2**32 - 1
    b"\x80\x80\x80\x80\x10",  # 2**32
    b"\x80",
)


def mutate(data: bytes, rnd: random.Random, corpus: list[bytes]) -> bytes:
    """One to eight random edits, biased toward sizes, varints and cut points."""
    buf = bytearray(data)
    for _ in range(min(8, 1 + int(rnd.expovariate(0.8)))):
        op = rnd.randrange(12)
        n = len(buf)
        i = rnd.randrange(n + 1)
        if op == 0 and n:  # flip a bit
            buf[min(i, n - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1 and n:  # set a byte
            buf[min(i, n - 1)] = rnd.choice((0, 1, 0x7F, 0x80, 0xFF, rnd.randrange(256)))
        elif op == 2 and n:  # delete a range
            del buf[i : i + rnd.randint(1, 16)]
        elif op == 3:  # insert random bytes
            buf[i:i] = rnd.randbytes(rnd.randint(1, 16))
        elif op == 4:  # overwrite with a 4-byte size (big endian, as the frame sizes)
            buf[i : i + 4] = _U32.pack(rnd.choice(_INTERESTING_U32))
        elif op == 5:  # insert a pathological varint
            buf[i:i] = rnd.choice(_INTERESTING_VARINTS)
        elif op == 6:  # truncate
            del buf[i:]
        elif op == 7 and n:  # duplicate a range
            j = rnd.randrange(n)
            buf[i:i] = buf[j : j + rnd.randint(1, 64)]
        elif op == 8 and corpus:  # splice with another input
            other = rnd.choice(corpus)
            j = rnd.randrange(len(other) + 1)
            buf[i:] = other[j:]
        elif op == 9 and n:  # add or subtract a small number to a byte
            k = min(i, n - 1)
            buf[k] = (buf[k] + rnd.choice((-2, -1, 1, 2))) & 0xFF
        elif op == 10 and n >= 2:  # swap two bytes
            a, b = rnd.randrange(n), rnd.randrange(n)
            buf[a], buf[b] = buf[b], buf[a]
        elif op == 11:  # a length-delimited field claiming a huge length
            buf[i:i] = bytes((rnd.choice((0x0A, 0x12, 0x1A, 0x22, 0x2A)),)) + rnd.choice(
                _INTERESTING_VARINTS
            )
    if len(buf) > MAX_INPUT:
        del buf[MAX_INPUT:]
    return bytes(buf)


# ------------------------------------------------------------------------------------ runner


@dataclass
class TargetStats:
    inputs: int = 0
    protocol_errors: int = 0
    accepted: int = 0
    slowest_s: float = 0.0
    failures: int = 0


@dataclass
class RunStats:
    seed: int
    inputs: int = 0
    seconds: float = 0.0
    max_rss_mb: float = 0.0
    start_rss_mb: float = 0.0
    targets: dict[str, TargetStats] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "inputs": self.inputs,
            "seconds": round(self.seconds, 1),
            "start_rss_mb": round(self.start_rss_mb, 1),
            "max_rss_mb": round(self.max_rss_mb, 1),
            "ok": self.ok,
            "targets": {k: dataclasses.asdict(v) for k, v in self.targets.items()},
            "failures": self.failures,
        }


def rss_mb() -> float:
    """Current resident set size (MiB), from /proc, else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / (1 << 20)
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_one(target: Target, data: bytes) -> tuple[str, float, BaseException | None]:
    """Run one input: ("protocol_error" | "accepted" | "failure", CPU seconds, failure).

    CPU time of this thread, not wall time: on a busy machine (and under `nice`) a process
    can wait seconds for a core, which says nothing about the input.
    """
    start = time.thread_time()
    try:
        target.run(data)
        outcome, err = "accepted", None
    except ProtocolError:
        outcome, err = "protocol_error", None
    except Exception as exc:  # the contract is broken: anything else is a finding
        outcome, err = "failure", exc
    return outcome, time.thread_time() - start, err


class Fuzzer:
    """Runs targets round-robin (by weight): seeds first, then mutants of the growing corpus."""

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        seed: int = 1,
        crash_dir: Path | None = None,
        max_rss_growth_mb: float = 300.0,
        progress: Callable[[str], None] | None = None,
        max_failures: int = 50,
    ) -> None:
        self.targets = list(targets)
        self.rnd = random.Random(seed)
        self.schedule = [t for t in self.targets for _ in range(t.weight)]
        self.corpora = {t.name: list(t.seeds) for t in self.targets}
        # The seeds run first and must pass: they are valid inputs.
        self.pending_seeds = [(t, s) for t in self.targets for s in t.seeds]
        self.crash_dir = crash_dir
        self.max_rss_growth_mb = max_rss_growth_mb
        self.progress = progress
        self.max_failures = max_failures
        self.stats = RunStats(seed=seed, start_rss_mb=rss_mb())
        self.stats.max_rss_mb = self.stats.start_rss_mb
        self.stats.targets = {t.name: TargetStats() for t in self.targets}
        self._turn = 0

    def next_input(self) -> tuple[Target, bytes]:
        if self.pending_seeds:
            return self.pending_seeds.pop()
        target = self.schedule[self._turn % len(self.schedule)]
        self._turn += 1
        corpus = self.corpora[target.name]
        return target, mutate(self.rnd.choice(corpus), self.rnd, corpus)

    def run(self, inputs: int) -> RunStats:
        """Run until `inputs` inputs (seeds included), too many failures, or RSS runs away."""
        stats = self.stats
        began = time.monotonic()
        next_report = began + 30
        quiet = logging.getLogger("pulsarload")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # the chunk assembler logs every discard
        try:
            while stats.inputs < inputs and len(stats.failures) < self.max_failures:
                target, data = self.next_input()
                self.one(target, data)
                if stats.inputs % 2000:
                    continue
                rss = rss_mb()
                stats.max_rss_mb = max(stats.max_rss_mb, rss)
                if rss - stats.start_rss_mb > self.max_rss_growth_mb:
                    growth = MemoryError(f"RSS grew from {stats.start_rss_mb:.0f} to {rss:.0f} MiB")
                    self.record_failure(target, data, growth)
                    break
                now = time.monotonic()
                if self.progress is not None and now >= next_report:
                    next_report = now + 30
                    self.progress(
                        f"{stats.inputs:,} inputs in {now - began:.0f} s, RSS {rss:.0f} MiB, "
                        f"{len(stats.failures)} failures"
                    )
        finally:
            quiet.setLevel(level)
        stats.seconds = time.monotonic() - began
        stats.max_rss_mb = max(stats.max_rss_mb, rss_mb())
        return stats

    def one(self, target: Target, data: bytes) -> None:
        outcome, seconds, err = check_one(target, data)
        ts = self.stats.targets[target.name]
        ts.inputs += 1
        self.stats.inputs += 1
        ts.slowest_s = max(ts.slowest_s, seconds)
        if outcome == "accepted":
            ts.accepted += 1
            corpus = self.corpora[target.name]
            # Keep some accepted mutants: they reach deeper than the seeds.
            if len(corpus) < 256 and self.rnd.random() < 0.05:
                corpus.append(data)
        elif outcome == "protocol_error":
            ts.protocol_errors += 1
        if seconds > SLOW_INPUT_S and err is None:
            err = TimeoutError(f"input took {seconds:.2f} s (limit {SLOW_INPUT_S} s)")
        if err is not None:
            ts.failures += 1
            self.record_failure(target, data, err)

    def record_failure(self, target: Target, data: bytes, err: BaseException) -> None:
        stats = self.stats
        if len(stats.failures) >= self.max_failures:
            return
        stats.failures.append(
            {
                "target": target.name,
                "error": f"{type(err).__name__}: {err}",
                "input_hex": data[:4096].hex(),
                "input_len": len(data),
                "traceback": "".join(traceback.format_exception(err))[-2000:],
            }
        )
        if self.crash_dir is not None:
            self.crash_dir.mkdir(parents=True, exist_ok=True)
            name = f"{target.name.replace(':', '_')}-{len(stats.failures):03d}.bin"
            (self.crash_dir / name).write_bytes(data)


def summary_table(stats: RunStats) -> str:
    lines = [
        "| target | inputs | ProtocolError | accepted | slowest input (CPU ms) | failures |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in stats.targets.items():
        lines.append(
            f"| {name} | {t.inputs:,} | {t.protocol_errors:,} | {t.accepted:,} | "
            f"{t.slowest_s * 1000:.1f} | {t.failures} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs to run in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", action="append", default=[], help="target name prefix")
    parser.add_argument("--report", type=Path, help="write the results as JSON here")
    parser.add_argument("--crash-dir", type=Path, help="save offending inputs here")
    parser.add_argument(
        "--replay", nargs=2, metavar=("TARGET", "FILE"), help="run one saved input and explain"
    )
    args = parser.parse_args(argv)
    targets = build_targets(args.seed)
    if args.replay:
        name, path = args.replay
        (target,) = [t for t in targets if t.name == name]
        outcome, seconds, err = check_one(target, Path(path).read_bytes())
        print(f"{name}: {outcome} in {seconds * 1000:.2f} ms CPU")
        if err is not None:
            traceback.print_exception(err)
        return 0 if err is None else 1
    if args.only:
        targets = [t for t in targets if any(t.name.startswith(p) for p in args.only)]
    if not targets:
        parser.error("no target matches --only")
    print(
        f"fuzzing {len(targets)} targets with {args.inputs:,} inputs (seed {args.seed}, "
        f"Python {sys.version.split()[0]}, GIL {'on' if sys._is_gil_enabled() else 'off'})",
        flush=True,
    )
    fuzzer = Fuzzer(
        targets, seed=args.seed, crash_dir=args.crash_dir, progress=lambda s: print(s, flush=True)
    )
    stats = fuzzer.run(args.inputs)
    print(summary_table(stats))
    print(
        f"{stats.inputs:,} inputs in {stats.seconds:.0f} s "
        f"({stats.inputs / max(stats.seconds, 1e-9):,.0f}/s); RSS {stats.start_rss_mb:.0f} -> "
        f"max {stats.max_rss_mb:.0f} MiB; {len(stats.failures)} contract failures"
    )
    for failure in stats.failures[:10]:
        print(f"FAIL {failure['target']}: {failure['error']} (input {failure['input_len']} bytes)")
    if args.report:
        args.report.write_text(json.dumps(stats.to_dict(), indent=2) + "\n")
    return 0 if stats.ok else 1


if __name__ == "__main__":
    sys.exit(main())

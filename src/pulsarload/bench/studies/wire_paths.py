"""Throughput of the wire fast paths: ``pulsarload bench wire-paths``.

Prints messages per second, single-threaded, for building SEND frames (batch of 1000, 1 KiB and
100 B payloads) and for parsing them back on the consumer side. Times are CPU time of this
process (best of several rounds), so other load on the machine disturbs them less.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from pulsarload.wire.batch import MessageShape, SendFrameBuilder, encode_batch_payload, parse_batch
from pulsarload.wire.commands import CommandMessage, CommandSendReceipt
from pulsarload.wire.compression import decompress
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.frames import FrameParser, encode_command, encode_payload_command
from pulsarload.wire.messages import MessageIdData

BATCH = 1000


def rate(fn: Callable[[], object], messages_per_call: int, budget: float = 0.3) -> float:
    """Messages per CPU second: the best of 5 rounds of ~budget/5 seconds each."""
    fn()
    start = time.process_time()
    fn()
    once = max(time.process_time() - start, 1e-6)
    calls = max(1, int(budget / 5 / once))
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return messages_per_call / max(best, 1e-9)


def produce(size: int) -> dict[str, float]:
    payloads = [os.urandom(size) for _ in range(BATCH)]
    mixed = [os.urandom(size + (i % 7)) for i in range(BATCH)]
    plain = SendFrameBuilder(1, "bench")
    props = SendFrameBuilder(1, "bench", shape=MessageShape(properties={"run": "42"}))
    lz4 = SendFrameBuilder(1, "bench", compression=CompressionType.LZ4)
    seq = iter(range(10**12))
    general_shape = MessageShape()
    return {
        "batch, same size (template)": rate(lambda: plain.batch(payloads, next(seq), 1), BATCH),
        "batch_parts, same size (no final join)": rate(
            lambda: plain.batch_parts(payloads, next(seq), 1), BATCH
        ),
        "batch, mixed sizes": rate(lambda: plain.batch(mixed, next(seq), 1), BATCH),
        "batch, fixed properties": rate(lambda: props.batch(payloads, next(seq), 1), BATCH),
        "batch, lz4": rate(lambda: lz4.batch(payloads, next(seq), 1), BATCH),
        "repeated payload": rate(lambda: plain.repeated(payloads[0], BATCH, next(seq), 1), BATCH),
        "general path (metadata per message)": rate(
            lambda: encode_batch_payload((general_shape.metadata(size), p) for p in payloads),
            BATCH,
        ),
        "single, unbatched frames": rate(lambda: plain.single(payloads[0], next(seq), 1), 1),
    }


def consume(size: int) -> dict[str, float]:
    payloads = [os.urandom(size) for _ in range(BATCH)]
    mixed = [os.urandom(size + (i % 7)) for i in range(BATCH)]

    def as_message_frames(frame: bytes) -> bytes:
        [sent] = FrameParser().feed(frame)
        cmd = CommandMessage(consumer_id=1, message_id=MessageIdData(ledgerId=1, entryId=2))
        return encode_payload_command(cmd, sent.metadata, sent.payload) * 10  # type: ignore[arg-type]

    uniform = as_message_frames(SendFrameBuilder(1, "b").batch(payloads, 0, 1))
    varied = as_message_frames(SendFrameBuilder(1, "b").batch(mixed, 0, 1))
    packed = as_message_frames(
        SendFrameBuilder(1, "b", compression=CompressionType.LZ4).batch(payloads, 0, 1)
    )

    def read(stream: bytes) -> None:
        parser = FrameParser()
        for i in range(0, len(stream), 256 * 1024):
            for f in parser.feed(stream[i : i + 256 * 1024]):
                md = f.metadata
                raw = f.payload
                if md.compression:  # type: ignore[union-attr]
                    raw = decompress(md.compression, raw, md.uncompressed_size)  # type: ignore[arg-type, union-attr]
                parse_batch(raw, md.num_messages_in_batch)  # type: ignore[arg-type, union-attr]

    return {
        "frames + parse_batch, uniform batch": rate(lambda: read(uniform), 10 * BATCH),
        "frames + parse_batch, mixed sizes": rate(lambda: read(varied), 10 * BATCH),
        "frames + lz4 + parse_batch, uniform": rate(lambda: read(packed), 10 * BATCH),
    }


def main() -> None:
    import argparse

    argparse.ArgumentParser(
        prog=sys.argv[0], description="Messages per CPU second of the wire fast paths."
    ).parse_args()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]}, GIL {'on' if gil else 'off'}; msg/s (CPU time)")
    for size in (1024, 100):
        print(f"\npayload {size} B, batch {BATCH}")
        for name, value in (produce(size) | consume(size)).items():
            print(f"  {name:42s} {value:>14,.0f}")
    receipts = (
        encode_command(
            CommandSendReceipt(
                producer_id=1, sequence_id=5, message_id=MessageIdData(ledgerId=1, entryId=2)
            )
        )
        * 1000
    )
    print(
        f"\n  {'SEND_RECEIPT frames parsed /s':42s} {rate(lambda: FrameParser().feed(receipts), 1000):>14,.0f}"
    )


if __name__ == "__main__":
    main()

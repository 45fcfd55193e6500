"""What the intended-send-time stamp costs per message: bytes on the wire and CPU.

Run: .venv/bin/pulsarload bench stamp-cost [--messages 100] [--size 100]

Bytes: the SEND frame of one batch entry with and without the stamp, and of one unbatched
message. CPU (best of 5 rounds, per message): building the batch frame (producer), working out
the end-to-end runs of a received entry (consumer), and the unbatched path (a property dict and
its encoding per message). Prints one line per figure and a JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import time

from pulsarload.client.message import BatchInfo, Message
from pulsarload.engines.native_consumer import batch_figures
from pulsarload.engines.stamp import STAMP_KEY, encode_stamp
from pulsarload.wire.batch import SendFrameBuilder
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata, key_values


def best_ns(fn, rounds: int = 5, inner: int = 2000) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time_ns()
        for _ in range(inner):
            fn()
        best = min(best, (time.thread_time_ns() - t0) / inner)
    return best


def received_entry(n: int, props: tuple) -> list[Message]:
    md = MessageMetadata(producer_name="p", sequence_id=0, publish_time=1, properties=props)
    smd = SingleMessageMetadata(payload_size=1)
    info = BatchInfo(n)
    return [Message(b"x", md, smd, MessageId(1, 1, -1, i, n), 0, "t", None, info) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100, help="messages per batch entry")
    ap.add_argument("--size", type=int, default=100, help="payload bytes")
    a = ap.parse_args()
    n, payloads = a.messages, [b"x" * a.size] * a.messages
    builder = SendFrameBuilder(1, "producer-1")
    now_us = time.time_ns() // 1000
    plain = builder.batch(payloads, 1, now_us // 1000)
    one = builder.batch(
        payloads, 1, now_us // 1000, entry_properties={STAMP_KEY: encode_stamp(now_us)}
    )
    spaced = builder.batch(
        payloads, 1, now_us // 1000, entry_properties={STAMP_KEY: encode_stamp(now_us, 333_333)}
    )
    single_md = MessageMetadata(producer_name="producer-1", sequence_id=1, publish_time=1).encode()
    single_stamped = MessageMetadata(
        producer_name="producer-1",
        sequence_id=1,
        publish_time=1,
        properties=key_values({STAMP_KEY: encode_stamp(now_us)}),
    ).encode()
    out = {
        "entry_bytes_plain": len(plain),
        "entry_bytes_stamp": len(one) - len(plain),
        "entry_bytes_stamp_spaced": len(spaced) - len(plain),
        "unbatched_bytes_stamp": len(single_stamped) - len(single_md),
    }

    def produce_plain() -> None:
        builder.batch(payloads, 1, 5)

    def produce_stamped() -> None:
        builder.batch(payloads, 1, 5, entry_properties={STAMP_KEY: encode_stamp(now_us, 333_333)})

    plain_rx = received_entry(n, ())
    stamped_rx = received_entry(n, key_values({STAMP_KEY: encode_stamp(now_us, 333_333)}))
    burst_rx = received_entry(n, key_values({STAMP_KEY: encode_stamp(now_us)}))

    def unbatched_plain() -> None:
        MessageMetadata(producer_name="producer-1", sequence_id=1, publish_time=1).encode()

    def unbatched_stamped() -> None:
        props = {STAMP_KEY: encode_stamp(now_us)}
        MessageMetadata(
            producer_name="producer-1", sequence_id=1, publish_time=1, properties=key_values(props)
        ).encode()

    out["producer_batch_ns_per_msg"] = (best_ns(produce_stamped) - best_ns(produce_plain)) / n
    out["consumer_burst_ns_per_msg"] = (
        best_ns(lambda: batch_figures(burst_rx), inner=500)
        - best_ns(lambda: batch_figures(plain_rx), inner=500)
    ) / n
    out["consumer_spaced_ns_per_msg"] = (
        best_ns(lambda: batch_figures(stamped_rx), inner=500)
        - best_ns(lambda: batch_figures(plain_rx), inner=500)
    ) / n
    out["unbatched_ns_per_msg"] = best_ns(unbatched_stamped) - best_ns(unbatched_plain)
    print(f"batch entry of {n} x {a.size} B: {out['entry_bytes_plain']} bytes without a stamp")
    print(
        f"stamp bytes: {out['entry_bytes_stamp']} per entry (one time), "
        f"{out['entry_bytes_stamp_spaced']} (time + step) = "
        f"{out['entry_bytes_stamp_spaced'] / n:.2f} per message; "
        f"unbatched: {out['unbatched_bytes_stamp']} per message"
    )
    print(
        f"CPU per message: producer batch {out['producer_batch_ns_per_msg']:.0f} ns, consumer "
        f"{out['consumer_burst_ns_per_msg']:.0f} ns (one time per entry) / "
        f"{out['consumer_spaced_ns_per_msg']:.0f} ns (a time per message), "
        f"unbatched producer {out['unbatched_ns_per_msg']:.0f} ns"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()

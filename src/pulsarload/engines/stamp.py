"""The intended-send-time stamp a pulsarload producer puts on what it sends.

End-to-end latency runs from the time the rate schedule meant a message to be sent, not from
the publish time the client writes when it builds a batch (milliseconds, and after any lag of
the sender). So the producer carries that time in the message, as one string property:

    plt = "<T>"           the message was intended at T microseconds since the Unix epoch
    plt = "<T>+<S>"       message k of this entry (batch index k) was intended at T µs + k·S ns

The second form is for a batch entry: the schedule spaces the messages of one entry evenly, so
one property on the entry's own metadata gives every message's time exactly (to the
microsecond), and costs ~25-32 bytes per entry instead of per message. Unbatched messages (and
messages sent through the official client) carry the first form in their own properties.

Property values are decimal ASCII so that any client (and `pulsar-client consume`) can read
them. The time is this host's wall clock: across hosts, end-to-end latency includes the offset
between the producer's and the consumer's clocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from pulsarload.wire.messages import KeyValue

__all__ = ["STAMP_KEY", "encode_stamp", "find_stamp", "parse_stamp"]

STAMP_KEY = "plt"


def encode_stamp(first_us: int, step_ns: int = 0) -> str:
    """The property value for a first intended time (µs) and a per-message step (ns)."""
    return f"{first_us}+{step_ns}" if step_ns else str(first_us)


def parse_stamp(value: str) -> tuple[int, int] | None:
    """(first µs, step ns) from a property value, or None when it is not a stamp."""
    first, plus, step = value.partition("+")
    try:
        return int(first), (int(step) if plus else 0)
    except ValueError:
        return None


def find_stamp(properties: Iterable[KeyValue]) -> tuple[int, int] | None:
    """The stamp among decoded properties, or None when there is none (a foreign producer)."""
    for kv in properties:
        if kv.key == STAMP_KEY:
            return parse_stamp(kv.value)
    return None

"""The native engine cuts a worker's payloads into batches whose whole SEND frame fits the
batch byte limit: the 128 KiB default must stay a buffer of at most 128 KiB (mimalloc's medium
block on 3.13t), not only its payloads."""

from __future__ import annotations

from typing import Any

import pytest

from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.engines.native import NativeProducer
from pulsarload.engines.stamp import STAMP_KEY, encode_stamp
from pulsarload.wire.batch import MessageShape, SendFrameBuilder


class _Recorder:
    """Stands in for the client's producer: keeps each batch handed to it."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[bytes], Any]] = []
        self.entry_properties: list[Any] = []

    def send_batch(
        self, payloads: Any, callback: Any, *, shape: Any = None, entry_properties: Any = None
    ) -> None:
        self.batches.append((list(payloads), shape))
        self.entry_properties.append(entry_properties)


def _producer(**overrides: Any) -> tuple[NativeProducer, _Recorder]:
    settings = resolve_settings(ProduceSettings, {"topic": "t", **overrides}, environ={})
    recorder = _Recorder()
    return NativeProducer(client=None, producer=recorder, settings=settings), recorder  # type: ignore[arg-type]


def _frame_size(payloads: list[bytes], shape: MessageShape | None) -> int:
    builder = SendFrameBuilder(7, "standalone-0-123456", shape=shape)
    return len(builder.batch(payloads, 1_000_000, 1_700_000_000_000))


@pytest.mark.parametrize("size", [100, 1000, 1024, 4000, 20_000])
@pytest.mark.parametrize("props", [False, True])
def test_every_frame_fits_the_byte_limit(size: int, props: bool) -> None:
    limit = 128 * 1024
    producer, recorder = _producer(batch_max_bytes=limit, batch_max_messages=1000)
    payloads = [bytes([i % 251]) * size for i in range(1000)]
    properties = {"origin": "pulsarload", "run": "x" * 40} if props else None
    producer.send_batch(payloads, lambda n, err: None, key="k" if props else None,
                        properties=properties)  # fmt: skip
    sent = [p for batch, _ in recorder.batches for p in batch]
    assert sent == payloads  # nothing lost, nothing reordered
    for batch, shape in recorder.batches:
        assert len(batch) <= 1000
        assert _frame_size(batch, shape) <= limit
    # ... and the batches are not needlessly small: all but the last are within one message
    # (and the reserve) of the limit.
    for batch, shape in recorder.batches[:-1]:
        assert _frame_size(batch, shape) > limit - size - 1024


def test_the_message_limit_still_applies() -> None:
    producer, recorder = _producer(batch_max_bytes=5 * 1024 * 1024, batch_max_messages=100)
    producer.send_batch([b"x" * 10] * 250, lambda n, err: None)
    assert [len(b) for b, _ in recorder.batches] == [100, 100, 50]


def test_a_message_bigger_than_the_limit_goes_alone() -> None:
    producer, recorder = _producer(batch_max_bytes=4096)
    producer.send_batch([b"a" * 10, b"b" * 5000, b"c" * 10], lambda n, err: None)
    assert [[len(p) for p in b] for b, _ in recorder.batches] == [[10], [5000], [10]]


def test_each_piece_of_a_split_batch_carries_the_intended_time_of_its_first_message() -> None:
    producer, recorder = _producer(batch_max_bytes=5 * 1024 * 1024, batch_max_messages=100)
    start_ns = 1_700_000_000_123_456_789
    producer.send_batch(
        [b"x" * 10] * 201, lambda n, err: None, intended_ns=start_ns, interval_ns=250_000.0
    )
    stamps = [props[STAMP_KEY] for props in recorder.entry_properties]
    # Message k was intended at start + k * interval: pieces start at messages 0, 100 and 200;
    # the last piece, one message, needs no step.
    assert stamps == [
        encode_stamp(start_ns // 1000, 250_000),
        encode_stamp((start_ns + 25_000_000) // 1000, 250_000),
        encode_stamp((start_ns + 50_000_000) // 1000),
    ]
    producer.send_batch([b"y"], lambda n, err: None)  # no intended time: no stamp
    assert recorder.entry_properties[-1] is None


def test_a_stamped_frame_still_fits_the_byte_limit() -> None:
    limit = 128 * 1024
    producer, recorder = _producer(batch_max_bytes=limit, batch_max_messages=1000)
    producer.send_batch(
        [b"z" * 1024] * 300, lambda n, err: None, intended_ns=10**18, interval_ns=1e9
    )
    builder = SendFrameBuilder(7, "standalone-0-123456")
    for (batch, _), props in zip(recorder.batches, recorder.entry_properties, strict=True):
        frame = builder.batch(batch, 1_000_000, 1_700_000_000_000, entry_properties=props)
        assert len(frame) <= limit

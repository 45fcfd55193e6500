"""Messages inspectable: consumer workers sample received messages (at most one per thread per
half second, never a copy of each) and the samples say what a user looks for."""

from __future__ import annotations

import asyncio
import time

from test_consumer_worker_batch import FakeConsumer, rm, worker

from pulsarload.engines.base import ReceivedBatch, ReceivedMessage
from pulsarload.load.peek import PEEK_EVERY_NS, MessagePeek, MessageSample, newest, preview


def full(i: int, data: bytes) -> ReceivedMessage:
    return ReceivedMessage(
        data=data, topic="persistent://public/default/t", message_id=f"9:{i}:-1",
        publish_time_ms=1_700_000_000_000 + i, event_time_ms=1_700_000_000_000, redelivery_count=i % 2,
        key=f"k{i}", properties={"b": "2", "a": "1"},
    )  # fmt: skip


def test_preview_is_text_when_printable_else_hex() -> None:
    assert preview(b"hello\nworld") == ("text", "hello⏎world")
    assert preview(b"\x00\x01\xff") == ("hex", "00 01 ff")
    kind, text = preview(b"a" * 100, limit=10)
    assert (kind, text) == ("text", "a" * 10 + "…")
    assert preview("é".encode() * 3) == ("text", "ééé")
    assert preview(b"\x1b[31m")[0] == "hex"  # an escape sequence is not shown raw


def test_a_sample_holds_what_a_user_inspects() -> None:
    s = MessageSample.of(full(3, b"payload"), "consumer-0", 5)
    assert (s.message_id, s.key, s.properties) == ("9:3:-1", "k3", (("a", "1"), ("b", "2")))
    assert (s.publish_time_ms, s.event_time_ms, s.redelivery_count, s.size) == (
        1_700_000_000_003, 1_700_000_000_000, 1, 7,
    )  # fmt: skip
    assert s.line() == (
        "9:3:-1 key=k3 props=a=1,b=2 publish=1700000000003 event=1700000000000 "
        "redeliveries=1 size=7 text: payload"
    )
    assert s.to_dict()["properties"] == {"a": "1", "b": "2"}


def test_at_most_one_sample_per_interval_and_the_newest_kept() -> None:
    peek = MessagePeek("consumer-0", keep=3)
    now = 10**12
    taken = 0
    for i in range(1000):  # 1000 messages over 2 s of stepped time
        t = now + i * 2_000_000
        if t >= peek.next_ns:
            peek.add(full(i, b"x"), t)
            taken += 1
    assert taken == 2_000_000_000 // PEEK_EVERY_NS
    assert len(peek.samples) == 3  # only the newest kept
    other = MessagePeek("consumer-1")
    other.add(full(5000, b"y"), now + 1)
    merged = newest([peek, other], 2)
    assert [s.worker for s in merged] == ["consumer-0", "consumer-0"]
    assert [s.received_ns for s in newest([peek, other], 10)] == sorted(
        s.received_ns for s in [*peek.samples, *other.samples]
    )


def test_the_worker_samples_a_batch_once_not_every_message() -> None:
    fake = FakeConsumer([])
    w, _slot = worker(fake)
    now_ms = time.time_ns() // 1_000_000
    for _ in range(5):  # five batches of 100 within a few ms: one sample
        w._handle_many(fake, ReceivedBatch([rm(b"m" * 10, now_ms) for _ in range(100)]))  # type: ignore[arg-type]
    assert len(w.peek.samples) == 1
    w.peek.next_ns = 0  # the interval is over
    w._handle(rm(b"single", now_ms))
    assert len(w.peek.samples) == 2 and w.peek.samples[-1].preview == "single"


def test_the_consumer_dashboard_shows_and_hides_the_messages_panel() -> None:
    from pulsarload.ui.fixed import FIXED_SAMPLES, FixedController, fixed_app
    from pulsarload.ui.widgets import MessagesTable

    async def main() -> None:
        app = fixed_app("consumer", FixedController("consumer"))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            table = app.dashboard.query_one(MessagesTable)
            assert not table.display or not table.region.width
            await pilot.press("m")
            await pilot.pause()
            assert table.region.width > 0
            _head, lines = table.build_table(table.region.width - 2)
            rows = ["".join(seg.text for seg in line) for line in lines]
            newest_first = list(reversed(FIXED_SAMPLES))
            assert len(rows) == len(FIXED_SAMPLES)
            assert rows[0].startswith(newest_first[0].message_id)
            assert any("key-5" in r and "hex: 00 01 02" in r for r in rows), rows
            assert any("origin=fixed" in r and 'text: order 3: {"sku"' in r for r in rows)
            await pilot.press("m")
            await pilot.pause()
            assert not table.region.width

    asyncio.run(main())

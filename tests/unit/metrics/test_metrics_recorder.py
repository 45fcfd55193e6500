"""Recorders, slots and the lock-free swap: no count is ever lost."""

from __future__ import annotations

import random
import threading
import time

from pulsarload.metrics.recorder import (
    COUNTER_FIELDS,
    LATENCY_FIELDS,
    WRITER_ENTRY_POINTS,
    Recorder,
    RecorderSlot,
    is_quiescent,
)
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Counters, Snapshot


class NullResources:
    """Resource monitor stand-in: the swap tests tick every millisecond."""

    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats()


def test_recording_methods_update_counters_and_histograms() -> None:
    r = Recorder()
    r.record_send_batch(10, 1000)
    r.record_send_batch(1, 100)
    r.record_send_delay(250)
    r.record_ack(1200)
    r.record_ack_batch(10, 1500)
    r.record_failure("timeout", 2)
    r.record_failure("timeout")
    r.record_failure("disconnected")
    r.record_receive(100, 3000)
    r.record_receive_batch(4, 400)
    r.record_e2e(3100, 4)
    r.record_consumer_ack(40)
    r.record_nack()
    r.record_redelivered(3)
    r.record_duplicate()
    r.record_gap(5)
    r.record_out_of_order()
    assert (r.sent, r.bytes_sent, r.batches, r.acked) == (11, 1100, 2, 11)
    assert r.failed == {"timeout": 3, "disconnected": 1}
    assert r.failed_total == 4
    assert (r.received, r.bytes_received, r.consumer_acked) == (5, 500, 1)
    assert (r.nacked, r.redelivered, r.duplicates, r.gaps, r.out_of_order) == (1, 3, 1, 5, 1)
    assert r.publish_latency.total_count == 11
    assert r.publish_latency.count_at_value(1500) == 10
    assert r.send_delay.total_count == 1
    assert r.e2e_latency.total_count == 5
    assert r.processing_latency.total_count == 1
    assert r.batch_size.count_at_value(10) == 1
    assert not r.is_empty()


def test_add_and_reset() -> None:
    a, b = Recorder(), Recorder()
    a.record_ack(10)
    a.record_failure("x")
    b.record_ack(20)
    b.record_failure("x", 2)
    b.record_failure("y")
    b.record_send_batch(3, 30)
    a.add(b)
    assert a.acked == 2 and a.failed == {"x": 3, "y": 1} and a.sent == 3
    assert a.publish_latency.total_count == 2
    a.reset()
    assert a.is_empty()
    assert all(getattr(a, n) == 0 for n in COUNTER_FIELDS)


def test_quiescence_sees_a_held_reference() -> None:
    holder = [Recorder(), Recorder()]
    assert is_quiescent(holder) == [True, True]
    held = holder[1]
    assert is_quiescent(holder) == [True, False]
    del held
    assert is_quiescent(holder) == [True, True]


def test_quiescence_sees_a_writer_inside_an_entry_point_closure() -> None:
    holder = [Recorder()]
    for name in WRITER_ENTRY_POINTS:
        inside = getattr(holder[0], name)  # what a worker's frame holds during the call
        assert is_quiescent(holder) == [False], name
        del inside
        assert is_quiescent(holder) == [True], name


def test_quiescence_survives_reset_and_reuse() -> None:
    holder = [Recorder()]
    holder[0].record_ack(5)
    holder[0].add(Recorder())
    holder[0].reset()
    assert is_quiescent(holder) == [True]


def test_a_writer_holding_the_old_recorder_delays_but_never_loses() -> None:
    sampler = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    slot = sampler.new_slot("w0")
    slot.active.record_ack(100)
    rec = slot.active.record_ack  # a writer that entered record_ack just before the swap...
    s1 = sampler.tick()
    assert s1.counters.acked == 0  # ...keeps it pending: not harvested yet
    assert sampler.late_harvests == 1
    rec(200)  # and writes after the swap
    del rec
    s2 = sampler.tick()
    assert s2.counters.acked == 2
    assert s2.total.acked == 2
    assert s2.histograms["publish_latency"].total_count == 2


def test_slot_binds_thread_identity() -> None:
    slot = RecorderSlot("w1", "producer")
    seen: dict[str, object] = {}

    def run() -> None:
        slot.bind_current_thread()
        seen["native"] = threading.get_native_id()

    t = threading.Thread(target=run, name="worker-1")
    t.start()
    t.join()
    assert slot.native_id == seen["native"]
    assert slot.thread_name == "worker-1"


def test_eight_threads_record_concurrently_while_sampler_swaps_every_ms() -> None:
    threads_n = 8
    min_ticks = 20  # workers keep recording until the sampler has swapped this many times
    sampler = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    slots = [sampler.new_slot(f"w{i}") for i in range(threads_n)]
    snaps: list[Snapshot] = []
    sampler.subscribe(snaps.append)
    expected: list[dict[str, int]] = [{} for _ in range(threads_n)]
    start = threading.Barrier(threads_n + 1)
    enough = threading.Event()
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        slot = slots[i]
        slot.bind_current_thread()
        rnd = random.Random(i)
        exp = {"sent": 0, "acked": 0, "bytes_sent": 0, "failed": 0, "received": 0}
        start.wait()
        k = 0
        while not enough.is_set() or exp["received"] < 1000:
            k += 1
            if k % 16 == 0:
                time.sleep(0.001)  # leave the sampler some CPU: 8 writers may share 2 cores
            n = rnd.randint(1, 5)
            slot.active.record_send_batch(n, n * 100)
            exp["sent"] += n
            exp["bytes_sent"] += n * 100
            slot.active.record_ack_batch(n, rnd.randint(1, 100_000))
            exp["acked"] += n
            if rnd.random() < 0.05:
                slot.active.record_failure("timeout")
                exp["failed"] += 1
            slot.active.record_receive(10, rnd.randint(1, 100_000))
            exp["received"] += 1
        expected[i] = exp
        slot.close()

    def sampling() -> None:
        start.wait()
        try:
            ticks = 0
            while any(not s.closed for s in slots):
                sampler.tick()
                ticks += 1
                if ticks >= min_ticks:
                    enough.set()
                time.sleep(0.001)  # ticks between the writers' records, as the sampler paces them
        except BaseException as e:  # surfaced below: a harvest racing a writer would land here
            errors.append(e)
            enough.set()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    st = threading.Thread(target=sampling)
    for t in (*ts, st):
        t.start()
    for t in ts:
        t.join()
    st.join()
    assert not errors, errors
    final = sampler.flush()

    want = {k: sum(e[k] for e in expected) for k in expected[0]}
    got = Counters()
    e2e = pub = 0
    for s in snaps:
        got = got + s.counters
        e2e += s.histograms["e2e_latency"].total_count
        pub += s.histograms["publish_latency"].total_count
    assert len(snaps) > min_ticks
    assert got.sent == want["sent"]
    assert got.acked == want["acked"]
    assert got.bytes_sent == want["bytes_sent"]
    assert got.failed == want["failed"]
    assert got.received == want["received"]
    assert pub == want["acked"]
    assert e2e == want["received"]
    # Cumulative totals agree with the sum of intervals, and closed slots are gone.
    assert final.total == got
    assert final.total_histograms["publish_latency"].total_count == want["acked"]
    assert sampler.slots() == []
    assert not sampler._pending


def test_histogram_kinds_are_the_documented_ones() -> None:
    assert LATENCY_FIELDS == (
        "publish_latency",
        "send_delay",
        "e2e_latency",
        "processing_latency",
        "publish_latency_from_send",
    )


def test_discarded_recorders_are_freed_without_the_cycle_collector() -> None:
    # The sampler drops recorders and histograms every tick; on a free-threaded build the cycle
    # collector stops every thread, so these must die by reference counting alone.
    import gc
    import weakref

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        r = Recorder()
        r.record_ack(10**12)  # exercise the slow path's closure too
        refs = [weakref.ref(r), weakref.ref(r.record_ack), weakref.ref(r.publish_latency.record)]
        del r
        assert all(ref() is None for ref in refs)
    finally:
        if was_enabled:
            gc.enable()

"""Resources: per-thread CPU of other threads, network counters, interpreter facts."""

from __future__ import annotations

import sys
import sysconfig
import threading

import pytest

from pulsarload.metrics.recorder import RecorderSlot
from pulsarload.metrics.resources import (
    ResourceMonitor,
    ResourceStats,
    gil_enabled,
    interpreter_info,
    thread_cpu_seconds,
)
from support.waiting import eventually


def spin_in_thread(work: int) -> tuple[RecorderSlot, threading.Event, threading.Thread]:
    slot = RecorderSlot("spinner")
    ready = threading.Event()
    release = threading.Event()

    def run() -> None:
        slot.bind_current_thread()
        x = 0
        for i in range(work):
            x += i * i
        ready.set()
        release.wait()

    t = threading.Thread(target=run)
    t.start()
    ready.wait()
    return slot, release, t


def test_cpu_time_of_another_thread() -> None:
    slot, release, t = spin_in_thread(300_000)
    assert slot.native_id is not None
    by_clock = thread_cpu_seconds(slot.native_id, slot.cpu_clock_id)
    by_proc = thread_cpu_seconds(slot.native_id, None)
    release.set()
    t.join()
    assert by_clock is not None and by_clock > 0
    assert by_proc is not None and by_proc >= 0
    # Once the thread is gone its clock reads as None, not garbage (join() returns as the
    # thread's Python part ends; the OS thread goes a moment later).
    eventually(
        lambda: thread_cpu_seconds(slot.native_id, slot.cpu_clock_id) is None,
        what="the ended thread's clock to read None",
    )
    assert thread_cpu_seconds(slot.native_id, None) is None


def test_monitor_reports_thread_percent_on_second_sample() -> None:
    slot, release, t = spin_in_thread(10)
    mon = ResourceMonitor()
    ids = [(slot.native_id, slot.cpu_clock_id)]
    first = mon.sample(ids)
    second = mon.sample(ids)
    release.set()
    t.join()
    assert first.thread_cpu_percent == {}
    assert str(slot.native_id) in second.thread_cpu_percent
    assert second.rss_bytes > 0
    assert second.threads >= 2
    assert second.python_threads >= 2
    assert second.process_cpu_seconds >= first.process_cpu_seconds
    assert second.gil_enabled == gil_enabled()
    assert ResourceStats.from_dict(second.to_dict()) == second


class _Counted:
    """A `NetSource` whose totals a test sets."""

    def __init__(self) -> None:
        self.totals = (0, 0, 0)

    def net_totals(self) -> tuple[int, int, int]:
        return self.totals


def test_net_rates_come_from_the_source_totals() -> None:
    source = _Counted()
    mon = ResourceMonitor(net=source)
    source.totals = (100, 10, 2)
    mon.sample()
    source.totals = (1100, 510, 1)
    stats = mon.sample()
    assert (stats.net_bytes_in, stats.net_bytes_out, stats.connections) == (1100, 510, 1)
    assert stats.net_in_per_s > 0 and stats.net_out_per_s > 0
    assert stats.net_in_per_s / stats.net_out_per_s == pytest.approx(1000 / 500)


def test_without_a_source_the_net_figures_are_zero() -> None:
    stats = ResourceMonitor().sample()
    assert (stats.net_bytes_in, stats.net_bytes_out, stats.connections) == (0, 0, 0)


def test_heap_tracing_is_off_by_default_and_optional() -> None:
    mon = ResourceMonitor()
    assert mon.sample().py_heap_bytes is None
    mon.enable_heap_tracing()
    try:
        data = [bytes(1000) for _ in range(100)]
        assert (mon.sample().py_heap_bytes or 0) > 0
        del data
    finally:
        mon.disable_heap_tracing()


def test_interpreter_info_matches_the_running_interpreter() -> None:
    info = interpreter_info()
    assert info.free_threaded_build == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if hasattr(sys, "_is_gil_enabled"):
        assert info.gil_enabled == sys._is_gil_enabled()
    assert info.cpu_count >= 1
    assert type(info).from_dict(info.to_dict()) == info


def test_metrics_imports_leave_the_gil_off() -> None:
    import importlib

    for mod in ("hdr", "recorder", "snapshot", "window", "resources", "export"):
        importlib.import_module(f"pulsarload.metrics.{mod}")
    import prometheus_client  # noqa: F401

    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        assert not sys._is_gil_enabled()

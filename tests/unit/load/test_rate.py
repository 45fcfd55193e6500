from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulsarload.load.rate import NS_PER_S, RateSchedule, split_rate


def test_messages_are_due_on_the_schedule() -> None:
    s = RateSchedule(1000, now_ns=0)  # one message per ms
    first = s.take_due(0, 100)
    assert (first.count, first.first_ns) == (1, 0)
    assert s.take_due(0, 100).count == 0
    due = s.take_due(10_000_000, 100)  # 10 ms later: messages 1..10 are owed
    assert due.count == 10
    assert due.first_ns == 1_000_000
    assert due.last_ns == 10_000_000


def test_owed_messages_keep_their_intended_time_when_the_worker_was_late() -> None:
    s = RateSchedule(100, now_ns=0)
    s.take_due(0, 1)
    due = s.take_due(NS_PER_S, 5)  # a one-second stall: 100 owed, 5 taken
    assert due.count == 5
    assert due.first_ns == 10_000_000  # still the schedule's time, not now
    assert s.take_due(NS_PER_S, 1000).count == 95


def test_unlimited_rate_gives_what_is_asked_for_at_now() -> None:
    s = RateSchedule(0, now_ns=5)
    due = s.take_due(42, 500)
    assert (due.count, due.first_ns, due.interval_ns) == (500, 42, 0.0)


def test_rate_change_does_not_forgive_or_repeat() -> None:
    s = RateSchedule(1000, now_ns=0)
    assert s.take_due(5_000_000, 1000).count == 6  # messages at 0..5 ms
    s.set_rate(500, now_ns=5_000_000)  # slower: the next message stays due at 6 ms
    due = s.take_due(6_000_000, 1000)
    assert due.first_ns == 6_000_000  # continues from the next due time
    assert due.count == 1
    assert s.take_due(7_000_000, 1000).count == 0
    assert s.take_due(8_000_000, 1000).count == 1


def test_owed_messages_stay_owed_across_a_rate_change() -> None:
    s = RateSchedule(1000, now_ns=0)
    s.take_due(0, 1)
    s.set_rate(10, now_ns=5_000_000)  # the message due at 1 ms, not taken yet, stays due then
    due = s.take_due(5_000_000, 1000)
    assert (due.count, due.first_ns) == (1, 1_000_000)


def test_a_faster_rate_does_not_wait_out_the_old_interval() -> None:
    # A ramp starts at 1 msg/s and rises every 100 ms: the next message must not stay a second
    # away (the README's ramp sent one message in its first second).
    s = RateSchedule(1, now_ns=0)
    assert s.take_due(0, 10).count == 1  # next due at 1 s
    s.set_rate(1000, now_ns=100_000_000)
    due = s.take_due(101_000_000, 1000)
    assert (due.count, due.first_ns) == (1, 101_000_000)
    assert s.take_due(200_000_000, 1000).count == 99


def test_restart_after_pause_forgets_what_was_owed() -> None:
    s = RateSchedule(1000, now_ns=0)
    s.take_due(0, 1)
    s.restart(NS_PER_S * 10)
    assert s.take_due(NS_PER_S * 10, 10_000).count == 1


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateSchedule(-1, 0)


@given(
    rate=st.integers(min_value=1, max_value=200_000),
    steps=st.lists(st.integers(min_value=0, max_value=50_000_000), min_size=1, max_size=50),
)
def test_total_due_matches_elapsed_time(rate: int, steps: list[int]) -> None:
    s = RateSchedule(rate, now_ns=0)
    now = total = 0
    for step in steps:
        now += step
        total += s.take_due(now, 10**9).count
    expected = now * rate // NS_PER_S + 1
    assert abs(total - expected) <= 1


def test_split_rate() -> None:
    assert split_rate(1000, 4) == [250.0] * 4
    assert split_rate(0, 2) == [0.0, 0.0]
    assert split_rate(100, 0) == []

"""Backoff: exponential ceiling, full jitter, the give-up deadline, reset."""

from __future__ import annotations

import pytest

from pulsarload.client.backoff import Backoff
from pulsarload.client.errors import InvalidConfiguration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ceiling_doubles_up_to_max() -> None:
    b = Backoff(0.1, 1.0, rand=lambda: 1.0, clock=Clock())
    delays = [b.next_delay() for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_full_jitter_is_within_zero_and_ceiling() -> None:
    import random

    r = random.Random(7)
    b = Backoff(0.05, 2.0, rand=r.random, clock=Clock())
    for n in range(40):
        ceiling = min(2.0, 0.05 * 2**n)
        d = b.next_delay()
        assert 0.0 <= d <= ceiling


def test_give_up_deadline_counts_from_first_failure() -> None:
    clock = Clock()
    b = Backoff(1.0, 10.0, give_up=5.0, rand=lambda: 1.0, clock=clock)
    assert not b.expired()
    assert b.next_delay() == 1.0
    clock.now += 4.5
    assert b.next_delay() == pytest.approx(0.5)  # never sleeps past the deadline
    clock.now += 0.5
    assert b.expired()
    b.reset()
    assert not b.expired()
    assert b.attempts == 0


def test_no_overflow_after_many_attempts() -> None:
    b = Backoff(0.1, 3.0, rand=lambda: 1.0, clock=Clock())
    for _ in range(5000):
        d = b.next_delay()
    assert d == 3.0


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"initial": 0}, "initial"),
        ({"initial": 1.0, "max": 0.5}, "max"),
        ({"give_up": -1}, "give-up"),
    ],
)
def test_bad_settings(kw: dict, word: str) -> None:
    with pytest.raises(InvalidConfiguration, match=word):
        Backoff(**kw)


def test_wait_stops_on_event() -> None:
    import threading

    stop = threading.Event()
    stop.set()
    b = Backoff(10.0, 10.0, rand=lambda: 1.0)
    assert b.wait(stop) is False

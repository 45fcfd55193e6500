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


# --- reconnect: the loop producers and consumers share after a lost connection -------------


def _script(*outcomes: object):
    """An attempt that raises or returns the given outcomes in turn; counts its calls."""
    calls = []

    def attempt() -> object:
        calls.append(1)
        out = outcomes[len(calls) - 1]
        if isinstance(out, BaseException):
            raise out
        return out

    return attempt, calls


def _fast_backoff(give_up: float | None = None, clock: Clock | None = None) -> Backoff:
    return Backoff(0.1, 1.0, give_up, rand=lambda: 0.0, clock=clock or Clock())


def test_reconnect_retries_retriable_errors_and_busy_then_returns_the_result() -> None:
    import threading

    from pulsarload.client.backoff import reconnect
    from pulsarload.client.errors import NotConnected, ProducerBusy

    attempt, calls = _script(NotConnected("down"), ProducerBusy("old one"), OSError("reset"), "ok")
    tries: list[int] = []
    out = reconnect(attempt, _fast_backoff(), threading.Event(), what="producer p",
                    busy=ProducerBusy, on_attempt=lambda: tries.append(1))  # fmt: skip
    assert out == "ok" and len(calls) == 4 and len(tries) == 4


def test_reconnect_returns_a_final_error_without_retrying() -> None:
    import threading

    from pulsarload.client.backoff import reconnect
    from pulsarload.client.errors import ConsumerBusy, TopicNotFound

    attempt, calls = _script(TopicNotFound("gone"), "never")
    out = reconnect(attempt, _fast_backoff(), threading.Event(), what="c", busy=ConsumerBusy)
    assert isinstance(out, TopicNotFound) and len(calls) == 1


def test_reconnect_gives_up_after_the_deadline_and_stops_when_closed() -> None:
    import threading

    from pulsarload.client.backoff import reconnect
    from pulsarload.client.errors import NotConnected, ProducerBusy

    clock = Clock()

    def failing() -> None:
        clock.now += 10  # every attempt costs 10 s of the 25 s budget
        raise NotConnected("down")

    out = reconnect(failing, _fast_backoff(25, clock), threading.Event(), what="p",
                    busy=ProducerBusy)  # fmt: skip
    assert isinstance(out, NotConnected)

    stop = threading.Event()
    stop.set()
    attempt, calls = _script("never")
    assert reconnect(attempt, _fast_backoff(), stop, what="p", busy=ProducerBusy) is None
    assert calls == []

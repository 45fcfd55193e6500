"""Exponential backoff with full jitter, and a give-up deadline.

Reconnects after a broker restart come from every producer at once; full jitter (a uniform draw
in [0, min(max, initial * 2**n)]) spreads them out instead of letting them retry in lock-step.
The clock and the random source are injectable so tests are exact and fast.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from pulsarload.client.errors import AlreadyClosed, InvalidConfiguration, NotConnected, PulsarError

__all__ = ["Backoff", "reconnect"]

log = logging.getLogger(__name__)


class Backoff:
    """Delays for one retry sequence: `next_delay()` after each failure, `reset()` on success."""

    __slots__ = ("_attempt", "_clock", "_rand", "_started", "give_up", "initial", "max")

    def __init__(
        self,
        initial: float = 0.1,
        max: float = 60.0,  # noqa: A002 - matches the setting's name
        give_up: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not initial > 0:
            raise InvalidConfiguration(f"backoff initial delay must be > 0 seconds, got {initial}")
        if max < initial:
            raise InvalidConfiguration(
                f"backoff max delay ({max} s) must be >= the initial delay ({initial} s)"
            )
        if give_up is not None and give_up < 0:
            raise InvalidConfiguration(f"backoff give-up time must be >= 0 seconds, got {give_up}")
        self.initial = float(initial)
        self.max = float(max)
        #: Seconds after the first failure of a sequence when retrying stops (None: never).
        self.give_up = give_up
        self._clock = clock
        self._rand = rand
        self._attempt = 0
        self._started: float | None = None

    @property
    def attempts(self) -> int:
        return self._attempt

    def reset(self) -> None:
        """Start a fresh sequence (after a success)."""
        self._attempt = 0
        self._started = None

    def ceiling(self) -> float:
        """The upper bound of the next delay (before jitter)."""
        # Cap the exponent so 2**n never overflows a float on very long outages.
        return min(self.max, self.initial * (2.0 ** min(self._attempt, 62)))

    def next_delay(self) -> float:
        """The delay before the next attempt; never longer than the time left before giving up."""
        now = self._clock()
        if self._started is None:
            self._started = now
        delay = self._rand() * self.ceiling()
        self._attempt += 1
        left = self.remaining()
        if left is not None:
            delay = min(delay, left)
        return max(0.0, delay)

    def remaining(self) -> float | None:
        """Seconds until giving up (None: never gives up)."""
        if self.give_up is None:
            return None
        if self._started is None:
            return self.give_up
        return max(0.0, self._started + self.give_up - self._clock())

    def expired(self) -> bool:
        """True once the give-up time since the first failure has passed."""
        left = self.remaining()
        return left is not None and left <= 0.0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Sleep for the next delay; returns False if `stop` was set meanwhile."""
        delay = self.next_delay()
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)


def reconnect[T](
    attempt: Callable[[], T],
    backoff: Backoff,
    stop: threading.Event,
    *,
    what: str,
    busy: type[PulsarError],
    on_attempt: Callable[[], None] | None = None,
) -> T | PulsarError | None:
    """Re-create a producer or consumer on its broker after its connection went away.

    Calls ``attempt()`` until it returns (its result), fails for good (the error, already
    logged: not retriable and not ``busy``, or ``backoff`` gave up) or ``stop`` is set (None).
    ``busy`` is retried even though the broker calls it final: right after a disconnect the
    broker may not have noticed yet that the old producer or consumer is gone.
    """
    while not stop.is_set():
        if on_attempt is not None:
            on_attempt()
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 - anything from a half-open socket is a retry
            err = exc if isinstance(exc, PulsarError) else NotConnected(repr(exc))
        if isinstance(err, AlreadyClosed):  # the client is closing (shutdown): no error
            log.debug("%s: stopped reconnecting: %s", what, err)
            return err
        if not (err.retriable or isinstance(err, busy)):
            log.error("%s failed for good: %s", what, err)
            return err
        if backoff.expired():
            log.error("%s: gave up reconnecting: %s", what, err)
            return err
        log.info("%s: reconnect failed (%s); retrying", what, err)
        backoff.wait(stop)
    return None

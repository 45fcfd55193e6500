"""Request-id futures: every request on a connection gets an id and a future with a deadline.

The reader thread completes futures; callers wait with a timeout and get the client's
`TimeoutError` naming the operation. A closed connection fails everything still waiting.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as _FutureTimeout
from typing import Any

from pulsarload.client.errors import NotConnected, TimeoutError

__all__ = ["PendingRequests", "wait_future"]


def wait_future(fut: Future[Any], timeout: float | None, what: str) -> Any:
    """The future's result within `timeout` seconds, else `TimeoutError` naming `what`."""
    try:
        return fut.result(timeout)
    except _FutureTimeout:
        if not fut.done():
            fut.cancel()
            raise TimeoutError(f"{what}: no answer within {timeout:g} s") from None
        return fut.result(0)


class PendingRequests:
    """Request id allocation and the futures waiting on them (one table per connection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, Future[Any]] = {}
        self._closed: BaseException | None = None

    def new(self) -> tuple[int, Future[Any]]:
        """A fresh request id and its future (fails at once if the table is closed)."""
        fut: Future[Any] = Future()
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            if self._closed is not None:
                fut.set_exception(self._closed)
            else:
                self._waiting[request_id] = fut
        return request_id, fut

    def next_id(self) -> int:
        """An id for a request nobody waits on (e.g. CLOSE_PRODUCER sent at shutdown)."""
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            return request_id

    def _pop(self, request_id: int) -> Future[Any] | None:
        with self._lock:
            return self._waiting.pop(request_id, None)

    def complete(self, request_id: int, value: Any) -> bool:
        """Resolve a request; False if nobody waits (late answer after a timeout)."""
        fut = self._pop(request_id)
        if fut is None or not fut.set_running_or_notify_cancel():
            return False
        fut.set_result(value)
        return True

    def fail(self, request_id: int, exc: BaseException) -> bool:
        fut = self._pop(request_id)
        if fut is None or not fut.set_running_or_notify_cancel():
            return False
        fut.set_exception(exc)
        return True

    def forget(self, request_id: int) -> None:
        self._pop(request_id)

    def close(self, exc: BaseException | None = None) -> None:
        """Fail every waiting request and any later one with `exc`."""
        exc = exc or NotConnected("connection closed")
        with self._lock:
            self._closed = exc
            waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if fut.set_running_or_notify_cancel():
                fut.set_exception(exc)

    def __len__(self) -> int:
        return len(self._waiting)

"""Request-id futures: completion, timeouts naming the operation, failure on close."""

from __future__ import annotations

import threading

import pytest

from pulsarload.client.errors import NotConnected, TimeoutError
from pulsarload.client.futures import PendingRequests, wait_future


def test_complete_from_another_thread() -> None:
    p = PendingRequests()
    rid, fut = p.new()
    threading.Timer(0.01, p.complete, (rid, "ok")).start()
    assert wait_future(fut, 2.0, "LOOKUP") == "ok"
    assert len(p) == 0


def test_ids_are_unique_across_threads() -> None:
    p = PendingRequests()
    ids: list[int] = []
    lock = threading.Lock()

    def grab() -> None:
        mine = [p.next_id() for _ in range(500)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 2000


def test_timeout_names_the_operation() -> None:
    p = PendingRequests()
    _, fut = p.new()
    with pytest.raises(TimeoutError, match="PRODUCER"):
        wait_future(fut, 0.01, "PRODUCER")


def test_late_answer_is_ignored() -> None:
    p = PendingRequests()
    rid, fut = p.new()
    with pytest.raises(TimeoutError):
        wait_future(fut, 0.01, "x")
    p.forget(rid)
    assert p.complete(rid, 1) is False


def test_close_fails_waiting_and_later_requests() -> None:
    p = PendingRequests()
    rid, fut = p.new()
    p.close(NotConnected("gone"))
    with pytest.raises(NotConnected, match="gone"):
        wait_future(fut, 1.0, "x")
    _, later = p.new()
    with pytest.raises(NotConnected):
        later.result(0)
    assert p.fail(rid, RuntimeError()) is False

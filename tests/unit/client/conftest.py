"""Fixtures for client unit tests: clients that always close (the fake broker's fixtures,
`fake` and `make_fake`, come from `support.fake_broker.fixtures`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pulsarload.client import Client


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(url: str, **kw: Any) -> Client:
        kw.setdefault("operation_timeout_seconds", 5)
        kw.setdefault("connection_timeout_ms", 2000)
        kw.setdefault("initial_backoff_interval_ms", 20)
        kw.setdefault("max_backoff_interval_ms", 200)
        c = Client(url, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()

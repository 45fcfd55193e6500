"""Fixtures for client unit tests: a scriptable fake broker and clients that always close."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from client_fake_broker import FakeBroker  # noqa: E402

from pulsarload.client import Client  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeBroker]:
    broker = FakeBroker()
    yield broker
    broker.stop()


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBroker]]:
    made: list[FakeBroker] = []

    def make(**kw: Any) -> FakeBroker:
        b = FakeBroker(**kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


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

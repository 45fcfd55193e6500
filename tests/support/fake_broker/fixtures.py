"""The fake broker's fixtures, for every test that wants one (loaded by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.fake_broker import FakeBroker


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

"""`Producer` and `Consumer` are put together from parts (handler, framing, pending sends;
receiving, incoming, acknowledging, dead letters): no part may silently hide another's method,
or which one runs would depend on the order of the bases."""

from __future__ import annotations

import pytest

from pulsarload.client.consumer import Consumer
from pulsarload.client.producer import Producer


@pytest.mark.parametrize("cls", [Producer, Consumer])
def test_no_part_hides_another_parts_method(cls: type) -> None:
    owners: dict[str, list[str]] = {}
    for base in cls.__mro__[1:-1]:  # the parts, without object
        for name, value in vars(base).items():
            if name.startswith("__") or not (callable(value) or isinstance(value, property)):
                continue
            owners.setdefault(name, []).append(base.__name__)
    # A hook the class itself implements is meant to replace the base's stand-in.
    clashes = {n: o for n, o in owners.items() if len(o) > 1 and n not in vars(cls)}
    assert not clashes, f"{cls.__name__}: methods defined by more than one part: {clashes}"

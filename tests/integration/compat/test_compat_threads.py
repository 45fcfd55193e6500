"""Threads end with the client: listed before, while a partitioned producer, a partitioned
consumer and a regex consumer are open, and after close() / shutdown()."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


@pytest.mark.parametrize("how", ["close", "shutdown"])
def test_every_client_thread_ends(compat: Any, make_partitioned: Any, how: str) -> None:
    out = compat.run(
        "scenarios_checks:threads_after_close", partitioned_topic=make_partitioned(3), how=how
    )
    assert out["during"] > out["before"]  # the client did start threads
    assert out["python_left"] == []
    if compat.name == "native":
        assert out["after"] == out["before"], out
    else:
        # The official C++ client keeps one process-wide thread after its clients close
        # (see docs/client.md); every per-client thread ends.
        assert out["after"] <= out["before"] + 1, out

"""`pulsarload compare` against the real broker: both builds produce numbers, and the topics it
made for them are gone afterwards unless `--keep-topics`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from pulsarload.bench.compare import run_compare
from pulsarload.bench.interpreters import gil_python

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def _exists(admin_url: str, topic: str) -> bool:
    r = httpx.get(f"{admin_url}/admin/v2/persistent/public/default/{topic}/stats", timeout=10)
    return r.status_code == 200


@pytest.mark.parametrize("keep", [False, True])
def test_compare_runs_both_builds_and_cleans_up(broker: Any, keep: bool) -> None:
    if gil_python() is None:
        pytest.skip("no GIL build here (.venv-gil)")
    base = f"cmp-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    argv = [base, "-u", broker.service_url, "--admin-url", broker.admin_url,
            "-r", "2000", "-m", "2000", "-s", "100"] + (["--keep-topics"] if keep else [])  # fmt: skip
    code = run_compare(argv, echo=lines.append, include_official=False, rounds=1)
    out = "\n".join(lines)
    assert code == 0, out
    topics = [line.split(" on ", 1)[1].split()[0] for line in lines if " running " in line]
    assert len(topics) == 3, out  # 3.13t, 3.13t with PYTHON_GIL=1, the GIL build
    short = [t.rsplit("/", 1)[-1] for t in topics]
    assert all(s.startswith(base) for s in short)
    assert [_exists(broker.admin_url, s) for s in short] == [keep] * 3
    if keep:
        for s in short:
            httpx.delete(
                f"{broker.admin_url}/admin/v2/persistent/public/default/{s}",
                params={"force": "true"}, timeout=30,
            )  # fmt: skip


def test_compare_consume_drains_a_filled_topic_in_rounds(broker: Any) -> None:
    """--role consume: every contender reads all the messages, two interleaved rounds, and the
    table shows each figure as median (min-max) and the paired verdicts."""
    if gil_python() is None:
        pytest.skip("no GIL build here (.venv-gil)")
    lines: list[str] = []
    argv = ["-u", broker.service_url, "--admin-url", broker.admin_url, "-m", "200000", "-s", "1024"]
    code = run_compare(argv, echo=lines.append, include_official=False, rounds=2, role="consume")
    out = "\n".join(lines)
    assert code == 0, out
    assert sum(" reads " in line for line in lines) == 6, out  # 3 contenders x 2 rounds
    rate_row = next(line for line in lines if line.startswith("msg/s"))
    assert rate_row.count("(") == 3, out  # median (min-max) for each contender
    assert sum("paired rounds" in line for line in lines) == 2, out
    assert any(line.startswith("load average") for line in lines), out


def test_compare_pair_runs_each_contender_as_producer_and_consumer(broker: Any) -> None:
    lines: list[str] = []
    argv = ["-u", broker.service_url, "--admin-url", broker.admin_url, "-s", "100", "-r", "2000",
            "-d", "2"]  # fmt: skip
    code = run_compare(argv, echo=lines.append, include_official=False, rounds=1, role="pair")
    out = "\n".join(lines)
    assert code == 0, out
    consumed = next(line for line in lines if line.startswith("consume msg/s"))
    assert consumed.count("–") == 0, out  # every contender's consumer was counted by the broker

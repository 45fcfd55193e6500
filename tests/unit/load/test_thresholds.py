from __future__ import annotations

import pytest

from pulsarload.errors import ConfigError
from pulsarload.load.thresholds import evaluate, parse_threshold

KNOWN = frozenset({"p99_ms", "error_rate", "msg_rate"})


def test_parse_and_evaluate() -> None:
    ts = [parse_threshold(t, KNOWN) for t in ("p99_ms<50", "error_rate <= 0.001", "msg_rate>=1e3")]
    results = evaluate(ts, {"p99_ms": 12.5, "error_rate": 0.01, "msg_rate": 999.0})
    assert [(str(t), ok) for t, ok, _ in results] == [
        ("p99_ms<50", True),
        ("error_rate<=0.001", False),
        ("msg_rate>=1000", False),
    ]


@pytest.mark.parametrize("text", ["p99", "p99_ms<<5", "<5", "p99_ms<abc", ""])
def test_malformed_thresholds(text: str) -> None:
    with pytest.raises(ConfigError, match="METRIC<OP>NUMBER"):
        parse_threshold(text, KNOWN)


def test_unknown_metric() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'p42'"):
        parse_threshold("p42<1", KNOWN)

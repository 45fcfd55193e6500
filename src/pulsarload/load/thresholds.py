"""Pass/fail thresholds on a run's final summary: `--threshold 'p99_ms<50'` decides the exit code."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pulsarload.errors import ConfigError

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_PATTERN = re.compile(
    r"^\s*([a-z][a-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?[0-9.]+(?:e[-+]?\d+)?)\s*$"
)


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g}"

    def check(self, summary: Mapping[str, float]) -> tuple[bool, float]:
        """(passed, observed value); unknown metrics were refused when parsing."""
        value = float(summary[self.metric])
        return _OPERATORS[self.op](value, self.limit), value


def parse_threshold(text: str, known_metrics: frozenset[str] | None = None) -> Threshold:
    match = _PATTERN.match(text)
    if not match:
        raise ConfigError(
            f"threshold {text!r} is not of the form METRIC<OP>NUMBER (e.g. 'p99_ms<50', 'error_rate<0.001')"
        )
    metric, op, raw = match.groups()
    if known_metrics is not None and metric not in known_metrics:
        raise ConfigError(
            f"threshold {text!r} names unknown metric {metric!r}; known: {', '.join(sorted(known_metrics))}"
        )
    try:
        limit = float(raw)
    except ValueError:
        raise ConfigError(f"threshold {text!r}: {raw!r} is not a number") from None
    return Threshold(metric, op, limit)


def evaluate(
    thresholds: list[Threshold], summary: Mapping[str, float]
) -> list[tuple[Threshold, bool, float]]:
    return [(t, *t.check(summary)) for t in thresholds]

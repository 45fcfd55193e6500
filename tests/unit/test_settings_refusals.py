"""Settings that would silently do something else are refused with one line saying what to do;
the consumer knobs reach the client with the official clients' names."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from pulsarload.config import (
    ConsumeSettings,
    ProduceSettings,
    resolve_settings,
    worker_priority,
)
from pulsarload.errors import ConfigError


@pytest.mark.parametrize(
    ("cls", "flags", "fragment"),
    [
        (ProduceSettings, {"routing": "key_hash"}, "--routing key_hash routes by message key"),
        (ProduceSettings, {"key_mode": "set"}, "--key-mode set needs at least one key"),
        (ProduceSettings, {"chaos_min_rate": 50.0, "chaos_max_rate": 10.0}, "chaos_min_rate=50"),
        (ProduceSettings, {"chaos_sizes": True}, "--chaos-sizes draws sizes"),
        (ConsumeSettings, {"ack_timeout_ms": 500}, "ack_timeout_ms=500 is below"),
        (ConsumeSettings, {"worker_priorities": ("0", "x")}, "--worker-priority 'x'"),
        (ConsumeSettings, {"dlq_topic": "t-dlq"}, "add --max-redeliveries"),
    ],
)
def test_refused_in_one_line(cls: type, flags: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        resolve_settings(cls, flags, environ={})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_allowed_combinations() -> None:
    resolve_settings(ProduceSettings, {"routing": "key_hash", "key_mode": "random"}, environ={})
    resolve_settings(ConsumeSettings, {"ack_timeout_ms": 1000}, environ={})
    resolve_settings(ProduceSettings, {"chaos_sizes": True, "size_max": 4096}, environ={})


def test_key_hash_without_keys_from_the_command_line_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulsarload", "produce", "t", "--headless", "--routing", "key_hash"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "add --key-mode sequential, random or set" in result.stderr


def test_worker_priorities_repeat_the_last_level() -> None:
    s = resolve_settings(ConsumeSettings, {"worker_priorities": ("0", "2")}, environ={})
    assert [worker_priority(s, i) for i in range(4)] == [0, 2, 2, 2]
    plain = resolve_settings(ConsumeSettings, {"priority": 3}, environ={})
    assert worker_priority(plain, 5) == 3


def test_the_native_consumer_gets_the_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulsarload.engines import native_consumer

    seen: dict[str, Any] = {}

    class FakeClient:
        def subscribe(self, topic: str, subscription: str, **kwargs: Any) -> object:
            seen.update(kwargs)
            return object()

        def close(self) -> None:
            pass

    s = resolve_settings(
        ConsumeSettings,
        {"nack_redelivery_delay_ms": 250, "ack_timeout_ms": 2000, "priority": 4},
        environ={},
    )
    native_consumer.create_native_consumer(FakeClient(), s, None)  # type: ignore[arg-type]
    assert seen["negative_ack_redelivery_delay_ms"] == 250
    assert seen["unacked_messages_timeout_ms"] == 2000
    assert seen["priority_level"] == 4
    defaults = resolve_settings(ConsumeSettings, {}, environ={})
    native_consumer.create_native_consumer(FakeClient(), defaults, None)  # type: ignore[arg-type]
    assert seen["negative_ack_redelivery_delay_ms"] == 60_000  # the official clients' default
    assert seen["unacked_messages_timeout_ms"] is None  # off, as theirs


def test_the_pool_gives_each_consumer_worker_its_priority() -> None:
    from pulsarload.load.pool import WorkerPool
    from pulsarload.metrics.sampler import Sampler

    s = resolve_settings(ConsumeSettings, {"worker_priorities": ("0", "1")}, environ={})
    pool = WorkerPool("consumer", object(), s, Sampler(0.1))  # type: ignore[arg-type]
    workers = [pool._new_worker() for _ in range(3)]
    assert [w.settings.priority for w in workers] == [0, 1, 1]

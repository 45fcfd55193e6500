"""Regex subscriptions and topic lists, written as programs for the official client."""

from __future__ import annotations

import re
import time
from typing import Any


def _drain(consumer: Any, pulsar: Any, quiet_ms: int = 3000) -> list[str]:
    got = []
    while True:
        try:
            m = consumer.receive(timeout_millis=quiet_ms)
        except pulsar.Timeout:
            return sorted(got)
        got.append(m.data().decode())
        consumer.acknowledge(m)


def pattern_modes(pulsar: Any, env: Any) -> dict[str, Any]:
    """A pattern without a domain over one persistent and one non-persistent topic: what each
    regex_subscription_mode subscribes to (a message sent to each after subscribing)."""
    base = env.topic("pat").split("://", 1)[1]  # public/default/<unique>
    persistent, non_persistent = f"persistent://{base}-p", f"non-persistent://{base}-n"
    out: dict[str, Any] = {}
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        pp = client.create_producer(persistent)
        np_ = client.create_producer(non_persistent)
        modes = {
            "persistent_only": pulsar.RegexSubscriptionMode.PersistentOnly,
            "non_persistent_only": pulsar.RegexSubscriptionMode.NonPersistentOnly,
            "all_topics": pulsar.RegexSubscriptionMode.AllTopics,
        }
        for label, mode in modes.items():
            consumers = {
                "bare": client.subscribe(re.compile(base + "-.*"), f"sub-{label}",
                                         regex_subscription_mode=mode),
                "with_domain": client.subscribe(
                    re.compile("persistent://" + base + "-.*"), f"sub-d-{label}",
                    regex_subscription_mode=mode),
            }  # fmt: skip
            time.sleep(1)
            pp.send(f"{label}-persistent".encode())
            np_.send(f"{label}-non-persistent".encode())
            for shape, consumer in consumers.items():
                got = _drain(consumer, pulsar)
                out[f"{label}/{shape}"] = [g.removeprefix(label + "-") for g in got]
                consumer.close()
        pp.close()
        np_.close()
    finally:
        client.close()
    return out

"""`--seek` is one user action: applied once, not again by workers started later.

Against the real broker: a consumer run with `--seek earliest` reads a topic once; adding a
worker (`+`) and changing the ack strategy (which restarts the workers) must not rewind the
subscription again. The engine is the real native engine behind a thin wrapper that counts
seeks and records every payload received.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from pulsarload.client import Client
from pulsarload.config import ConsumeSettings
from pulsarload.engines.native import NativeEngine
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

WAIT_S = 90.0


class _Spy:
    """What the wrapped consumers did: seeks, receive calls, and payloads received."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seeks: list[str] = []
        self.receive_calls = Counter[int]()
        self.payloads = Counter[bytes]()


class _SpyConsumer:
    def __init__(self, inner: Any, spy: _Spy, number: int) -> None:
        self._inner = inner
        self._spy = spy
        self._number = number

    def seek(self, target: str) -> None:
        with self._spy.lock:
            self._spy.seeks.append(target)
        self._inner.seek(target)

    def receive_many(self, max_messages: int, timeout_ms: int) -> Any:
        batch = self._inner.receive_many(max_messages, timeout_ms)
        with self._spy.lock:
            self._spy.receive_calls[self._number] += 1
            if batch is not None:
                self._spy.payloads.update(bytes(p) for p in batch.payloads())
        return batch

    def receive(self, timeout_ms: int) -> Any:
        msg = self._inner.receive(timeout_ms)
        with self._spy.lock:
            self._spy.receive_calls[self._number] += 1
            if msg is not None:
                self._spy.payloads[bytes(msg.data)] += 1
        return msg

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _SpyEngine(NativeEngine):
    def __init__(self, settings: ConsumeSettings) -> None:
        super().__init__(settings)
        self.spy = _Spy()
        self.made = 0

    def create_consumer(self, settings: Any, name: Any, listener: Any = None) -> Any:
        inner = super().create_consumer(settings, name, listener)
        with self.spy.lock:
            self.made += 1
            number = self.made
        return _SpyConsumer(inner, self.spy, number)


def _produce(broker: Any, topic: str, payloads: list[bytes]) -> None:
    with Client(broker.service_url, operation_timeout_seconds=30) as client:
        producer = client.create_producer(topic)
        for p in payloads:
            producer.send(p)
        producer.close()


def _wait(what: str, condition: Any) -> None:
    eventually(condition, WAIT_S, what)


def test_seek_is_applied_once_across_added_and_restarted_workers(broker: Any, topic: str) -> None:
    first = [f"first-{i}".encode() for i in range(50)]
    _produce(broker, topic, first)  # creates the topic before the consumer seeks on it
    settings = ConsumeSettings(
        topic=topic,
        service_url=broker.service_url,
        admin_url=broker.admin_url,
        subscription="seek-once",
        subscription_type="failover",  # one active consumer: replays arrive in order
        initial_position="latest",
        seek="earliest",
        threads=1,
    )
    engine = _SpyEngine(settings)
    controller = LoadController("consumer", settings, engine=engine)
    spy = engine.spy
    controller.start()
    try:
        _wait("the first messages", lambda: all(spy.payloads[p] for p in first))

        controller.apply(cmd.AddWorker(1))  # `+`
        _wait("the added worker's first receive", lambda: spy.receive_calls[2] > 0)
        more = [f"after-add-{i}".encode() for i in range(10)]
        _produce(broker, topic, more)
        _wait("the messages sent after `+`", lambda: all(spy.payloads[p] for p in more))

        controller.reconfigure(ack="grouped")  # what `a` does: the workers restart
        _wait(
            "the restarted workers' first receives",
            lambda: spy.receive_calls[3] > 0 and spy.receive_calls[4] > 0,
        )
        last = [f"after-ack-{i}".encode() for i in range(10)]
        _produce(broker, topic, last)
        _wait("the messages sent after the ack change", lambda: all(spy.payloads[p] for p in last))
    finally:
        controller.stop()
    assert spy.seeks == ["earliest"]
    replayed = {p.decode(): n for p, n in spy.payloads.items() if n > 1}
    assert not replayed, f"the subscription was rewound again: {replayed}"

"""Client-level behaviour against the real broker: partitions, bad input, unreachable broker,
byte counters, connections per broker."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from pulsarload.client import Client, ConnectError, InvalidTopicName, InvalidUrl, TopicNotFound

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def test_get_topic_partitions(broker: Any, make_topic: Any) -> None:
    topic = make_topic("parts")
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        local = topic.removeprefix("persistent://")
        assert http.put(f"/admin/v2/persistent/{local}/partitions", json=4).status_code in (
            200,
            204,
        )
    with Client(broker.service_url) as client:
        assert client.get_topic_partitions(topic) == [f"{topic}-partition-{i}" for i in range(4)]
        plain = make_topic("plain")
        assert client.get_topic_partitions(plain) == [plain]


def test_bad_input_is_refused_before_io(broker: Any) -> None:
    with pytest.raises(InvalidUrl, match="service_url"):
        Client("ftp://localhost:8080")  # http:// is valid: HTTP lookup, as the official client
    with Client(broker.service_url) as client:
        for bad, field in [
            ({"topic": "a/b"}, "topic"),
            ({"compression_type": "gzip"}, "compression_type"),
            ({"max_pending_messages": -1}, "max_pending_messages"),
            ({"batching_max_allowed_size_in_bytes": -1}, "batching_max_allowed_size_in_bytes"),
        ]:
            kwargs = {"topic": "ok", **bad}
            with pytest.raises(ValueError, match=f"^{field}"):
                client.create_producer(**kwargs)
        assert client.connections() == []
    with pytest.raises(InvalidTopicName):
        Client(broker.service_url).create_producer("persistent://a b/c/d")


def test_missing_namespace_is_topic_not_found(broker: Any) -> None:
    with (
        Client(broker.service_url, operation_timeout_seconds=10) as client,
        pytest.raises(TopicNotFound),
    ):
        client.create_producer("persistent://public/no-such-namespace-xyz/t")


def test_unreachable_broker_connect_error_names_address() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with Client(f"pulsar://127.0.0.1:{port}", connection_timeout_ms=1500) as client:
        t0 = time.monotonic()
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
            client.create_producer("t")
        assert 1.4 < time.monotonic() - t0 < 10


def test_byte_counters_and_connections_per_broker(broker: Any, make_topic: Any) -> None:
    with Client(broker.service_url, connections_per_broker=2) as client:
        a = client.create_producer(make_topic("a"))
        b = client.create_producer(make_topic("b"))
        assert a.connection is not b.connection
        before = client.bytes_out
        a.send_batch([b"x" * 1024] * 100)
        a.flush(30)
        assert client.bytes_out - before > 100 * 1024
        assert client.bytes_in > 0

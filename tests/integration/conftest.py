"""Fixtures for integration tests: a real Apache Pulsar, fresh topic names, and a namespace
that enforces schemas.

`broker` uses the broker named by PULSAR_BROKER_URL / PULSAR_ADMIN_URL when either is set and
it answers as ready; otherwise it starts the local standalone (`pulsarload.broker`), unless that
one is already up. It stops only a broker it started itself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from pulsarload.broker.standalone import StandaloneBroker, admin_ready
from pulsarload.config import DEFAULT_ADMIN_URL, DEFAULT_BROKER_URL, LocalBrokerSettings


@dataclass(frozen=True)
class BrokerUnderTest:
    """Where the broker of this test session is, and whether this session started it."""

    service_url: str
    admin_url: str
    started_here: bool
    local: StandaloneBroker | None  # the local standalone, when that is the broker in use


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerUnderTest]:
    service_env = os.environ.get("PULSAR_BROKER_URL")
    admin_env = os.environ.get("PULSAR_ADMIN_URL")
    if service_env or admin_env:
        service_url = service_env or DEFAULT_BROKER_URL
        admin_url = admin_env or DEFAULT_ADMIN_URL
        if admin_ready(admin_url, timeout=5.0):
            yield BrokerUnderTest(service_url, admin_url, started_here=False, local=None)
            return
        # Named but not answering: fall back to the local standalone rather than fail.
    local = StandaloneBroker(LocalBrokerSettings())
    already = local.status()
    if already.running and already.ready:
        yield BrokerUnderTest(already.service_url, already.admin_url, False, local)
        return
    status = local.start()
    try:
        yield BrokerUnderTest(status.service_url, status.admin_url, True, local)
    finally:
        local.stop()


@pytest.fixture
def make_topic() -> Callable[[str], str]:
    """A factory of fresh persistent topic names in public/default (unique per call)."""

    def make(prefix: str = "it") -> str:
        return f"persistent://public/default/{prefix}-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def topic(make_topic: Callable[[str], str]) -> str:
    """One fresh persistent topic name."""
    return make_topic("it")


@pytest.fixture(scope="module")
def enforced(broker: BrokerUnderTest) -> str:
    """A fresh namespace with schemaValidationEnforced on (a producer must say its schema, and
    the broker checks it); 'public/<name>'."""
    ns = f"public/schemas-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False) as http:
        resp = http.put(f"/admin/v2/namespaces/{ns}", json={})
        assert resp.status_code in (200, 204), resp.text
        resp = http.post(f"/admin/v2/namespaces/{ns}/schemaValidationEnforced", json=True)
        assert resp.status_code in (200, 204), resp.text
        assert http.get(f"/admin/v2/namespaces/{ns}/schemaValidationEnforced").json() is True
    return ns

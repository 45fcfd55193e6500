"""Token authentication and TLS: the official client and ours, same program, against one
secured broker for the module (tests/integration/secure_broker.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from secure_broker import LOADER, SecureBroker, secure_broker_session

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    yield from secure_broker_session(tmp_path_factory)


@pytest.mark.parametrize("transport", ["token", "tls"])
def test_token_auth_and_tls(compat: Any, secure_broker: SecureBroker, transport: str) -> None:
    args: dict[str, Any] = {"token": secure_broker.token(LOADER)}
    url = secure_broker.service_url
    if transport == "tls":
        url = secure_broker.tls_service_url
        args["ca_file"] = str(secure_broker.tls.ca_cert)
    out = compat.run("scenarios_common:secured_produce_consume", service_url=url,
                     admin_url=secure_broker.admin_url, **args)  # fmt: skip
    assert out["received"] == [f"s-{i}" for i in range(10)]

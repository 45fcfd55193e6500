"""A secured broker: token authentication and authorization, TLS; tokens never leak.

One broker for the module (`secure_broker`): tokens are HS256 JWTs signed by the test with a
key it made, the CA and the broker certificate (for `localhost` only) come from `openssl`.
Covered: the binary protocol and the admin REST API with tokens; bad, expired and foreign
tokens fail at once with "authentication failed" rather than retrying; a role without
permission is refused; `pulsar+ssl://` with a CA file; hostname verification is on by default in
the CLI; a wrong CA fails with a clear message; the token is not printed, logged, reported
or saved in a profile.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from secure_broker import LOADER, NOBODY, SecureBroker, secure_broker_session, sign_token

from pulsarload.client import AuthenticationToken, Client
from pulsarload.client.admin import AdminClient, AdminError
from pulsarload.client.errors import AuthenticationError, AuthorizationError, ConnectError

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    yield from secure_broker_session(tmp_path_factory)


def fresh_topic(prefix: str = "sec") -> str:
    return f"persistent://public/default/{prefix}-{uuid.uuid4().hex[:10]}"


def run_cli(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR", "PULSARLOAD"))}
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base_env, **(env or {})},
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exactly one error line on stderr and no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pulsarload: error:"), lines[0]
    return lines[0]


def no_partial_report(path: Path, token: str) -> None:
    """Nothing half-written: no report at all, or a whole JSON report without the token."""
    assert not path.with_name(path.name + ".partial").exists()
    assert not list(path.parent.glob(path.name + ".*tmp*"))
    if path.exists():
        text = path.read_text()
        json.loads(text)
        assert token not in text


# ------------------------------------------------------------------------------ binary protocol


def test_produce_and_consume_with_a_token(secure_broker: SecureBroker) -> None:
    topic = fresh_topic()
    client = Client(
        secure_broker.service_url, authentication=AuthenticationToken(secure_broker.token(LOADER))
    )
    try:
        consumer = client.subscribe(topic, "sub", initial_position="earliest")
        producer = client.create_producer(topic)
        for i in range(50):
            producer.send(b"m%d" % i)
        got = []
        for _ in range(50):
            msg = consumer.receive(timeout_millis=10_000)
            got.append(msg.data())
            consumer.acknowledge(msg)
        assert got == [b"m%d" % i for i in range(50)]
    finally:
        client.close()


@pytest.mark.parametrize("kind", ["missing", "garbage", "foreign-key", "expired", "tampered"])
def test_bad_tokens_fail_at_once_with_authentication_failed(
    secure_broker: SecureBroker,
    kind: str,
) -> None:
    """No retry loop: well under the 30 s operation timeout, an AuthenticationError."""
    good = secure_broker.token(LOADER)
    token = {
        "missing": None,
        "garbage": "not-a-jwt",
        "foreign-key": sign_token(os.urandom(32), LOADER),
        "expired": secure_broker.token(LOADER, expires_at=time.time() - 60),
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
    }[kind]
    auth = AuthenticationToken(token) if token else None
    client = Client(secure_broker.service_url, authentication=auth, operation_timeout_seconds=30)
    started = time.monotonic()
    try:
        with pytest.raises(AuthenticationError, match="(?i)authenticat"):
            client.create_producer(fresh_topic())
    finally:
        client.close()
    assert time.monotonic() - started < 5


def test_a_role_without_permission_is_not_authorized(secure_broker: SecureBroker) -> None:
    client = Client(
        secure_broker.service_url, authentication=AuthenticationToken(secure_broker.token(NOBODY))
    )
    started = time.monotonic()
    try:
        with pytest.raises(AuthorizationError, match="(?i)not authorized"):
            client.create_producer(fresh_topic())
    finally:
        client.close()
    assert time.monotonic() - started < 5


def test_the_token_is_never_logged_or_shown(
    secure_broker: SecureBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not in log records (at DEBUG), error messages or reprs of what holds it."""
    token = secure_broker.token(LOADER)
    caplog.set_level(logging.DEBUG)
    auth = AuthenticationToken(token)
    client = Client(secure_broker.service_url, authentication=auth)
    try:
        producer = client.create_producer(fresh_topic())
        producer.send(b"x")
        shown = [repr(auth), repr(client), repr(producer), repr(client.connections())]
        producer.close()
    finally:
        client.close()
    bad = Client(secure_broker.service_url, authentication=AuthenticationToken(token + "x"))
    try:
        with pytest.raises(AuthenticationError) as info:
            bad.create_producer(fresh_topic())
    finally:
        bad.close()
    shown += [str(info.value), repr(info.value)]
    shown += [r.getMessage() for r in caplog.records]
    assert all(token not in text for text in shown)


# ------------------------------------------------------------------------------ admin REST


def test_admin_rest_with_tokens(secure_broker: SecureBroker) -> None:
    namespace = f"public/sec-{uuid.uuid4().hex[:8]}"
    with AdminClient(secure_broker.admin_url, token=secure_broker.admin_token) as admin:
        admin.create_namespace(namespace)
        admin.set_deduplication(namespace, True)
        topic = fresh_topic("sec-part")
        admin.create_partitioned_topic(topic, 2)
        assert admin.partitions(topic) == 2
    # Pulsar answers 401 for a role without permission too ("Unauthorized to ...").
    for token, word in (
        (None, "authentication failed"),
        ("not-a-jwt", "authentication failed"),
        (secure_broker.token(NOBODY), "Unauthorized to"),
    ):
        with AdminClient(secure_broker.admin_url, token=token) as admin:
            with pytest.raises(AdminError) as info:
                admin.create_namespace(f"public/sec-{uuid.uuid4().hex[:8]}")
            assert info.value.status == 401
            assert word in str(info.value)
            assert "\n" not in str(info.value)
            if token:
                assert token not in str(info.value)


def test_https_admin_with_the_ca(secure_broker: SecureBroker) -> None:
    """The broker's https admin answers with the token and our CA (proves the TLS setup)."""
    ctx = ssl.create_default_context(cafile=str(secure_broker.tls.ca_cert))
    headers = {"Authorization": f"Bearer {secure_broker.admin_token}"}
    with httpx.Client(verify=ctx, headers=headers, timeout=10) as http:
        resp = http.get(secure_broker.tls_admin_url + "/admin/v2/tenants")
    assert resp.status_code == 200 and "public" in resp.json()


def test_admin_client_over_https_with_a_private_ca(secure_broker: SecureBroker) -> None:
    with AdminClient(
        secure_broker.tls_admin_url,
        token=secure_broker.admin_token,
        tls_ca_file=str(secure_broker.tls.ca_cert),
    ) as admin:
        assert admin.partitions(fresh_topic()) == 0


# ------------------------------------------------------------------------------ TLS


def test_tls_with_the_ca_file_and_hostname_verification(secure_broker: SecureBroker) -> None:
    topic = fresh_topic("sec-tls")
    client = Client(
        secure_broker.tls_service_url,
        authentication=AuthenticationToken(secure_broker.token(LOADER)),
        tls_trust_certs_file_path=str(secure_broker.tls.ca_cert),
        tls_validate_hostname=True,
    )
    try:
        consumer = client.subscribe(topic, "sub", initial_position="earliest")
        producer = client.create_producer(topic, compression_type="lz4")
        for i in range(20):
            producer.send(b"tls-%d" % i)
        got = [consumer.receive(timeout_millis=10_000).data() for _ in range(20)]
        assert got == [b"tls-%d" % i for i in range(20)]
    finally:
        client.close()


TLS_FAILURES = {
    "wrong-ca": "certificate verify failed: unable to get local issuer certificate",
    "no-ca": "certificate verify failed",  # the system CAs do not know ours
    "hostname": "certificate verify failed: IP address mismatch",
    "missing-ca-file": "cannot load tls_trust_certs_file_path",
}


def tls_case(broker: SecureBroker, case: str) -> tuple[str, str | None]:
    """(service URL, CA file) for one TLS failure case."""
    url, ca = broker.tls_service_url, str(broker.tls.ca_cert)
    if case == "wrong-ca":
        ca = str(broker.tls.wrong_ca_cert)
    elif case == "no-ca":
        ca = None
    elif case == "hostname":
        url = url.replace("localhost", "127.0.0.1")  # the certificate names localhost only
    elif case == "missing-ca-file":
        ca = str(broker.tls.ca_cert) + ".missing"
    return url, ca


@pytest.mark.parametrize("case", list(TLS_FAILURES))
def test_tls_failures_are_clear_and_quick(secure_broker: SecureBroker, case: str) -> None:
    """A certificate that does not verify (or a CA file that cannot be read) will not get
    better on a retry: a clear ConnectError well before the 10 s connect timeout."""
    url, ca = tls_case(secure_broker, case)
    client = Client(
        url,
        authentication=AuthenticationToken(secure_broker.token(LOADER)),
        tls_trust_certs_file_path=ca,
        tls_validate_hostname=True,
        connection_timeout_ms=10_000,
    )
    started = time.monotonic()
    try:
        with pytest.raises(ConnectError, match=TLS_FAILURES[case]):
            client.create_producer(fresh_topic())
    finally:
        client.close()
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------------ the CLI


def test_cli_with_the_token_from_the_environment_and_the_flag(
    secure_broker: SecureBroker,
    tmp_path: Path,
) -> None:
    token = secure_broker.token(LOADER)
    admin_token = secure_broker.admin_token  # creating partitions needs more than "produce"
    topic = fresh_topic("sec-cli")
    common = ["--headless", "-u", secure_broker.service_url, "--admin-url", secure_broker.admin_url]
    produced = run_cli(
        ["produce", topic, *common, "-m", "300", "-r", "1000", "--verify",
         "--report", str(tmp_path / "produce.json"), "--partitions", "2"],
        env={"PULSARLOAD_AUTH_TOKEN": admin_token},
    )  # fmt: skip
    assert produced.returncode == 0, produced.stdout + produced.stderr
    consumed = run_cli(
        ["consume", topic, *common, "-m", "300", "--initial-position", "earliest",
         "--auth-token", token, "--verify", "--report", str(tmp_path / "consume.json")],
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    report = json.loads((tmp_path / "consume.json").read_text())
    assert report["meta"]["summary"]["received"] == 300
    assert report["meta"]["verify"]["missing"] == 0
    for result in (produced, consumed):
        assert token not in result.stdout + result.stderr
        assert admin_token not in result.stdout + result.stderr
    for path in tmp_path.iterdir():
        assert token not in path.read_text() and admin_token not in path.read_text(), path


def test_save_profile_leaves_the_token_out(tmp_path: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsb2FkZXIifQ.c2lnbmF0dXJl"
    profile = tmp_path / "p.toml"
    by_flag = run_cli(
        ["produce", "t", "--auth-token", token, "-r", "5", "--save-profile", str(profile)]
    )
    assert by_flag.returncode == 0, by_flag.stderr
    assert "rate" in profile.read_text() and token not in profile.read_text()
    by_env = run_cli(
        ["consume", "t", "--save-profile", str(profile)], env={"PULSARLOAD_AUTH_TOKEN": token}
    )
    assert by_env.returncode == 0, by_env.stderr
    assert token not in profile.read_text() + by_flag.stdout + by_env.stdout


@pytest.mark.parametrize("role", ["bad-token", NOBODY])
def test_cli_refused_token_is_one_line(
    secure_broker: SecureBroker,
    tmp_path: Path,
    role: str,
) -> None:
    token = "not.a.jwt" if role == "bad-token" else secure_broker.token(role)
    report = tmp_path / "r.json"
    started = time.monotonic()
    result = run_cli(
        ["produce", fresh_topic(), "--headless", "-u", secure_broker.service_url, "-m", "10",
         "--report", str(report)],
        env={"PULSARLOAD_AUTH_TOKEN": token},
    )  # fmt: skip
    line = one_error_line(result)
    assert time.monotonic() - started < 30  # no retry loop (interpreter start included)
    expected = "authenticat" if role == "bad-token" else "not authorized"
    assert expected in line.lower()
    assert token not in result.stdout + result.stderr
    no_partial_report(report, token)


@pytest.mark.parametrize("case", ["wrong-ca", "hostname", "missing-ca-file"])
def test_cli_tls_failures_are_one_line(secure_broker: SecureBroker, case: str) -> None:
    """Hostname verification is on by default in the CLI (no flag needed to get it)."""
    url, ca = tls_case(secure_broker, case)
    started = time.monotonic()
    result = run_cli(
        ["produce", fresh_topic(), "--headless", "-u", url, "--tls-ca-file", str(ca), "-m", "5"],
        env={"PULSARLOAD_AUTH_TOKEN": secure_broker.token(LOADER)},
    )
    line = one_error_line(result)
    assert TLS_FAILURES[case] in line
    assert time.monotonic() - started < 30  # interpreter start-up included

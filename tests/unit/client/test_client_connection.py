"""Connection behaviour against the fake broker: handshake, auth, keep-alive, TLS, timeouts."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from pulsarload.client import AuthenticationToken, Client, ConnectError
from pulsarload.client.connection import Connection
from pulsarload.client.errors import AuthenticationError, InvalidUrl, NotConnected
from pulsarload.client.settings import ClientConfig
from pulsarload.client.urls import Address
from pulsarload.wire.commands import CommandAuthChallenge, CommandError, CommandPing
from pulsarload.wire.enums import CommandType, ServerError
from pulsarload.wire.messages import AuthData
from support.fake_broker import FakeBroker
from support.waiting import eventually

pytestmark = pytest.mark.timeout(30)


def _open(fake: FakeBroker, **kw: object) -> Connection:
    cfg = ClientConfig(fake.url, **kw)  # type: ignore[arg-type]
    addr = cfg.parsed_url.addresses[0]
    return Connection.open(addr, addr, cfg)


def test_handshake_announces_protocol_21(fake: FakeBroker) -> None:
    conn = _open(fake)
    try:
        eventually(
            lambda: bool(fake.conns) and fake.conns[0].connect is not None,
            what="bool(fake.conns) and fake.conns[0].connect is not None",
        )
        cmd = fake.conns[0].connect
        assert cmd.protocol_version == 21
        assert cmd.client_version.startswith("pulsarload-")
        assert cmd.auth_method_name is None
        assert conn.server_version == "fake-broker"
        assert conn.bytes_out > 0 and conn.bytes_in > 0
    finally:
        conn.close()


def test_max_message_size_from_connected(make_fake) -> None:
    fake = make_fake(max_message_size=12345)
    conn = _open(fake)
    assert conn.max_message_size == 12345
    conn.close()


def test_token_auth_and_challenge(fake: FakeBroker) -> None:
    answered: list[object] = []

    def on_auth_response(c, frame) -> bool:
        answered.append(frame.command)
        return True

    fake.on(CommandType.AUTH_RESPONSE, on_auth_response)
    cfg = ClientConfig(fake.url)
    addr = cfg.parsed_url.addresses[0]
    conn = Connection.open(addr, addr, cfg, AuthenticationToken("secret-token"))
    try:
        connect = fake.conns[0].connect
        assert connect.auth_method_name == "token"
        assert connect.auth_data == b"secret-token"
        fake.conns[0].send(
            CommandAuthChallenge(
                server_version="fake", challenge=AuthData(auth_method_name="token", auth_data=b"")
            )
        )
        eventually(lambda: bool(answered), what="bool(answered)")
        resp = answered[0]
        assert resp.response.auth_method_name == "token"
        assert resp.response.auth_data == b"secret-token"
    finally:
        conn.close()


def test_broker_error_on_connect_is_mapped(fake: FakeBroker) -> None:
    def refuse(c, frame) -> bool:
        c.send(
            CommandError(request_id=0, error=ServerError.AuthenticationError, message="bad token")
        )
        return True

    fake.on(CommandType.CONNECT, refuse)
    with pytest.raises(AuthenticationError, match="bad token"):
        _open(fake)


def test_answers_ping_with_pong(fake: FakeBroker) -> None:
    conn = _open(fake)
    try:
        fake.conns[0].send(CommandPing())
        eventually(
            lambda: any(type(c).__name__ == "CommandPong" for c in fake.commands),
            what="any(type(c).__name__ == 'CommandPong' for c in fake.commands)",
        )
    finally:
        conn.close()


def test_keepalive_pings_and_closes_dead_connection(make_fake) -> None:
    fake = make_fake(answer_ping=False)
    conn = _open(fake, keep_alive_interval_seconds=0.2)
    closed = []
    conn.add_close_listener(closed.append)
    assert conn.wait_closed(3.0)
    assert any(type(c).__name__ == "CommandPing" for c in fake.commands)
    assert isinstance(conn.close_reason, NotConnected)
    assert "PING" in str(conn.close_reason)
    assert closed == [conn]


def test_keepalive_keeps_live_connection(fake: FakeBroker) -> None:
    conn = _open(fake, keep_alive_interval_seconds=0.1)
    eventually(
        lambda: sum(type(c).__name__ == "CommandPing" for c in fake.commands) >= 4,
        what="four pings, answered",
    )
    assert not conn.closed  # a dead connection closes after two silent intervals
    conn.close()


def test_connect_timeout_names_address(make_fake) -> None:
    fake = make_fake(answer_connect=False)
    t0 = time.monotonic()
    with pytest.raises(ConnectError) as info:
        _open(fake, connection_timeout_ms=300)
    assert 0.25 < time.monotonic() - t0 < 3
    assert f"127.0.0.1:{fake.port}" in str(info.value)
    assert info.value.address == f"127.0.0.1:{fake.port}"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_broker_raises_connect_error_after_timeout() -> None:
    port = _free_port()
    client = Client(
        f"pulsar://127.0.0.1:{port}",
        connection_timeout_ms=600,
        operation_timeout_seconds=5,
        initial_backoff_interval_ms=50,
        max_backoff_interval_ms=100,
    )
    try:
        t0 = time.monotonic()
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
            client.create_producer("t")
        elapsed = time.monotonic() - t0
        assert 0.5 < elapsed < 3.0
    finally:
        client.close()


def test_bad_url_fails_before_io() -> None:
    with pytest.raises(InvalidUrl, match="service_url"):
        Client("pulsar//localhost:6650")


def test_write_after_close_raises_not_connected(fake: FakeBroker) -> None:
    conn = _open(fake)
    conn.close()
    with pytest.raises(NotConnected):
        conn.send(b"\x00")


def test_peer_close_fails_requests_and_notifies(fake: FakeBroker) -> None:
    conn = _open(fake)
    fake.on(CommandType.LOOKUP, lambda c, f: True)  # never answers
    closed = []
    conn.add_close_listener(closed.append)
    import threading

    from pulsarload.wire.commands import CommandLookupTopic

    threading.Timer(0.2, fake.kill_connections).start()
    with pytest.raises(NotConnected):
        conn.request(lambda rid: CommandLookupTopic(topic="x", request_id=rid), "LOOKUP x", 5)
    assert conn.wait_closed(2)
    assert closed == [conn]


def _make_cert(tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a cert")
def test_tls_with_ca_file_and_hostname_check(make_fake, make_client, tmp_path: Path) -> None:
    key, cert = _make_cert(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    fake = make_fake(ssl_context=server_ctx)
    assert fake.url.startswith("pulsar+ssl://")
    client = make_client(fake.url, tls_trust_certs_file_path=str(cert), tls_validate_hostname=True)
    producer = client.create_producer("tls-topic", batching_enabled=False)
    producer.send(b"over tls")
    assert fake.received[-1].payload == b"over tls"
    # Without the CA the handshake fails, naming the address.
    other = make_client(fake.url, connection_timeout_ms=1000, operation_timeout_seconds=1)
    with pytest.raises(ConnectError, match="TLS"):
        other.create_producer("tls-topic")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a cert")
def test_tls_many_writers_one_connection(make_fake, make_client, tmp_path: Path) -> None:
    """Several producer threads share one TLS connection while its reader decrypts."""
    import os
    import threading

    key, cert = _make_cert(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    fake = make_fake(ssl_context=server_ctx)
    client = make_client(fake.url, tls_trust_certs_file_path=str(cert))
    producers = [client.create_producer(f"t{i}", batching_enabled=False) for i in range(4)]
    assert len({id(p.connection) for p in producers}) == 1
    sent: list[bytes] = []
    lock = threading.Lock()

    def work(p) -> None:
        for _ in range(50):
            data = os.urandom(3000)
            with lock:
                sent.append(data)
            p.send_async(data, None)
        p.send(os.urandom(1) * 300_000)  # many TLS records in one frame

    threads = [threading.Thread(target=work, args=(p,)) for p in producers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for p in producers:
        p.flush(10)
    got = [r.payload for r in fake.received]
    assert len(got) == 4 * 51
    assert sorted(x for x in got if len(x) == 3000) == sorted(sent)


def test_address_str() -> None:
    assert str(Address("h", 1)) == "h:1"

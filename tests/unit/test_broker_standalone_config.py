"""The launcher's extra config lines and its readiness probe with a token and a TLS CA."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulsarload.broker import standalone
from pulsarload.broker.jvm import Java
from pulsarload.broker.standalone import (
    BrokerError,
    StandaloneBroker,
    admin_ready,
    apply_config,
    conf_ports,
)
from pulsarload.config import LocalBrokerSettings
from pulsarload.errors import UserError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBrokerSettings:
    monkeypatch.setenv("PULSARLOAD_CACHE", str(tmp_path / "cache"))
    return LocalBrokerSettings(broker_port=free_port(), web_port=free_port(), home=tmp_path / "h")


def conf_of(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            assert key not in out, f"{key} twice"
            out[key] = value
    return out


# --- extra config ----------------------------------------------------------------------------


def test_extra_config_replaces_template_keys_in_place_and_adds_the_rest(settings) -> None:
    plain = StandaloneBroker(settings)
    plain.command(Java(path="java", major=17))  # renders the template as it is
    text = plain.conf_file.read_text()
    template = conf_of(text)
    assert "authenticationEnabled" in template  # one key the template has
    out = apply_config(text, {"authenticationEnabled": "true", "superUserRoles": "admin"})
    conf = conf_of(out)
    assert conf["authenticationEnabled"] == "true"
    assert conf["superUserRoles"] == "admin"
    assert {k: v for k, v in conf.items() if k != "superUserRoles"} == {
        **template,
        "authenticationEnabled": "true",
    }
    assert out.index("authenticationEnabled=true") < out.index("superUserRoles=admin")


def test_extra_config_reaches_the_written_config(settings) -> None:
    sb = StandaloneBroker(
        settings,
        extra_config={"authorizationEnabled": True, "brokerServicePortTls": 16651, "x.y-z_1": "a"},
    )
    sb.command(Java(path="/opt/java/bin/java", major=17))
    conf = conf_of(sb.conf_file.read_text())
    assert conf["authorizationEnabled"] == "true"  # Python booleans as Java properties want
    assert conf["brokerServicePortTls"] == "16651"
    assert conf["x.y-z_1"] == "a"
    assert conf_ports(sb.conf_file) == (settings.broker_port, settings.web_port)


@pytest.mark.parametrize(
    "extra, expect",
    [
        ({"bad key": "1"}, "'bad key' is malformed"),
        ({"": "1"}, "'' is malformed"),
        ({"a=b": "1"}, "'a=b' is malformed"),
        ({"#comment": "1"}, "'#comment' is malformed"),
        ({"1abc": "1"}, "'1abc' is malformed"),
        ({"webServicePort": "9"}, "set web_port instead"),
        ({"tlsKeyFilePath": "a\nauthenticationEnabled=false"}, "spans lines"),
        ({"webServicePortTls": "https"}, "not a port number"),
    ],
)
def test_a_malformed_extra_config_is_one_clear_line(settings, extra, expect) -> None:
    with pytest.raises(BrokerError) as err:
        StandaloneBroker(settings, extra_config=extra)
    msg = str(err.value)
    assert expect in msg and "\n" not in msg
    assert isinstance(err.value, UserError)


def test_start_refuses_a_busy_extra_port_before_launching_java(settings, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(standalone.jvm, "find_java", lambda: Java("java", 17))
    monkeypatch.setattr(standalone, "ensure_classpath", lambda s: [])
    monkeypatch.setattr(StandaloneBroker, "_launch", lambda self, cmd: launched.append(cmd))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        busy = server.getsockname()[1]
        sb = StandaloneBroker(settings, extra_config={"webServicePortTls": busy})
        with pytest.raises(BrokerError, match=f"port {busy} \\(webServicePortTls\\)"):
            sb.start()
    assert launched == []


def test_an_unreadable_probe_ca_is_refused_at_once(settings, tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="CA file .* cannot be read"):
        StandaloneBroker(settings, probe_ca_file=tmp_path / "missing.pem")


# --- readiness probe -------------------------------------------------------------------------

TOKEN = "probe-token"
ANSWERS = {
    "/admin/v2/brokers/ready": b"ok",
    "/admin/v2/tenants": json.dumps(["public", "pulsar"]).encode(),
    "/admin/v2/namespaces/public": json.dumps(["public/default"]).encode(),
}


class _Admin(http.server.BaseHTTPRequestHandler):
    """A secured admin API's readiness answers: 401 without the bearer token."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = ANSWERS.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


def _serve(context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Admin)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if context is not None else "http"
    try:
        yield f"{scheme}://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def admin_url() -> Iterator[str]:
    yield from _serve()


def test_the_probe_carries_a_token(admin_url: str, settings) -> None:
    assert not admin_ready(admin_url)  # anonymous: refused
    assert not admin_ready(admin_url, token="wrong")
    assert admin_ready(admin_url, token=TOKEN)
    broker = StandaloneBroker(settings, probe_token=TOKEN, probe_url=admin_url)
    assert broker.ready()
    assert not StandaloneBroker(settings, probe_url=admin_url).ready()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a cert")
def test_the_probe_trusts_the_given_ca_over_https(settings, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    served = _serve(context)
    url = next(served)
    try:
        assert not admin_ready(url, token=TOKEN)  # the system CAs do not know this one
        assert admin_ready(url, token=TOKEN, ca_file=cert)
        broker = StandaloneBroker(settings, probe_token=TOKEN, probe_ca_file=cert, probe_url=url)
        assert broker.ready()
    finally:
        served.close()

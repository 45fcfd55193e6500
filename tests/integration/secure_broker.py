"""Fixtures for a secured local Pulsar: token, basic and TLS-certificate authentication,
authorization, and TLS.

Everything secret is made by the test itself: a random HS256 key (handed to the broker as
``tokenSecretKey=data:;base64,...``), JWTs signed here with `hmac` (pure Python), and a CA plus a
broker certificate made with the `openssl` command line (SAN ``DNS:localhost`` only, so
connecting to ``127.0.0.1`` must fail hostname verification). A second, unrelated CA stands in
for "the wrong CA".

The broker is the launcher's own `StandaloneBroker` with `extra_config` (the security keys,
applied over its template) and a readiness probe that asks the https admin port with the
superuser's token and the test CA, so the probe itself checks that TLS is up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pulsarload.broker.standalone import StandaloneBroker
from pulsarload.client.admin import AdminClient
from pulsarload.config import LocalBrokerSettings

SUPERUSER = "admin"
#: A role allowed to produce and consume on public/default.
LOADER = "loader"
#: A role that authenticates but has no permission anywhere.
NOBODY = "nobody"
#: The LOADER role's password for basic authentication (its client certificate's CN is LOADER).
BASIC_PASSWORD = "loader-secret"


# ------------------------------------------------------------------------------------ tokens


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_token(secret: bytes, subject: str, *, expires_at: float | None = None) -> str:
    """An HS256 JWT for `subject`, as `pulsar tokens create --secret-key` makes them."""
    header = _b64url(json.dumps({"alg": "HS256"}, separators=(",", ":")).encode())
    claims: dict[str, object] = {"sub": subject}
    if expires_at is not None:
        claims["exp"] = int(expires_at)
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


# ------------------------------------------------------------------------------------ TLS


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    broker_cert: Path
    broker_key: Path  # PKCS#8, which Pulsar requires
    wrong_ca_cert: Path  # a CA that did not sign the broker certificate
    client_cert: Path | None = None  # CN=LOADER, signed by the CA: TLS authentication
    client_key: Path | None = None


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", key.name, cwd=directory)  # fmt: skip
    _openssl(
        "req", "-x509", "-new", "-key", key.name, "-sha256", "-days", "2",
        "-subj", f"/CN=pulsarload test {name}", "-out", cert.name,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        cwd=directory,
    )  # fmt: skip
    return key, cert


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a broker certificate for `localhost` signed by it, and an unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _make_ca(directory, "ca")
    _wrong_key, wrong_cert = _make_ca(directory, "wrong-ca")
    (directory / "broker.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", "broker.key.pem", cwd=directory)  # fmt: skip
    _openssl("req", "-new", "-key", "broker.key.pem", "-subj", "/CN=localhost",
             "-out", "broker.csr", cwd=directory)  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", ca_cert.name, "-CAkey", ca_key.name,
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "broker.ext",
        "-out", "broker.cert.pem",
        cwd=directory,
    )  # fmt: skip
    (directory / "client.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n"
    )
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", "client.key.pem", cwd=directory)  # fmt: skip
    _openssl("req", "-new", "-key", "client.key.pem", "-subj", f"/CN={LOADER}",
             "-out", "client.csr", cwd=directory)  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "client.csr", "-CA", ca_cert.name, "-CAkey", ca_key.name,
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "client.ext",
        "-out", "client.cert.pem",
        cwd=directory,
    )  # fmt: skip
    return TlsFiles(
        ca_cert,
        directory / "broker.cert.pem",
        directory / "broker.key.pem",
        wrong_cert,
        directory / "client.cert.pem",
        directory / "client.key.pem",
    )


def basic_auth_conf(directory: Path) -> str:
    """The broker's basicAuthConf (user:apr1-hash lines) as a data URL, for LOADER."""
    result = subprocess.run(
        ["openssl", "passwd", "-apr1", BASIC_PASSWORD],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    line = f"{LOADER}:{result.stdout.strip()}\n"
    return "data:;base64," + base64.b64encode(line.encode()).decode()


# ------------------------------------------------------------------------------------ broker


def free_port() -> int:
    """A TCP port nothing listens on right now (the broker binds it moments later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secured_standalone(
    settings: LocalBrokerSettings,
    tls: TlsFiles,
    admin_token: str,
    tls_admin_url: str,
    extra: dict[str, str] | None = None,
) -> StandaloneBroker:
    """The launcher for a secured broker: probes over https with the CA and the token."""
    return StandaloneBroker(
        settings,
        extra_config=extra,
        probe_token=admin_token,
        probe_ca_file=tls.ca_cert,
        probe_url=tls_admin_url,
    )


@dataclass(frozen=True)
class SecureBroker:
    """A running broker with token auth, authorization and TLS, and what tests need to use it."""

    service_url: str  # pulsar://localhost:<plain port>
    tls_service_url: str  # pulsar+ssl://localhost:<tls port>
    admin_url: str  # http://localhost:<web port>
    tls_admin_url: str  # https://localhost:<web tls port>
    secret: bytes
    tls: TlsFiles
    local: StandaloneBroker

    def save(self, path: Path) -> None:
        """Write where it is, so a later session can reuse it (PULSARLOAD_SECURE_BROKER_DIR)."""
        info = {
            "service_url": self.service_url,
            "tls_service_url": self.tls_service_url,
            "admin_url": self.admin_url,
            "tls_admin_url": self.tls_admin_url,
            "secret": self.secret.hex(),
            "tls": {k: str(v) for k, v in self.tls.__dict__.items()},
            "home": str(self.local.home),
            "ports": [
                self.local.settings.broker_port,
                self.local.settings.web_port,
            ],
        }
        path.write_text(json.dumps(info, indent=2))

    @classmethod
    def load(cls, path: Path) -> SecureBroker:
        info = json.loads(path.read_text())
        broker_port, web_port = info["ports"]
        settings = LocalBrokerSettings(
            broker_port=broker_port, web_port=web_port, home=Path(info["home"])
        )
        secret = bytes.fromhex(info["secret"])
        tls = TlsFiles(**{k: Path(v) for k, v in info["tls"].items()})
        local = secured_standalone(
            settings, tls, sign_token(secret, SUPERUSER), info["tls_admin_url"]
        )
        return cls(
            info["service_url"],
            info["tls_service_url"],
            info["admin_url"],
            info["tls_admin_url"],
            secret,
            tls,
            local,
        )

    def token(self, role: str, *, expires_at: float | None = None) -> str:
        return sign_token(self.secret, role, expires_at=expires_at)

    @property
    def admin_token(self) -> str:
        return self.token(SUPERUSER)


def secure_config(
    secret: bytes,
    admin_token: str,
    tls: TlsFiles,
    tls_port: int,
    web_tls_port: int,
    basic_conf: str | None = None,
) -> dict[str, str]:
    """The config lines that turn the standalone into a secured one."""
    providers = [
        "org.apache.pulsar.broker.authentication.AuthenticationProviderToken",
        "org.apache.pulsar.broker.authentication.AuthenticationProviderTls",
    ]
    extra = {}
    if basic_conf is not None:
        providers.append("org.apache.pulsar.broker.authentication.AuthenticationProviderBasic")
        extra["basicAuthConf"] = basic_conf
    return {
        **extra,
        "authenticationEnabled": "true",
        "authenticationProviders": ",".join(providers),
        "tokenSecretKey": "data:;base64," + base64.b64encode(secret).decode(),
        "authorizationEnabled": "true",
        "superUserRoles": SUPERUSER,
        # The broker's own client (standalone creates public/default through it).
        "brokerClientAuthenticationPlugin": "org.apache.pulsar.client.impl.auth.AuthenticationToken",
        "brokerClientAuthenticationParameters": f"token:{admin_token}",
        "brokerServicePortTls": str(tls_port),
        "webServicePortTls": str(web_tls_port),
        "tlsCertificateFilePath": str(tls.broker_cert),
        "tlsKeyFilePath": str(tls.broker_key),
        "tlsTrustCertsFilePath": str(tls.ca_cert),
        "tlsRequireTrustedClientCertOnConnect": "false",
    }


def start_secure_broker(directory: Path) -> SecureBroker:
    """Start a secured standalone under `directory` on free ports (40-90 s on 2 busy cores)."""
    secret = os.urandom(32)  # HS256 wants at least 256 bits
    tls = make_tls_files(directory / "tls")
    admin_token = sign_token(secret, SUPERUSER)
    ports = [free_port() for _ in range(4)]
    broker_port, web_port, tls_port, web_tls_port = ports
    settings = LocalBrokerSettings(
        broker_port=broker_port, web_port=web_port, home=directory / "home", start_timeout_s=300
    )
    tls_admin_url = f"https://localhost:{web_tls_port}"
    local = secured_standalone(
        settings,
        tls,
        admin_token,
        tls_admin_url,
        secure_config(secret, admin_token, tls, tls_port, web_tls_port, basic_auth_conf(directory)),
    )
    local.start()
    broker = SecureBroker(
        service_url=settings.service_url,
        tls_service_url=f"pulsar+ssl://localhost:{tls_port}",
        admin_url=settings.admin_url,
        tls_admin_url=tls_admin_url,
        secret=secret,
        tls=tls,
        local=local,
    )
    try:
        with AdminClient(broker.admin_url, token=admin_token) as admin:
            admin._request(
                "POST",
                f"/admin/v2/namespaces/public/default/permissions/{LOADER}",
                json=["produce", "consume"],
            )
    except BaseException:
        local.stop()
        raise
    broker.save(directory / INFO_FILE)
    return broker


INFO_FILE = "secure-broker.json"


def secure_broker_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """The body of a module-scoped fixture: one secured broker per test module (it is heavy:
    ~1 GB, up to a minute or more to start). Use as ``yield from secure_broker_session(f)``.

    With PULSARLOAD_SECURE_BROKER_DIR naming the directory of one started earlier by
    `python tests/integration/secure_broker.py DIR` that is still ready, that one is used
    (and left running); otherwise a new one starts and is stopped at the end.
    """
    reuse = os.environ.get("PULSARLOAD_SECURE_BROKER_DIR")
    if reuse and (Path(reuse) / INFO_FILE).exists():
        broker = SecureBroker.load(Path(reuse) / INFO_FILE)
        if broker.local.ready():
            yield broker
            return
    broker = start_secure_broker(tmp_path_factory.mktemp("secure-broker"))
    try:
        yield broker
    finally:
        broker.local.stop()


if __name__ == "__main__":  # start one to reuse across test sessions while developing
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "secure-broker").resolve()
    started = start_secure_broker(target)
    print(f"secured broker ready: {started.service_url} {started.tls_service_url}")
    print(
        f"reuse it with PULSARLOAD_SECURE_BROKER_DIR={target}; stop it with kill $(cat "
        f"{started.local.pid_file})"
    )

"""The official client's names and providers, without a broker: message ids, exceptions,
authentication plugin strings, failover settings, and the encryption format's round trip."""

from __future__ import annotations

import pickle

import pytest
from Crypto.PublicKey import RSA

import pulsarload.client as pulsar
from pulsarload.client.crypto import MessageDecryptor, MessageEncryptor
from pulsarload.wire.messages import MessageMetadata


def test_message_id_official_names() -> None:
    mid = pulsar.MessageId(7, 8, 2, 3)
    assert pulsar.MessageId.earliest == pulsar.MessageId.EARLIEST == pulsar.MessageId(-1, -1)
    assert pulsar.MessageId.latest is pulsar.MessageId.LATEST
    assert [mid.ledger_id(), mid.entry_id(), mid.partition(), mid.batch_index()] == [7, 8, 2, 3]
    assert mid.ledger_id == 7 and pulsar.MessageId.wrap(mid) is mid
    with pytest.raises(TypeError):
        pulsar.MessageId.wrap(b"not an id")
    named = pulsar.MessageId.deserialize(mid.serialize(), topic="t")
    assert named == mid and hash(named) == hash(mid) and named.topic_name() == "t"
    assert pulsar.MessageId.deserialize(mid.serialize()).topic_name() is None
    assert pickle.loads(pickle.dumps(named)).topic_name() == "t"


def test_every_official_exception_is_a_pulsar_exception() -> None:
    from pulsarload.client import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(pulsar, name), pulsar.PulsarException), name
    assert pulsar.Timeout is pulsar.TimeoutError
    assert pulsar.LookupError is pulsar.errors.LookupFailed
    assert pulsar.CumulativeAcknowledgementNotAllowedError is pulsar.CumulativeAckNotAllowed
    assert pulsar.Timeout("x").error() is pulsar.Result.Timeout


def test_authentication_plugin_strings(tmp_path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("PULSARLOAD_TEST_TOKEN", "from-env")
    forms = {
        "token:abc": b"abc",
        f"file://{token_file}": b"from-file",
        "env:PULSARLOAD_TEST_TOKEN": b"from-env",
        "bare": b"bare",
    }
    for params, data in forms.items():
        auth = pulsar.Authentication("token", params)
        assert (auth.method_name, auth.auth_data()) == ("token", data)
    basic = pulsar.Authentication(
        "org.apache.pulsar.client.impl.auth.AuthenticationBasic",
        '{"username": "u", "password": "p", "method": "m"}',
    )
    assert (basic.method_name, basic.auth_data()) == ("m", b"u:p")
    assert basic.http_headers() == {"Authorization": "Basic dTpw"}
    tls = pulsar.Authentication("tls", "tlsCertFile:/c.pem,tlsKeyFile:/k.pem")
    assert (tls.method_name, tls.tls_certificate_file_path, tls.tls_private_key_file_path) == (
        "tls",
        "/c.pem",
        "/k.pem",
    )
    assert pulsar.Authentication().method_name == ""
    with pytest.raises(pulsar.InvalidConfiguration, match="not a known plugin"):
        pulsar.Authentication("/usr/lib/libauthtls.so", "x")
    with pytest.raises(pulsar.InvalidConfiguration, match="tlsCertFile"):
        pulsar.Authentication("tls", "tlsCertFile:/c.pem")
    with pytest.raises(pulsar.InvalidConfiguration, match="username and password"):
        pulsar.AuthenticationBasic(auth_params_string='{"username": "u"}')
    missing = pulsar.Authentication("token", "env:PULSARLOAD_NO_SUCH_VARIABLE")
    with pytest.raises(pulsar.ErrorGettingAuthenticationData):
        missing.auth_data()


def test_failover_settings_are_checked() -> None:
    primary = pulsar.ServiceInfo("pulsar://a:6650")
    with pytest.raises(pulsar.InvalidConfiguration, match="at least one"):
        pulsar.AutoClusterFailover(primary, [])
    with pytest.raises(pulsar.InvalidConfiguration, match="check_interval_ms"):
        pulsar.AutoClusterFailover(primary, [pulsar.ServiceInfo("pulsar://b")], check_interval_ms=0)
    with pytest.raises(pulsar.InvalidConfiguration, match="ServiceInfo instead"):
        pulsar.Client(
            pulsar.AutoClusterFailover(primary, [pulsar.ServiceInfo("pulsar://b")]),
            authentication=pulsar.AuthenticationToken("t"),
        )
    assert pulsar.ServiceInfo("pulsar+ssl://a:6651").use_tls is True


class _Keys(pulsar.CryptoKeyReader):
    """Two key names, each with its own pair, served from memory."""

    def __init__(self) -> None:
        self.pairs = {name: RSA.generate(2048) for name in ("a", "b")}

    def get_public_key(self, key_name, metadata):
        return self.pairs[key_name].publickey().export_key(), {"v": key_name}

    def get_private_key(self, key_name, metadata):
        assert metadata == {"v": key_name}
        return self.pairs[key_name].export_key()


def test_encryption_round_trip_and_tampering() -> None:
    keys = _Keys()
    body, wrapped, iv = MessageEncryptor(["a", "b"], keys).encrypt(b"hello" * 100)
    assert [w.key for w in wrapped] == ["a", "b"] and len(iv) == 12
    assert len(body) == 500 + 16 and b"hello" not in body
    md = MessageMetadata(
        producer_name="p",
        sequence_id=0,
        publish_time=0,
        encryption_keys=wrapped,
        encryption_param=iv,
    )
    md = MessageMetadata.decode(md.encode())
    assert MessageDecryptor(keys).decrypt(md, body) == b"hello" * 100
    only_b = _Keys()
    only_b.pairs["b"] = keys.pairs["b"]  # "a" is a different key now: "b" must open it
    assert MessageDecryptor(only_b).decrypt(md, body) == b"hello" * 100
    tampered = bytes([body[0] ^ 1]) + body[1:]
    with pytest.raises(pulsar.CryptoError, match="does not verify"):
        MessageDecryptor(keys).decrypt(md, tampered)

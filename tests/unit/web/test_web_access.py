"""Bind addresses and the token policy of the browser dashboard."""

from __future__ import annotations

import pytest

from pulsarload.errors import ConfigError
from pulsarload.web.access import AccessPolicy, is_loopback, parse_address, policy_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8088", ("127.0.0.1", 8088)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8088", ("::1", 8088)),
    ],
)
def test_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "x", ":80", "1.2.3.4:99999", "::1:80", "host:-1"])
def test_bad_addresses_say_what_to_write(text: str) -> None:
    with pytest.raises(ConfigError, match="--web"):
        parse_address(text)


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")


def test_loopback_needs_no_token_unless_one_is_given() -> None:
    policy, generated = policy_for("127.0.0.1", None, False)
    assert policy.token is None and not generated
    assert not policy.view_needs_token and not policy.control_needs_token
    given, generated = policy_for("127.0.0.1", "s3cret", False)
    assert not generated and given.view_needs_token and given.control_needs_token


def test_any_other_address_gets_a_generated_token() -> None:
    policy, generated = policy_for("0.0.0.0", None, False)
    assert generated and policy.token and len(policy.token) >= 24
    assert policy.view_needs_token and policy.control_needs_token
    assert policy.allowed_hosts is None  # the token guards it, not the Host name
    other, _ = policy_for("0.0.0.0", None, False)
    assert other.token != policy.token
    assert policy.token not in repr(policy)


def test_viewing_without_the_token_only_when_asked() -> None:
    policy, _ = policy_for("0.0.0.0", "t0k", True)
    assert not policy.view_needs_token and policy.control_needs_token


def test_empty_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        policy_for("0.0.0.0", "  ", False)


def test_token_check() -> None:
    policy = AccessPolicy(token="abc", view_needs_token=True)
    assert policy.check_token("Bearer abc") is None
    assert policy.check_token("bearer abc") is None
    assert policy.check_token(None) and policy.check_token(None).startswith("missing")
    assert policy.check_token("abc").startswith("missing")  # no scheme
    assert policy.check_token("Bearer abd") == "wrong token"
    assert policy.check_token("Bearer ab") == "wrong token"
    assert AccessPolicy().check_token(None) is None


def test_loopback_server_answers_loopback_host_names_only() -> None:
    policy, _ = policy_for("127.0.0.1", None, False)
    for host in ("127.0.0.1:8088", "localhost:8088", "[::1]:8088", "localhost"):
        assert policy.host_allowed(host), host
    for host in ("evil.example:8088", "evil.example", None, ""):
        assert not policy.host_allowed(host), host

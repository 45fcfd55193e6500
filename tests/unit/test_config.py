"""Settings precedence (flags > environment > profile > preset > defaults) and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulsarload.config import (
    ConsumeSettings,
    ProduceSettings,
    load_profile,
    resolve_settings,
    save_profile,
)
from pulsarload.errors import ConfigError


def test_defaults_without_any_source() -> None:
    s = resolve_settings(ProduceSettings, environ={})
    assert s.rate == 0.0 and s.size == 1024 and s.service_url == "pulsar://localhost:6650"


def test_precedence_flags_env_profile_preset(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('rate = 300.0\nsize = 300\nthreads = 3\ncompression = "zstd"\n')
    env = {"PULSARLOAD_SIZE": "200", "PULSARLOAD_RATE": "200"}
    s = resolve_settings(
        ProduceSettings, {"rate": 100.0}, environ=env, profile=str(profile), preset="stress"
    )
    assert s.rate == 100.0  # flag
    assert s.size == 200  # environment over profile
    assert s.threads == 3  # profile over preset (stress says 8)
    assert s.compression == "zstd"  # profile over preset (stress says lz4)
    assert s.batch_max_messages == 1000  # default


def test_profile_round_trip(tmp_path: Path) -> None:
    s = resolve_settings(ProduceSettings, {"rate": 42.0, "properties": ("a=1", "b=2")}, environ={})
    path = save_profile(s, str(tmp_path / "saved.toml"))
    assert load_profile(ProduceSettings, str(path)) == {"rate": 42.0, "properties": ("a=1", "b=2")}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"flags": {"rate": -5.0}}, "rate=-5.0 is out of range 0..inf"),
        ({"flags": {"compression": "brotli"}}, "compression='brotli' is not allowed"),
        ({"environ": {"PULSARLOAD_THREADS": "many"}}, "PULSARLOAD_THREADS"),
        ({"environ": {"PULSARLOAD_VERIFY": "perhaps"}}, "expected true or false"),
        ({"preset": "ludicrous"}, "preset 'ludicrous' is unknown"),
        ({"flags": {"threads": 40}}, "exceeds max_threads"),
        ({"flags": {"no_such": 1}}, "unknown setting 'no_such'"),
        ({"flags": {"service_url": "localhost:6650"}}, "'localhost:6650' has no scheme"),
        ({"environ": {"PULSAR_BROKER_URL": "pulsar://h:99999"}}, "port 99999 is out of range"),
        ({"flags": {"admin_url": "localhost:8080"}}, "must start with http:// or https://"),
    ],
)
def test_invalid_values_name_the_setting(kwargs: dict, fragment: str) -> None:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as err:
        resolve_settings(ProduceSettings, **kwargs)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_profiles(tmp_path: Path) -> None:
    wrong_type = tmp_path / "w.toml"
    wrong_type.write_text('threads = "four"\n')
    with pytest.raises(ConfigError, match="threads .*whole number"):
        resolve_settings(ConsumeSettings, environ={}, profile=str(wrong_type))
    unknown = tmp_path / "u.toml"
    unknown.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        resolve_settings(ConsumeSettings, environ={}, profile=str(unknown))
    broken = tmp_path / "b.toml"
    broken.write_text("threads = = 1\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve_settings(ConsumeSettings, environ={}, profile=str(broken))
    with pytest.raises(ConfigError, match="not found"):
        resolve_settings(ConsumeSettings, environ={}, profile=str(tmp_path / "none.toml"))


def test_token_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("eyJhbGciOi.secret.sig\n")
    s = resolve_settings(ProduceSettings, {"auth_token_file": str(f)}, environ={})
    assert s.auth_token == "eyJhbGciOi.secret.sig"
    env = {"PULSARLOAD_AUTH_TOKEN_FILE": f"file://{f}"}
    assert resolve_settings(ProduceSettings, environ=env).auth_token == "eyJhbGciOi.secret.sig"
    with pytest.raises(ConfigError, match="cannot read auth token file"):
        resolve_settings(ProduceSettings, {"auth_token_file": str(tmp_path / "nope")}, environ={})


def test_the_official_engine_keeps_http_lookup_urls() -> None:
    # The C++ client also looks up over HTTP; only the native engine needs pulsar://.
    s = resolve_settings(
        ProduceSettings, {"engine": "official", "service_url": "http://localhost:8080"}, environ={}
    )
    assert s.service_url == "http://localhost:8080"

from __future__ import annotations

from pathlib import Path

import pytest

from pulsarload.errors import ConfigError
from pulsarload.load.payloads import (
    KeyGenerator,
    PayloadGenerator,
    PayloadSettings,
    parse_verify_header,
)


def test_random_payloads_have_the_size_asked_for_and_vary() -> None:
    gen = PayloadGenerator(PayloadSettings(kind="random", size=100, seed=1))
    batch = gen.next_batch(3000)
    assert len(batch) == 3000
    assert {len(p) for p in batch} == {100}
    assert len(set(batch)) > 100
    assert gen.sequence == 3000


def test_uniform_sizes_stay_in_range() -> None:
    gen = PayloadGenerator(
        PayloadSettings(size=10, size_distribution="uniform", size_max=20, seed=3)
    )
    sizes = {len(p) for p in gen.next_batch(2000)}
    assert min(sizes) >= 10 and max(sizes) <= 20 and len(sizes) > 5


def test_sequential_payloads_follow_the_counter() -> None:
    gen = PayloadGenerator(PayloadSettings(kind="sequential", size=6))
    assert gen.next_batch(3) == [b"000000", b"111111", b"222222"]


def test_pattern_and_compressible() -> None:
    gen = PayloadGenerator(PayloadSettings(kind="pattern", size=7, pattern=b"ab"))
    assert gen.next_batch(2) == [b"abababa", b"abababa"]
    comp = PayloadGenerator(PayloadSettings(kind="compressible", size=1000)).next_batch(1)[0]
    assert len(comp) == 1000 and len(set(comp)) < 40


def test_file_payloads(tmp_path: Path) -> None:
    f = tmp_path / "msgs.txt"
    f.write_bytes(b"one\ntwo\n\nthree\n")
    gen = PayloadGenerator(PayloadSettings(kind="file", file=str(f)))
    assert gen.next_batch(4) == [b"one", b"two", b"three", b"one"]


def test_unreadable_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read payload file"):
        PayloadGenerator(PayloadSettings(kind="file", file=str(tmp_path / "missing")))


def test_verified_payloads_carry_producer_and_sequence() -> None:
    gen = PayloadGenerator(PayloadSettings(size=64, seed=2), verify_producer_id=7)
    batch = gen.next_batch(5) + gen.next_batch(2)
    assert [parse_verify_header(p) for p in batch] == [(7, i) for i in range(7)]
    assert {len(p) for p in batch} == {64}
    assert parse_verify_header(b"plain payload without header") is None


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (PayloadSettings(kind="bogus"), "payload kind"),
        (PayloadSettings(size=-1), "message size"),
        (PayloadSettings(size_distribution="zipf"), "size distribution"),
        (PayloadSettings(size=10, size_distribution="uniform", size_max=5), "size_max"),
        (PayloadSettings(kind="file"), "needs a file"),
    ],
)
def test_invalid_settings_name_the_setting(settings: PayloadSettings, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        settings.validate()


def test_keys() -> None:
    assert KeyGenerator("none").next_key() is None
    seq = KeyGenerator("sequential")
    assert [seq.next_key(), seq.next_key()] == ["key-1", "key-2"]
    assert KeyGenerator("set", ["a", "b"], seed=1).next_key() in {"a", "b"}
    with pytest.raises(ConfigError):
        KeyGenerator("set")
    with pytest.raises(ConfigError):
        KeyGenerator("weird")

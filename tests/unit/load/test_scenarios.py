from __future__ import annotations

import pytest

from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.errors import ConfigError
from pulsarload.load.controls import Burst, SetRate, Stop, command_from_dict
from pulsarload.load.scenarios import Chaos, Ramp, Spike, make_scenario


def test_ramp_is_linear_then_holds() -> None:
    r = Ramp(0, 1000, 10)
    assert [r.rate_at(t) for t in (0, 2.5, 5, 10, 20)] == [1.0, 250.0, 500.0, 1000, 1000]


def test_spike_bursts_at_intervals() -> None:
    s = Spike(100, 5, every=10, length=2)
    assert [s.rate_at(t) for t in (0, 7.9, 8.0, 9.9, 10.0, 18.5)] == [100, 100, 500, 500, 100, 500]


def test_chaos_is_seeded_and_bounded() -> None:
    a, b = Chaos(10, 20, 1.0, seed=7), Chaos(10, 20, 1.0, seed=7)
    rates_a = [a.rate_at(t / 2) for t in range(40)]
    assert rates_a == [b.rate_at(t / 2) for t in range(40)]
    assert all(10 <= r <= 20 for r in rates_a)
    assert len(set(rates_a)) > 5
    assert rates_a[0] == rates_a[1]  # changes only every change_s seconds


def test_override_hands_control_to_the_user() -> None:
    r = Ramp(0, 1000, 10)
    r.override()
    assert r.rate_at(5) is None


def test_make_scenario_from_settings() -> None:
    assert make_scenario(ProduceSettings(scenario="sustained")) is None
    assert isinstance(make_scenario(ProduceSettings(scenario="ramp", rate=10)), Ramp)


def test_max_rate_is_refused_with_a_pointer_to_capacity() -> None:
    with pytest.raises(ConfigError, match="pulsarload capacity"):
        resolve_settings(ProduceSettings, {"scenario": "max-rate"}, environ={})
    with pytest.raises(ConfigError, match="pulsarload capacity"):
        make_scenario(ProduceSettings(scenario="max-rate"))


def test_commands_round_trip_through_json_dicts() -> None:
    for c in (SetRate(1500.0), Burst(3.0, 5.0), Stop()):
        assert command_from_dict(c.to_dict()) == c

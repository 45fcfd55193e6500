from __future__ import annotations

from pulsarload.config import ProduceSettings
from pulsarload.load.commands import Burst, SetRate, Stop, command_from_dict
from pulsarload.load.scenarios import Chaos, MaxRateSearch, Ramp, Spike, make_scenario


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


def test_max_rate_search_stops_at_the_first_unsustainable_step() -> None:
    from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot

    def snap(seq: int, acked: int, p99_us: int) -> Snapshot:
        c = Counters(sent=acked, acked=acked)
        lat = {"publish_latency": LatencyStats(count=acked, p99=p99_us)}
        return Snapshot(seq, 0.0, 0.0, 1.0, c, {}, lat, c, lat)

    m = MaxRateSearch(start=100, factor=2, step_s=2, p99_ms=50, error_rate=0.01)
    # Step 1 at 100 msg/s: healthy. Step 2 at 200: healthy. Step 3 at 400: latency too high.
    timeline = [
        (1.0, snap(1, 100, 1000)),
        (2.0, None),
        (3.0, snap(2, 200, 2000)),
        (4.0, None),
        (5.0, snap(3, 390, 90_000)),
        (6.0, None),
    ]
    rates = [m.rate_at(t, s) for t, s in timeline]
    assert rates == [100, 200, 200, 400, 400, 400]
    assert m.finished
    assert [s.ok for s in m.result.steps] == [True, True, False]
    assert m.result.highest_sustainable == 200


def test_make_scenario_from_settings() -> None:
    assert make_scenario(ProduceSettings(scenario="sustained")) is None
    assert isinstance(make_scenario(ProduceSettings(scenario="ramp", rate=10)), Ramp)
    assert isinstance(make_scenario(ProduceSettings(scenario="max-rate")), MaxRateSearch)


def test_commands_round_trip_through_json_dicts() -> None:
    for c in (SetRate(1500.0), Burst(3.0, 5.0), Stop()):
        assert command_from_dict(c.to_dict()) == c

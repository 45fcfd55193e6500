"""The chaos scenario varies size and thread count as well as rate, each from its own seeded
stream (reproducible; turning one on leaves the others' sequences as they were), and the
controller applies them."""

from __future__ import annotations

from test_pool import FakeEngine

from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from pulsarload.load.payloads import PayloadGenerator, PayloadSettings
from pulsarload.load.scenarios import Chaos, make_scenario
from support.clock import FakeClock
from support.waiting import eventually


def test_sizes_and_threads_are_seeded_and_bounded() -> None:
    a = Chaos(100, 1000, 1.0, 7, sizes=(100, 5000), threads=(1, 8))
    b = Chaos(100, 1000, 1.0, 7, sizes=(100, 5000), threads=(1, 8))
    plain = Chaos(100, 1000, 1.0, 7)
    ts = [i * 1.0 + 0.5 for i in range(20)]
    assert [a.size_at(t) for t in ts] == [b.size_at(t) for t in ts]
    assert [a.threads_at(t) for t in ts] == [b.threads_at(t) for t in ts]
    assert [a.rate_at(t) for t in ts] == [plain.rate_at(t) for t in ts]  # rates unchanged
    assert all(100 <= a.size_at(t) <= 5000 for t in ts)
    assert all(1 <= a.threads_at(t) <= 8 for t in ts)
    assert len({a.size_at(t) for t in ts}) > 1 and len({a.threads_at(t) for t in ts}) > 1
    assert plain.size_at(3.0) is None and plain.threads_at(3.0) is None
    other = Chaos(100, 1000, 1.0, 8, sizes=(100, 5000))
    assert [other.size_at(t) for t in ts] != [a.size_at(t) for t in ts]


def test_make_scenario_wires_the_flags() -> None:
    s = resolve_settings(
        ProduceSettings,
        {"scenario": "chaos", "chaos_sizes": True, "size_max": 2048, "chaos_threads": True,
         "max_threads": 3},
        environ={},
    )  # fmt: skip
    chaos = make_scenario(s)
    assert isinstance(chaos, Chaos)
    assert 1024 <= chaos.size_at(0) <= 2048 and 1 <= chaos.threads_at(0) <= 3


def test_a_payload_generator_resizes_and_keeps_its_sequence() -> None:
    gen = PayloadGenerator(PayloadSettings(kind="random", size=100), verify_producer_id=1)
    first = gen.next_batch(3)
    gen.resize(300)
    after = gen.next_batch(2)
    assert {len(p) for p in first} == {100} and {len(p) for p in after} == {300}
    stamps = [p[:20] for p in first + after]
    assert len(set(stamps)) == 5  # the verification stamps go on counting: none repeats
    assert gen.sequence == 5


def test_the_controller_follows_chaos_sizes_and_threads() -> None:
    s = ProduceSettings(
        rate=500.0, threads=1, max_threads=4, scenario="chaos", chaos_change_s=0.3,
        chaos_min_rate=200.0, chaos_max_rate=400.0, chaos_sizes=True, size=100,
        size_max=4000, chaos_threads=True,
    )  # fmt: skip
    clock = FakeClock()
    c = LoadController("producer", s, engine=FakeEngine(), sample_interval=0.05, clock=clock)
    c.start()

    def changes_seen() -> bool:
        """Two size changes and a thread change; else a scenario step (0.3 s) later."""
        sizes = [e for e in c.events if "message size" in e]
        threads = [e for e in c.events if "threads" in e]
        if len(sizes) >= 2 and threads:
            return True
        clock.advance(0.3)
        return False

    try:
        eventually(changes_seen, what="two size changes and a thread change")
        expected = c.scenario.threads_at(clock() - c.started_at)  # type: ignore[union-attr]
        assert 1 <= c.pool.size <= 4 and expected is not None
        assert c.pool.size_now == c.pool.workers()[0].size
    finally:
        c.stop()

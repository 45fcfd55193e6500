"""Rounds: interleaving, median and spread, median of paired ratios, and the verdict."""

from __future__ import annotations

import pytest

from pulsarload.bench.rounds import (
    MET,
    MISSED,
    NOT_DISTINGUISHABLE,
    by_round,
    interleave,
    judge,
    paired_ratios,
    spread,
)


def test_every_item_runs_once_per_round_in_a_rotated_order() -> None:
    order = interleave(["A", "B", "C"], 3)
    assert [x for _, x in order] == list("ABCBCACAB")
    assert [r for r, _ in order] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # Each item takes every position once over three rounds: none always runs first.
    firsts = [order[i][1] for i in (0, 3, 6)]
    assert sorted(firsts) == ["A", "B", "C"]


def test_more_rounds_than_items_keep_rotating() -> None:
    order = interleave(["A", "B"], 4)
    assert [x for _, x in order] == list("ABBAABBA")
    assert interleave([], 2) == []
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        interleave(["A"], 0)


def test_spread_is_median_and_min_max_of_what_was_measured() -> None:
    s = spread([90.0, None, 110.0, 100.0])
    assert s is not None
    assert (s.median, s.low, s.high, s.n) == (100.0, 90.0, 110.0, 3)
    assert s.width == 20.0 and s.relative_width == pytest.approx(0.2)
    assert s.format(",.0f") == "100 (90-110)"
    assert spread([None, None]) is None
    one = spread([42.0])
    assert one is not None and one.format(".1f") == "42.0"  # one round: no range shown


def test_ratios_are_paired_within_a_round() -> None:
    a = {0: 100.0, 1: 60.0, 2: 120.0, 3: 50.0}
    b = {0: 50.0, 1: 30.0, 2: 60.0, 4: 10.0}  # round 3 has no b, round 4 no a
    assert paired_ratios(a, b) == [2.0, 2.0, 2.0]
    # The medians of a and b alone would give 80/50 = 1.6: pairing removes the round's load.
    assert paired_ratios({0: 1.0, 1: None}, {0: 0.0, 1: 2.0}) == []  # zero and missing skipped


def test_judge_met_missed_and_not_distinguishable() -> None:
    met = judge([1.30, 1.35, 1.32], 1.0)
    assert met is not None and met.verdict == MET and met.met is True
    assert met.ratio.median == pytest.approx(1.32)
    missed = judge([0.70, 0.72, 0.75], 1.0)
    assert missed is not None and missed.verdict == MISSED and missed.met is False
    # The goal row that flipped between single runs: 0.77x, 1.24x, 1.78x.
    flip = judge([0.77, 1.24, 1.78], 1.0)
    assert flip is not None and flip.verdict == NOT_DISTINGUISHABLE and flip.met is None
    assert flip.describe() == NOT_DISTINGUISHABLE


def test_spread_and_distance_are_compared_as_factors() -> None:
    # 1.3 / 1.1 = 1.18 is a narrower factor than 1.2 / 1.0: the rounds agree.
    v = judge([1.1, 1.2, 1.3], 1.0)
    assert v is not None and v.verdict == MET
    # 1.3 / 1.05 = 1.24 is wider than 1.2: they do not.
    v = judge([1.05, 1.2, 1.3], 1.0)
    assert v is not None and v.verdict == NOT_DISTINGUISHABLE
    # Every round far above the target: met, although 89 - 19 is more than 35 - 1.
    v = judge([18.6, 35.3, 89.5], 1.0)
    assert v is not None and v.verdict == MET
    # Below the target by as much, mirrored: 1 / 1.2 with the same spread is missed alike.
    v = judge([1 / 1.3, 1 / 1.2, 1 / 1.1], 1.0)
    assert v is not None and v.verdict == MISSED
    # A ratio of zero (a contender that did nothing in a round) leaves nothing to compare.
    v = judge([0.0, 1.2, 1.3], 1.0)
    assert v is not None and v.verdict == NOT_DISTINGUISHABLE


def test_one_round_decides_by_its_value_and_says_so() -> None:
    v = judge([0.9], 1.0)
    assert v is not None and v.verdict == MISSED and "one round" in v.describe()
    assert judge([], 1.0) is None


def test_by_round_keeps_the_best_row_of_a_round() -> None:
    rows = [(0, 10.0), (0, 30.0), (1, None), (1, 20.0), (2, None)]
    got = by_round(rows, value=lambda r: r[1], round_of=lambda r: r[0])
    assert got == {0: 30.0, 1: 20.0, 2: None}

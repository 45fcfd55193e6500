from __future__ import annotations

from pulsarload.load.verify import SequenceTracker


def test_a_clean_stream_verifies() -> None:
    t = SequenceTracker()
    assert {t.see(1, i) for i in range(100)} == {"ok"}
    r = t.report({1: 100})
    assert (r.missing, r.duplicates, r.out_of_order, r.unique) == (0, 0, 0, 100)
    assert r.ok


def test_injected_gaps_duplicates_and_reordering_are_found() -> None:
    t = SequenceTracker()
    for seq in [0, 1, 3, 2, 3, 5, 6]:
        t.see(7, seq)
    t.see(8, 0)
    r = t.report({7: 8, 8: 1})
    assert r.missing == 2  # 4 and 7
    assert r.missing_examples == {7: [4, 7]}
    assert r.duplicates == 1
    assert r.out_of_order == 1
    assert not r.ok


def test_merging_workers_counts_overlap_as_duplicates() -> None:
    a, b = SequenceTracker(), SequenceTracker()
    for i in range(0, 10, 2):
        a.see(1, i)
    for i in range(1, 10, 2):
        b.see(1, i)
    b.see(1, 4)  # also seen by a
    r = a.merge(b).report({1: 10})
    assert (r.missing, r.duplicates, r.unique, r.received) == (0, 1, 10, 11)


def test_a_producer_never_heard_from_is_all_missing() -> None:
    r = SequenceTracker().report({3: 5})
    assert r.missing == 5 and r.missing_examples == {3: [0, 1, 2, 3, 4]}

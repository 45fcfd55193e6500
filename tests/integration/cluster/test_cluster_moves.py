"""Topics moving under verified load on a real two-broker cluster: `topics unload`, a namespace
bundle split, and the loss (SIGKILL) of the broker that owns them. Our producer and consumer
(`--verify`) and, beside them on a topic of the same bundle, the official client through the
same tool (`--engine official`) as the reference; straight to the brokers (a service URL with
every broker) and through the proxy.

What must hold: every acknowledged message arrives (0 missing); duplicates after a move are
allowed (at-least-once), and counted. During the broker loss the status line says
"reconnecting" while the client looks for the topic's new owner.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from faultproxy import LoadPair
from interop.official import official_unavailable

from cluster.cluster_ops import PATHS, ClusterUnderTest
from cluster.official_pair import OfficialPair
from pulsarload.load.headless import status_line

pytestmark = [pytest.mark.broker, pytest.mark.cluster, pytest.mark.timeout(600)]

RATE = 400.0
OFFICIAL_MESSAGES = 6000  # 15 s at RATE: it runs through the faults


class StatusWatch:
    """Reads the producer's and consumer's status lines every 100 ms (what a user sees)."""

    def __init__(self, pair: LoadPair) -> None:
        self.pair = pair
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for role, controller in (("producer", self.pair.producer),
                                     ("consumer", self.pair.consumer)):  # fmt: skip
                snap = controller.sampler.latest if controller.sampler else None
                if snap is not None and snap.workers:
                    line = status_line(role, [snap], controller)
                    if "reconnecting" in line:
                        self.lines.append(f"{role}: {line}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _start(cluster: ClusterUnderTest, path: str, tmp_path: Path, what: str):  # noqa: ANN202
    ns = cluster.namespace(bundles=1)  # both topics in one bundle: one owner, moved together
    ours, theirs = f"persistent://{ns}/{what}-ours", f"persistent://{ns}/{what}-official"
    url, admin = cluster.url(path), cluster.settings.proxy_admin_url
    pair = LoadPair(
        url, admin, ours,
        producer={"rate": RATE, "send_timeout_ms": 0, "max_pending": 2000},
    )  # fmt: skip
    # The reference runs where Apache's client is installed (.venv-gil; `make setup` builds it).
    ref = None
    if official_unavailable() is None:
        ref = OfficialPair(url, admin, theirs, tmp_path, messages=OFFICIAL_MESSAGES, rate=RATE)
    pair.start(timeout=120)
    if ref is not None:
        ref.start()
    watch = StatusWatch(pair)
    return ns, ours, theirs, pair, ref, watch


def _check(pair_result, ref_result) -> None:  # noqa: ANN001
    sent = sum(pair_result.sent.values())
    v = pair_result.verify
    theirs = f"sent {ref_result.sent}, {ref_result.verify}" if ref_result else "not run"
    print(f"ours: sent {sent}, {v.to_dict()}; official: {theirs}")
    assert sent > 1000
    assert pair_result.failed_by_category == {}  # every send was acknowledged in the end
    assert v.missing == 0, v.missing_examples
    assert v.unique == sent
    if ref_result is None:
        return
    r = ref_result.verify
    assert ref_result.sent == OFFICIAL_MESSAGES and ref_result.failed == 0
    assert r["missing"] == 0 and r["unique"] == ref_result.sent, ref_result.consumer_output


@pytest.mark.parametrize("path", PATHS)
def test_unload_and_bundle_split_under_load_lose_nothing(
    cluster: ClusterUnderTest, path: str, tmp_path: Path
) -> None:
    ns, ours, theirs, pair, ref, watch = _start(cluster, path, tmp_path, "moves")
    try:
        pair.progress_after(1.0, what="start", timeout=120)
        for topic in (ours, theirs) if ref is not None else (ours,):
            cluster.unload_topic(topic)
        pair.progress_after(1.0, what="topics unload", timeout=120)
        [bundle] = cluster.bundles(ns)
        cluster.split_bundle(ns, bundle)
        pair.progress_after(1.0, what="bundle split", timeout=120)
        assert len(cluster.bundles(ns)) == 2
        result = pair.finish(drain_timeout=120)
        ref_result = ref.finish() if ref is not None else None
    except BaseException:
        pair.abort()
        if ref is not None:
            ref.abort()
        raise
    finally:
        watch.stop()
    _check(result, ref_result)


@pytest.mark.parametrize("path", PATHS)
def test_losing_the_owning_broker_under_load_moves_its_topics(
    cluster: ClusterUnderTest, path: str, tmp_path: Path
) -> None:
    ns, ours, theirs, pair, ref, watch = _start(cluster, path, tmp_path, "loss")
    victim = cluster.owner(ours)
    assert ref is None or cluster.owner(theirs) == victim
    survivor = 2 if victim == 1 else 1
    try:
        pair.progress_after(1.0, what="start", timeout=120)
        began = time.monotonic()
        cluster.kill_broker(victim)
        pair.progress_after(1.0, what=f"the loss of broker-{victim}", timeout=240)
        resumed = time.monotonic() - began
        assert cluster.owner(ours) == survivor
        assert ref is None or cluster.owner(theirs) == survivor
        result = pair.finish(drain_timeout=120)
        ref_result = ref.finish() if ref is not None else None
    except BaseException:
        pair.abort()
        if ref is not None:
            ref.abort()
        raise
    finally:
        watch.stop()
        cluster.restart_broker(victim)
    print(f"broker-{victim} killed: traffic resumed on broker-{survivor} after {resumed:.0f} s")
    _check(result, ref_result)
    assert watch.lines, "no status line said reconnecting while the topic moved"
    print(watch.lines[0])

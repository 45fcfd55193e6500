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
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultproxy import LoadPair
from interop.official import official_unavailable

from cluster.cluster_ops import PATHS, ClusterUnderTest
from cluster.official_pair import OfficialPair
from pulsarload.load.headless import status_line

# The cluster start (when this module runs first) plus the load, the fault and a broker restart.
pytestmark = [pytest.mark.broker, pytest.mark.cluster, pytest.mark.timeout(1500)]

RATE = 300.0
OFFICIAL_MESSAGES = 4500  # 15 s at RATE: it runs through the faults


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


@dataclass
class Load:
    """What runs on one path: our producer + consumer, and the official pair beside them."""

    path: str
    ours: str
    theirs: str
    pair: LoadPair
    ref: OfficialPair | None
    watch: StatusWatch | None = None


def _start(cluster: ClusterUnderTest, tmp_path: Path, what: str) -> tuple[str, list[Load]]:
    """A load on each path (straight to the brokers, through the proxy), all on topics of one
    bundle: one owner, and one fault moves every topic at once."""
    ns = cluster.namespace(bundles=1)
    admin = cluster.settings.proxy_admin_url
    loads = []
    for path in PATHS:
        url = cluster.url(path)
        ours = f"persistent://{ns}/{what}-{path}-ours"
        theirs = f"persistent://{ns}/{what}-{path}-official"
        pair = LoadPair(
            url, admin, ours,
            producer={"rate": RATE, "send_timeout_ms": 0, "max_pending": 2000},
        )  # fmt: skip
        # The reference runs where Apache's client is installed (.venv-gil; `make setup`).
        ref = None
        if official_unavailable() is None:
            workdir = tmp_path / path
            workdir.mkdir()
            ref = OfficialPair(url, admin, theirs, workdir, messages=OFFICIAL_MESSAGES, rate=RATE)
        loads.append(Load(path, ours, theirs, pair, ref))
    try:
        for load in loads:
            load.pair.start(timeout=120)
            if load.ref is not None:
                load.ref.start()
            load.watch = StatusWatch(load.pair)
    except BaseException:
        _abort(loads)
        raise
    return ns, loads


def _abort(loads: list[Load]) -> None:
    for load in loads:
        if load.watch is not None:
            load.watch.stop()
        load.pair.abort()
        if load.ref is not None:
            load.ref.abort()


def _topics(loads: list[Load]) -> list[str]:
    return [t for x in loads for t in ([x.ours, x.theirs] if x.ref else [x.ours])]


def _progress(loads: list[Load], what: str, timeout: float) -> None:
    for load in loads:
        load.pair.progress_after(1.0, what=f"{what} ({load.path})", timeout=timeout)


def _finish(loads: list[Load]) -> None:
    """Stop every load, then check each: 0 missing, for ours and the official client."""
    for load in loads:
        assert load.watch is not None
        load.watch.stop()
    ours = [load.pair.finish(drain_timeout=120) for load in loads]
    theirs = [load.ref.finish() if load.ref is not None else None for load in loads]
    results = list(zip(loads, ours, theirs, strict=True))
    for load, result, ref_result in results:
        _check(load.path, result, ref_result)


def _check(path: str, pair_result, ref_result) -> None:  # noqa: ANN001
    sent = sum(pair_result.sent.values())
    v = pair_result.verify
    theirs = f"sent {ref_result.sent}, {ref_result.verify}" if ref_result else "not run"
    print(f"{path}: ours: sent {sent}, {v.to_dict()}; official: {theirs}")
    assert sent > 1000
    assert pair_result.failed_by_category == {}  # every send was acknowledged in the end
    assert v.missing == 0, v.missing_examples
    assert v.unique == sent
    if ref_result is None:
        return
    r = ref_result.verify
    assert ref_result.sent == OFFICIAL_MESSAGES and ref_result.failed == 0
    assert r["missing"] == 0 and r["unique"] == ref_result.sent, ref_result.consumer_output


def test_unload_and_bundle_split_under_load_lose_nothing(
    cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    ns, loads = _start(cluster, tmp_path, "moves")
    try:
        _progress(loads, "start", timeout=120)
        for topic in _topics(loads):
            cluster.unload_topic(topic)
        _progress(loads, "topics unload", timeout=120)
        [bundle] = cluster.bundles(ns)
        cluster.split_bundle(ns, bundle)
        _progress(loads, "bundle split", timeout=120)
        assert len(cluster.bundles(ns)) == 2
        _finish(loads)
    except BaseException:
        _abort(loads)
        raise


def _owner_becomes(cluster: ClusterUnderTest, topic: str, broker: int, timeout: float) -> None:
    """The admin API's view of the owner catches up with the move (it may lag the clients)."""
    deadline = time.monotonic() + timeout
    while (owner := cluster.owner(topic)) != broker:
        assert time.monotonic() < deadline, f"{topic} still owned by broker-{owner}"
        time.sleep(1.0)


def test_losing_the_owning_broker_under_load_moves_its_topics(
    cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    ns, loads = _start(cluster, tmp_path, "loss")
    victim = cluster.owner(loads[0].ours)
    assert {cluster.owner(t) for t in _topics(loads)} == {victim}
    survivor = 2 if victim == 1 else 1
    try:
        _progress(loads, "start", timeout=120)
        began = time.monotonic()
        cluster.kill_broker(victim)
        _progress(loads, f"the loss of broker-{victim}", timeout=240)
        resumed = time.monotonic() - began
        for topic in _topics(loads):
            _owner_becomes(cluster, topic, survivor, timeout=60)
        _finish(loads)
    except BaseException:
        _abort(loads)
        raise
    finally:
        cluster.restart_broker(victim)
    print(f"broker-{victim} killed: traffic resumed on broker-{survivor} within {resumed:.0f} s")
    for load in loads:
        assert load.watch is not None
        assert load.watch.lines, f"{load.path}: no status line said reconnecting"
        print(f"{load.path}: {load.watch.lines[0]}")

"""The local multi-broker cluster, started once for the tests of this package and stopped after them.

ZooKeeper, one bookie, two brokers (load balancer on) and a proxy, each its own JVM, in a fresh
temporary home and on a free port range (not the standalone's 6650/8080).
Every process the fixture started is stopped at the end, by the pids it recorded. The fault
tests stop and start brokers of whichever cluster they are given, and leave it whole.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.cluster_ops import ClusterUnderTest
from pulsarload.broker.cluster import LocalCluster, recorded_settings
from pulsarload.broker.procs import port_in_use
from pulsarload.config import (
    DEFAULT_CLUSTER_PORT,
    DEFAULT_CLUSTER_WEB_PORT,
    LocalClusterSettings,
)

BROKERS = 2


def _free_range() -> tuple[int, int]:
    """A base binary and web port whose cluster ports are all free (the defaults first)."""
    for step in range(0, 2000, 100):
        base, web = DEFAULT_CLUSTER_PORT + step, DEFAULT_CLUSTER_WEB_PORT + step
        probe = LocalClusterSettings(brokers=BROKERS, base_port=base, web_base_port=web)
        ports = [base, web, probe.zookeeper_port, probe.bookie_port]
        ports += [probe.broker_port(i) for i in range(1, BROKERS + 1)]
        ports += [probe.broker_web_port(i) for i in range(1, BROKERS + 1)]
        if not any(port_in_use(p) for p in ports):
            return base, web
    raise RuntimeError("no free port range for the local cluster")


@pytest.fixture(scope="package")
def cluster() -> Iterator[ClusterUnderTest]:
    """A cluster that `pulsarload broker start --brokers 2 --proxy` left running (in the
    default home) is used as it is and left running; otherwise one is started here."""
    running = LocalCluster(recorded_settings(LocalClusterSettings()))
    s = running.settings
    if s.brokers == BROKERS and s.proxy and running.status().ready:
        yield ClusterUnderTest(running)
        return
    base, web = _free_range()
    settings = LocalClusterSettings(
        brokers=BROKERS,
        proxy=True,
        base_port=base,
        web_base_port=web,
        # Not under pytest's basetemp: another pytest session of the same user may prune it
        # while this cluster runs (it keeps only the newest few).
        home=Path(tempfile.mkdtemp(prefix="pulsarload-cluster-")),
        start_timeout_s=600,
    )
    local = LocalCluster(settings)
    try:
        local.start()
        yield ClusterUnderTest(local)
    finally:
        local.stop()
        shutil.rmtree(local.home, ignore_errors=True)

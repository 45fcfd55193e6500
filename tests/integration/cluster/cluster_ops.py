"""What the cluster tests do to the cluster: its URLs, and admin calls over REST.

Admin requests go to a live broker's admin API and follow its redirects (a broker answers a
request about a bundle it does not own with a 307 to the owner). Every request has a timeout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from pulsarload.broker.cluster import LocalCluster
from pulsarload.broker.cluster_probe import part_ready
from pulsarload.client.topics import TopicName

TIMEOUT_S = 30.0
PATHS = ("direct", "proxy")


@dataclass
class ClusterUnderTest:
    local: LocalCluster

    @property
    def settings(self):  # noqa: ANN201 - LocalClusterSettings
        return self.local.settings

    # --- URLs ----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The service URL a client is given: every broker ("direct") or the proxy."""
        s = self.settings
        return s.broker_service_url if path == "direct" else s.proxy_service_url

    def broker_url(self, i: int) -> str:
        return f"pulsar://127.0.0.1:{self.settings.broker_port(i)}"

    def broker_web(self, i: int) -> str:
        return f"http://127.0.0.1:{self.settings.broker_web_port(i)}"

    def broker_id(self, i: int) -> str:
        """How the load manager names broker i (its advertised address and web port)."""
        return f"127.0.0.1:{self.settings.broker_web_port(i)}"

    def broker_index(self, url: str) -> int:
        """Which broker a pulsar:// (or http://) URL of a lookup answer names."""
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        for i in range(1, self.settings.brokers + 1):
            if port in (self.settings.broker_port(i), self.settings.broker_web_port(i)):
                return i
        raise AssertionError(f"{url} is none of the cluster's brokers")

    @property
    def admin_url(self) -> str:
        """The admin API of a broker that is up (broker 1 unless it is down)."""
        for i in range(1, self.settings.brokers + 1):
            if self.local.pid(f"broker-{i}") is not None:
                return self.broker_web(i)
        raise AssertionError("no broker of the cluster is running")

    # --- admin ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        resp = httpx.request(
            method, self.admin_url + path, follow_redirects=True, timeout=TIMEOUT_S, **kwargs
        )
        assert resp.status_code in (200, 204), f"{method} {path}: {resp.status_code} {resp.text}"
        return resp

    def namespace(self, bundles: int) -> str:
        """A fresh namespace in tenant public with `bundles` bundles."""
        ns = f"public/cl-{uuid.uuid4().hex[:8]}"
        self._call("PUT", f"/admin/v2/namespaces/{ns}", json={"bundles": {"numBundles": bundles}})
        return ns

    def bundles(self, ns: str) -> list[str]:
        bounds = self._call("GET", f"/admin/v2/namespaces/{ns}/bundles").json()["boundaries"]
        return [f"{a}_{b}" for a, b in zip(bounds, bounds[1:], strict=False)]

    def owner(self, topic: str) -> int:
        """The broker that owns `topic` (asking assigns it when nobody does yet)."""
        t = TopicName.parse(topic)
        path = f"/lookup/v2/topic/persistent/{t.tenant}/{t.namespace}/{quote(t.local_name)}"
        return self.broker_index(self._call("GET", path).json()["brokerUrl"])

    def leader(self) -> int:
        """The broker whose load manager assigns bundles nobody owns yet."""
        answer = self._call("GET", "/admin/v2/brokers/leaderBroker").json()
        return self.broker_index(answer["serviceUrl"])

    def move_bundle(self, ns: str, bundle: str, to: int) -> None:
        """Unload `bundle`, naming broker `to` as where the load manager puts it next."""
        self._call(
            "PUT", f"/admin/v2/namespaces/{ns}/{bundle}/unload",
            params={"destinationBroker": self.broker_id(to)},
        )  # fmt: skip

    def unload_topic(self, topic: str) -> None:
        t = TopicName.parse(topic)
        self._call("PUT", f"/admin/v2/persistent/{t.tenant}/{t.namespace}/{t.local_name}/unload")

    def split_bundle(self, ns: str, bundle: str) -> None:
        """Split `bundle` in two and unload both halves (their topics move)."""
        self._call("PUT", f"/admin/v2/namespaces/{ns}/{bundle}/split", params={"unload": "true"})

    def create_partitioned(self, topic: str, partitions: int) -> None:
        t = TopicName.parse(topic)
        self._call(
            "PUT",
            f"/admin/v2/persistent/{t.tenant}/{t.namespace}/{t.local_name}/partitions",
            json=partitions,
        )

    # --- faults --------------------------------------------------------------------------------

    def kill_broker(self, i: int) -> None:
        """SIGKILL broker i: a crash, so its topics move only when its session expires."""
        assert self.local.kill(f"broker-{i}") is not None, f"broker-{i} was not running"

    def restart_broker(self, i: int) -> None:
        self.local.start([f"broker-{i}"])
        assert part_ready(self.local.part(f"broker-{i}"))

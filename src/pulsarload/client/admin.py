"""A small client for Pulsar's admin REST API: what a load tool needs, nothing more.

Create partitioned topics and namespaces, switch deduplication, and read topic stats
(backlog per subscription, per partition). Every request has a timeout; failures raise
`AdminError` with one line naming the URL and the broker's answer.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from pulsarload.client.topics import TopicName
from pulsarload.errors import UserError

DEFAULT_TIMEOUT_S = 10.0


class AdminError(UserError):
    """The admin API refused or could not be reached; `status` is the HTTP status (0 = none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class SubscriptionBacklog:
    topic: str
    subscription: str
    #: Entries not yet acknowledged: the broker's `msgBacklog` counts a batch as one entry.
    backlog: int
    consumers: int
    msg_rate_out: float


class AdminClient:
    def __init__(
        self,
        admin_url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tls_ca_file: str | None = None,
        tls_validate_hostname: bool = True,
    ) -> None:
        if not admin_url.startswith(("http://", "https://")):
            raise AdminError(f"admin URL {admin_url!r} must start with http:// or https://")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base = admin_url.rstrip("/")
        verify: ssl.SSLContext | bool = True
        if tls_ca_file or not tls_validate_hostname:
            try:
                verify = ssl.create_default_context(cafile=tls_ca_file)
            except (OSError, ssl.SSLError) as err:
                raise AdminError(f"cannot use CA file {tls_ca_file}: {err}") from None
            verify.check_hostname = tls_validate_hostname
        # A broker of a cluster answers a request about a topic it does not own with a 307 to
        # the owner: follow it (httpx keeps the method and body of a 307).
        self._http = httpx.Client(
            base_url=self.base, headers=headers, timeout=timeout_s, verify=verify,
            follow_redirects=True,
        )  # fmt: skip

    @classmethod
    def for_settings(cls, settings: Any, timeout_s: float = DEFAULT_TIMEOUT_S) -> AdminClient:
        """An admin client with the run's admin URL, token and TLS options."""
        return cls(
            settings.admin_url,
            token=settings.auth_token,
            timeout_s=timeout_s,
            tls_ca_file=settings.tls_ca_file,
            tls_validate_hostname=settings.tls_validate_hostname,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200, 204), **kwargs: Any
    ) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise AdminError(
                f"admin API {self.base} unreachable ({type(err).__name__}: {err}); "
                "is the broker up? check --admin-url / PULSAR_ADMIN_URL"
            ) from None
        if resp.status_code not in ok:
            reason = resp.text.strip().replace("\n", " ")[:200]
            if resp.status_code in (401, 403):
                # Pulsar sends an empty body or an HTML page here: say what it means instead.
                detail = "" if not reason or reason.startswith("<") else f" ({reason})"
                reason = (
                    "authentication failed or not authorized" + detail
                    + "; check --auth-token / PULSARLOAD_AUTH_TOKEN"
                )  # fmt: skip
            raise AdminError(
                f"admin {method} {path} -> HTTP {resp.status_code}: {reason}", resp.status_code
            )
        return resp

    @staticmethod
    def topic_path(topic: str) -> str:
        t = TopicName.parse(topic)
        kind = "persistent" if t.persistent else "non-persistent"
        return f"/admin/v2/{kind}/{t.tenant}/{t.namespace}/{t.local_name}"

    # -- topics ---------------------------------------------------------------------------------

    def partitions(self, topic: str) -> int:
        """Partition count (0 = not partitioned, or not created yet)."""
        resp = self._request("GET", self.topic_path(topic) + "/partitions", ok=(200, 404))
        return int(resp.json().get("partitions", 0)) if resp.status_code == 200 else 0

    def create_partitioned_topic(self, topic: str, partitions: int) -> None:
        if partitions < 1:
            raise AdminError(f"partitions must be >= 1, got {partitions}")
        self._request("PUT", self.topic_path(topic) + "/partitions", json=partitions)

    def update_partitions(self, topic: str, partitions: int) -> None:
        """Grow a partitioned topic to ``partitions`` (Pulsar never shrinks one)."""
        if partitions < 1:
            raise AdminError(f"partitions must be >= 1, got {partitions}")
        self._request("POST", self.topic_path(topic) + "/partitions", json=partitions)

    def ensure_partitioned_topic(self, topic: str, partitions: int) -> None:
        """Create the topic with N partitions, or check that it already has N."""
        have = self.partitions(topic)
        if have == partitions:
            return
        if have:
            raise AdminError(
                f"topic {topic} already has {have} partitions, not {partitions}; "
                "use another topic or drop --partitions"
            )
        self.create_partitioned_topic(topic, partitions)

    def create_topic(self, topic: str) -> None:
        """Create a non-partitioned topic; one that exists already is fine."""
        self._request("PUT", self.topic_path(topic), ok=(200, 204, 409))

    def create_subscription(self, topic: str, subscription: str) -> None:
        """Create the topic and a durable subscription at its earliest message, before any consumer: what is
        published from now on is kept for it, whoever attaches first. Existing ones are fine."""
        self.create_topic(topic)
        self._request(
            "PUT",
            f"{self.topic_path(topic)}/subscription/{quote(subscription, safe='')}",
            json={"ledgerId": -1, "entryId": -1},  # MessageId.earliest
            ok=(200, 204, 409),
        )

    def delete_topic(self, topic: str, *, partitioned: bool = False) -> None:
        suffix = "/partitions" if partitioned else ""
        self._request(
            "DELETE", self.topic_path(topic) + suffix, params={"force": "true"}, ok=(200, 204, 404)
        )

    def delete_subscription(self, topic: str, subscription: str) -> None:
        """Remove a subscription (and its backlog) a run made for itself; absent is fine."""
        self._request(
            "DELETE",
            f"{self.topic_path(topic)}/subscription/{quote(subscription, safe='')}",
            params={"force": "true"},
            ok=(200, 204, 404),
        )

    def topic_stats(self, topic: str) -> dict[str, Any]:
        """Stats of a topic; partitioned topics answer their aggregate (with per-partition detail)."""
        path = self.topic_path(topic)
        if self.partitions(topic):
            return self._request(
                "GET", path + "/partitioned-stats", params={"perPartition": "true"}
            ).json()
        return self._request("GET", path + "/stats").json()

    def backlog(self, topic: str) -> list[SubscriptionBacklog]:
        """Backlog per subscription, per partition when partitioned (for the consumer dashboard),
        in entries: the broker counts a batch once and has no message count for a backlog."""
        stats = self.topic_stats(topic)
        per_partition = stats.get("partitions") or {topic: stats}
        out = []
        for name, part in sorted(per_partition.items()):
            for sub, s in sorted((part.get("subscriptions") or {}).items()):
                out.append(
                    SubscriptionBacklog(
                        name,
                        sub,
                        int(s.get("msgBacklog", 0)),
                        len(s.get("consumers") or []),
                        float(s.get("msgRateOut", 0.0)),
                    )
                )
        return out

    # -- schemas --------------------------------------------------------------------------------

    def _schema_path(self, topic: str) -> str:
        t = TopicName.parse(topic)
        return f"/admin/v2/schemas/{t.tenant}/{t.namespace}/{t.local_name}"

    def topic_schema(self, topic: str) -> dict[str, Any] | None:
        """The topic's latest schema ({"version", "type", "data", "properties"}), or None."""
        resp = self._request("GET", self._schema_path(topic) + "/schema", ok=(200, 404))
        return None if resp.status_code == 404 else resp.json()

    def schema_compatibility(
        self, topic: str, schema_type: str, definition: str, properties: dict[str, str]
    ) -> tuple[bool, str]:
        """Whether the topic's registry would take this schema: (ok, the broker's reason or
        its compatibility strategy)."""
        resp = self._request(
            "POST",
            self._schema_path(topic) + "/compatibility",
            ok=(200, 202, 404, 409, 412, 500),
            json={"type": schema_type, "schema": definition, "properties": properties},
        )
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code in (200, 202):
            return bool(body.get("compatibility")), str(body.get("schemaCompatibilityStrategy"))
        reason = str(body.get("reason", resp.text))
        message = next(
            (
                ln.removeprefix("Message: ")
                for ln in reason.splitlines()
                if ln.startswith("Message:")
            ),
            reason.strip().splitlines()[0] if reason.strip() else f"HTTP {resp.status_code}",
        )
        return False, message.rstrip(": ")

    # -- namespaces -----------------------------------------------------------------------------

    def create_namespace(self, namespace: str) -> None:
        self._request("PUT", f"/admin/v2/namespaces/{namespace}", ok=(200, 204, 409))

    def set_deduplication(self, namespace: str, enabled: bool) -> None:
        self._request("POST", f"/admin/v2/namespaces/{namespace}/deduplication", json=enabled)

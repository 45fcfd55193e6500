"""Topic names: validation and normalisation, done before any network traffic.

Short names expand the way the official clients do: `x` -> `persistent://public/default/x`,
`tenant/ns/x` -> `persistent://tenant/ns/x`. Partitions of a partitioned topic are
`<topic>-partition-<i>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pulsarload.client.errors import InvalidTopicName

__all__ = ["TopicName", "partition_name", "topic_name"]

PARTITION_SUFFIX = "-partition-"
DEFAULT_TENANT = "public"
DEFAULT_NAMESPACE = "default"
_DOMAINS = ("persistent", "non-persistent")
# Tenants, clusters and namespaces: Pulsar's NamedEntity rule.
_ENTITY = re.compile(r"^[-=:.\w]+$")
_PARTITION = re.compile(r"^(?P<base>.+)-partition-(?P<index>\d+)$")


@dataclass(frozen=True, slots=True)
class TopicName:
    """A validated, fully-qualified topic name."""

    domain: str
    tenant: str
    namespace: str  # "ns" (v2) or "cluster/ns" (legacy v1)
    local_name: str

    def __str__(self) -> str:
        return f"{self.domain}://{self.tenant}/{self.namespace}/{self.local_name}"

    @property
    def persistent(self) -> bool:
        return self.domain == "persistent"

    @property
    def partition_index(self) -> int:
        """The partition index if this names one partition, else -1."""
        m = _PARTITION.match(self.local_name)
        return int(m.group("index")) if m else -1

    def partition(self, index: int) -> TopicName:
        return TopicName(
            self.domain, self.tenant, self.namespace, f"{self.local_name}{PARTITION_SUFFIX}{index}"
        )

    @classmethod
    def parse(cls, name: object, field: str = "topic") -> TopicName:
        """Validate and expand a topic name; `InvalidTopicName` (a ValueError) names `field`."""
        if not isinstance(name, str):
            raise InvalidTopicName(f"{field}: expected a string, got {type(name).__name__}")
        text = name.strip()
        if not text:
            raise InvalidTopicName(f"{field}: topic name is empty")
        if any(c.isspace() or ord(c) < 0x20 for c in text):
            raise InvalidTopicName(f"{field}: {name!r} contains whitespace or control characters")
        if "://" in text:
            domain, _, rest = text.partition("://")
            if domain not in _DOMAINS:
                raise InvalidTopicName(
                    f"{field}: unknown domain {domain!r} in {name!r}; "
                    "use persistent:// or non-persistent://"
                )
            parts = rest.split("/")
            if len(parts) == 3:
                tenant, namespace, local = parts
            elif len(parts) == 4:
                tenant, namespace, local = parts[0], f"{parts[1]}/{parts[2]}", parts[3]
            else:
                raise InvalidTopicName(
                    f"{field}: {name!r} must look like {domain}://tenant/namespace/topic"
                )
        else:
            domain = "persistent"
            parts = text.split("/")
            if len(parts) == 1:
                tenant, namespace, local = DEFAULT_TENANT, DEFAULT_NAMESPACE, parts[0]
            elif len(parts) == 3:
                tenant, namespace, local = parts
            else:
                raise InvalidTopicName(
                    f"{field}: {name!r} must be 'topic', 'tenant/namespace/topic' "
                    "or 'persistent://tenant/namespace/topic'"
                )
        for label, value in (
            ("tenant", tenant),
            *(("namespace", p) for p in namespace.split("/")),
        ):
            if not _ENTITY.match(value):
                raise InvalidTopicName(
                    f"{field}: invalid {label} {value!r} in {name!r} "
                    "(letters, digits and - = : . _ only)"
                )
        if not local:
            raise InvalidTopicName(f"{field}: {name!r} has an empty topic name")
        return cls(domain, tenant, namespace, local)


def topic_name(name: object, field: str = "topic") -> str:
    """The fully-qualified form of `name` (validated)."""
    return str(TopicName.parse(name, field))


def partition_name(topic: str, index: int) -> str:
    return f"{topic}{PARTITION_SUFFIX}{index}"

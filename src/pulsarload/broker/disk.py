"""The local broker's disk: stop a run before the bookie's disk is full, and bound what the
local namespace keeps.

A local bookie refuses writes at 99 % disk use, and a producer at full speed writes tens of GB
in minutes. One guard serves every writer on this machine (a load run, the bench suite): when
the broker is local and its disk has less than the floor free, it gives one line saying why.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from pulsarload.config import LOCAL_BACKLOG_QUOTA_MB, LOCAL_MESSAGE_TTL_S, cache_dir

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Seconds between two looks at the disk (a statvfs call: cheap, but not per message).
CHECK_EVERY_S = 1.0
GIB = 1024**3


def is_local(service_url: str) -> bool:
    """Whether every broker host of this URL is this machine (its bookie writes our disk)."""
    netloc = urlparse(service_url).netloc.rsplit("@", 1)[-1]
    hosts = []
    for part in filter(None, netloc.split(",")):
        if part.startswith("["):  # [::1]:6650
            hosts.append(part[1 : part.find("]")])
        else:
            hosts.append(part.rsplit(":", 1)[0] if part.count(":") == 1 else part)
    return bool(hosts) and all(h in LOCAL_HOSTS for h in hosts)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_problem(service_url: str, min_free_bytes: int, path: Path | None = None) -> str | None:
    """One line saying why to stop, when a broker on this machine is about to run out of disk
    (None when the broker is elsewhere, the floor is 0, or there is room)."""
    if min_free_bytes <= 0 or not is_local(service_url):
        return None
    where = path or cache_dir()
    free = shutil.disk_usage(_existing(where)).free
    if free >= min_free_bytes:
        return None
    return (
        f"only {free / GIB:.1f} GiB free on the disk of {where} (the floor is "
        f"{min_free_bytes / GIB:.1f} GiB): the local broker's bookie would stop accepting "
        "writes; free some space and run again"
    )


class DiskGuard:
    """`disk_problem`, looked at no more than once per `every_s` (called from a control loop)."""

    def __init__(
        self,
        service_url: str,
        min_free_bytes: int,
        *,
        path: Path | None = None,
        every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service_url = service_url
        self.min_free_bytes = min_free_bytes
        self.path = path
        self.every_s = every_s
        self._clock = clock
        self._next = clock()
        self.problem: str | None = None

    @property
    def active(self) -> bool:
        return self.min_free_bytes > 0 and is_local(self.service_url)

    def check(self) -> str | None:
        """The reason to stop (remembered once found), or None."""
        if self.problem is None and self._clock() >= self._next:
            self._next = self._clock() + self.every_s
            self.problem = disk_problem(self.service_url, self.min_free_bytes, self.path)
        return self.problem


def bound_local_namespace(
    admin_url: str, namespace: str = "public/default", timeout_s: float = 5.0
) -> list[str]:
    """Bound what the local broker's namespace keeps, so a long demo cannot grow without end:
    no retention of acknowledged messages, unacknowledged ones expire after a TTL, and a
    subscription's backlog is capped (the oldest evicted). Returns what was set, one line each;
    raises OSError naming the policy that the broker refused."""
    base = f"{admin_url.rstrip('/')}/admin/v2/namespaces/{namespace}"
    policies = (
        ("retention", "/retention", {"retentionTimeInMinutes": 0, "retentionSizeInMB": 0}),
        ("message TTL", "/messageTTL", LOCAL_MESSAGE_TTL_S),
        (
            "backlog quota",
            "/backlogQuota?backlogQuotaType=destination_storage",
            {
                "limitSize": LOCAL_BACKLOG_QUOTA_MB * 1024 * 1024,
                "limitTime": -1,
                "policy": "consumer_backlog_eviction",
            },
        ),
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for what, path, body in policies:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with opener.open(request, timeout=timeout_s):
                pass
        except (urllib.error.URLError, OSError) as err:
            raise OSError(f"namespace {namespace}: setting the {what} failed ({err})") from None
    return [
        f"namespace {namespace}: acknowledged messages are not retained; unacknowledged ones "
        f"expire after {LOCAL_MESSAGE_TTL_S // 60} min; a subscription's backlog is capped at "
        f"{LOCAL_BACKLOG_QUOTA_MB} MB (oldest evicted)"
    ]

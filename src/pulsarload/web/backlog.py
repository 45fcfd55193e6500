"""The consumer's backlog per partition, for the page: the admin REST API once a second.

The broker's answer, not a measurement of ours: the same numbers the terminal dashboard shows.
One thread polls (every request has a timeout) and keeps the last answer; frames read it.
"""

from __future__ import annotations

import threading
from typing import Any

from pulsarload.client.admin import AdminClient, AdminError

POLL_S = 1.0
TIMEOUT_S = 2.0


class BacklogPoller:
    def __init__(self, controller: Any, interval: float = POLL_S) -> None:
        self._controller = controller
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-backlog", daemon=True)
        self.latest: dict[str, Any] = {"state": "pending", "rows": [], "error": None}

    def __call__(self) -> dict[str, Any]:
        return self.latest

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(TIMEOUT_S + 1)

    def _run(self) -> None:
        client: AdminClient | None = None
        while not self._stop.is_set():
            s = self._controller.settings
            if getattr(s, "pattern", None):
                self.latest = {
                    "state": "unavailable",
                    "rows": [],
                    "error": "a topic pattern has no single topic to ask about",
                }
                return
            try:
                if client is None or client.base != s.admin_url.rstrip("/"):
                    client = AdminClient.for_settings(s, timeout_s=TIMEOUT_S)
                rows = client.backlog(s.topic)
            except AdminError as err:
                self.latest = {
                    "state": "error" if err.status else "unreachable",
                    "rows": [],
                    "error": str(err),
                }
            else:
                self.latest = {
                    "state": "ok",
                    "rows": [
                        {
                            "partition": r.topic,
                            "subscription": r.subscription,
                            "backlog": r.backlog,
                            "consumers": r.consumers,
                            "rate_out": round(r.msg_rate_out, 1),
                        }
                        for r in rows
                    ],
                    "error": None,
                }
            self._stop.wait(self._interval)

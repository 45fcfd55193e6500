"""The consumer's backlog per partition, for the page: the admin REST API once a second.

The broker's answer (`load.backlog.RunBacklog`, as the terminal dashboard asks it): one
thread polls and keeps the last answer; frames read it.
"""

from __future__ import annotations

import threading
from typing import Any

from pulsarload.load.backlog import RunBacklog

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
        ask = RunBacklog(self._controller, TIMEOUT_S)
        while not self._stop.is_set():
            answer = ask()
            self.latest = {
                "state": answer.state,
                "rows": [
                    {
                        "partition": r.topic,
                        "subscription": r.subscription,
                        "backlog": r.backlog,
                        "consumers": r.consumers,
                        "rate_out": round(r.msg_rate_out, 1),
                    }
                    for r in answer.rows
                ],
                "error": answer.error,
            }
            if answer.state == "unavailable":  # a topic pattern: no answer will come
                return
            self._stop.wait(self._interval)

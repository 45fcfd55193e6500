"""From the sampler thread to every browser: frames built once, queued per viewer, bounded.

The sampler thread only appends each snapshot to an inbox and, if none is pending, wakes the
server's event loop once (as the terminal dashboard does with its UI thread). On the loop the
hub builds the frame, encodes it once as a Server-Sent Event, adds its chart row to the history
and puts the same bytes on every viewer's queue. A queue that is full (a viewer that does not
read: a stalled socket blocks only its own stream) is emptied down to the newest frame, so a
slow viewer costs neither memory nor the load anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pulsarload.load.controls import run_state
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.web.page_frames import (
    HIST_EDGES_US,
    ROW_COLUMNS,
    ControlState,
    FrameBuilder,
    History,
)

log = logging.getLogger(__name__)
INBOX_MAX = 64  # snapshots waiting for the loop (it drains them every tick; a bound all the same)


class SamplerLike(Protocol):
    interval: float

    @property
    def latest(self) -> Snapshot | None: ...
    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]: ...


class ControllerLike(Protocol):
    """The part of `LoadController` the browser dashboard uses."""

    role: str
    settings: Any
    sampler: SamplerLike
    pool: Any

    def apply(self, command: Any) -> str: ...
    def reconfigure(self, **changes: Any) -> str: ...
    def export_now(self, directory: Any = None) -> list[Any]: ...


class TooManyViewers(Exception):
    """Every viewer slot is taken."""


def sse(event: str, data: str) -> bytes:
    """One Server-Sent Event (data is one line of JSON: no newlines inside)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


def control_state(controller: ControllerLike, busy: str | None) -> ControlState:
    pool = controller.pool
    producer = controller.role == "producer"
    return ControlState(
        state=run_state(pool, producer),
        threads=pool.size if pool is not None else 0,
        target=float(pool.target_rate) if producer and pool is not None else None,
        base_rate=float(pool.base_rate) if producer and pool is not None else None,
        ack=None if producer else getattr(controller.settings, "ack", None),
        busy=busy,
    )


class ViewerQueue:
    """One viewer's frames (event-loop thread only). Full: drop all but the newest."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self._items: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0
        self.sent_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: bytes) -> None:
        if len(self._items) >= self.maxsize:
            self.dropped += len(self._items)
            self._items.clear()
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> bytes | None:
        """The next frame; None once closed and empty."""
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class SnapshotHub:
    def __init__(
        self,
        controller: ControllerLike,
        *,
        history_s: float,
        queue_size: int,
        max_viewers: int,
        backlog: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.controller = controller
        self.builder = FrameBuilder(controller.role)
        interval = getattr(controller.sampler, "interval", 0.1) or 0.1
        self.history = History(history_s, interval)
        self.queue_size = queue_size
        self.max_viewers = max_viewers
        self.busy: str | None = None  # set by the app while a blocking control runs
        self._backlog = backlog
        self._inbox: deque[Snapshot] = deque(maxlen=INBOX_MAX)
        self._posted = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._viewers: set[ViewerQueue] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self.latest_frame: bytes | None = None
        self.frames = 0

    # -- sampler thread ------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start receiving snapshots (called on the loop when the server starts)."""
        self._loop = loop
        if self._unsubscribe is None:
            self._unsubscribe = self.controller.sampler.subscribe(self._on_snapshot)

    def _on_snapshot(self, snap: Snapshot) -> None:
        self._inbox.append(snap)
        loop = self._loop
        if not self._posted and loop is not None:
            self._posted = True
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                loop.call_soon_threadsafe(self._drain)

    # -- event loop ------------------------------------------------------------------------------

    def _drain(self) -> None:
        self._posted = False
        while self._inbox:
            self.publish(self._inbox.popleft())

    def publish(self, snap: Snapshot) -> None:
        """Build and fan out one frame (event-loop thread, or a test)."""
        backlog = self._backlog() if self._backlog is not None else None
        frame, row, reset = self.builder.frame(
            snap, control_state(self.controller, self.busy), backlog
        )
        try:
            data = sse("frame", json.dumps(frame, separators=(",", ":"), allow_nan=False))
        except ValueError:  # a NaN or infinity: JSON has no word for it; skip this frame
            log.warning("web: frame %s not sent (a value is not a finite number)", snap.seq)
            return
        if reset:
            self.history.clear()
        self.history.add(row)
        self.latest_frame = data
        self.frames += 1
        for viewer in self._viewers:
            viewer.put(data)

    def history_event(self) -> bytes:
        body = {
            "columns": list(ROW_COLUMNS),
            "data": self.history.columns(),
            "hist_edges_us": list(HIST_EDGES_US),
        }
        return sse("history", json.dumps(body, separators=(",", ":")))

    def open_viewer(self) -> tuple[ViewerQueue, bytes]:
        """A new viewer's queue and what it gets first: the history and the latest frame
        (taken in one step on the loop, so no frame falls between the two)."""
        if len(self._viewers) >= self.max_viewers:
            raise TooManyViewers(f"{len(self._viewers)} viewers are watching already")
        queue = ViewerQueue(self.queue_size)
        self._viewers.add(queue)
        return queue, self.history_event() + (self.latest_frame or b"")

    def close_viewer(self, queue: ViewerQueue) -> None:
        self._viewers.discard(queue)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def close(self) -> None:
        """Stop receiving snapshots and end every stream (event-loop thread)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for viewer in list(self._viewers):
            viewer.close()

    def close_threadsafe(self) -> None:
        """`close()` from another thread (the one stopping the server)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.close)

"""The life cycle every producer and consumer shares, and what they may ask of their client.

A *handler* is one producer or consumer on one topic or partition: it is created on a broker,
sits in the client's lists (so `Client.close` reaches it), and after its connection drops or
the broker closes it, a reconnect thread re-creates it with backoff and jitter. The steps that
differ (the command that creates it, what to resend, what to reset) are the subclass's hooks.

`ClientServices` is the narrow face of `Client` its parts use: the settings, the housekeeping
thread, a connection to a topic's broker, helper threads, ids and registration. Parts never
reach into the client's private attributes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pulsarload.client.backoff import Backoff, reconnect
from pulsarload.client.errors import PulsarError

if TYPE_CHECKING:
    from pulsarload.client.connection import Connection
    from pulsarload.client.settings import ClientConfig
    from pulsarload.client.timer import HousekeepingThread

__all__ = ["CLOSED", "CONNECTING", "FAILED", "INIT", "READY", "ClientServices", "Handler"]

log = logging.getLogger(__name__)

#: A handler's states: created, usable, re-creating on a broker, closed, failed for good.
INIT, READY, CONNECTING, CLOSED, FAILED = range(5)


class ClientServices(Protocol):
    """What a producer or consumer needs from the client that made it."""

    @property
    def config(self) -> ClientConfig: ...

    @property
    def housekeeping(self) -> HousekeepingThread: ...

    @property
    def closed(self) -> bool: ...

    def check_open(self) -> None: ...

    def connect(self, topic: str) -> Connection:
        """A connection to the broker that serves `topic` (looked up now)."""
        ...

    def partition_count(self, topic: str) -> int:
        """How many partitions `topic` has (0: not partitioned)."""
        ...

    def spawn(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        """Start a helper thread that `Client.close` waits for."""
        ...

    def new_producer_id(self) -> int: ...

    def register(self, part: Any) -> None:
        """Have `Client.close` close `part` (a top-level producer or consumer)."""
        ...

    def forget(self, part: Any) -> None: ...

    def create_producer(self, topic: str, *args: Any, **kwargs: Any) -> Any: ...

    def subscribe(self, topic: Any, subscription_name: str, *args: Any, **kwargs: Any) -> Any: ...


class Handler:
    """State, connection and the reconnect loop of one producer or consumer.

    Subclasses set `_kind` and `_busy` and implement the hooks below the line.
    """

    #: 0 while connected; n during the n-th reconnect attempt (for status lines).
    reconnect_attempt = 0
    #: "producer" or "consumer": names the reconnect thread and the log lines.
    _kind: ClassVar[str]
    #: The broker's "still there" error for this kind, retried while reconnecting.
    _busy: ClassVar[type[PulsarError]]

    def __init__(self, client: ClientServices) -> None:
        self._client = client
        self._housekeeping = client.housekeeping
        self._state = INIT
        self._state_lock = threading.Lock()
        self._conn: Connection | None = None
        self._closed_event = threading.Event()
        self._fatal: PulsarError | None = None

    @property
    def connection(self) -> Connection | None:
        return self._conn

    def is_connected(self) -> bool:
        conn = self._conn
        return self._state == READY and conn is not None and not conn.closed

    # --- reconnect -----------------------------------------------------------------------------

    def connection_closed(self, connection: Connection) -> None:
        """Called by the connection when it goes away."""
        if connection is self._conn:
            self._schedule_reconnect()

    def _schedule_reconnect(self, closed_by_broker: bool = False) -> None:
        """Start re-creating this handler on a broker (once: later calls are no-ops until
        it is ready again, closed or failed)."""
        with self._state_lock:
            if self._state != READY:
                return
            self._state = CONNECTING
            self._on_reconnecting()
            old = self._conn
        self._client.spawn(
            self._reconnect_loop,
            f"pulsar-{self._kind}-reconnect-{self._handler_id()}",
            old,
            closed_by_broker,
        )

    def _reconnect_loop(self, old: Connection | None, closed_by_broker: bool) -> None:
        if old is not None:
            self._unregister(old)
            if not old.closed and not closed_by_broker:
                self._send_close(old)
        cfg = self._client.config
        backoff = Backoff(
            cfg.initial_backoff_interval_ms / 1000,
            cfg.max_backoff_interval_ms / 1000,
            give_up=cfg.reconnect_give_up_seconds,
        )
        if closed_by_broker:
            self._before_reconnect_after_close()
        outcome = reconnect(
            self._create_again,
            backoff,
            self._closed_event,
            what=self._describe(),
            busy=self._busy,
            on_attempt=self._next_reconnect_attempt,
        )
        if outcome is None:  # closed meanwhile
            return
        if isinstance(outcome, PulsarError):
            self._fail(outcome)
            return
        self.reconnect_attempt = 0
        conn = self._reconnected(outcome)
        if conn is not None and conn.closed:
            self._schedule_reconnect()

    def _next_reconnect_attempt(self) -> None:
        self.reconnect_attempt += 1

    # --- hooks ---------------------------------------------------------------------------------

    def _handler_id(self) -> int:
        """The producer or consumer id (unique per client)."""
        raise NotImplementedError

    def _describe(self) -> str:
        """ "producer NAME on TOPIC": for log lines."""
        raise NotImplementedError

    def _on_reconnecting(self) -> None:
        """Runs under the state lock as the handler leaves READY for CONNECTING."""

    def _before_reconnect_after_close(self) -> None:
        """Runs before the first attempt when the broker closed the handler itself."""

    def _create_again(self) -> Any:
        """One attempt to create the handler on its broker (raises on failure)."""
        raise NotImplementedError

    def _reconnected(self, outcome: Any) -> Connection | None:
        """Take the new instance into use; returns its connection (None: closing meanwhile)."""
        raise NotImplementedError

    def _unregister(self, conn: Connection) -> None:
        """Stop `conn` routing frames to this handler."""
        raise NotImplementedError

    def _send_close(self, conn: Connection) -> None:
        """Ask the broker to drop this handler on `conn` (no answer awaited)."""
        raise NotImplementedError

    def _fail(self, err: PulsarError) -> None:
        """Reconnecting failed for good: fail what waits, refuse new work."""
        raise NotImplementedError
